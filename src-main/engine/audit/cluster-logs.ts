import type { AuditFinding, VerifyReport } from '../../../src-shared/contract/audit';
import { ContractError } from '../../../src-shared/contract/errors';
import type { KubeClients } from '../../adapters/kube';
import type { PgAdminConfig } from '../core/cluster-runtime';
import type { Logger } from '../core/logger';
import { ChainVerifier, GENESIS_HASH } from './chain';
import type { KeptSources } from './evidence';
import { FileCheckpoints, type CheckpointPublisher } from './file-checkpoints';
import { KubeCheckpoints } from './kube-checkpoints';
import type { LocalAuditCopy, StoredEntry } from './local-copy';
import { SharedAuditLog, type PendingRecord } from './shared-log';
import { openCheckpoint, signCheckpoint, type InstallationKey } from './signing';
import type { AuditStateStore } from './state';
import type { SignerRegistry } from './trust';
import { verifyLog, type CheckpointSource, type VerifyPolicy } from './verify';
import { compareWithWitness, type AlarmStore, type WitnessStore } from './witness';

/** What the audit log needs of a cluster. The engine's ClusterRuntime has it (kube clients, namespace, pgAdmin()). */
export interface AuditCluster {
  pgAdmin(): Promise<PgAdminConfig | null>;
  /** For publishing checkpoints outside the database; absent: they are kept in the database and the witness only. */
  kube?: Pick<KubeClients, 'core'> | null;
  namespace?: string;
}

/**
 * How the audit capability reaches a cluster by its identity (the kube-system namespace
 * UID). Null or a throw: the cluster cannot be reached now; its records wait.
 */
export interface AuditClusters {
  resolve(clusterUid: string): Promise<AuditCluster | null>;
}

/** The review-copy source that holds a cluster's shared log. */
export const clusterSource = (cluster: string) => `cluster:${cluster}`;

interface Connection {
  log: SharedAuditLog;
  key: string;
  external: KubeCheckpoints | null;
}

export interface ClusterLogsDeps {
  clusters: AuditClusters | null;
  local: LocalAuditCopy;
  witness: WitnessStore;
  alarms: AlarmStore;
  signers: SignerRegistry;
  kept: KeptSources;
  state: AuditStateStore;
  key(): Promise<InstallationKey | null>;
  policy: VerifyPolicy;
  /** Sign a checkpoint whenever the log grew by this many entries since the last one. */
  checkpointEvery: number;
  /** …or when the last one this console signed for the log is older than this. */
  checkpointMaxAgeMs: number;
  /** The folder an admin chose for this cluster's checkpoint file (docs/audit.md), or null. */
  witnessFolder?(cluster: string): string | null;
  /** The control database name (gatehouse_control; tests give another). */
  controlDatabase?: string;
  log?: Logger;
  changed(): void;
}

/** Alarms after which this console keeps its copy of the log as evidence. */
const KEEP_EVIDENCE = new Set(['log-truncated', 'entry-rewritten', 'log-id-changed']);

/**
 * The shared log of every cluster this console works with, each reached through its own
 * connection and watched through its own witness state. Records are appended only to
 * the log of the cluster they belong to; a log that is not an append-only extension of
 * what this console saw (or holds another log id) takes nothing until an admin decides.
 */
export class ClusterLogs {
  private readonly conns = new Map<string, Connection>();
  private readonly opening = new Map<string, Promise<Connection>>();
  /** Why a cluster's records wait even though its database answers. */
  private readonly holds = new Map<string, string>();
  private readonly lastSigned = new Map<string, number>();

  constructor(private readonly d: ClusterLogsDeps) {}

  hold(cluster: string): string | null {
    return this.holds.get(cluster) ?? null;
  }

  isConnected(cluster: string): boolean {
    return this.conns.has(cluster);
  }

