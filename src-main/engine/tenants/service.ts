import { ContractError } from '../../../src-shared/contract';
import { TIER_LIMITS, type Drift, type OperationSummary, type TenantSummary, type TenantTier } from '../../../src-shared/contract/tenants';
import { PostgresAdmin } from '../../adapters/postgres';
import type { Sqlite } from '../../adapters/sqlite';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import { errorText, type SagaOutcome, type SagaRunner } from '../core/saga';
import { CREATE_TENANT, createTenantSaga, type CreateTenantCtx } from './create-saga';
import { DELETE_TENANT, deleteTenantSaga } from './delete-saga';
import { tenantKube } from './kube-ports';
import { TENANT_LABEL, tenantLeaseName } from './lease';
import { INITIAL_ADMIN_USERNAME, decodeSecretData, loginWorkerName, tenantDbName, tenantRoleName, tenantSecretName } from './material';
import { noPorts, type FinalBackupHook, type TenantPorts } from './ports';
import { TenantCache, joinObserved, observe } from './reconcile';
import { TenantRegistry } from './registry';
import { currentSchemaVersion, latestVersion, loadTenantMigrations, pendingMigrations, tenantStats, type TenantMigration } from './schema';
import { TenantMaintenance } from './maintenance';
import { mapLimit } from './limit';
import type { TenantWatcher } from './watch';

export interface TenantServiceOptions {
  db: Sqlite;
  bus: EventBus | null;
  saga: SagaRunner;
  /** Stable id of this console installation; with the operation id it names the Lease holder. */
  consoleId: string;
  migrationsDir?: string;
  registryShards?: number;
  finalBackup?: FinalBackupHook;
}

export type Leftover = { kind: 'database' | 'role' | 'secret' | 'registry-entry' | 'lease' | 'deployment'; name: string };

/** What operators can do with tenants. Sagas for create/delete; everything else converges in place. */
export class TenantService {
  readonly migrations: TenantMigration[];
  readonly cache: TenantCache;
  readonly maintenance: TenantMaintenance;
  private pgAdmin: { key: string; admin: PostgresAdmin } | null = null;
  private finalBackup: FinalBackupHook;
  /** Keeps the cached list current by WATCH (createTenantsCapability installs it). */
  watcher: TenantWatcher | null = null;

  constructor(
    private readonly runtime: () => ClusterRuntime | null,
    private readonly opts: TenantServiceOptions,
  ) {
    this.migrations = loadTenantMigrations(opts.migrationsDir);
    this.cache = new TenantCache(opts.db);
    this.finalBackup = opts.finalBackup ?? (async () => undefined);
    const ports = () => this.ports();
    opts.saga.register(createTenantSaga(ports, opts.consoleId));
    opts.saga.register(deleteTenantSaga(ports, opts.consoleId, () => this.finalBackup));
    this.maintenance = new TenantMaintenance(ports, opts.bus, opts.consoleId);
  }

  /** The backup capability installs its final-backup step here. */
  setFinalBackupHook(hook: FinalBackupHook): void {
    this.finalBackup = hook;
  }

  async ports(): Promise<TenantPorts> {
    const rt = this.runtime();
    if (!rt) return noPorts();
    const cfg = await rt.pgAdmin();
    if (!cfg) return noPorts();
    const key = JSON.stringify([rt.clusterId, cfg.host, cfg.port, cfg.user, cfg.database, cfg.password.length]);
    if (this.pgAdmin?.key !== key) {
      await this.pgAdmin?.admin.close();
      this.pgAdmin = { key, admin: new PostgresAdmin(cfg) };
    }
    const kube = tenantKube(rt.kube, rt.namespace);
    return { kube, registry: new TenantRegistry(kube, this.opts.registryShards), pg: this.pgAdmin.admin, migrations: this.migrations };
  }

  private clusterId(): string {
    return this.runtime()?.clusterId ?? noPorts();
  }

  async create(input: { slug: string; name: string; tier: TenantTier; adminEmail?: string | undefined }, actor?: string) {
    const params = { slug: input.slug, name: input.name, tier: input.tier, adminEmail: input.adminEmail ?? null };
    const outcome = await this.opts.saga.start<typeof params, CreateTenantCtx>(CREATE_TENANT, params, actor ? { actor } : {});
    const ctx = this.finish(outcome, `Creating tenant "${input.slug}"`);
    void this.refreshRow(input.slug).catch(() => undefined);
    return {
      operationId: outcome.operation.id,
      slug: input.slug,
      adminUsername: INITIAL_ADMIN_USERNAME,
      adminPassword: ctx.adminPassword ?? '',
      steps: outcome.operation.steps,
    };
  }

