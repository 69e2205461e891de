import type { KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { ContractError } from '../../../src-shared/contract';
import type { DatabaseStatus, InfraPod, InfraSnapshot, InfraWorkload } from '../../../src-shared/contract/infra';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import type { Logger } from '../core/logger';
import { errorText } from '../core/saga';
import { WORKERS_SELECTOR, decodeWorkerConfig } from '../workers';
import { ListWatchStream, makeWatch, missingRow, podRow, watchFailure, workloadRow, type ListPage, type WatchLike } from './watch';

/** Everything the platform runs carries this label (resources/platform/*.yaml and what the console creates). */
export const PLATFORM_SELECTOR = 'app.kubernetes.io/part-of=justiam';

export interface InfraOptions {
  bus: EventBus | null;
  log?: Logger | undefined;
  /** How long changes are gathered into one infra.changed event. */
  batchMs?: number;
  pageSize?: number;
  makeWatch?: (config: KubeConfig) => WatchLike;
}

/** Login mode and pool per tenant, from the worker-config shards (what "Missing" is judged against). */
type Expect = { login: string; pool: string | null };

/**
 * The live infrastructure view of one cluster: three LIST + WATCH streams in the platform
 * namespace (pods and Deployments labelled part-of=justiam, worker-config ConfigMaps), compact
 * rows in memory, changes published in batches. Opening the page asks for a snapshot of what is
 * held: no call to the cluster once the streams run.
 */
export class InfraWatcher {
  readonly counters = { lists: 0, watches: 0, events: 0, relists: 0, batches: 0 };
  private pods: ListWatchStream<unknown, InfraPod>;
  private workloads: ListWatchStream<unknown, InfraWorkload>;
  private configs: ListWatchStream<unknown, Map<string, Expect>>;
  private pendingPods = new Map<string, InfraPod | null>();
  private pendingWorkloads = new Map<string, InfraWorkload | null>();
  private missingDirty = false;
  private resync = false;
  private timer: NodeJS.Timeout | null = null;
  private started: Promise<void> | null = null;
  stopped = false;
  readonly namespace: string;

  constructor(
    private readonly cluster: ClusterRuntime,
    private readonly o: InfraOptions,
    private readonly onStop: (w: InfraWatcher) => void,
  ) {
    const { kube } = cluster;
    const namespace = (this.namespace = cluster.namespace);
    const watch = (o.makeWatch ?? makeWatch)(kube.config);
    const common = { watch, pageSize: o.pageSize ?? 500, log: o.log, counters: this.counters, onFail: (e: unknown) => this.fail(e) };
    const key = (x: unknown) =>
      (x as { metadata?: { uid?: string; name?: string } }).metadata?.uid ?? (x as { metadata?: { name?: string } }).metadata?.name ?? '';
    const nameKey = (x: unknown) => (x as { metadata?: { name?: string } }).metadata?.name ?? '';
    this.pods = new ListWatchStream<unknown, InfraPod>({
      ...common,
      name: 'pods',
      path: `/api/v1/namespaces/${namespace}/pods`,
      labelSelector: PLATFORM_SELECTOR,
      list: (q) => kube.core.listNamespacedPod({ namespace, ...q }) as Promise<ListPage<unknown>>,
      key,
      row: (x) => podRow(x as Parameters<typeof podRow>[0]),
      onChange: (k, row) => this.queue(this.pendingPods, k, row),
      onResync: () => this.markResync(),
    });
    this.workloads = new ListWatchStream<unknown, InfraWorkload>({
      ...common,
      name: 'deployments',
      path: `/apis/apps/v1/namespaces/${namespace}/deployments`,
      labelSelector: PLATFORM_SELECTOR,
      list: (q) => kube.apps.listNamespacedDeployment({ namespace, ...q }) as Promise<ListPage<unknown>>,
      key: nameKey,
      row: (x) => workloadRow(x as Parameters<typeof workloadRow>[0]),
      onChange: (k, row) => {
        this.missingDirty = true;
        this.queue(this.pendingWorkloads, k, row);
      },
      onResync: () => this.markResync(),
    });
    this.configs = new ListWatchStream<unknown, Map<string, Expect>>({
      ...common,
      name: 'worker-config',
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      labelSelector: WORKERS_SELECTOR,
      list: (q) => kube.core.listNamespacedConfigMap({ namespace, ...q }) as Promise<ListPage<unknown>>,
      key: nameKey,
      row: (x) => {
        const out = new Map<string, Expect>();
        for (const [slug, raw] of Object.entries((x as V1ConfigMap).data ?? {})) {
          const c = decodeWorkerConfig(raw)?.config;
          if (c) out.set(slug, { login: c.login.mode, pool: c.task.mode === 'agent' ? c.task.pool : null });
        }
        return out;
      },
      onChange: () => {
        this.missingDirty = true;
        this.schedule();
      },
      onResync: () => this.markResync(),
    });
  }

  /** Starts the streams once; resolves when the three initial LISTs are in. */
  ensure(): Promise<void> {
    this.started ??= Promise.all([this.pods.start(), this.workloads.start(), this.configs.start()]).then(
      () => undefined,
      (error: unknown) => {
        this.fail(error);
        throw watchFailure(error, 'pods', this.namespace);
      },
    );
    return this.started;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pods.stop();
    this.workloads.stop();
    this.configs.stop();
    this.onStop(this);
  }

  private fail(error: unknown): void {
    if (this.stopped) return;
    this.o.log?.warn(
      { clusterId: this.cluster.clusterId, err: errorText(error).slice(0, 200) },
      'infrastructure watch stopped; the next page open starts it again',
    );
    this.stop();
  }

  private queue<R>(pending: Map<string, R | null>, key: string, row: R | null): void {
    pending.set(key, row);
    this.schedule();
  }

  private markResync(): void {
    this.resync = true;
    this.missingDirty = true;
    this.pendingPods.clear();
    this.pendingWorkloads.clear();
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => this.flush(), this.o.batchMs ?? 250);
    this.timer.unref();
  }

  /** One event per batch, however many changes it holds: the renderer applies it in one frame. */
  flush(): void {
    this.timer = null;
    if (this.stopped) return;
    const pods: InfraPod[] = [];
    const podsRemoved: string[] = [];
    for (const [k, row] of this.pendingPods) {
      if (row) pods.push(row);
      else podsRemoved.push(k);
    }
    const workloads: InfraWorkload[] = [];
    const workloadsRemoved: string[] = [];
    for (const [k, row] of this.pendingWorkloads) {
      if (row) workloads.push(row);
      else workloadsRemoved.push(k);
    }
    this.pendingPods.clear();
    this.pendingWorkloads.clear();
    const resync = this.resync;
    this.resync = false;
    const missing = this.missingDirty ? this.missing() : null;
    this.missingDirty = false;
    if (!resync && !pods.length && !podsRemoved.length && !workloads.length && !workloadsRemoved.length && !missing) return;
    this.counters.batches++;
    this.o.bus?.publish('infra.changed', {
      clusterId: this.cluster.clusterId,
      namespace: this.namespace,
      pods: resync ? [] : pods,
      podsRemoved: resync ? [] : podsRemoved,
      workloads: resync ? [] : workloads,
      workloadsRemoved: resync ? [] : workloadsRemoved,
      missing,
      resync,
      at: new Date().toISOString(),
    });
  }

  /** Expected but absent: backend and frontend always; the shared login worker, dedicated workers and pools the tenants' configuration uses. */
  missing(): InfraWorkload[] {
    const have = this.workloads.rows;
    const out: InfraWorkload[] = [];
    for (const name of ['backend', 'frontend'] as const)
      if (!have.has(name)) out.push(missingRow(name, name, null, null, 'the platform needs it'));
    const expectShared = new Set<string>();
    const pools = new Map<string, string[]>();
    for (const shard of this.configs.rows.values()) {
      for (const [slug, e] of shard) {
        if (e.login === 'dedicated' && !have.has(`login-worker-${slug}`))
          out.push(
            missingRow(`login-worker-${slug}`, 'login-dedicated', slug, null, `tenant ${slug} is configured for a dedicated login worker`),
          );
        if (e.login === 'shared') expectShared.add(slug);
        if (e.pool) pools.set(e.pool, [...(pools.get(e.pool) ?? []), slug]);
      }
    }
    if (expectShared.size && !have.has('login-worker-shared'))
      out.push(missingRow('login-worker-shared', 'login-shared', null, null, `${expectShared.size} tenants use the shared login worker`));
    for (const [pool, slugs] of pools)
      if (!have.has(`agent-pool-${pool}`))
        out.push(missingRow(`agent-pool-${pool}`, 'agent-pool', null, pool, `${slugs.length} tenants send tasks to pool ${pool}`));
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  snapshot(): InfraSnapshot {
    return {
      clusterId: this.cluster.clusterId,
      namespace: this.namespace,
      workloads: [...this.workloads.rows.values()].sort((a, b) => a.name.localeCompare(b.name)),
      pods: [...this.pods.rows.values()],
      missing: this.missing(),
      stats: { ...this.counters },
      at: new Date().toISOString(),
    };
  }

  /** Pods of one tenant (its page shows its own workloads) — from memory, no call. */
  tenantView(slug: string): { workloads: InfraWorkload[]; pods: InfraPod[] } {
    return {
      workloads: [...this.workloads.rows.values()].filter((w) => w.tenant === slug),
      pods: [...this.pods.rows.values()].filter((p) => p.tenant === slug),
    };
  }
}

/** One InfraWatcher per cluster, created on first use and stopped with the cluster's scope. */
export class InfraService {
  private readonly watchers = new Map<string, InfraWatcher>();

  constructor(private readonly o: InfraOptions) {}

  watcher(cluster: ClusterRuntime): InfraWatcher {
    let w = this.watchers.get(cluster.clusterId);
    // A changed platform namespace (profile edit) starts over on the new one.
    if (w && w.namespace !== cluster.namespace) {
      w.stop();
      w = undefined;
    }
    if (!w) {
      const created = new InfraWatcher(cluster, this.o, (stopped) => {
        if (this.watchers.get(cluster.clusterId) === stopped) this.watchers.delete(cluster.clusterId);
      });
      this.watchers.set(cluster.clusterId, created);
      cluster.onClose(() => created.stop());
      w = created;
    }
    return w;
  }

  async snapshot(cluster: ClusterRuntime): Promise<InfraSnapshot> {
    const w = this.watcher(cluster);
    await w.ensure();
    return w.snapshot();
  }

  async tenant(cluster: ClusterRuntime, slug: string) {
    const w = this.watcher(cluster);
    await w.ensure();
    return w.tenantView(slug);
  }

  /** PostgreSQL status from the admin connection: a handful of catalog queries, none per tenant database. */
  async database(cluster: ClusterRuntime): Promise<DatabaseStatus> {
    const at = new Date().toISOString();
    const empty = {
      version: null,
      startedAt: null,
      uptimeSeconds: null,
      connections: null,
      databases: [],
      totalBytes: null,
      longestTransaction: null,
      replication: { role: 'primary' as const, replicas: [] },
    };
    const pg = await cluster.postgres();
    if (!pg)
      return {
        reachable: false,
        error: `The profile of "${cluster.contextName}" has no database connection. Set it under Clusters → Profile.`,
        ...empty,
        at,
      };
    try {
      const [info] = await pg.query<{ version: string; started: Date; uptime: string; used: string; max: string; standby: boolean }>(
        `SELECT current_setting('server_version') AS version, pg_postmaster_start_time() AS started,
                extract(epoch FROM now() - pg_postmaster_start_time())::bigint AS uptime,
                (SELECT count(*) FROM pg_stat_activity) AS used, current_setting('max_connections') AS max, pg_is_in_recovery() AS standby`,
        [],
        'reading the server status',
      );
      // Sizes of the 20 largest databases and the total; pg_database_size is a directory walk, so this is the one heavier query.
      const sizes = await pg.query<{ name: string; bytes: string }>(
        `SELECT datname AS name, pg_database_size(datname) AS bytes FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 2 DESC`,
        [],
        'reading database sizes',
      );
      const [longest] = await pg.query<{ seconds: string; database: string | null; state: string | null }>(
        `SELECT extract(epoch FROM now() - xact_start) AS seconds, datname AS database, state FROM pg_stat_activity
          WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND backend_type = 'client backend' ORDER BY xact_start LIMIT 1`,
        [],
        'reading the longest transaction',
      );
      const replicas = info?.standby
        ? []
        : await pg.query<{ name: string; state: string; lag: string | null }>(
            `SELECT application_name AS name, state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag FROM pg_stat_replication ORDER BY 1`,
            [],
            'reading replication state',
          );
      return {
        reachable: true,
        error: null,
        version: info?.version ?? null,
        startedAt: info ? new Date(info.started).toISOString() : null,
        uptimeSeconds: info ? Number(info.uptime) : null,
        connections: info ? { used: Number(info.used), max: Number(info.max) } : null,
        databases: sizes.slice(0, 20).map((s) => ({ name: s.name, bytes: Number(s.bytes) })),
        totalBytes: sizes.reduce((n, s) => n + Number(s.bytes), 0),
        longestTransaction: longest ? { seconds: Number(longest.seconds), database: longest.database, state: longest.state } : null,
        replication: {
          role: info?.standby ? 'standby' : 'primary',
          replicas: replicas.map((r) => ({ name: r.name, state: r.state, lagBytes: r.lag === null ? null : Number(r.lag) })),
        },
        at,
      };
    } catch (error) {
      if (!(error instanceof ContractError)) throw error;
      return { reachable: false, error: error.message, ...empty, at };
    }
  }

  close(): void {
    for (const w of [...this.watchers.values()]) w.stop();
    this.watchers.clear();
  }
}