  /** Opens (or reuses) the cluster's shared log; checks which log it holds. Throws UNAVAILABLE when it cannot be reached. */
  async connect(cluster: string): Promise<Connection> {
    let p = this.opening.get(cluster);
    if (!p) {
      p = this.open(cluster).finally(() => this.opening.delete(cluster));
      this.opening.set(cluster, p);
    }
    return p;
  }

  private async open(cluster: string): Promise<Connection> {
    const unavailable = (why: string) =>
      new ContractError('UNAVAILABLE', `The audit log of cluster ${cluster} cannot be reached (${why}). Its entries wait in the outbox.`);
    let runtime: AuditCluster | null;
    try {
      runtime = this.d.clusters ? await this.d.clusters.resolve(cluster) : null;
    } catch (error) {
      throw unavailable((error as Error).message);
    }
    if (!runtime) throw unavailable('the cluster is not reachable from this workstation now');
    let admin: PgAdminConfig | null;
    try {
      admin = await runtime.pgAdmin();
    } catch (error) {
      throw unavailable((error as Error).message);
    }
    if (!admin) throw unavailable('no database is configured for it: add it to the cluster profile');
    const key = JSON.stringify([admin.host, admin.port, admin.user, admin.password, admin.database, admin.ssl, this.d.controlDatabase]);
    const external = runtime.kube?.core && runtime.namespace ? new KubeCheckpoints(runtime.kube, runtime.namespace) : null;
    const existing = this.conns.get(cluster);
    if (existing && existing.key === key) {
      existing.external = external;
      return existing;
    }
    await this.drop(cluster);
    const log = new SharedAuditLog(admin, { database: this.d.controlDatabase });
    try {
      await log.open();
    } catch (error) {
      await log.close();
      throw unavailable((error as Error).message);
    }
    const conn: Connection = { log, key, external };
    this.checkLogId(cluster, log.logId, log);
    const own = await this.d.key();
    if (own) {
      await log.registerSigner(own.name, own.verifier.vkey).catch(() => undefined);
      const notes = this.d.signers.endorsements(own).map((note) => ({ vkey: note.split('\n')[1]!, note }));
      await log.publishEndorsements(own.name, notes).catch(() => undefined);
    }
    this.conns.set(cluster, conn);
    return conn;
  }

  /** A broken connection is thrown away so the next attempt reconnects. */
  async drop(cluster: string): Promise<void> {
    const c = this.conns.get(cluster);
    this.conns.delete(cluster);
    await c?.log.close();
  }

  /** Binds a cluster to the log its database holds on first sight; another log id later is an alarm and holds its records. */
  private checkLogId(cluster: string, logIdNow: string | null, log: SharedAuditLog): AuditFinding | null {
    const bound = this.d.witness.boundLog(cluster);
    if (!bound && logIdNow) {
      this.d.witness.bind(cluster, logIdNow);
      return null;
    }
    if (bound === logIdNow) {
      if (this.holds.get(cluster)?.startsWith('log id')) this.holds.delete(cluster);
      return null;
    }
    const f: AuditFinding = {
      kind: 'log-id-changed',
      severity: 'alarm',
      message: `The ${log.where} now holds another audit log (log id ${logIdNow ?? 'missing'}; this console witnessed ${bound}). The copy of the log it saw is kept; an admin must decide before anything is appended.`,
      seq: null,
      range: null,
      where: log.where,
    };
    this.raise(cluster, bound, f, { newLogId: logIdNow });
    this.holds.set(cluster, `log id changed: ${f.message}`);
    return f;
  }

  /** Raises an alarm once; the first time, keeps this console's copy as evidence where the log changed under it. */
  private raise(cluster: string, logId: string | null, f: AuditFinding, details: Record<string, unknown> = {}): void {
    const { alarm, isNew } = this.d.alarms.raise({ cluster, logId, finding: f, details });
    if (!isNew) return;
    this.d.log?.warn({ cluster, kind: f.kind, seq: f.seq }, `audit alarm: ${f.message}`);
    if (KEEP_EVIDENCE.has(f.kind)) {
      const evidence = this.d.kept.keep(clusterSource(cluster), {
        cluster,
        logId,
        origin: `gatehouse/audit/${logId ?? 'unknown'}`,
        reason: f.message,
      });
      if (evidence) this.d.alarms.setEvidence(alarm.id, evidence);
    }
    this.d.changed();
  }