  async delete(slug: string, finalBackup: boolean, actor?: string) {
    const found = await this.leftovers(slug);
    if (found.length === 0) throw new ContractError('NOT_FOUND', `Tenant "${slug}" does not exist (no database, role, Secret, registry entry or workload).`);
    const outcome = await this.opts.saga.start(DELETE_TENANT, { slug, finalBackup }, actor ? { actor } : {});
    this.finish(outcome, `Deleting tenant "${slug}"`);
    const leftovers = await this.leftovers(slug);
    this.cache.remove(this.clusterId(), slug);
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
      op.status === 'rolled-back'
        ? 'Everything it had done was rolled back.'
        : `It is listed under Unfinished operations (${op.id}): resume it${op.canRollback ? ' or roll it back' : ''} once the cause is fixed.`;
    throw new ContractError(
      cause?.code ?? 'INTERNAL',
      `${doing} failed at step "${op.failedStep ?? '?'}": ${cause?.message ?? errorText(outcome.error)} ${left}`,
      { ...(cause?.details ?? {}), operationId: op.id, step: op.failedStep, status: op.status },
    );
  }

  /** What still exists of a tenant, anywhere: the delete's closing check and the NOT_FOUND test. */
  async leftovers(slug: string): Promise<Leftover[]> {
    const p = await this.ports();
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

  async list(opts: { refresh: boolean; stats: boolean }) {
    const clusterId = this.clusterId();
    const cached = this.cache.load(clusterId);
    if (cached && !opts.refresh && !opts.stats) return { ...cached, fromCache: true };
    return this.reconcile(opts.stats);
  }

  /** Rebuilds the list with a constant number of calls and caches it for this cluster. */
  async reconcile(withStats = false): Promise<{ tenants: TenantSummary[]; drift: Drift[]; refreshedAt: string; fromCache: boolean; apiCalls: number }> {
    const ports = await this.ports();
    const observed = await observe(ports);
    const { tenants, drift } = joinObserved(observed);
    if (withStats) {
      await mapLimit(tenants.filter((t) => t.hasDatabase), 4, async (t) => {
        t.stats = await ports.pg.withDatabase(tenantDbName(t.slug), tenantStats, `reading stats of ${t.slug}`).catch(() => null);
      });
    }
    const refreshedAt = this.cache.save(this.clusterId(), tenants, drift, observed.apiCalls);
    // A reconcile proves cluster and database answer: keep the list current from here on (no-op when watching).
    void this.watcher?.ensure().catch(() => undefined);
    return { tenants, drift, refreshedAt, fromCache: false, apiCalls: observed.apiCalls };
  }

  private async refreshRow(slug: string): Promise<void> {
    const detail = await this.get(slug);
    this.cache.upsert(this.clusterId(), detail.tenant);
  }

  async get(slug: string) {
    const p = await this.ports();
    const [entry, secret, hasDatabase] = await Promise.all([p.registry.get(slug), p.kube.getSecret(tenantSecretName(slug)), p.pg.databaseExists(tenantDbName(slug))]);
    if (!entry && !secret && !hasDatabase) throw new ContractError('NOT_FOUND', `Tenant "${slug}" does not exist on this cluster.`);
    let stats = null;
    let schema = null;
    if (hasDatabase) {
      const read = await p.pg.withDatabase(tenantDbName(slug), async (c) => {
        const current = await currentSchemaVersion(c);
        return { current, stats: current > 0 ? await tenantStats(c).catch(() => null) : null };
      });
      stats = read.stats;
      schema = { current: read.current, latest: latestVersion(this.migrations), pending: pendingMigrations(this.migrations, read.current).map((m) => m.name) };
    }
    const url = decodeSecretData(secret).DATABASE_URL;
    const parsed = url ? new URL(url) : null;
    const tier = entry?.tier as TenantTier | undefined;
    return {
      tenant: {
        slug, name: entry?.name ?? slug, tier: entry?.tier ?? 'unknown', status: entry?.status ?? 'unregistered', created: entry?.created || null,
        schemaVersion: schema?.current ?? entry?.schema ?? null, licenseUsers: entry?.users ?? null, backendVersion: null,
        hasSecret: secret !== null, hasDatabase, inRegistry: entry !== null, stats,
      },
      // The password stays in the Secret; the page shows it masked.
      database: parsed ? { host: parsed.hostname, port: Number(parsed.port || 5432), database: parsed.pathname.slice(1), user: decodeURIComponent(parsed.username) } : null,
      schema,
      limits: tier && tier in TIER_LIMITS ? TIER_LIMITS[tier] : null,
    };
  }

  /** Tenants to migrate: every tenant database on the server (one query). */
  async slugsWithDatabase(): Promise<string[]> {
    const p = await this.ports();
    const { databases } = await p.pg.listWithPrefix('tenant_');
    return databases.map((d) => d.slice('tenant_'.length).replace(/_/g, '-')).sort();
  }

  /** Users of one tenant, for the license usage figures; null when its database is unreachable. */
  async userCount(slug: string): Promise<number | null> {
    const p = await this.ports();
    return p.pg.withDatabase(tenantDbName(slug), async (c) => (await tenantStats(c)).users).catch(() => null);
  }

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
    this.watcher?.stop();
    await this.pgAdmin?.admin.close();
    this.pgAdmin = null;
  }
}
