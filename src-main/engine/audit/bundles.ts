import type { z } from 'zod';
import type { BundleInfo, VerifyReport } from '../../../src-shared/contract/audit';
import { ContractError } from '../../../src-shared/contract/errors';
import type { Sqlite } from '../../adapters/sqlite';
import { GENESIS_HASH } from './chain';
import { bundleId, openManifest, verifyBundle, writeBundle } from './bundle';
import type { KeptSources } from './evidence';
import type { LocalAuditCopy } from './local-copy';
import { fingerprint, parseVkey, signCheckpoint, type InstallationKey, type Verifier } from './signing';
import type { AuditStateStore } from './state';
import type { SignerRegistry } from './trust';
import { DEFAULT_POLICY, verifyLog, type VerifyPolicy } from './verify';
import { WORKSTATION_SOURCE } from './workstation-log';

type BundleView = z.infer<typeof BundleInfo>;

interface StoredBundle {
  view: BundleView;
  startPrevHash: string;
  firstSeq: number | null;
}

export interface ExportContext {
  origin: string;
  checkpoints: { size: number; note: string }[];
  witness: { seq: number; head: string } | null;
}

/**
 * Offline review: signed bundles out (any source), verified bundles in, and verification
 * of the sources that live only on this workstation (bundles, kept evidence, the workstation log).
 */
export class AuditBundles {
  constructor(
    private readonly d: {
      db: Sqlite;
      local: LocalAuditCopy;
      kept: KeptSources;
      signers: SignerRegistry;
      state: AuditStateStore;
      key(): Promise<InstallationKey>;
      consoleVersion: string;
      policy: VerifyPolicy;
      changed(): void;
    },
  ) {}

  /** Writes a bundle of `source` (a time range selects the contiguous seq range it spans). */
  async export(source: string, dir: string, range: { from?: string; to?: string }, ctx: ExportContext) {
    const key = await this.d.key();
    const seqs = this.d.local.seqRange(source, range.from, range.to);
    const checkpoints = [...ctx.checkpoints];
    if (seqs) {
      // the exporter vouches for the last entry it exports
      const head = this.d.local.stored(source, seqs.toSeq)!;
      checkpoints.push({ size: seqs.toSeq, note: signCheckpoint(key, ctx.origin, seqs.toSeq, head.hash).note });
    }
    const manifest = await writeBundle(
      dir,
      {
        batches: seqs ? this.d.local.iterateStored(source, seqs) : [],
        origin: ctx.origin,
        checkpoints,
        witness: ctx.witness,
        requested: range,
        consoleVersion: this.d.consoleVersion,
      },
      key,
    );
    return { path: dir, count: manifest.count, firstSeq: manifest.first_seq, lastSeq: manifest.last_seq, written: true };
  }

  /**
   * Verifies and stores a bundle in one pass (batches of 5,000 in their own transactions);
   * any refusal drops what was stored. The signer must be enrolled here, or match the
   * fingerprint the auditor received out of band.
   */
  async import(dir: string, trustFingerprint?: string): Promise<BundleView> {
    await this.d.key().catch(() => null); // so this installation's own key is enrolled
    const trusted = this.d.signers.verifiers();
    const source = `bundle:${bundleId(openManifest(dir, trusted, trustFingerprint).manifest)}`;
    const existing = this.info(source);
    if (existing) return existing.view;
    let opened!: Awaited<ReturnType<typeof verifyBundle>>;
    // verified and stored in one pass; a refusal drops everything stored (bulkLoad clears the source)
    await this.d.local.bulkLoad(source, async (store) => {
      opened = await verifyBundle(dir, trusted, trustFingerprint, store);
    });
    const m = opened.manifest;
    const view: BundleView = {
      id: opened.id,
      importedAt: new Date().toISOString(),
      origin: m.origin,
      count: m.count,
      firstSeq: m.first_seq,
      lastSeq: m.last_seq,
      from: m.time_range.from,
      to: m.time_range.to,
      signer: m.signer.vkey,
      signerFingerprint: fingerprint(m.signer.vkey),
      trustedBy: opened.trustedBy,
      file: dir,
    };
    this.d.db.transaction(() => {
      for (const note of m.checkpoints) this.d.local.addCheckpoint(source, Number(note.split('\n')[1]), note);
      const info: StoredBundle = { view, startPrevHash: m.start_prev_hash, firstSeq: m.first_seq };
      this.d.db.prepare('INSERT INTO audit_sources (source, info) VALUES (?, ?)').run(source, JSON.stringify(info));
    })();
    this.d.changed();
    return view;
  }