  private localLookup(cluster: string) {
    const src = clusterSource(cluster);
    return { hashes: async (from: number, to: number) => this.d.local.hashes(src, from, to) };
  }

  private async witnessFinding(cluster: string, c: Connection): Promise<AuditFinding | null> {
    const w = this.d.witness.get(c.log.logId);
    if (!w) return null;
    const head = await c.log.head();
    return compareWithWitness(w, head, c.log, this.localLookup(cluster), `shared log (${c.log.where})`);
  }

  /** The outbox's delivery for one cluster's batch. */
  async deliver(cluster: string, batch: PendingRecord[]): Promise<void> {
    const c = await this.connect(cluster);
    try {
      const held = this.hold(cluster);
      if (held) throw new ContractError('UNAVAILABLE', `Records of cluster ${cluster} wait: ${held}`);
      const w = this.d.witness.get(c.log.logId);
      const res = await c.log.append(batch, w ? { seq: w.seq, head: w.head } : null);
      if (res.logId !== c.log.logId) {
        this.checkLogId(cluster, res.logId, c.log);
        throw new ContractError('UNAVAILABLE', `Records of cluster ${cluster} wait: ${this.hold(cluster) ?? 'the log id changed'}`);
      }
      if (res.conflict) {
        const f = (await this.witnessFinding(cluster, c)) ?? {
          kind: 'broken-link' as const,
          severity: 'alarm' as const,
          message: `The entries after entry ${w!.seq} of the ${c.log.where} do not chain from the entry this console saw there.`,
          seq: w!.seq + 1,
          range: null,
          where: c.log.where,
        };
        this.raise(cluster, c.log.logId, f);
        this.holds.set(cluster, f.message);
        throw new ContractError('UNAVAILABLE', `Records of cluster ${cluster} wait: ${f.message}`);
      }
      this.holds.delete(cluster);
      const contiguous = [...res.between, ...res.appended];
      const src = clusterSource(cluster);
      if (contiguous.length && this.d.local.maxSeq(src) === contiguous[0]!.seq - 1) this.d.local.insertStored(src, contiguous);
      this.d.witness.advance({ logId: c.log.logId, cluster, origin: c.log.origin }, { seq: res.headSeq, hash: res.headHash });
      await this.maybeCheckpoint(cluster, c, res.headSeq, res.headHash);
    } catch (error) {
      if (!(error instanceof ContractError)) await this.drop(cluster);
      throw error;
    }
  }

  private async maybeCheckpoint(cluster: string, c: Connection, size: number, head: string): Promise<void> {
    if (size === 0) return;
    // this console's own last checkpoint: rows others inserted (a forged one at a huge size) must not silence it
    const own = await this.d.key();
    if (!own) return;
    const last = await c.log.lastCheckpointSize(own.name);
    const since = size - last;
    const signedAt = this.lastSigned.get(c.log.logId) ?? 0;
    if (since >= this.d.checkpointEvery || (since > 0 && Date.now() - signedAt > this.d.checkpointMaxAgeMs)) {
      await this.sign(cluster, c, size, head);
    }
  }

  /** Signs a checkpoint of (size, head), stores it in the database, the witness and the ConfigMap. */
  private async sign(cluster: string, c: Connection, size: number, head: string): Promise<string | null> {
    const key = await this.d.key();
    if (!key) return null;
    const cp = signCheckpoint(key, c.log.origin, size, head);
    await c.log.addCheckpoint(size, key.name, cp.note);
    this.d.local.addCheckpoint(clusterSource(cluster), size, cp.note);
    this.lastSigned.set(c.log.logId, Date.now());
    this.d.witness.advance(
      { logId: c.log.logId, cluster, origin: c.log.origin },
      { seq: size, hash: head },
      { checkpoint: { size, note: cp.note } },
    );
    await this.publish(cluster, c, [cp.note]);
    return cp.note;
  }

