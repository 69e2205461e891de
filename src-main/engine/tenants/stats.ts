import type { TenantSummary } from '../../../src-shared/contract/tenants';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import { mapLimit } from '../core/limit';
import { tenantDbName } from './material';
import type { TenantPorts } from './ports';
import type { TenantCache } from './reconcile';
import { tenantStats } from './schema';

/** Reads users/groups/applications of each tenant with a database, at most `concurrency` connections at once. */
export async function readStats(ports: TenantPorts, tenants: TenantSummary[], concurrency: number): Promise<number> {
  const withDb = tenants.filter((t) => t.hasDatabase);
  await mapLimit(withDb, concurrency, async (t) => {
    const stats = await ports.pg.withDatabase(tenantDbName(t.slug), tenantStats, `reading stats of ${t.slug}`).catch(() => null);
    if (stats) {
      t.stats = stats;
      t.statsAt = new Date().toISOString();
    }
  });
  return withDb.length;
}

export interface StatsRefresherDeps {
  ports: () => Promise<TenantPorts>;
  cache: TenantCache;
  bus: EventBus | null;
  /** Default 10 minutes. */
  everyMs?: number | undefined;
  /** Tenant databases read at once; default 4. */
  concurrency?: number | undefined;
}

/**
 * Per-tenant stats of one cluster, refreshed in the background while the cluster is
 * online (never when the Tenants page opens): the rows carry `statsAt` so the page can
 * show how old each figure is.
 */
export class StatsRefresher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Tenant databases opened so far (the bench and tests read it). */
  connections = 0;

  constructor(
    private readonly cluster: ClusterRuntime,
    private readonly deps: StatsRefresherDeps,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runNow(), this.deps.everyMs ?? 600_000);
    this.timer.unref();
    void this.runNow();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One refresh now (single flight); rows are updated in the cache and published as they are read. */
  runNow(): Promise<void> {
    this.running ??= this.refresh()
      .catch(() => undefined)
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async refresh(): Promise<void> {
    const clusterId = this.cluster.clusterId;
    const cached = this.deps.cache.load(clusterId);
    if (!cached) return;
    const ports = await this.deps.ports();
    const rows = cached.tenants.map((t) => ({ ...t }));
    this.connections += await readStats(ports, rows, this.deps.concurrency ?? 4);
    // The watch may have rebuilt the list meanwhile: update only rows that still exist.
    const now = this.deps.cache.load(clusterId);
    if (!now) return;
    const current = new Set(now.tenants.map((t) => t.slug));
    const upserted = rows.filter((t) => current.has(t.slug) && t.statsAt);
    for (const t of upserted)
      this.deps.cache.upsert(clusterId, { ...now.tenants.find((x) => x.slug === t.slug)!, stats: t.stats, statsAt: t.statsAt });
    if (upserted.length) {
      const fresh = this.deps.cache.load(clusterId)!;
      const changed = fresh.tenants.filter((t) => upserted.some((u) => u.slug === t.slug));
      this.deps.bus?.publish('tenants.changed', {
        clusterId,
        upserted: changed,
        removed: [],
        drift: fresh.drift,
        refreshedAt: fresh.refreshedAt,
      });
    }
  }
}