  /** Rows of an import that never finished (the console stopped mid-way) are dropped at start. */
  dropUnfinishedImports(): void {
    for (const s of this.d.local.sources()) if (s.startsWith('bundle:') && !this.info(s)) this.d.local.clear(s);
  }

  info(source: string): StoredBundle | null {
    const s = this.d.db.prepare('SELECT info FROM audit_sources WHERE source = ?').pluck().get(source) as string | undefined;
    return s ? (JSON.parse(s) as StoredBundle) : null;
  }

  bundles(): BundleView[] {
    return (this.d.db.prepare("SELECT info FROM audit_sources WHERE source LIKE 'bundle:%'").pluck().all() as string[]).map(
      (s) => (JSON.parse(s) as StoredBundle).view,
    );
  }

  /** Verifies a bundle, kept evidence or the workstation log from the local copy. */
  async verifyLocal(source: string): Promise<VerifyReport> {
    const bundle = source.startsWith('bundle:') ? this.info(source) : null;
    const kept = bundle ? null : this.d.kept.info(source);
    if (!bundle && !kept) throw new ContractError('NOT_FOUND', `There is no audit source ${source} here. Pick one from the list.`);
    let trusted: Verifier[] = this.d.signers.verifiers();
    if (bundle?.view.trustedBy === 'fingerprint') trusted = [...trusted, parseVkey(bundle.view.signer)];
    const start = bundle
      ? { seq: bundle.firstSeq ?? 1, prevHash: bundle.startPrevHash }
      : { seq: kept!.firstSeq ?? 1, prevHash: kept!.startPrevHash ?? GENESIS_HASH };
    const notes = bundle ? this.d.local.checkpoints(source) : (this.d.kept.info(source)?.checkpoints ?? []);
    // Snapshots (bundles, evidence) are not expected to grow: only the workstation log ages.
    const policy =
      source === WORKSTATION_SOURCE
        ? this.d.policy
        : { ...DEFAULT_POLICY, maxEntriesWithoutCheckpoint: Infinity, maxCheckpointAgeMs: Infinity };
    const outcome = await verifyLog({
      source,
      readFrom: 'local',
      batches: this.d.local.iterateStored(source),
      parallel: this.d.local.parallelPlan(source),
      start,
      origin: bundle ? bundle.view.origin : kept!.origin,
      checkpoints: [{ where: bundle ? 'bundle' : source === WORKSTATION_SOURCE ? 'workstation log' : 'kept copy', notes }],
      trusted,
      policy,
      timeOf: (seq) => this.d.local.get(source, seq)?.at ?? null,
    });
    const report = outcome.report;
    // The workstation log is checkpointed by this installation's key each time it verifies.
    if (source === WORKSTATION_SOURCE && report.state !== 'tampered' && report.headSeq && report.headHash) {
      const key = await this.d.key().catch(() => null);
      if (key && (report.trustedCheckpoint?.size ?? 0) < report.headSeq) {
        const note = signCheckpoint(key, kept!.origin, report.headSeq, report.headHash).note;
        this.d.kept.register({ ...kept!, checkpoints: [...kept!.checkpoints, { size: report.headSeq, note }].slice(-50) });
      }
    }
    this.d.state.set(`verify.${source}`, report);
    this.d.changed();
    return report;
  }
}