  /** Where this cluster's checkpoints go outside the database: the ConfigMap, and the checkpoint file when one is set. */
  private externals(cluster: string, c: Connection): { publisher: CheckpointPublisher; stateKey: string }[] {
    const out: { publisher: CheckpointPublisher; stateKey: string }[] = [];
    if (c.external) out.push({ publisher: c.external, stateKey: `publication.${cluster}` });
    const folder = this.d.witnessFolder?.(cluster) ?? null;
    if (folder) out.push({ publisher: new FileCheckpoints(folder), stateKey: `publicationFile.${cluster}` });
    return out;
  }

  /**
   * Publishes the checkpoints this console holds for the cluster (pulled and checked into its
   * local copy, and its witness state) to every place outside the database: used when an admin
   * sets a checkpoint file, so it starts with the history instead of the next checkpoint only.
   */
  async publishHeld(cluster: string): Promise<number> {
    const c = await this.connect(cluster);
    const notes = this.d.local.checkpoints(clusterSource(cluster)).map((n) => n.note);
    const w = this.d.witness.get(c.log.logId);
    if (w?.checkpointNote) notes.push(w.checkpointNote);
    await this.publish(cluster, c, [...new Set(notes)]);
    return notes.length;
  }

  /** Publishes checkpoints outside the database; a failure is shown, never blocks the log. */
  private async publish(cluster: string, c: Connection, notes: string[]): Promise<void> {
    if (!notes.length) return;
    for (const { publisher, stateKey } of this.externals(cluster, c)) {
      const at = new Date().toISOString();
      try {
        await publisher.publish(c.log.logId, c.log.origin, notes);
        this.d.state.set(stateKey, { where: publisher.where, ok: true, message: `published ${notes.length} checkpoint(s)`, at });
      } catch (error) {
        this.d.state.set(stateKey, { where: publisher.where, ok: false, message: (error as Error).message, at });
        this.d.log?.warn({ cluster, where: publisher.where, err: error }, 'audit checkpoints could not be published outside the database');
      }
    }
  }

