import { ContractError } from '../../../src-shared/contract';
import { TIER_LIMITS, type Drift, type OperationSummary, type TenantSummary, type TenantTier } from '../../../src-shared/contract/tenants';
import type { Sqlite } from '../../adapters/sqlite';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import { errorText, type SagaOutcome, type SagaRunner } from '../core/saga';
import { CREATE_TENANT, createTenantSaga, type CreateTenantCtx } from './create-saga';
import { DELETE_TENANT, deleteTenantSaga } from './delete-saga';
import { tenantKube } from './kube-ports';
import { LEASE_SECONDS, TENANT_LABEL, tenantLeaseName } from './lease';
import {
  INITIAL_ADMIN_USERNAME,
  decodeSecretData,
  slugOfDbName,
  loginWorkerName,
  tenantDbName,
  tenantRoleName,
  tenantSecretName,
} from './material';
import { noDatabase, type FinalBackupHook, type LicenseHook, type TenantPorts, type TenantSagaOptions } from './ports';
import { TenantCache, joinObserved, licenseCapsOf, observe } from './reconcile';
import { TenantRegistry } from './registry';
import { currentSchemaVersion, latestVersion, loadTenantMigrations, pendingMigrations, tenantStats, type TenantMigration } from './schema';
import { StatsRefresher, readStats } from './stats';
import { TenantMaintenance } from './maintenance';
import { TenantWatcher } from './watch';
import type { Logger } from '../core/logger';

export interface TenantServiceOptions {
  db: Sqlite;
  bus: EventBus | null;
  saga: SagaRunner;
  /** Stable id of this console installation; with the operation id it names the Lease holder. */
  consoleId: string;
  migrationsDir?: string;
  registryShards?: number;
  finalBackup?: FinalBackupHook;
  /** Lease duration of tenant operations (tests shorten it); renewed every third of it while a saga runs. */
  leaseSeconds?: number;
  /** Test hook: runs before each saga step (to make a step outlive the Lease). */
  beforeStep?: (kind: string, step: string, slug: string) => Promise<void>;
  /** Writes the control-plane entity definitions into a new tenant (the entities capability). */
  systemEntities?: TenantSagaOptions['systemEntities'];
  /** Background stats refresh of each watched cluster: how often, how many tenant databases at once. */
  statsEveryMs?: number;
  statsConcurrency?: number;
  log?: Logger;
}

export type Leftover = { kind: 'database' | 'role' | 'secret' | 'registry-entry' | 'lease' | 'deployment'; name: string };

/**
 * What operators can do with tenants. Every method takes the cluster it acts on
 * (resolved once by the pipeline); sagas for create/delete; everything else converges in place.
 */
export class TenantService {
  readonly migrations: TenantMigration[];
  readonly cache: TenantCache;
  readonly maintenance: TenantMaintenance;
  private finalBackup: FinalBackupHook;
  /** One watcher and one stats refresher per cluster, stopped with the cluster's scope. */
  private readonly watchers = new Map<string, { watcher: TenantWatcher; stats: StatsRefresher }>();

  constructor(private readonly opts: TenantServiceOptions) {
    this.migrations = loadTenantMigrations(opts.migrationsDir);
    this.cache = new TenantCache(opts.db);
    this.finalBackup = opts.finalBackup ?? (async () => undefined);
    const ports = (cluster: ClusterRuntime) => this.ports(cluster);
    const sagaOptions = {
      consoleId: opts.consoleId,
      leaseSeconds: opts.leaseSeconds ?? LEASE_SECONDS,
      beforeStep: opts.beforeStep,
      license: () => this.licenseHook,
      systemEntities: opts.systemEntities,
    };
    opts.saga.register(createTenantSaga(ports, sagaOptions));
    opts.saga.register(deleteTenantSaga(ports, sagaOptions, () => this.finalBackup));
    this.maintenance = new TenantMaintenance(ports, opts.bus, opts.consoleId, () => this.licenseHook);
  }

  private licenseHook: LicenseHook | null = null;

  /** The engine installs the license fan-out here (create, delete and the recreate-Secret repair call it). */
  setLicenseHook(hook: LicenseHook): void {
    this.licenseHook = hook;
  }

  /** The backup capability installs its final-backup step here. */
  setFinalBackupHook(hook: FinalBackupHook): void {
    this.finalBackup = hook;
  }

