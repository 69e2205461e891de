import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Drift, TenantSummary } from '../../../src-shared/contract/tenants';
import { MANAGED_BY_LABEL } from '../../adapters/kube';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import type { Logger } from '../core/logger';
import { TENANT_LABEL } from './lease';
import { slugOfDbName } from './material';
import type { TenantPorts } from './ports';
import { TENANT_DB_PREFIX, joinObserved, licenseCapsOf, type Observed, type TenantCache } from './reconcile';
import { REGISTRY_SELECTOR, decodeEntry, type RegistryEntry } from './registry';

/** The part of @kubernetes/client-node's Watch the ListWatch uses; tests may pass another. */
export type WatchLike = Pick<Watch, 'watch'>;

export interface TenantWatcherDeps {
  /** The one cluster this watcher belongs to. */
  cluster: ClusterRuntime;
  /** The service's ports of that cluster: the admin database connection for the one SQL query per refresh. */
  ports: () => Promise<TenantPorts>;
  cache: TenantCache;
  bus: EventBus | null;
  log?: Logger | undefined;
  /** Quiet period that folds a burst of events (a create touches Lease, Secret, registry) into one refresh. */
  debounceMs?: number;
  makeWatch?: (config: KubeConfig) => WatchLike;
}

/** What the watcher did; the integration test reads it to show no per-tenant GET happens. */
export interface TenantWatchStats {
  /** LIST requests (one per stream at start: Secrets, registry, Leases, backend Deployments; one more per stream after a 410 Gone). */
  lists: number;
  /** WATCH requests opened (first, resumes from resourceVersion, reconnects). */
  watches: number;
  events: number;
  /** Cache rebuilds from the watched state, each with one SQL query and no Kubernetes call. */
  refreshes: number;
  sqlQueries: number;
  errors: number;
}

const MANAGED = `app.kubernetes.io/managed-by=${MANAGED_BY_LABEL['app.kubernetes.io/managed-by']}`;
/** Same selectors as the reconcile's LISTs, so the watched set is exactly what a reconcile sees. */
const TENANT_SELECTOR = `${MANAGED},${TENANT_LABEL}`;
const BACKEND_SELECTOR = 'app.kubernetes.io/component=backend';

interface Running {
  clusterId: string;
  namespace: string;
  streams: {
    secrets: ListWatch<KubernetesObject>;
    registry: ListWatch<KubernetesObject>;
    leases: ListWatch<KubernetesObject>;
    backends: ListWatch<KubernetesObject>;
  };
  ready: boolean;
  stopped: boolean;
  timer: NodeJS.Timeout | null;
  /** One refresh at a time; a change during a refresh asks for one more. */
  refreshing: Promise<void> | null;
  dirty: boolean;
}

/**
 * Keeps the SQLite tenant list of one cluster current without polling (one watcher per cluster).
 *
 * One LIST + WATCH per stream (tenant Secrets, registry ConfigMaps, tenant Leases) in the
 * platform namespace, resumed from the last resourceVersion and re-listed on 410 Gone by
 * the client's ListWatch. On every burst of events the list is rebuilt from the watched
 * objects plus one SQL query over pg_database (databases cannot be watched) and published
 * as `tenants.changed`. Never a GET per tenant. A non-410 failure (API server gone) stops
 * the streams; the next "online" cluster state starts them again (constant LISTs).
 */
export class TenantWatcher {
  private run: Running | null = null;
  readonly stats: TenantWatchStats = { lists: 0, watches: 0, events: 0, refreshes: 0, sqlQueries: 0, errors: 0 };

  constructor(private readonly deps: TenantWatcherDeps) {}

  /** Wired to the cluster's connection state: online starts (or keeps) the watch; anything else stops it. */
  onState(state: { state: string }): void {
    if (state.state === 'online') void this.ensure().catch(() => undefined);
    else this.stop();
  }

  /** The cluster and namespace currently watched, or null. */
  watching(): { clusterId: string; namespace: string; ready: boolean } | null {
    return this.run ? { clusterId: this.run.clusterId, namespace: this.run.namespace, ready: this.run.ready } : null;
  }