  /**
   * Proves the cluster's shared log extends what this console saw, pulls what is new into
   * the local copy (checking every link), records what it saw, and cosigns the head.
   */
  async sync(
    cluster: string,
    flush: () => Promise<number>,
  ): Promise<{ pulled: number; flushed: number; consistent: boolean; message: string }> {
    const c = await this.connect(cluster);
    const flushed = await flush().catch(() => 0);
    const src = clusterSource(cluster);
    try {
      const logIdFinding = this.checkLogId(cluster, await c.log.currentLogId(), c.log);
      if (logIdFinding) return { pulled: 0, flushed, consistent: false, message: logIdFinding.message };
      // Who signs in this log (shown as unenrolled until an admin enrolls them) and their endorsements.
      const endorsements = await c.log.endorsements();
      this.d.state.set(`endorsements.${c.log.logId}`, endorsements);
      this.d.state.set(`signersSeen.${cluster}`, await c.log.signers());
      const w = this.d.witness.get(c.log.logId);
      const wf = await this.witnessFinding(cluster, c);
      if (wf) {
        this.raise(cluster, c.log.logId, wf);
        this.holds.set(cluster, wf.message);
        return { pulled: 0, flushed, consistent: false, message: wf.message };
      }
      if (!this.holds.get(cluster)?.startsWith('log id')) this.holds.delete(cluster);

      // The local copy must agree with the log where it ends, else it is rebuilt from the log.
      let from = this.d.local.maxSeq(src);
      const localHead = from ? this.d.local.stored(src, from)!.hash : GENESIS_HASH;
      if (from && (await c.log.hashes(from, from)).get(from) !== localHead) {
        this.d.local.clear(src);
        from = 0;
      }
      const verifier = new ChainVerifier({ seq: from + 1, prevHash: from ? localHead : GENESIS_HASH });
      let pulled = 0;
      const pull = async () => {
        for (;;) {
          const { rows } = await c.log.readAfter(from, 5000);
          if (!rows.length) break;
          const good: StoredEntry[] = [];
          for (const [seq, hash, canonical] of rows) {
            if (!verifier.pushStored(seq, hash, canonical)) break;
            good.push({ seq, hash, canonical });
          }
          this.d.local.insertStored(src, good);
          pulled += good.length;
          from = rows[rows.length - 1]![0];
          if (verifier.fault) break;
        }
      };
      await pull();
      if (verifier.fault) {
        const f: AuditFinding = { ...verifier.fault, kind: verifier.fault.problem, severity: 'alarm', range: null, where: c.log.where };
        this.raise(cluster, c.log.logId, f);
        return { pulled, flushed, consistent: false, message: f.message };
      }
      const headSeq = verifier.nextSeq - 1;
      const headHash = verifier.headHash;
      const dbCheckpoints = await c.log.checkpoints();
      for (const cp of dbCheckpoints) this.d.local.addCheckpoint(src, cp.size, cp.note);
      const trusted = this.d.signers.trusted(endorsements).verifiers;
      let newest: { size: number; note: string } | null = null;
      for (const cp of dbCheckpoints) {
        const o = openCheckpoint(cp.note, trusted);
        if (
          o.ok &&
          cp.size <= headSeq &&
          o.checkpoint.origin === c.log.origin &&
          this.d.local.stored(src, cp.size)?.hash === o.headHashHex
        ) {
          if (!newest || cp.size >= newest.size) newest = cp;
        }
      }
      this.d.witness.advance(
        { logId: c.log.logId, cluster, origin: c.log.origin },
        { seq: headSeq, hash: headHash },
        { checkpoint: newest },
      );
      // A witness cosigns what it has proven consistent with what it saw before.
      if (w && headSeq > (newest?.size ?? 0)) {
        const note = await this.sign(cluster, c, headSeq, headHash);
        if (note) newest = { size: headSeq, note };
      } else if (newest) {
        await this.publish(cluster, c, [newest.note]);
      }
      if (pulled > 1000) this.d.local.analyze(src);
      this.d.state.set(`lastSync.${cluster}`, new Date().toISOString());
      this.d.changed();
      return {
        pulled,
        flushed,
        consistent: true,
        message: `The shared log (${headSeq} entries) extends what this console saw before${w ? ` (entry ${w.seq})` : ' (first sight)'}.`,
      };
    } catch (error) {
      if (!(error instanceof ContractError)) await this.drop(cluster);
      throw error;
    }
  }

  /** Verifies a cluster's log: from its database when reachable (with every witness), else from the local copy. */
  async verify(cluster: string): Promise<VerifyReport> {
    const c = await this.connect(cluster).catch(() => null);
    if (!c) return this.verifyLocal(cluster);
    try {
      return await this.verifyShared(cluster, c);
    } catch (error) {
      if (!(error instanceof ContractError)) await this.drop(cluster);
      return this.verifyLocal(cluster);
    }
  }

