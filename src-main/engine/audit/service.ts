import type { z } from 'zod';
import type { AuditEntry, AuditQueryInput, VerifyReport } from '../../../src-shared/contract/audit';
import { ContractError } from '../../../src-shared/contract/errors';
import type { Sqlite } from '../../adapters/sqlite';
import type { PgAdminConfig } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import type { Logger } from '../core/logger';
import { canonicalJson, entryHash, GENESIS_HASH, stripHash } from './chain';
import { readBundleEntries, verifyBundle, writeBundle } from './bundle';
import { LocalAuditCopy } from './local-copy';
import { AuditOutbox } from './outbox';
import { SharedAuditLog, type PendingRecord } from './shared-log';
import { InstallationKey, parseVkey, signCheckpoint, type SecretStoreLike, type Verifier } from './signing';
import { verifyEntries } from './verify';

export interface AuditServiceOptions {
  db: Sqlite;
  secrets: SecretStoreLike;
  consoleVersion: string;
  bus?: EventBus;
  log?: Logger;
  /** Sign a checkpoint whenever the log grew by this many entries since the last one. */
  checkpointEvery?: number;
  retry?: { baseDelayMs?: number; maxDelayMs?: number };
}

const CLUSTER = 'cluster';

/**
 * The audit capability: the pipeline writes through `outbox`; the shared log in
 * PostgreSQL is attached when a cluster profile has a database; review, verify,
 * export and import work on the local copy (no cluster needed).
 */
export class AuditService {
  readonly outbox: AuditOutbox;
  readonly local: LocalAuditCopy;
  private shared: SharedAuditLog | null = null;
  private sharedConfig: PgAdminConfig | null = null;
  private openedWith: PgAdminConfig | null = null;
  private provider: (() => Promise<PgAdminConfig | null>) | null = null;
  private keyPromise: Promise<InstallationKey> | null = null;
  private readonly checkpointEvery: number;

  constructor(private readonly o: AuditServiceOptions) {
    this.local = new LocalAuditCopy(o.db);
    // statistics for a copy that grew through flushes since the last start
    if (!this.local.hasStatistics() && this.local.count() > 10_000) this.local.analyze();
    this.checkpointEvery = o.checkpointEvery ?? 100;
    this.outbox = new AuditOutbox(o.db, {
      deliver: null,
      ...o.retry,
      onError: (error) => o.log?.warn({ err: error }, 'audit entries wait in the local outbox: the shared log is unreachable'),
      onChange: () => this.changed(),
    });
  }

  key(): Promise<InstallationKey> {
    this.keyPromise ??= InstallationKey.load(this.o.secrets).then(
      (k) => {
        this.trust(k.verifier, true);
        return k;
      },
      (e: unknown) => {
        this.keyPromise = null; // a locked secret store may be unlocked later
        throw e;
      },
    );
    return this.keyPromise;
  }

  /**
   * Where the shared log lives: asked before every flush, so selecting another
   * cluster or adding its database takes effect without a restart. Null: no
   * shared log; entries wait in the outbox.
   */
  setControlDatabase(provider: (() => Promise<PgAdminConfig | null>) | null): void {
    this.provider = provider;
    this.outbox.setDelivery(provider ? (batch) => this.deliver(batch) : null);
  }

  /** A fixed database (tests, tools). */
  attachSharedLog(admin: PgAdminConfig | null): void {
    this.setControlDatabase(admin ? async () => admin : null);
  }

  /** Something changed (cluster selected, back online): try the outbox now. */
  kick(): void {
    if (this.outbox.pending().count) this.outbox.flush().catch(() => undefined);
  }