  /** Starts watching unless it is watched already; a changed platform namespace restarts the streams. */
  async ensure(): Promise<void> {
    const rt = this.deps.cluster;
    if (this.run && this.run.namespace !== rt.namespace) this.stop();
    if (this.run) return;
    // Without a database connection the list cannot tell drift from health: leave it to reconcile.
    if (!(await rt.pgAdmin().catch(() => null))) return;
    if (this.run) return; // another ensure() won the race while we awaited
    const run = this.open(rt);
    this.run = run;
    try {
      await Promise.all(Object.values(run.streams).map((s) => s.start()));
      if (run.stopped) return;
      run.ready = true;
      this.deps.log?.info({ clusterId: run.clusterId, namespace: run.namespace }, 'tenant watch started');
      await this.refresh(run, 4);
    } catch (error) {
      this.fail(run, error);
    }
  }

  stop(): void {
    const run = this.run;
    this.run = null;
    if (!run) return;
    run.stopped = true;
    if (run.timer) clearTimeout(run.timer);
    for (const s of Object.values(run.streams)) void s.stop().catch(() => undefined);
  }

  /** Resolves once pending changes are in the cache (tests; a refresh already running is awaited). */
  async settled(): Promise<void> {
    const run = this.run;
    while (run && (run.timer || run.refreshing)) await (run.refreshing ?? new Promise((r) => setTimeout(r, 20)));
  }

  private open(rt: ClusterRuntime): Running {
    const { namespace, kube } = rt;
    const makeWatch = this.deps.makeWatch ?? ((config: KubeConfig) => new Watch(config));
    const counted = (inner: WatchLike): WatchLike => ({
      watch: (...args) => {
        this.stats.watches++;
        return inner.watch(...args);
      },
    });
    const watch = counted(makeWatch(kube.config));
    const list = (fn: () => Promise<unknown>) => () => {
      this.stats.lists++;
      return fn() as Promise<KubernetesListObject<KubernetesObject>>;
    };
    const stream = (path: string, labelSelector: string, fn: () => Promise<unknown>) =>
      new ListWatch<KubernetesObject>(path, watch as Watch, list(fn), false, labelSelector);
    const run: Running = {
      clusterId: rt.clusterId,
      namespace,
      streams: {
        secrets: stream(`/api/v1/namespaces/${namespace}/secrets`, TENANT_SELECTOR, () =>
          kube.core.listNamespacedSecret({ namespace, labelSelector: TENANT_SELECTOR }),
        ),
        registry: stream(`/api/v1/namespaces/${namespace}/configmaps`, REGISTRY_SELECTOR, () =>
          kube.core.listNamespacedConfigMap({ namespace, labelSelector: REGISTRY_SELECTOR }),
        ),
        leases: stream(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, TENANT_SELECTOR, () =>
          kube.coordination.listNamespacedLease({ namespace, labelSelector: TENANT_SELECTOR }),
        ),
        // the backend's version label: an upgrade shows in the list as soon as it is applied
        backends: stream(`/apis/apps/v1/namespaces/${namespace}/deployments`, BACKEND_SELECTOR, () =>
          kube.apps.listNamespacedDeployment({ namespace, labelSelector: BACKEND_SELECTOR }),
        ),
      },
      ready: false,
      stopped: false,
      timer: null,
      refreshing: null,
      dirty: false,
    };
    const changed = () => {
      this.stats.events++;
      if (run.ready) this.schedule(run);
    };
    for (const [name, s] of Object.entries(run.streams)) {
      s.on('add', changed);
      s.on('update', changed);
      s.on('delete', changed);
      s.on('error', (error: unknown) => this.fail(run, error, name));
    }
    return run;
  }

  private fail(run: Running, error: unknown, stream?: string): void {
    this.stats.errors++;
    if (run.stopped) return;
    this.deps.log?.warn(
      { clusterId: run.clusterId, stream, err: String(error).slice(0, 200) },
      'tenant watch stopped; restarts when the cluster is back online',
    );
    if (this.run === run) this.stop();
    else run.stopped = true;
  }

  private schedule(run: Running): void {
    if (run.stopped) return;
    if (run.timer) clearTimeout(run.timer);
    run.timer = setTimeout(() => {
      run.timer = null;
      void this.refresh(run, 0);
    }, this.deps.debounceMs ?? 150);
    run.timer.unref();
  }

