import { ContractError } from '../../../src-shared/contract';
import type { CacheMigration, Sqlite } from '../../adapters/sqlite';
import type { PgAdminConfig } from '../core/cluster-runtime';
import { DEV_HARNESS_LABEL, isLoopbackServer } from '../../adapters/kube';
import { withDeadline } from './kube-call';
import { ClusterScope } from './scope';
import type { ClustersService } from './service';

/** Which cluster (kube-system namespace UID) each context led to, and when that changed. Durable state. */
export const identityMigrations: CacheMigration[] = [
  {
    id: 302,
    name: 'clusters: identities by kube-system UID',
    store: 'state',
    sql: `
      CREATE TABLE cluster_identities (
        context_id TEXT PRIMARY KEY, uid TEXT NOT NULL, context_name TEXT NOT NULL, server TEXT NOT NULL,
        first_seen TEXT NOT NULL, last_seen TEXT NOT NULL);
      -- clusters seen answering as the local development harness (labelled kube-system, loopback API server)
      CREATE TABLE cluster_dev_harness (uid TEXT PRIMARY KEY, seen_at TEXT NOT NULL);
      CREATE INDEX cluster_identities_uid ON cluster_identities(uid);
      CREATE TABLE cluster_identity_changes (
        context_id TEXT NOT NULL, old_uid TEXT NOT NULL, new_uid TEXT NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (context_id, at));`,
  },
];

/** How long a read of the kube-system UID proves which cluster a context leads to (the monitor re-checks every 15 s). */
const PROOF_TTL_MS = 15_000;

export interface IdentityRow {
  context_id: string;
  uid: string;
  context_name: string;
  server: string;
  first_seen: string;
  last_seen: string;
}

export interface IdentityChange {
  contextId: string;
  oldUid: string;
  newUid: string;
  at: string;
}

/**
 * Resolves contexts to clusters and holds one ClusterScope per cluster. A cluster is
 * its kube-system namespace UID: two contexts of one cluster get the same scope, and a
 * context whose UID changed leads to a new cluster (recorded, and shown to the operator).
 */