  private async openShared(): Promise<SharedAuditLog> {
    const admin = this.provider ? await this.provider() : null;
    this.sharedConfig = admin;
    if (!admin)
      throw new ContractError('UNAVAILABLE', 'No cluster database is configured for the audit log. Add it to the cluster profile.');
    const same = (a: PgAdminConfig, b: PgAdminConfig) =>
      a.host === b.host && a.port === b.port && a.user === b.user && a.password === b.password && a.database === b.database && JSON.stringify(a.ssl) === JSON.stringify(b.ssl);
    if (this.shared && this.openedWith && same(this.openedWith, admin)) return this.shared;
    await this.shared?.close();
    this.shared = null;
    const log = new SharedAuditLog(admin);
    try {
      await log.open();
    } catch (error) {
      await log.close();
      throw error;
    }
    if (this.local.getState<string>('cluster.logId') !== log.logId) {
      // The copy belongs to another log (another cluster): it is only a cache.
      this.local.clear(CLUSTER);
      this.local.setState('cluster.logId', log.logId);
      this.local.setState('cluster.origin', log.origin);
    }
    const key = await this.key().catch(() => null);
    if (key) await log.registerSigner(key.name, key.verifier.vkey);
    this.shared = log;
    this.openedWith = admin;
    return log;
  }

  private async deliver(batch: PendingRecord[]): Promise<void> {
    let log: SharedAuditLog;
    try {
      log = await this.openShared();
      const res = await log.append(batch);
      if (res.appended.length && this.local.maxSeq(CLUSTER) === res.appended[0]!.seq - 1) this.local.insert(CLUSTER, res.appended);
      if (res.headSeq - (await log.lastCheckpointSize()) >= this.checkpointEvery) await this.checkpoint(log, res.headSeq, res.headHash);
    } catch (error) {
      // a broken connection is thrown away so the retry reconnects
      if (this.shared) await this.shared.close();
      this.shared = null;
      throw error;
    }
  }

  private async checkpoint(log: SharedAuditLog, size: number, headHash: string): Promise<void> {
    const key = await this.key().catch(() => null);
    if (!key) return;
    const cp = signCheckpoint(key, log.origin, size, headHash);
    await log.addCheckpoint(size, key.name, cp.note);
  }

  private changed(): void {
    this.o.bus?.publish('audit.changed', { pendingOutbox: this.outbox.pending().count, localCopyCount: this.local.count(CLUSTER) });
  }

  private trust(v: Verifier, own = false): void {
    this.o.db
      .prepare(
        'INSERT INTO audit_trusted_signers (name, vkey, since, own) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET own = max(own, excluded.own)',
      )
      .run(v.name, v.vkey, new Date().toISOString(), own ? 1 : 0);
  }

  signers(): { name: string; vkey: string; own: boolean; since: string }[] {
    return (
      this.o.db.prepare('SELECT name, vkey, own, since FROM audit_trusted_signers ORDER BY own DESC, since').all() as {
        name: string;
        vkey: string;
        own: number;
        since: string;
      }[]
    ).map((r) => ({ ...r, own: r.own === 1 }));
  }

  private trustedVerifiers(): Verifier[] {
    return this.signers().map((s) => parseVkey(s.vkey));
  }

  /** Flushes the outbox, then pulls new entries, checkpoints and signers from the shared log. */
  async sync(): Promise<{ pulled: number; localCopyCount: number; flushed: number }> {
    const log = await this.openShared().catch((e: unknown) => {
      throw new ContractError(
        'UNAVAILABLE',
        `The shared audit log cannot be reached (${(e as Error).message}). Entries stay in the outbox; try again later.`,
      );
    });
    const flushed = await this.outbox.flush().catch(() => 0);
    let pulled = 0;
    for (;;) {
      const { entries } = await log.readAfter(this.local.maxSeq(CLUSTER), 5000);
      if (!entries.length) break;
      this.local.insert(CLUSTER, entries);
      pulled += entries.length;
    }
    for (const cp of await log.checkpoints()) this.local.addCheckpoint(CLUSTER, cp.size, cp.note);
    await this.pinSigners(log);
    if (pulled > 1000) this.local.analyze();
    this.local.setState('cluster.lastSyncAt', new Date().toISOString());
    this.changed();
    return { pulled, localCopyCount: this.local.count(CLUSTER), flushed };
  }

