import type { z } from 'zod';
import type { AuditQueryInput, AuditStatus, VerifyReport } from '../../../src-shared/contract/audit';
import { ContractError } from '../../../src-shared/contract/errors';
import type { Sqlite } from '../../adapters/sqlite';
import type { EventBus } from '../core/events';
import type { Logger } from '../core/logger';
import { AuditBundles } from './bundles';
import { ClusterLogs, clusterSource, type AuditClusters } from './cluster-logs';
import { KeptSources } from './evidence';
import { ExportFolders } from './folders';
import { FileCheckpoints } from './file-checkpoints';
import { LocalAuditCopy } from './local-copy';
import { AuditOutbox } from './outbox';
import { AuditReview } from './review';
import { fingerprint, InstallationKey, parseVkey, type SecretStoreLike } from './signing';
import { AuditStateStore } from './state';
import { SignerRegistry } from './trust';
import { DEFAULT_POLICY, type VerifyPolicy } from './verify';
import { AlarmStore, WitnessStore } from './witness';
import { WORKSTATION_SOURCE, WorkstationLog } from './workstation-log';

export interface AuditServiceOptions {
  db: Sqlite;
  secrets: SecretStoreLike;
  consoleVersion: string;
  bus?: EventBus;
  log?: Logger;
  /** How to reach a cluster by its UID (the engine gives it; tests give their own). */
  clusters?: AuditClusters | null;
  /** The data directory: `<data dir>/exports` is the built-in export root. */
  dataDir?: string | null;
  /** Sign a checkpoint whenever the log grew by this many entries since the last one. */
  checkpointEvery?: number;
  /** …or when this console's last checkpoint of the log is older than this (default 1 h). */
  checkpointMaxAgeMs?: number;
  policy?: Partial<VerifyPolicy>;
  retry?: { baseDelayMs?: number; maxDelayMs?: number };
  /** The control database (default gatehouse_control): tests run several "clusters" on one server. */
  controlDatabase?: string;
}

/**
 * The audit capability. The pipeline records through `outbox`: each record is flushed
 * into its own cluster's shared log (ClusterLogs), or into this workstation's log when it
 * belongs to no cluster. Review, verification, export and import work on the local copy;
 * the witness, enrolled signers and alarms are durable local state.
 */
export class AuditService {
  readonly outbox: AuditOutbox;
  readonly local: LocalAuditCopy;
  readonly state: AuditStateStore;
  readonly witness: WitnessStore;
  readonly alarms: AlarmStore;
  readonly signerRegistry: SignerRegistry;
  readonly kept: KeptSources;
  readonly logs: ClusterLogs;
  readonly folders: ExportFolders;
  private readonly review: AuditReview;
  private readonly bundlesStore: AuditBundles;
  private readonly workstation: WorkstationLog;
  private readonly policy: VerifyPolicy;
  private keyPromise: Promise<InstallationKey> | null = null;
  private clusters: AuditClusters | null;

  constructor(private readonly o: AuditServiceOptions) {
    this.local = new LocalAuditCopy(o.db, () => this.changed());
    this.state = new AuditStateStore(o.db);
    this.witness = new WitnessStore(o.db);
    this.alarms = new AlarmStore(o.db);
    this.signerRegistry = new SignerRegistry(o.db);
    this.kept = new KeptSources(o.db, this.local);
    this.workstation = new WorkstationLog(o.db, this.local, this.kept);
    this.review = new AuditReview(this.local);
    this.folders = new ExportFolders(this.state, o.dataDir ?? null);
    this.policy = { ...DEFAULT_POLICY, ...o.policy };
    this.clusters = o.clusters ?? null;
    const changed = () => this.changed();
    this.bundlesStore = new AuditBundles({
      db: o.db,
      local: this.local,
      kept: this.kept,
      signers: this.signerRegistry,
      state: this.state,
      key: () => this.key(),
      consoleVersion: o.consoleVersion,
      policy: this.policy,
      changed,
    });
    this.logs = new ClusterLogs({
      clusters: { resolve: (uid) => (this.clusters ? this.clusters.resolve(uid) : Promise.resolve(null)) },
      local: this.local,
      witness: this.witness,
      alarms: this.alarms,
      signers: this.signerRegistry,
      kept: this.kept,
      state: this.state,
      key: () => this.key().catch(() => null),
      policy: this.policy,
      checkpointEvery: o.checkpointEvery ?? 100,
      checkpointMaxAgeMs: o.checkpointMaxAgeMs ?? 3600_000,
      controlDatabase: o.controlDatabase,
      witnessFolder: (cluster) => this.witnessFolder(cluster)?.folder ?? null,
      log: o.log,
      changed,
    });
    // A deleted cache loses nothing: kept sources (workstation log, evidence) are refilled from durable state.
    this.bundlesStore.dropUnfinishedImports();
    this.kept.restoreReviewCopy();
    this.local.resumeFullText();
    this.outbox = new AuditOutbox(o.db, {
      deliver: (cluster, batch) => this.logs.deliver(cluster, batch),
      workstation: (record) => this.workstation.append(record),
      ...o.retry,
      onError: (cluster, error) =>
        o.log?.warn({ cluster, err: error }, "audit entries wait in the local outbox: the cluster's shared log cannot take them now"),
      onChange: changed,
    });
    this.outbox.kick();
  }

