import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { ContractError, isContractError } from '../../../src-shared/contract';
import type { ApplyResult, Definitions, FleetPlan, TenantPlan, TenantSyncStatus } from '../../../src-shared/contract/entities';
import type { PostgresAdmin } from '../../adapters/postgres';
import type { Sqlite } from '../../adapters/sqlite';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import { errorText, type SagaRunner } from '../core/saga';
import { mapLimit } from '../core/limit';
import { loadTenantMigrations, slugOfDbName, tenantDbName, tenantRoleName } from '../tenants';
import { ENTITY_SYNC, entitySyncSaga, snapshotOf, SyncJournal, type SyncParams } from './apply-saga';
import * as store from './control-store';
import { CONTROL_DATABASE } from './control-store';
import { observeTenant, planTenant, protectionSpec, REQUIRED_SCHEMA, SYNC_ROLE, syncTenant, type ProtectionSpec } from './tenant-sync';

export interface EntitiesServiceOptions {
  db: Sqlite;
  bus: EventBus | null;
  saga: SagaRunner;
  /** Stable id of this console installation: with the operation id it names the tenant Lease holder. */
  consoleId: string;
  migrationsDir?: string;
  /** How many tenant databases a plan reads at once. */
  planConcurrency?: number;
  leaseSeconds?: number;
  /**
   * Which tenants "the fleet" is: by default every tenant database on the cluster's server.
   * Integration tests narrow it to their own tenants on the shared harness server.
   */
  fleet?: (pg: PostgresAdmin) => Promise<string[]>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function checkId(id: string, what: string): void {
  if (!UUID.test(id)) throw new ContractError('NOT_FOUND', `${what} ${id} is not defined. Reload the page.`);
}

/** Every tenant database on the server, as slugs (one query). */
export async function allTenantSlugs(pg: PostgresAdmin): Promise<string[]> {
  const { databases } = await pg.listWithPrefix('tenant_');
  return databases.map(slugOfDbName).sort();
}

/**
 * Control-plane entities of one cluster: definitions in its gatehouse_control database,
 * plans and applies over its tenant databases. Every method takes the cluster it acts on.
 */
export class EntitiesService {
  readonly journal: SyncJournal;
  private readonly spec: ProtectionSpec;
  /** Schema and sync role are prepared once per process and PostgreSQL connection (a cluster's pool). */
  private readonly prepared = new WeakMap<PostgresAdmin, Promise<void>>();

  constructor(private readonly opts: EntitiesServiceOptions) {
    this.journal = new SyncJournal(opts.db);
    const migration = loadTenantMigrations(opts.migrationsDir).find((m) => m.version === REQUIRED_SCHEMA);
    if (!migration) throw new Error(`tenant migration ${REQUIRED_SCHEMA} (system entities) is missing from the tenant migrations`);
    this.spec = protectionSpec(migration.sql);
    opts.saga.register(
      entitySyncSaga({
        journal: this.journal,
        bus: opts.bus,
        consoleId: opts.consoleId,
        spec: () => this.spec,
        leaseSeconds: opts.leaseSeconds,
      }),
    );
  }

  private async pg(cluster: ClusterRuntime): Promise<PostgresAdmin> {
    const pg = await cluster.postgres();
    if (!pg)
      throw new ContractError(
        'UNAVAILABLE',
        `The profile of "${cluster.contextName}" has no database connection. Set its PostgreSQL admin connection (Clusters → Profile).`,
      );
    await this.prepare(pg);
    return pg;
  }

  /** gatehouse_control tables, and the sync role the tenant role can never become. Retried on the next call after a failure. */
  private prepare(pg: PostgresAdmin): Promise<void> {
    let p = this.prepared.get(pg);
    if (!p) {
      p = (async () => {
        await store.ensureControlSchema(pg);
        await ensureSyncRole(pg);
      })();
      p.catch(() => this.prepared.delete(pg));
      this.prepared.set(pg, p);
    }
    return p;
  }

  private control<T>(pg: PostgresAdmin, fn: (c: pg.Client) => Promise<T>, doing: string): Promise<T> {
    return pg.withDatabase(CONTROL_DATABASE, fn, doing);
  }

  async list(cluster: ClusterRuntime): Promise<Definitions> {
    const pg = await this.pg(cluster);
    const { view } = await this.control(pg, store.readDefinitions, 'reading the entity definitions');
    return { clusterId: cluster.clusterId, ...view };
  }