export class ClusterDirectory {
  private readonly scopes = new Map<string, ClusterScope>();
  /** Identity proven in this process for a context at a given kubeconfig fingerprint. */
  private readonly verified = new Map<string, { fingerprint: string; uid: string; at: number }>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly db: Sqlite,
    private readonly clusters: ClustersService,
    private readonly timeoutMs = 8000,
  ) {}

  /** True for a cluster seen answering as the local development harness (kube-system labelled, API server on loopback). */
  isDevHarness(uid: string): boolean {
    return this.db.prepare('SELECT 1 FROM cluster_dev_harness WHERE uid = ?').get(uid) !== undefined;
  }

  private noteDevHarness(uid: string, labels: Record<string, string>, server: string): void {
    if (labels[DEV_HARNESS_LABEL] === 'true' && isLoopbackServer(server)) {
      this.db.prepare('INSERT OR REPLACE INTO cluster_dev_harness (uid, seen_at) VALUES (?, ?)').run(uid, new Date().toISOString());
    } else this.db.prepare('DELETE FROM cluster_dev_harness WHERE uid = ?').run(uid);
  }

  /** The UID a context was last seen to lead to, without a network call; null if never reached. */
  knownUid(contextId: string): string | null {
    return (
      (this.db.prepare('SELECT uid FROM cluster_identities WHERE context_id = ?').pluck().get(contextId) as string | undefined) ?? null
    );
  }

  identities(): IdentityRow[] {
    return this.db.prepare('SELECT * FROM cluster_identities ORDER BY context_name').all() as IdentityRow[];
  }

  /** Contexts last seen leading to uid, the most recently seen first. */
  contextsOf(uid: string): IdentityRow[] {
    return this.db.prepare('SELECT * FROM cluster_identities WHERE uid = ? ORDER BY last_seen DESC').all(uid) as IdentityRow[];
  }

  lastChange(contextId: string): IdentityChange | null {
    const row = this.db
      .prepare(
        'SELECT context_id AS contextId, old_uid AS oldUid, new_uid AS newUid, at FROM cluster_identity_changes WHERE context_id = ? ORDER BY at DESC LIMIT 1',
      )
      .get(contextId) as IdentityChange | undefined;
    return row ?? null;
  }

  /** A human name for a cluster: the context names that lead to it. */
  describe(uid: string): string {
    const names = this.contextsOf(uid).map((r) => r.context_name);
    return names.length ? `"${names.join('" / "')}" (kube-system UID ${uid})` : `kube-system UID ${uid}`;
  }

  /**
   * The scope of the cluster a context leads to. The UID is read once per kubeconfig
   * version (GET namespaces/kube-system); while the cluster is unreachable the last
   * known identity is used, so cached rows and queued work stay with the right cluster.
   */
  async forContext(contextId: string): Promise<ClusterScope> {
    const uid = await this.identify(contextId);
    return this.scopeFor(uid, contextId);
  }

  private scopeFor(uid: string, contextId: string): ClusterScope {
    const rt = this.clusters.runtimeFor(contextId);
    const attachment = {
      contextId,
      contextName: this.clusters.context(contextId).contextName,
      kube: rt.kube,
      namespace: rt.namespace,
      pgAdmin: (): Promise<PgAdminConfig | null> => rt.pgAdmin(),
    };
    let scope = this.scopes.get(uid);
    if (!scope || scope.closed) {
      scope = new ClusterScope(uid, attachment);
      this.scopes.set(uid, scope);
    } else if (scope.contextId === contextId || scope.kube !== attachment.kube) {
      scope.attach(attachment);
    }
    return scope;
  }

  private identify(contextId: string): Promise<string> {
    const ctx = this.clusters.context(contextId);
    const cached = this.verified.get(contextId);
    if (cached && cached.fingerprint === ctx.fingerprint) return Promise.resolve(cached.uid);
    let running = this.inflight.get(contextId);
    if (!running) {
      running = this.readUid(contextId).finally(() => this.inflight.delete(contextId));
      this.inflight.set(contextId, running);
    }
    return running;
  }

  /** Reads the kube-system UID; with fallback, an unreachable cluster answers with the last known one. */
  private async readUid(contextId: string, fallback = true): Promise<string> {
    const ctx = this.clusters.context(contextId);
    const rt = this.clusters.runtimeFor(contextId);
    let uid: string | undefined;
    try {
      const ns = await rt.kube.core.readNamespace({ name: 'kube-system' }, withDeadline(this.timeoutMs));
      uid = ns.metadata?.uid;
      if (uid) this.noteDevHarness(uid, ns.metadata?.labels ?? {}, ctx.server);
    } catch (error) {
      const known = fallback ? this.knownUid(contextId) : null;
      if (known) return known; // unreachable now: keep working with what it was
      throw this.clusters.failure(error, contextId, { verb: 'get', resource: 'namespaces', namespace: 'kube-system' });
    }
    if (!uid)
      throw new ContractError(
        'UNAVAILABLE',
        `The API server of "${ctx.contextName}" returned no UID for namespace kube-system; Gatehouse cannot tell which cluster it is.`,
      );
    this.record(contextId, ctx.contextName, ctx.server, uid);
    this.verified.set(contextId, { fingerprint: ctx.fingerprint, uid, at: Date.now() });
    return uid;
  }

  private record(contextId: string, contextName: string, server: string, uid: string): void {
    const now = new Date().toISOString();
    const before = this.knownUid(contextId);
    this.db.transaction(() => {
      if (before && before !== uid) {
        this.db
          .prepare('INSERT OR REPLACE INTO cluster_identity_changes (context_id, old_uid, new_uid, at) VALUES (?,?,?,?)')
          .run(contextId, before, uid, now);
      }
      this.db
        .prepare(
          `INSERT INTO cluster_identities (context_id, uid, context_name, server, first_seen, last_seen) VALUES (?,?,?,?,?,?)
           ON CONFLICT(context_id) DO UPDATE SET uid = excluded.uid, context_name = excluded.context_name, server = excluded.server,
             first_seen = CASE WHEN cluster_identities.uid = excluded.uid THEN cluster_identities.first_seen ELSE excluded.first_seen END,
             last_seen = excluded.last_seen`,
        )
        .run(contextId, uid, contextName, server, now, now);
    })();
  }

  /**
   * The scope of a cluster by identity, for work that belongs to it (resume, rollback,
   * outbox): tried through every context known to lead to it, and only used when the
   * API server proves it is that cluster. UNAVAILABLE (the work waits) otherwise.
   */
  async byUid(uid: string): Promise<ClusterScope> {
    const live = this.scopes.get(uid);
    const candidates = [...new Set([...(live && !live.closed ? [live.contextId] : []), ...this.contextsOf(uid).map((r) => r.context_id)])];
    const problems: string[] = [];
    for (const contextId of candidates) {
      try {
        this.clusters.context(contextId);
      } catch {
        problems.push(`context ${contextId} is no longer in any kubeconfig`);
        continue;
      }
      try {
        // A proof younger than the connection check's period is reused (outbox flushes come often);
        // otherwise read again: the context may have been re-pointed at another cluster since.
        const proof = this.verified.get(contextId);
        const fresh =
          proof &&
          proof.uid === uid &&
          proof.fingerprint === this.clusters.context(contextId).fingerprint &&
          Date.now() - proof.at < PROOF_TTL_MS;
        if (fresh) return this.scopeFor(uid, contextId);
        this.verified.delete(contextId);
        const seen = await this.readUid(contextId, false);
        if (seen === uid) return this.scopeFor(uid, contextId);
        problems.push(`context "${this.clusters.context(contextId).contextName}" now leads to another cluster (UID ${seen})`);
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }
    throw new ContractError(
      'UNAVAILABLE',
      `The cluster ${this.describe(uid)} cannot be reached right now${problems.length ? ` (${problems.join('; ')})` : ' (no kubeconfig context leads to it)'}. Work that belongs to it waits until it answers; nothing runs against another cluster.`,
      { clusterUid: uid },
    );
  }

  /** A connection check read the context's kube-system namespace: record its UID (and any change of cluster). */
  observe(contextId: string, uid: string, labels: Record<string, string> = {}): void {
    let ctx;
    try {
      ctx = this.clusters.context(contextId);
    } catch {
      return;
    }
    this.noteDevHarness(uid, labels, ctx.server);
    const cached = this.verified.get(contextId);
    if (cached && cached.uid !== uid) this.verified.delete(contextId);
    if (this.knownUid(contextId) !== uid || !cached) this.record(contextId, ctx.contextName, ctx.server, uid);
    this.verified.set(contextId, { fingerprint: ctx.fingerprint, uid, at: Date.now() });
  }

  /** What the cluster list shows of a context's identity. */
  describeContext(contextId: string): {
    clusterUid: string | null;
    identityChange: { previousUid: string; uid: string; at: string } | null;
  } {
    const change = this.lastChange(contextId);
    const uid = this.knownUid(contextId);
    return {
      clusterUid: uid,
      identityChange: change && change.newUid === uid ? { previousUid: change.oldUid, uid: change.newUid, at: change.at } : null,
    };
  }

  /** Scopes that exist in this process (for shutdown and background loops). */
  live(): ClusterScope[] {
    return [...this.scopes.values()].filter((s) => !s.closed);
  }

  async close(): Promise<void> {
    await Promise.all([...this.scopes.values()].map((s) => s.close()));
    this.scopes.clear();
  }
}