  /** The engine's way to reach clusters; records wait in the outbox until it is set. */
  setClusters(clusters: AuditClusters | null): void {
    this.clusters = clusters;
    this.outbox.kick();
  }

  key(): Promise<InstallationKey> {
    this.keyPromise ??= InstallationKey.load(this.o.secrets).then(
      (k) => {
        this.signerRegistry.ensureOwn(k);
        return k;
      },
      (e: unknown) => {
        this.keyPromise = null; // a locked secret store may be unlocked later
        throw e;
      },
    );
    return this.keyPromise;
  }

  /** Something changed (a cluster is reachable again): retry its queue, or every queue, now. */
  kick(cluster?: string): void {
    this.outbox.kick(cluster);
  }

  private changed(): void {
    this.o.bus?.publish('audit.changed', {
      pendingOutbox: this.outbox?.pending().count ?? 0,
      localCopyCount: this.local.count(),
    });
  }

  /** `cluster` means the cluster this command works on; the others name themselves. */
  resolveSource(source: string, cluster: string | null): string | null {
    if (source !== 'cluster') return source;
    return cluster ? clusterSource(cluster) : null;
  }

  async sync(cluster: string | null) {
    if (!cluster) throw new ContractError('VALIDATION', 'No cluster is selected: there is no shared log to sync. Choose a cluster first.');
    const r = await this.logs
      .sync(cluster, () => this.outbox.flush(cluster))
      .catch((e: unknown) => {
        throw e instanceof ContractError
          ? e
          : new ContractError(
              'UNAVAILABLE',
              `The shared audit log cannot be reached (${(e as Error).message}). Entries stay in the outbox; try again later.`,
            );
      });
    return { ...r, localCopyCount: this.local.count(clusterSource(cluster)) };
  }

  query(q: z.output<typeof AuditQueryInput>) {
    return this.review.query(q);
  }

  get(source: string, seq: number) {
    return this.review.get(source, seq);
  }

  async verify(source: string): Promise<VerifyReport> {
    if (source.startsWith('cluster:')) return this.logs.verify(source.slice('cluster:'.length));
    return this.bundlesStore.verifyLocal(source);
  }

  async export(source: string, dir: string, range: { from?: string; to?: string }) {
    if (this.local.count(source) === 0 && !source.startsWith('cluster:') && !this.kept.info(source) && !this.bundlesStore.info(source)) {
      throw new ContractError('NOT_FOUND', `There is no audit source ${source} here. Pick one from the list.`);
    }
    let ctx: { origin: string; checkpoints: { size: number; note: string }[]; witness: { seq: number; head: string } | null };
    if (source.startsWith('cluster:')) {
      const cluster = source.slice('cluster:'.length);
      await this.sync(cluster).catch(() => undefined); // export what the shared log has, if it answers
      const w = this.witness.forCluster(cluster);
      const logId = this.witness.boundLog(cluster);
      ctx = {
        origin: `gatehouse/audit/${logId ?? 'unknown'}`,
        checkpoints: [
          ...this.local.checkpoints(source),
          ...(w?.checkpointNote ? [{ size: w.checkpointSize!, note: w.checkpointNote }] : []),
        ],
        witness: w ? { seq: w.seq, head: w.head } : null,
      };
    } else {
      const bundle = this.bundlesStore.info(source);
      const kept = this.kept.info(source);
      ctx = {
        origin: bundle?.view.origin ?? kept?.origin ?? 'gatehouse/audit/unknown',
        checkpoints: bundle ? this.local.checkpoints(source) : (kept?.checkpoints ?? []),
        witness: null,
      };
    }
    return this.bundlesStore.export(source, dir, range, ctx);
  }