  async createResourceServer(cluster: ClusterRuntime, input: store.RsInput, actor: string) {
    const pg = await this.pg(cluster);
    const r = await this.control(pg, (c) => store.createResourceServer(c, input, actor), 'defining a resource server');
    return { revision: r.revision, changed: r.changed, entity: r.value.after, before: r.value.before };
  }

  async updateResourceServer(cluster: ClusterRuntime, input: store.RsInput & { id: string; version: number }, actor: string) {
    checkId(input.id, 'Resource server');
    const pg = await this.pg(cluster);
    const r = await this.control(pg, (c) => store.updateResourceServer(c, input, actor), 'changing a resource server');
    return { revision: r.revision, changed: r.changed, entity: r.value.after, before: r.value.before };
  }

  async deleteResourceServer(cluster: ClusterRuntime, input: { id: string; identifier: string }) {
    checkId(input.id, 'Resource server');
    const pg = await this.pg(cluster);
    const r = await this.control(pg, (c) => store.deleteResourceServer(c, input), 'deleting a resource server');
    return { revision: r.revision, deleted: r.value.before.identifier, rolesAffected: r.value.rolesAffected, before: r.value.before };
  }

  async createRole(cluster: ClusterRuntime, input: store.RoleInput, actor: string) {
    const pg = await this.pg(cluster);
    const r = await this.control(pg, (c) => store.createRole(c, input, actor), 'defining a role');
    return { revision: r.revision, changed: r.changed, entity: r.value.after, before: r.value.before };
  }

  async updateRole(cluster: ClusterRuntime, input: store.RoleInput & { id: string; version: number }, actor: string) {
    checkId(input.id, 'Role');
    const pg = await this.pg(cluster);
    const r = await this.control(pg, (c) => store.updateRole(c, input, actor), 'changing a role');
    return { revision: r.revision, changed: r.changed, entity: r.value.after, before: r.value.before };
  }

  async deleteRole(cluster: ClusterRuntime, input: { id: string; name: string }) {
    checkId(input.id, 'Role');
    const pg = await this.pg(cluster);
    const r = await this.control(pg, (c) => store.deleteRole(c, input), 'deleting a role');
    return { revision: r.revision, deleted: r.value.before.name, before: r.value.before };
  }

  private async targets(pg: PostgresAdmin, slugs: string[] | undefined): Promise<string[]> {
    if (slugs) return [...new Set(slugs)].sort();
    return (this.opts.fleet ?? allTenantSlugs)(pg);
  }

  /** Read-only: observes each tenant (two statements) and diffs it against the definitions. */
  async plan(cluster: ClusterRuntime, input: { slugs?: string[] | undefined }): Promise<FleetPlan> {
    const pg = await this.pg(cluster);
    const defs = await this.control(pg, store.readDefinitions, 'reading the entity definitions');
    const slugs = await this.targets(pg, input.slugs);
    const tenants = await mapLimit(slugs, this.opts.planConcurrency ?? 8, async (slug): Promise<TenantPlan> => {
      try {
        const obs = await pg.withDatabase(
          tenantDbName(slug),
          (c) => observeTenant(c, tenantRoleName(slug), defs.set, this.spec),
          `reading the system entities of tenant ${slug}`,
        );
        return planTenant(slug, defs.set, obs);
      } catch (error) {
        const missing = isContractError(error) && error.details?.postgres === '3D000';
        return {
          slug,
          status: 'error',
          appliedRevision: null,
          changes: [],
          drift: [],
          conflicts: [],
          protection: { ok: false, problems: [] },
          error: missing
            ? `Tenant "${slug}" has no database on this cluster's server.`
            : isContractError(error)
              ? error.message
              : errorText(error),
        };
      }
    });
    const summary = Object.fromEntries(['in-sync', 'pending', 'drift', 'conflict', 'schema-behind', 'error'].map((s) => [s, 0])) as Record<
      TenantSyncStatus,
      number
    >;
    for (const t of tenants) summary[t.status]++;
    return { clusterId: cluster.clusterId, revision: defs.view.revision, hash: defs.view.hash, tenants, summary };
  }