  async ports(cluster: ClusterRuntime): Promise<TenantPorts> {
    const pg = await cluster.postgres();
    if (!pg) return noDatabase(cluster.contextName);
    const kube = tenantKube(cluster.kube, cluster.namespace);
    return { kube, registry: new TenantRegistry(kube, this.opts.registryShards), pg, migrations: this.migrations };
  }

  /** The cluster's watcher (created on first use and stopped when the cluster's scope closes). */
  watcher(cluster: ClusterRuntime): TenantWatcher {
    let entry = this.watchers.get(cluster.clusterId);
    if (!entry) {
      const watcher = new TenantWatcher({
        cluster,
        ports: () => this.ports(cluster),
        cache: this.cache,
        bus: this.opts.bus,
        log: this.opts.log,
      });
      const stats = new StatsRefresher(cluster, {
        ports: () => this.ports(cluster),
        cache: this.cache,
        bus: this.opts.bus,
        everyMs: this.opts.statsEveryMs,
        concurrency: this.opts.statsConcurrency,
      });
      entry = { watcher, stats };
      this.watchers.set(cluster.clusterId, entry);
      cluster.onClose(() => {
        watcher.stop();
        stats.stop();
        this.watchers.delete(cluster.clusterId);
      });
    }
    return entry.watcher;
  }

  statsOf(cluster: ClusterRuntime): StatsRefresher {
    this.watcher(cluster);
    return this.watchers.get(cluster.clusterId)!.stats;
  }

  /** Connection state of a cluster changed: online keeps its list live (WATCH + background stats); else both stop. */
  onClusterState(cluster: ClusterRuntime, state: { state: string }): void {
    const watcher = this.watcher(cluster);
    const stats = this.statsOf(cluster);
    watcher.onState(state);
    if (state.state === 'online') stats.start();
    else stats.stop();
  }

  async create(
    cluster: ClusterRuntime,
    input: { slug: string; name: string; tier: TenantTier; adminEmail?: string | undefined },
    actor?: string,
  ) {
    const params = { slug: input.slug, name: input.name, tier: input.tier, adminEmail: input.adminEmail ?? null };
    const outcome = await this.opts.saga.start<typeof params, CreateTenantCtx>(CREATE_TENANT, params, cluster, actor ? { actor } : {});
    const ctx = this.finish(outcome, `Creating tenant "${input.slug}"`);
    void this.refreshRow(cluster, input.slug).catch(() => undefined);
    return {
      operationId: outcome.operation.id,
      slug: input.slug,
      adminUsername: INITIAL_ADMIN_USERNAME,
      adminPassword: ctx.adminPassword ?? '',
      steps: outcome.operation.steps,
    };
  }

  async delete(cluster: ClusterRuntime, slug: string, finalBackup: boolean, actor?: string) {
    const found = await this.leftovers(cluster, slug);
    if (found.length === 0)
      throw new ContractError('NOT_FOUND', `Tenant "${slug}" does not exist (no database, role, Secret, registry entry or workload).`);
    // A final backup that cannot be taken is refused before the delete changes anything.
    if (finalBackup && found.some((f) => f.kind === 'database')) await this.finalBackup.ready?.(cluster, slug);
    const outcome = await this.opts.saga.start(DELETE_TENANT, { slug, finalBackup }, cluster, actor ? { actor } : {});
    this.finish(outcome, `Deleting tenant "${slug}"`);
    const leftovers = await this.leftovers(cluster, slug);
    this.cache.remove(cluster.clusterId, slug);
    this.publishRow(cluster.clusterId, [], [slug]);
    return { operationId: outcome.operation.id, slug, steps: outcome.operation.steps, leftovers };
  }

  /**
   * Turns a saga that did not complete into one error naming the failed step, why,
   * and what state it left (rolled back, or waiting in Unfinished operations).
   */
  private finish<C>(outcome: SagaOutcome<C>, doing: string): C {
    if (!outcome.error && outcome.ctx) return outcome.ctx;
    const op = outcome.operation;
    const cause = outcome.error instanceof ContractError ? outcome.error : null;
    const left =
      (op.status === 'rolled-back'
        ? 'Everything it had done was rolled back.'
        : `It is listed under Unfinished operations (${op.id}): resume it${op.canRollback ? ' or roll it back' : ''} once the cause is fixed.`) +
      (op.notices.length ? ` ${op.notices.join(' ')}` : '');
    throw new ContractError(
      cause?.code ?? 'INTERNAL',
      `${doing} failed at step "${op.failedStep ?? '?'}": ${cause?.message ?? errorText(outcome.error)} ${left}`,
      { ...(cause?.details ?? {}), operationId: op.id, step: op.failedStep, status: op.status },
    );
  }