  import(dir: string, trustFingerprint?: string) {
    return this.bundlesStore.import(dir, trustFingerprint);
  }

  bundles() {
    return this.bundlesStore.bundles();
  }

  /** This installation, the enrolled signers, and keys found in shared logs that nobody enrolled here. */
  async signers() {
    const key = await this.key().catch(() => null);
    const endorsements = this.witness.all().flatMap((w) => this.state.get<string[]>(`endorsements.${w.logId}`) ?? []);
    const { verifiers, endorsed } = this.signerRegistry.trusted(endorsements);
    const enrolled: (ReturnType<SignerRegistry['enrolled']>[number] & { via: 'own' | 'admin' | 'endorsed' })[] = this.signerRegistry
      .enrolled()
      .map((s) => ({ ...s, via: s.own ? 'own' : 'admin' }));
    for (const e of endorsed) {
      const v = parseVkey(e.vkey);
      enrolled.push({
        name: v.name,
        vkey: v.vkey,
        fingerprint: fingerprint(v.vkey),
        own: false,
        enrolledBy: `endorsed by ${e.endorser}`,
        enrolledAt: '',
        via: 'endorsed',
      });
    }
    const unenrolled: { name: string; vkey: string; fingerprint: string; seenIn: string }[] = [];
    for (const { cluster } of this.witness.clusters()) {
      for (const s of this.state.get<{ name: string; vkey: string }[]>(`signersSeen.${cluster}`) ?? []) {
        if (verifiers.some((v) => v.vkey === s.vkey) || unenrolled.some((u) => u.vkey === s.vkey)) continue;
        unenrolled.push({ ...s, fingerprint: fingerprint(s.vkey), seenIn: clusterSource(cluster) });
      }
    }
    return {
      own: key
        ? { name: key.name, vkey: key.verifier.vkey, fingerprint: fingerprint(key.verifier.vkey) }
        : { name: '(secret store locked)', vkey: '', fingerprint: '' },
      enrolled,
      unenrolled,
    };
  }

  async enroll(vkey: string, typedFingerprint: string, by: string) {
    const own = await this.key().catch(() => null);
    const s = this.signerRegistry.enroll(vkey, typedFingerprint, by, own);
    this.changed();
    return { name: s.name, vkey: s.vkey, fingerprint: s.fingerprint, enrolledAt: s.enrolledAt };
  }

  removeSigner(name: string) {
    const s = this.signerRegistry.remove(name);
    this.changed();
    return { removed: s.name };
  }

  /** An admin closes an alarm; `accept` makes the shared log as it is now the one witnessed (the evidence stays). */
  async resolveAlarm(id: number, accept: boolean, note: string, by: string) {
    const alarm = this.alarms.get(id);
    if (!alarm) throw new ContractError('NOT_FOUND', `There is no audit alarm ${id}. The Audit log page lists the open ones.`);
    if (alarm.resolvedAt)
      throw new ContractError('CONFLICT', `Alarm ${id} was already resolved by ${alarm.resolvedBy} at ${alarm.resolvedAt}.`);
    if (accept && alarm.cluster) await this.logs.accept(alarm.cluster, alarm);
    this.alarms.resolve(id, by, `${accept ? 'accepted' : 'dismissed'}: ${note}`);
    if (alarm.cluster) this.outbox.kick(alarm.cluster);
    this.changed();
    const { details: _d, ...rest } = this.alarms.get(id)!;
    return rest;
  }

  /** Every source there is to review, with a label. */
  sources() {
    const out: z.infer<typeof AuditStatus>['sources'] = [];
    for (const { cluster, logId } of this.witness.clusters()) {
      out.push({
        source: clusterSource(cluster),
        kind: 'cluster',
        label: `Cluster ${cluster} (log ${logId.slice(0, 8)})`,
        count: this.local.count(clusterSource(cluster)),
      });
    }
    out.push({ source: WORKSTATION_SOURCE, kind: 'workstation', label: 'This workstation', count: this.local.count(WORKSTATION_SOURCE) });
    for (const k of this.kept.list()) {
      if (k.kind === 'archive')
        out.push({
          source: k.source,
          kind: 'archive',
          label: `Kept copy ${k.source.slice(8)} (${k.reason.slice(0, 60)})`,
          count: this.local.count(k.source),
        });
    }
    for (const b of this.bundles())
      out.push({ source: `bundle:${b.id}`, kind: 'bundle', label: `Bundle ${b.id.slice(0, 8)}`, count: b.count });
    return out;
  }

