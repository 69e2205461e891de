import { ContractError, isContractError } from '../../../src-shared/contract';
import type { TenantApplyResult } from '../../../src-shared/contract/entities';
import type { CacheMigration, Sqlite } from '../../adapters/sqlite';
import type { PostgresAdmin } from '../../adapters/postgres';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import { errorText, type OperationHandle, type SagaDefinition } from '../core/saga';
import { mapLimit } from '../core/limit';
import { acquireTenantLease, releaseTenantLease, tenantDbName, tenantKube, tenantRoleName, type TenantKube } from '../tenants';
import { emptySet, type EntitySet, type RoleEntity, type RsEntity, type ScopeEntity } from './model';
import { observeTenant, planTenant, syncTenant, type ProtectionSpec, type Queryable, type SyncInput } from './tenant-sync';

export const ENTITY_SYNC = 'entities.sync';

/** The fan-out's per-tenant journal: durable (a crash mid-way resumes from it). */
export const entitiesMigrations: CacheMigration[] = [
  {
    id: 1700,
    name: 'entity sync fan-out journal',
    store: 'state',
    sql: `CREATE TABLE entity_sync_items (
        operation_id TEXT NOT NULL, slug TEXT NOT NULL, status TEXT NOT NULL, changes INTEGER NOT NULL DEFAULT 0,
        message TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (operation_id, slug));`,
  },
];

/** The definitions as journaled with the operation: a resume applies exactly what was planned and approved. */
export interface SnapshotJson {
  resourceServers: RsEntity[];
  scopes: ScopeEntity[];
  roles: RoleEntity[];
}
export const snapshotOf = (set: EntitySet): SnapshotJson => ({
  resourceServers: [...set.resourceServers.values()],
  scopes: [...set.scopes.values()],
  roles: [...set.roles.values()],
});
export function setOf(snap: SnapshotJson): EntitySet {
  const set = emptySet();
  for (const r of snap.resourceServers) set.resourceServers.set(r.id, r);
  for (const s of snap.scopes) set.scopes.set(s.id, s);
  for (const r of snap.roles) set.roles.set(r.id, r);
  return set;
}

/** Journaled as is (no secret in it). */
export interface SyncParams {
  revision: number;
  definitionsHash: string;
  definitions: SnapshotJson;
  slugs: string[];
  concurrency: number;
}

interface SyncCtx {
  params: SyncParams;
  desired: EntitySet;
  op: OperationHandle;
  pg: PostgresAdmin;
  kube: TenantKube;
  holder: string;
}

type ItemStatus = TenantApplyResult['status'];
const FINAL: ItemStatus[] = ['applied', 'unchanged', 'skipped'];

export class SyncJournal {
  constructor(private readonly db: Sqlite) {}

  seed(operationId: string, slugs: string[]): void {
    const ins = this.db.prepare(
      `INSERT OR IGNORE INTO entity_sync_items (operation_id, slug, status, updated_at) VALUES (?, ?, 'pending', ?)`,
    );
    const now = new Date().toISOString();
    this.db.transaction(() => slugs.forEach((s) => ins.run(operationId, s, now)))();
  }

  set(operationId: string, slug: string, status: ItemStatus, changes = 0, message: string | null = null): void {
    this.db
      .prepare('UPDATE entity_sync_items SET status = ?, changes = ?, message = ?, updated_at = ? WHERE operation_id = ? AND slug = ?')
      .run(status, changes, message, new Date().toISOString(), operationId, slug);
  }

  results(operationId: string): TenantApplyResult[] {
    return this.db
      .prepare('SELECT slug, status, changes, message FROM entity_sync_items WHERE operation_id = ? ORDER BY slug')
      .all(operationId) as TenantApplyResult[];
  }

  /** What a run (or a resume) still has to do: everything not in a final state, with the state it was left in. */
  remaining(operationId: string): { slug: string; status: ItemStatus }[] {
    return this.results(operationId)
      .filter((r) => !FINAL.includes(r.status))
      .map((r) => ({ slug: r.slug, status: r.status }));
  }
}

async function alreadyInSync(c: Queryable, slug: string, input: SyncInput): Promise<boolean> {
  const obs = await observeTenant(c, input.tenantRole, input.desired, input.spec);
  const plan = planTenant(slug, input.desired, obs);
  return plan.status === 'in-sync' && !(obs.state && obs.state.revision > input.revision);
}

/** Test hook: GATEHOUSE_ENTITIES_CRASH_AFTER=<n> SIGKILLs the process after its n-th tenant commit, before its Lease is released and the journal records it. */
let committedInProcess = 0;
function crashAfterCommit(): void {
  const n = Number(process.env.GATEHOUSE_ENTITIES_CRASH_AFTER ?? 0);
  committedInProcess++;
  if (n > 0 && committedInProcess >= n) process.kill(process.pid, 'SIGKILL');
}