  private async pinSigners(log: SharedAuditLog): Promise<void> {
    const pinned = new Map(this.signers().map((s) => [s.name, s.vkey]));
    for (const s of await log.signers()) {
      // Trust on first sight; a known name with another key is never replaced silently.
      if (!pinned.has(s.name)) this.trust(parseVkey(s.vkey));
      else if (pinned.get(s.name) !== s.vkey)
        this.o.log?.warn({ signer: s.name }, 'shared log lists a different key for a pinned signer; ignored');
    }
  }

  query(q: z.output<typeof AuditQueryInput>) {
    try {
      return this.local.query(q);
    } catch (error) {
      if (q.text && /fts5|syntax/i.test((error as Error).message)) {
        throw new ContractError(
          'VALIDATION',
          `The search "${q.text}" is not valid full-text syntax. Use words, "quoted phrases" or prefix*.`,
          { fields: { text: 'syntax' } },
        );
      }
      throw error;
    }
  }

  get(source: string, seq: number) {
    const entry = this.local.get(source, seq);
    if (!entry) throw new ContractError('NOT_FOUND', `Entry ${seq} is not in the local copy of ${source}. Sync or pick another entry.`);
    const prev = seq > 1 ? this.local.get(source, seq - 1) : null;
    const canonical = canonicalJson(stripHash(entry));
    return {
      entry,
      canonical,
      hashValid: entryHash(entry.prev_hash, canonical) === entry.hash,
      linkValid: seq === 1 ? entry.prev_hash === GENESIS_HASH : prev ? prev.hash === entry.prev_hash : null,
    };
  }

  /** Verifies the shared log when reachable (cluster), else the local copy or an imported bundle. */
  async verify(source: string): Promise<VerifyReport> {
    let report: VerifyReport;
    const shared = source === CLUSTER ? await this.openShared().catch(() => null) : null;
    if (shared) {
      await this.pinSigners(shared);
      const checkpoints = await shared.checkpoints();
      report = await verifyEntries(
        pgBatches(shared),
        { seq: 1, prevHash: GENESIS_HASH },
        checkpoints,
        this.trustedVerifiers(),
        source,
        'shared',
      );
    } else {
      const info = source === CLUSTER ? null : this.bundleInfo(source);
      if (source !== CLUSTER && !info) throw new ContractError('NOT_FOUND', `No imported bundle ${source}.`);
      const trusted = info ? info.checkpointSigners.map(parseVkey) : this.trustedVerifiers();
      const start = info ? { seq: info.firstSeq ?? 1, prevHash: info.startPrevHash } : { seq: 1, prevHash: GENESIS_HASH };
      report = await verifyEntries(this.local.iterate(source), start, this.local.checkpoints(source), trusted, source, 'local');
    }
    this.local.setState(`verify.${source}`, report);
    this.changed();
    return report;
  }

  async export(dir: string, range: { from?: string; to?: string }) {
    await this.sync().catch(() => undefined); // export what the shared log has, if it answers
    const key = await this.key();
    const seqs = this.local.seqRange(CLUSTER, range.from, range.to);
    const origin = this.local.getState<string>('cluster.origin') ?? 'gatehouse/audit/local';
    const checkpoints = this.local.checkpoints(CLUSTER);
    if (seqs) {
      const head = this.local.get(CLUSTER, seqs.toSeq)!;
      checkpoints.push({ size: seqs.toSeq, note: signCheckpoint(key, origin, seqs.toSeq, head.hash).note });
    }
    const manifest = await writeBundle(
      dir,
      {
        batches: seqs ? this.local.iterate(CLUSTER, seqs) : [],
        origin,
        checkpoints,
        checkpointSigners: this.signers().map((s) => s.vkey),
        requested: range,
        consoleVersion: this.o.consoleVersion,
      },
      key,
    );
    return { path: dir, count: manifest.count, firstSeq: manifest.first_seq, lastSeq: manifest.last_seq };
  }