  private async refresh(run: Running, kubeCalls: number): Promise<void> {
    if (run.refreshing) {
      run.dirty = true;
      return run.refreshing;
    }
    run.refreshing = this.rebuild(run, kubeCalls)
      .catch((error: unknown) =>
        this.deps.log?.warn({ clusterId: run.clusterId, err: String(error).slice(0, 200) }, 'tenant watch refresh failed'),
      )
      .finally(() => {
        run.refreshing = null;
        if (run.dirty && !run.stopped) {
          run.dirty = false;
          this.schedule(run);
        }
      });
    return run.refreshing;
  }

  /** Rebuilds the cached list from the watched objects; publishes the delta when anything moved. */
  private async rebuild(run: Running, kubeCalls: number): Promise<void> {
    // The profile's namespace may have changed under us (no state event for that): never
    // write one namespace's tenants over another's cache; restart on the new one instead.
    if (this.deps.cluster.namespace !== run.namespace) {
      if (this.run === run) {
        this.stop();
        void this.ensure().catch(() => undefined);
      }
      return;
    }
    const prev = this.deps.cache.load(run.clusterId);
    const prevRows = new Map((prev?.tenants ?? []).map((t) => [t.slug, t]));
    const label = (o: KubernetesObject) => o.metadata?.labels?.[TENANT_LABEL] ?? '';
    const registry = new Map<string, RegistryEntry>();
    for (const cm of run.streams.registry.list() as Array<KubernetesObject & { data?: Record<string, string> }>) {
      for (const [slug, raw] of Object.entries(cm.data ?? {})) {
        const entry = decodeEntry(raw);
        if (entry) registry.set(slug, entry);
      }
    }
    let databases: Set<string>;
    let roles: Set<string>;
    try {
      const pg = (await this.deps.ports()).pg;
      this.stats.sqlQueries++;
      const found = await pg.listWithPrefix(TENANT_DB_PREFIX);
      databases = new Set(found.databases.map(slugOfDbName));
      roles = new Set(found.roles.map(slugOfDbName));
    } catch {
      // PostgreSQL unreachable: keep what the last rebuild knew about databases.
      databases = new Set([...prevRows.values()].filter((t) => t.hasDatabase).map((t) => t.slug));
      roles = new Set(databases);
    }
    if (run.stopped) return;
    const observed: Observed = {
      registry,
      secrets: new Set(run.streams.secrets.list().map(label).filter(Boolean)),
      licenseCaps: licenseCapsOf(run.streams.secrets.list() as Array<KubernetesObject & { data?: Record<string, string> }>),
      leases: new Set(run.streams.leases.list().map(label).filter(Boolean)),
      databases,
      roles,
      backendVersion: run.streams.backends.list()[0]?.metadata?.labels?.['app.kubernetes.io/version'] ?? null,
      apiCalls: kubeCalls + 1,
    };
    const { tenants, drift } = joinObserved(observed);
    // Stats come from tenant databases (the background stats refresh); a watch event does not change them.
    for (const t of tenants) {
      t.stats = prevRows.get(t.slug)?.stats ?? null;
      t.statsAt = prevRows.get(t.slug)?.statsAt ?? null;
    }
    const upserted = tenants.filter((t) => JSON.stringify(prevRows.get(t.slug)) !== JSON.stringify(t));
    const slugs = new Set(tenants.map((t) => t.slug));
    const removed = [...prevRows.keys()].filter((s) => !slugs.has(s));
    const driftMoved = JSON.stringify(prev?.drift ?? null) !== JSON.stringify(drift);
    this.stats.refreshes++;
    if (prev && upserted.length === 0 && removed.length === 0 && !driftMoved) return;
    const refreshedAt = this.deps.cache.save(run.clusterId, tenants, drift, observed.apiCalls);
    this.publish(run.clusterId, upserted, removed, drift, refreshedAt);
  }

  private publish(clusterId: string, upserted: TenantSummary[], removed: string[], drift: Drift[], refreshedAt: string): void {
    this.deps.bus?.publish('tenants.changed', { clusterId, upserted, removed, drift, refreshedAt });
  }
}