  /** What still exists of a tenant, anywhere: the delete's closing check and the NOT_FOUND test. */
  async leftovers(cluster: ClusterRuntime, slug: string): Promise<Leftover[]> {
    const p = await this.ports(cluster);
    const [db, role, secret, entry, lease, deployments] = await Promise.all([
      p.pg.databaseExists(tenantDbName(slug)),
      p.pg.roleExists(tenantRoleName(slug)),
      p.kube.getSecret(tenantSecretName(slug)),
      p.registry.get(slug),
      p.kube.getLease(tenantLeaseName(slug)),
      p.kube.listDeployments(`${TENANT_LABEL}=${slug}`),
    ]);
    const out: Leftover[] = [];
    if (db) out.push({ kind: 'database', name: tenantDbName(slug) });
    if (role) out.push({ kind: 'role', name: tenantRoleName(slug) });
    if (secret) out.push({ kind: 'secret', name: tenantSecretName(slug) });
    if (entry) out.push({ kind: 'registry-entry', name: slug });
    if (lease) out.push({ kind: 'lease', name: tenantLeaseName(slug) });
    for (const d of deployments) out.push({ kind: 'deployment', name: d.metadata?.name ?? loginWorkerName(slug) });
    return out;
  }

  /**
   * The Tenants page: served from the cache, which the cluster's WATCH keeps current
   * (no reconcile, no tenant database opened). Only an explicit refresh reconciles, and
   * only a first open with nothing cached waits for the watch's first LIST.
   */
  async list(cluster: ClusterRuntime, opts: { refresh: boolean; stats: boolean }) {
    if (opts.refresh) return this.reconcile(cluster, false);
    // An explicit stats request refreshes them in the background; the answer never waits for it.
    if (opts.stats) void this.statsOf(cluster).runNow();
    const cached = this.cache.load(cluster.clusterId);
    if (cached) return { clusterId: cluster.clusterId, ...cached, fromCache: true };
    await this.watcher(cluster)
      .ensure()
      .catch(() => undefined);
    const filled = this.cache.load(cluster.clusterId);
    if (filled) return { clusterId: cluster.clusterId, ...filled, fromCache: false };
    // No watch possible (e.g. the database is not configured yet): one constant-cost reconcile.
    return this.reconcile(cluster, false);
  }

  /** Rebuilds the list with a constant number of calls and caches it for this cluster. */
  async reconcile(
    cluster: ClusterRuntime,
    withStats = false,
  ): Promise<{ clusterId: string; tenants: TenantSummary[]; drift: Drift[]; refreshedAt: string; fromCache: boolean; apiCalls: number }> {
    const ports = await this.ports(cluster);
    const observed = await observe(ports);
    const { tenants, drift } = joinObserved(observed);
    const previous = new Map((this.cache.load(cluster.clusterId)?.tenants ?? []).map((t) => [t.slug, t]));
    for (const t of tenants) {
      t.stats = previous.get(t.slug)?.stats ?? null;
      t.statsAt = previous.get(t.slug)?.statsAt ?? null;
    }
    if (withStats) await readStats(ports, tenants, this.opts.statsConcurrency ?? 4);
    const refreshedAt = this.cache.save(cluster.clusterId, tenants, drift, observed.apiCalls);
    // A reconcile proves cluster and database answer: keep the list current from here on (no-op when watching).
    void this.watcher(cluster)
      .ensure()
      .catch(() => undefined);
    return { clusterId: cluster.clusterId, tenants, drift, refreshedAt, fromCache: false, apiCalls: observed.apiCalls };
  }

  private async refreshRow(cluster: ClusterRuntime, slug: string): Promise<void> {
    const detail = await this.get(cluster, slug);
    this.cache.upsert(cluster.clusterId, detail.tenant);
    // Published here too: the watch's next rebuild compares against this row and sees no change.
    this.publishRow(cluster.clusterId, [detail.tenant], []);
  }