/**
 * Apply = a journaled fan-out: "targets" records every tenant of the apply, "sync-tenants"
 * brings each to the journaled definitions with at most `concurrency` at once, holding the
 * tenant's Lease, one transaction per tenant. One tenant failing never stops the others; the
 * step then fails naming them and the operation waits under Unfinished operations, where a
 * resume retries only what is not done. Forward-only: an apply is undone by changing the
 * definitions back and applying again, not by replaying old rows.
 */
export function entitySyncSaga(deps: {
  journal: SyncJournal;
  bus: EventBus | null;
  consoleId: string;
  spec: () => ProtectionSpec;
  leaseSeconds?: number | undefined;
}): SagaDefinition<SyncParams, SyncCtx> {
  return {
    kind: ENTITY_SYNC,
    forwardOnly: true,
    target: (p) => (p.slugs.length === 1 ? `tenant:${p.slugs[0]}` : `${p.slugs.length} tenants @ revision ${p.revision}`),
    async context(params, op, cluster: ClusterRuntime) {
      const pg = await cluster.postgres();
      if (!pg)
        throw new ContractError(
          'UNAVAILABLE',
          `The profile of "${cluster.contextName}" has no database connection. Set its PostgreSQL admin connection (Clusters → Profile).`,
        );
      return {
        params,
        desired: setOf(params.definitions),
        op,
        pg,
        kube: tenantKube(cluster.kube, cluster.namespace),
        holder: `${deps.consoleId}/${op.id}`,
      };
    },
    steps: [
      {
        name: 'targets',
        run: async (ctx) => deps.journal.seed(ctx.op.id, ctx.params.slugs),
      },
      {
        name: 'sync-tenants',
        async run(ctx) {
          const { journal, bus } = deps;
          const opId = ctx.op.id;
          const todo = journal.remaining(opId);
          const total = ctx.params.slugs.length;
          let done = total - todo.length;
          const progress = (slug: string, status: 'running' | 'done' | 'failed' | 'skipped', message?: string) =>
            bus?.publish('operation.progress', {
              operationId: opId,
              kind: ENTITY_SYNC,
              target: slug,
              step: 'sync-tenants',
              status,
              done,
              total,
              at: new Date().toISOString(),
              ...(message ? { message } : {}),
            });
          const failed: { slug: string; error: unknown }[] = [];
          await mapLimit(todo, ctx.params.concurrency, async ({ slug, status: before }) => {
            // In flight when a crash stopped the last run: that run's Lease (same holder) may still be there.
            const releaseLeftover = () =>
              before === 'running' ? releaseTenantLease(ctx.kube, slug, ctx.holder).catch(() => undefined) : undefined;
            journal.set(opId, slug, 'running');
            progress(slug, 'running');
            try {
              const input = {
                tenantRole: tenantRoleName(slug),
                desired: ctx.desired,
                revision: ctx.params.revision,
                definitionsHash: ctx.params.definitionsHash,
                operationId: opId,
                spec: deps.spec(),
              };
              const outcome = await ctx.pg.withDatabase(
                tenantDbName(slug),
                async (c) => {
                  // A tenant already in sync costs one read and no Lease; anything to write is re-read and written under the Lease and the lock.
                  if (await alreadyInSync(c, slug, input)) {
                    await releaseLeftover();
                    return { status: 'unchanged' as const, rows: 0, message: null };
                  }
                  await acquireTenantLease(ctx.kube, slug, ctx.holder, deps.leaseSeconds);
                  try {
                    const out = await syncTenant(c, slug, input);
                    if (out.status === 'applied') crashAfterCommit();
                    return out;
                  } finally {
                    await releaseTenantLease(ctx.kube, slug, ctx.holder).catch(() => undefined);
                  }
                },
                `syncing system entities into tenant ${slug}`,
              );
              done++;
              journal.set(opId, slug, outcome.status, outcome.rows, outcome.message);
              progress(
                slug,
                outcome.status === 'skipped' ? 'skipped' : 'done',
                outcome.message ?? `${outcome.status} (${outcome.rows} row(s))`,
              );
            } catch (error) {
              done++;
              await releaseLeftover();
              if (isContractError(error) && error.details?.postgres === '3D000') {
                journal.set(opId, slug, 'skipped', 0, 'the tenant database no longer exists');
                progress(slug, 'skipped', 'the tenant database no longer exists');
                return;
              }
              const message = isContractError(error) ? error.message : errorText(error);
              failed.push({ slug, error });
              journal.set(opId, slug, 'failed', 0, message);
              progress(slug, 'failed', message);
            }
          });
          if (failed.length) {
            const first = failed[0]!.error;
            throw new ContractError(
              isContractError(first) ? first.code : 'UNAVAILABLE',
              `${failed.length} of ${total} tenant(s) were not synced (${failed
                .slice(0, 5)
                .map((f) => f.slug)
                .join(
                  ', ',
                )}${failed.length > 5 ? ', …' : ''}); the others were. First reason: ${isContractError(first) ? first.message : errorText(first)} Fix the cause, then resume operation ${opId}.`,
              { failed: failed.map((f) => f.slug) },
            );
          }
        },
      },
    ],
  };
}