  /**
   * Starts the fan-out at the revision the operator reviewed; a newer revision is refused
   * before anything is journaled (plan again). Returns the per-tenant results, partial ones
   * included: the operation then waits under Unfinished operations for a resume.
   */
  async apply(
    cluster: ClusterRuntime,
    input: { slugs?: string[] | undefined; revision: number; concurrency: number },
    actor?: string,
  ): Promise<ApplyResult> {
    const pg = await this.pg(cluster);
    const defs = await this.control(pg, store.readDefinitions, 'reading the entity definitions');
    if (defs.view.revision !== input.revision) {
      throw new ContractError(
        'CONFLICT',
        `The definitions changed since this plan (revision ${input.revision} → ${defs.view.revision}). Review the new plan, then apply it.`,
        { revision: defs.view.revision },
      );
    }
    const slugs = await this.targets(pg, input.slugs);
    if (slugs.length === 0)
      throw new ContractError(
        'VALIDATION',
        'No tenant to apply to: choose at least one tenant, or leave the selection empty for the whole fleet.',
      );
    const params: SyncParams = {
      revision: defs.view.revision,
      definitionsHash: defs.view.hash,
      definitions: snapshotOf(defs.set),
      slugs,
      concurrency: input.concurrency,
    };
    const outcome = await this.opts.saga.start(ENTITY_SYNC, params, cluster, { ...(actor ? { actor } : {}), id: randomUUID() });
    // A failure before any tenant was reached is an error; tenant failures are results.
    if (outcome.error && outcome.operation.failedStep !== 'sync-tenants') {
      const cause = isContractError(outcome.error) ? outcome.error : null;
      throw new ContractError(
        cause?.code ?? 'INTERNAL',
        `The apply could not start: ${cause?.message ?? errorText(outcome.error)} It is listed under Unfinished operations (${outcome.operation.id}).`,
        { operationId: outcome.operation.id },
      );
    }
    return this.result(outcome.operation.id);
  }

  /** Per-tenant results of an apply, from the durable journal. */
  result(operationId: string): ApplyResult {
    const op = this.opts.saga.get(operationId);
    if (op.kind !== ENTITY_SYNC) throw new ContractError('NOT_FOUND', `Operation ${operationId} is not an entity apply.`);
    const results = this.journal.results(operationId);
    const count = (...s: string[]) => results.filter((r) => s.includes(r.status)).length;
    const status: ApplyResult['status'] =
      op.status === 'done' ? 'done' : op.status === 'failed' ? 'partial' : op.status === 'running' ? 'running' : 'interrupted';
    return {
      operationId,
      status,
      revision: this.revisionOf(operationId),
      results,
      summary: {
        applied: count('applied'),
        unchanged: count('unchanged'),
        skipped: count('skipped'),
        failed: count('failed'),
        pending: count('pending', 'running'),
      },
    };
  }

  private revisionOf(operationId: string): number {
    const row = this.opts.db.prepare('SELECT params FROM operations WHERE id = ?').pluck().get(operationId) as string | undefined;
    return row ? (JSON.parse(row) as SyncParams).revision : 0;
  }

  /**
   * The create-tenant saga's step: a new tenant receives the current definitions. It runs under
   * that saga's tenant Lease (so it takes none), and converges like every step: re-running it is a no-op.
   */
  async syncNewTenant(pg: PostgresAdmin, slug: string, operationId: string): Promise<void> {
    await this.prepare(pg);
    const defs = await this.control(pg, store.readDefinitions, 'reading the entity definitions');
    await pg.withDatabase(
      tenantDbName(slug),
      (c) =>
        syncTenant(c, slug, {
          tenantRole: tenantRoleName(slug),
          desired: defs.set,
          revision: defs.view.revision,
          definitionsHash: defs.view.hash,
          operationId,
          spec: this.spec,
        }),
      `syncing the system entities into the new tenant ${slug}`,
    );
  }
}

/** NOLOGIN: nobody signs in as it; the console's admin reaches it with SET ROLE, the tenant roles never can. */
async function ensureSyncRole(pg: PostgresAdmin): Promise<void> {
  if (!(await pg.roleExists(SYNC_ROLE))) {
    await pg
      .query(`CREATE ROLE ${SYNC_ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT`, [], `creating role ${SYNC_ROLE}`)
      .catch((error: unknown) => {
        if (!(error instanceof ContractError && error.code === 'CONFLICT')) throw error;
      });
    await pg.query(
      `COMMENT ON ROLE ${SYNC_ROLE} IS 'Gatehouse: the only role that may write system entities in tenant databases'`,
      [],
      `describing role ${SYNC_ROLE}`,
    );
  }
  const [me] = await pg.query<{ rolsuper: boolean; member: boolean }>(
    `SELECT rolsuper, pg_has_role(current_user, $1, 'MEMBER') AS member FROM pg_roles WHERE rolname = current_user`,
    [SYNC_ROLE],
  );
  // A non-superuser admin needs the membership to SET ROLE to it.
  if (!me?.rolsuper && !me?.member) await pg.query(`GRANT ${SYNC_ROLE} TO CURRENT_USER`, [], `granting ${SYNC_ROLE} to the admin`);
}