  private publishRow(clusterId: string, upserted: TenantSummary[], removed: string[]): void {
    const cached = this.cache.load(clusterId);
    this.opts.bus?.publish('tenants.changed', {
      clusterId,
      upserted,
      removed,
      drift: cached?.drift ?? [],
      refreshedAt: cached?.refreshedAt ?? new Date().toISOString(),
    });
  }

  async get(cluster: ClusterRuntime, slug: string) {
    const p = await this.ports(cluster);
    const [entry, secret, hasDatabase, backends] = await Promise.all([
      p.registry.get(slug),
      p.kube.getSecret(tenantSecretName(slug)),
      p.pg.databaseExists(tenantDbName(slug)),
      p.kube.listDeployments('app.kubernetes.io/component=backend'),
    ]);
    if (!entry && !secret && !hasDatabase) throw new ContractError('NOT_FOUND', `Tenant "${slug}" does not exist on this cluster.`);
    let stats = null;
    let schema = null;
    if (hasDatabase) {
      const read = await p.pg.withDatabase(tenantDbName(slug), async (c) => {
        const current = await currentSchemaVersion(c);
        return { current, stats: current > 0 ? await tenantStats(c).catch(() => null) : null };
      });
      stats = read.stats;
      schema = {
        current: read.current,
        latest: latestVersion(this.migrations),
        pending: pendingMigrations(this.migrations, read.current).map((m) => m.name),
      };
    }
    const url = decodeSecretData(secret).DATABASE_URL;
    const parsed = url ? new URL(url) : null;
    const tier = entry?.tier as TenantTier | undefined;
    return {
      tenant: {
        slug,
        name: entry?.name ?? slug,
        tier: entry?.tier ?? 'unknown',
        status: entry?.status ?? 'unregistered',
        created: entry?.created || null,
        // the same sources as the list: the license fan-out's cap in the Secret, the backend Deployment's version label
        schemaVersion: schema?.current ?? entry?.schema ?? null,
        licenseUsers: secret ? (licenseCapsOf([secret]).get(slug) ?? null) : null,
        backendVersion: backends[0]?.metadata?.labels?.['app.kubernetes.io/version'] ?? null,
        hasSecret: secret !== null,
        hasDatabase,
        inRegistry: entry !== null,
        stats,
        statsAt: stats ? new Date().toISOString() : null,
      },
      // The password stays in the Secret; the page shows it masked.
      database: parsed
        ? {
            host: parsed.hostname,
            port: Number(parsed.port || 5432),
            database: parsed.pathname.slice(1),
            user: decodeURIComponent(parsed.username),
          }
        : null,
      schema,
      limits: tier && tier in TIER_LIMITS ? TIER_LIMITS[tier] : null,
    };
  }

  /** Tenants to migrate: every tenant database on the server (one query). */
  async slugsWithDatabase(cluster: ClusterRuntime): Promise<string[]> {
    const p = await this.ports(cluster);
    const { databases } = await p.pg.listWithPrefix('tenant_');
    return databases.map(slugOfDbName).sort();
  }

  /** Users of one tenant, for the license usage figures; null when its database is unreachable. */
  async userCount(cluster: ClusterRuntime, slug: string): Promise<number | null> {
    const p = await this.ports(cluster);
    return p.pg.withDatabase(tenantDbName(slug), async (c) => (await tenantStats(c)).users).catch(() => null);
  }

  /** Unfinished operations of every cluster (each runs only against its own). */
  unfinished(): OperationSummary[] {
    return this.opts.saga.listUnfinished();
  }

  async resumeOperation(id: string): Promise<OperationSummary> {
    const outcome = await this.opts.saga.resume(id);
    this.finish(outcome, `Resuming operation ${id}`);
    return outcome.operation;
  }

  async rollbackOperation(id: string): Promise<OperationSummary> {
    const outcome = await this.opts.saga.rollback(id);
    if (outcome.error) this.finish(outcome, `Rolling back operation ${id}`);
    return outcome.operation;
  }

  async close(): Promise<void> {
    for (const { watcher, stats } of this.watchers.values()) {
      watcher.stop();
      stats.stop();
    }
    this.watchers.clear();
  }
}