  async import(dir: string, trustSigner?: string) {
    await this.key().catch(() => null); // so our own key is trusted
    const opened = await verifyBundle(dir, this.trustedVerifiers(), trustSigner);
    const source = `bundle:${opened.id}`;
    const existing = this.bundleInfo(source);
    if (existing) return existing.view;
    const m = opened.manifest;
    try {
      for await (const batch of readBundleEntries(opened.entriesFile)) this.local.insert(source, batch);
      for (const note of m.checkpoints) {
        const size = Number(note.split('\n')[1]);
        this.local.addCheckpoint(source, size, note);
      }
    } catch (error) {
      this.local.clear(source);
      throw error;
    }
    this.local.analyze();
    if (trustSigner) this.trust(parseVkey(m.signer.vkey));
    const view = {
      id: opened.id,
      importedAt: new Date().toISOString(),
      origin: m.origin,
      count: m.count,
      firstSeq: m.first_seq,
      lastSeq: m.last_seq,
      from: m.time_range.from,
      to: m.time_range.to,
      signer: m.signer.vkey,
      file: dir,
    };
    const info = {
      view,
      checkpointSigners: [m.signer.vkey, ...m.checkpoint_signers],
      startPrevHash: m.start_prev_hash,
      firstSeq: m.first_seq,
    };
    this.o.db.prepare('INSERT INTO audit_sources (source, info) VALUES (?, ?)').run(source, JSON.stringify(info));
    this.changed();
    return view;
  }

  private bundleInfo(source: string) {
    const s = this.o.db.prepare('SELECT info FROM audit_sources WHERE source = ?').pluck().get(source) as string | undefined;
    return s
      ? (JSON.parse(s) as {
          view: ReturnType<AuditService['bundles']>[number];
          checkpointSigners: string[];
          startPrevHash: string;
          firstSeq: number | null;
        })
      : null;
  }

  bundles() {
    return (this.o.db.prepare("SELECT info FROM audit_sources WHERE source LIKE 'bundle:%'").pluck().all() as string[]).map(
      (s) =>
        (
          JSON.parse(s) as {
            view: {
              id: string;
              importedAt: string;
              origin: string;
              count: number;
              firstSeq: number | null;
              lastSeq: number | null;
              from: string | null;
              to: string | null;
              signer: string;
              file: string;
            };
          }
        ).view,
    );
  }

  async status() {
    const pending = this.outbox.pending();
    const key = await this.key().catch(() => null);
    return {
      sharedStore:
        !this.provider || (!this.sharedConfig && !this.shared)
          ? ('not-configured' as const)
          : this.shared && !this.outbox.lastError
            ? ('connected' as const)
            : ('unreachable' as const),
      pendingOutbox: pending.count,
      oldestPendingAt: pending.oldestAt,
      lastFlushError: this.outbox.lastError,
      localCopyCount: this.local.count(CLUSTER),
      lastSyncAt: this.local.getState<string>('cluster.lastSyncAt'),
      lastVerification: this.local.getState<VerifyReport>(`verify.${CLUSTER}`),
      signer: key ? { name: key.name, vkey: key.verifier.vkey } : { name: '(secret store locked)', vkey: '' },
    };
  }

  async close(): Promise<void> {
    this.outbox.close();
    await this.shared?.close();
    this.shared = null;
  }
}

async function* pgBatches(log: SharedAuditLog): AsyncGenerator<AuditEntry[]> {
  let after = 0;
  for (;;) {
    const { entries, lastSeq } = await log.readAfter(after, 5000);
    if (!entries.length) return;
    after = lastSeq;
    yield entries;
  }
}