  private async verifyShared(cluster: string, c: Connection): Promise<VerifyReport> {
    const src = clusterSource(cluster);
    const findings: AuditFinding[] = [];
    const logIdNow = await c.log.currentLogId();
    const idFinding = this.checkLogId(cluster, logIdNow, c.log);
    if (idFinding) findings.push(idFinding);
    const w = idFinding ? null : this.d.witness.get(c.log.logId);
    const wf = idFinding ? null : await this.witnessFinding(cluster, c);
    if (wf) findings.push(wf);
    const protection = await c.log.protection();
    findings.push(...(await this.protectionFindings(c, protection, w?.ddlEvents ?? 0)));

    const sources: CheckpointSource[] = [{ where: c.log.where, primary: true, notes: await c.log.checkpoints() }];
    for (const { publisher } of this.externals(cluster, c)) {
      try {
        const notes = await publisher.read(c.log.logId);
        sources.push({ where: publisher.where, notes: (notes ?? []).map((note) => ({ size: Number(note.split('\n')[1]), note })) });
      } catch (error) {
        findings.push({
          kind: 'witness-unreadable',
          severity: 'info',
          message: `The checkpoints published in the ${publisher.where} could not be read (${(error as Error).message}); verified without them.`,
          seq: null,
          range: null,
          where: publisher.where,
        });
      }
    }
    if (w?.checkpointNote && w.checkpointSize !== null) {
      sources.push({ where: "this console's witness state", notes: [{ size: w.checkpointSize, note: w.checkpointNote }] });
    }
    sources.push({ where: 'local copy (checkpoints pulled earlier)', notes: this.d.local.checkpoints(src) });
    const endorsements = await c.log.endorsements();
    const outcome = await verifyLog({
      source: src,
      readFrom: 'shared',
      batches: c.log.batches(),
      start: { seq: 1, prevHash: GENESIS_HASH },
      origin: c.log.origin,
      checkpoints: sources,
      trusted: this.d.signers.trusted(endorsements).verifiers,
      policy: this.d.policy,
      timeOf: (seq) => c.log.entryTime(seq),
      findings,
    });
    const report = outcome.report;
    for (const f of report.findings) if (f.severity === 'alarm') this.raise(cluster, c.log.logId, f);
    if (report.state !== 'tampered' && report.headSeq !== null && report.headHash) {
      const newest = outcome.trustedCheckpoints[outcome.trustedCheckpoints.length - 1] ?? null;
      this.d.witness.advance(
        { logId: c.log.logId, cluster, origin: c.log.origin },
        { seq: report.headSeq, hash: report.headHash },
        { checkpoint: newest, ddlEvents: protection.ddlTrace?.events ?? 0 },
      );
      if (newest) await this.publish(cluster, c, [newest.note]);
    }
    this.d.state.set(`verify.${src}`, report);
    this.d.changed();
    return report;
  }

  private async protectionFindings(
    c: Connection,
    p: Awaited<ReturnType<SharedAuditLog['protection']>>,
    ddlSeen: number,
  ): Promise<AuditFinding[]> {
    const out: AuditFinding[] = [];
    const alarm = (message: string): AuditFinding => ({
      kind: 'protection-changed',
      severity: 'alarm',
      message,
      seq: null,
      range: null,
      where: c.log.where,
    });
    if (p.missingTriggers.length) {
      out.push(alarm(`The append-only triggers of the ${c.log.where} are missing or disabled now: ${p.missingTriggers.join(', ')}.`));
    }
    if (!p.functionIntact) out.push(alarm(`The function behind the append-only triggers of the ${c.log.where} was replaced.`));
    if (!p.ddlTrace) {
      if (ddlSeen > 0) out.push(alarm(`The DDL trace of the ${c.log.where} (its event triggers and their table) was removed.`));
      else
        out.push({
          kind: 'protection-changed',
          severity: 'info',
          message: `The ${c.log.where} keeps no DDL trace (creating event triggers needs a superuser); a disabled trigger is caught only through this console's witness.`,
          seq: null,
          range: null,
          where: c.log.where,
        });
      return out;
    }
    if (!p.ddlTrace.enabled)
      out.push(alarm(`The event triggers that record changes to the audit tables of the ${c.log.where} are disabled.`));
    if (p.ddlTrace.events < ddlSeen) {
      out.push(
        alarm(`${ddlSeen - p.ddlTrace.events} row(s) of the DDL trace of the ${c.log.where} were deleted since this console last looked.`),
      );
    }
    const acknowledged = this.d.state.get<number>(`ddlAcknowledged.${c.log.logId}`) ?? 0;
    const events = await c.log.ddlEvents(acknowledged);
    if (events.length) {
      const shown = events.slice(0, 5).map((e) => `${e.tag} ${e.object ?? ''} by ${e.role} at ${e.at}`.replace(/\s+/g, ' '));
      out.push({
        ...alarm(
          `The protection of the ${c.log.where} was changed: ${shown.join('; ')}${events.length > 5 ? ` and ${events.length - 5} more` : ''}. Check what was done meanwhile.`,
        ),
        seq: null,
      });
      this.d.state.set(`ddlPending.${c.log.logId}`, events[events.length - 1]!.id);
    }
    return out;
  }