  async status(cluster: string | null): Promise<z.infer<typeof AuditStatus>> {
    const key = await this.key().catch(() => null);
    const src = cluster ? clusterSource(cluster) : null;
    const pending = cluster ? this.outbox.pending(cluster) : { count: 0, oldestAt: null };
    const held = cluster ? this.logs.hold(cluster) : null;
    const lastError = cluster ? this.outbox.lastError(cluster) : null;
    const w = cluster ? this.witness.forCluster(cluster) : null;
    return {
      cluster,
      clusterSource: src,
      sharedStore: !cluster ? 'not-configured' : held ? 'held' : this.logs.isConnected(cluster) && !lastError ? 'connected' : 'unreachable',
      pendingOutbox: pending.count,
      oldestPendingAt: pending.oldestAt,
      lastFlushError: lastError,
      outbox: this.outbox.queues().map((q) => ({ ...q, heldBecause: this.logs.hold(q.cluster) })),
      localCopyCount: src ? this.local.count(src) : 0,
      lastSyncAt: cluster ? this.state.get<string>(`lastSync.${cluster}`) : null,
      lastVerification: src ? this.state.get<VerifyReport>(`verify.${src}`) : null,
      witness: w ? { logId: w.logId, seq: w.seq, head: w.head, checkpointSize: w.checkpointSize, updatedAt: w.updatedAt } : null,
      publication: cluster ? this.state.get(`publication.${cluster}`) : null,
      witnessFile: cluster
        ? (() => {
            const w = this.witnessFolder(cluster);
            return w ? { ...w, publication: this.state.get(`publicationFile.${cluster}`) } : null;
          })()
        : null,
      alarms: this.alarms.recent(),
      signer: key
        ? { name: key.name, vkey: key.verifier.vkey, fingerprint: fingerprint(key.verifier.vkey) }
        : { name: '(secret store locked)', vkey: '', fingerprint: '' },
      enrolledSigners: this.signerRegistry.enrolled().length,
      enrolled: this.signerRegistry.enrolled().map((e) => ({ name: e.name, fingerprint: e.fingerprint, own: e.own })),
      policy: {
        maxEntriesWithoutCheckpoint: this.policy.maxEntriesWithoutCheckpoint,
        maxCheckpointAgeHours: this.policy.maxCheckpointAgeMs / 3600_000,
      },
      sources: this.sources(),
    };
  }

  /**
   * The checkpoint file of a cluster: a folder an admin added as an export root (a mounted
   * share, WORM storage) and chose for it. Null when none is set, or when its root was removed.
   */
  witnessFolder(cluster: string): { rootId: string; folder: string; file: string | null } | null {
    const set = this.state.get<{ folder: string }>(`witnessFile.${cluster}`);
    if (!set) return null;
    const root = this.folders.roots().find((r) => r.origin === 'admin' && r.path === set.folder);
    if (!root) return null;
    const logId = this.witness.boundLog(cluster);
    return { rootId: root.id, folder: root.path, file: logId ? new FileCheckpoints(root.path).file(logId) : null };
  }

  /** Admin: writes the cluster's checkpoints to a file in one of the admin-added export roots too (null: stop). */
  async setWitnessFolder(cluster: string, rootId: string | null): Promise<{ folder: string | null; published: number }> {
    if (rootId === null) {
      this.state.set(`witnessFile.${cluster}`, null);
      this.changed();
      return { folder: null, published: 0 };
    }
    const root = this.folders.roots().find((r) => r.id === rootId);
    if (!root || root.origin !== 'admin') {
      throw new ContractError(
        'VALIDATION',
        root
          ? `The checkpoint file belongs outside this workstation's data directory: pick a folder an admin added (a mounted share), not ${root.path}.`
          : `There is no export folder ${rootId}. Add the folder under Audit log → Folders first, then pick it.`,
      );
    }
    this.state.set(`witnessFile.${cluster}`, { folder: root.path });
    this.changed();
    // publish what this console already holds; a failure is shown in the status, like any publication
    const published = await this.logs.publishHeld(cluster).catch(() => 0);
    return { folder: root.path, published };
  }

  /** The last verification of any source (the page shows it at once, before verifying again). */
  lastVerification(source: string): VerifyReport | null {
    return this.state.get<VerifyReport>(`verify.${source}`);
  }

  async close(): Promise<void> {
    await this.local.stopWalks(); // workers inside better-sqlite3 must not outlive the process
    this.outbox.close();
    this.local.close();
    await this.logs.close();
  }
}