  private verifyLocal(cluster: string): Promise<VerifyReport> {
    const src = clusterSource(cluster);
    const logId = this.d.witness.boundLog(cluster);
    const w = logId ? this.d.witness.get(logId) : null;
    const findings: AuditFinding[] = [
      {
        kind: 'witness-unreadable',
        severity: 'info',
        message: 'The shared log cannot be reached: this is the local copy, checked against what this console witnessed.',
        seq: null,
        range: null,
        where: 'local copy',
      },
    ];
    const sources: CheckpointSource[] = [{ where: 'local copy', notes: this.d.local.checkpoints(src) }];
    if (w?.checkpointNote && w.checkpointSize !== null) {
      sources.push({ where: "this console's witness state", notes: [{ size: w.checkpointSize, note: w.checkpointNote }] });
    }
    const endorsements = logId ? (this.d.state.get<string[]>(`endorsements.${logId}`) ?? []) : [];
    return verifyLog({
      source: src,
      readFrom: 'local',
      batches: this.d.local.iterateStored(src),
      parallel: this.d.local.parallelPlan(src),
      start: { seq: 1, prevHash: GENESIS_HASH },
      origin: logId ? `gatehouse/audit/${logId}` : null,
      checkpoints: sources,
      trusted: this.d.signers.trusted(endorsements).verifiers,
      policy: this.d.policy,
      timeOf: (seq) => this.d.local.get(src, seq)?.at ?? null,
      findings,
      watch: w ? [w.seq] : [],
    }).then((o) => {
      // The witnessed head must be in the copy, unchanged (unless the cache was rebuilt since).
      if (w && o.report.state !== 'tampered' && o.lastSeq >= w.seq && o.seen.get(w.seq) !== w.head) {
        o.report.findings.unshift({
          kind: 'entry-rewritten',
          severity: 'alarm',
          message: `Entry ${w.seq} of the local copy is not the one this console witnessed.`,
          seq: w.seq,
          range: null,
          where: 'local copy',
        });
        Object.assign(o.report, {
          state: 'tampered',
          ok: false,
          problem: 'entry-rewritten',
          firstBadSeq: w.seq,
          message: o.report.findings[0]!.message,
        });
      }
      this.d.state.set(`verify.${src}`, o.report);
      return o.report;
    });
  }

  /** After an admin accepted the log as it is now: bind to the log id it holds, forget the old witnessed head, rebuild the copy. */
  async accept(cluster: string, alarm: { kind: string; logId: string | null; details: Record<string, unknown> }): Promise<void> {
    const src = clusterSource(cluster);
    if (alarm.kind === 'log-id-changed' && typeof alarm.details.newLogId === 'string') {
      this.d.witness.bind(cluster, alarm.details.newLogId);
      this.holds.delete(cluster);
      this.d.local.clear(src);
    } else if (alarm.kind === 'log-truncated' || alarm.kind === 'entry-rewritten' || alarm.kind === 'broken-link') {
      if (alarm.logId) this.d.witness.forget(alarm.logId);
      this.holds.delete(cluster);
      this.d.local.clear(src);
    } else if (alarm.kind === 'protection-changed' && alarm.logId) {
      const pending = this.d.state.get<number>(`ddlPending.${alarm.logId}`);
      if (pending) this.d.state.set(`ddlAcknowledged.${alarm.logId}`, pending);
    }
  }

  async close(): Promise<void> {
    for (const cluster of [...this.conns.keys()]) await this.drop(cluster);
  }
}
