import { ContractError } from '../../../src-shared/contract';
import { quoteIdent, type PostgresAdmin } from '../../adapters/postgres';
import type { ClusterRuntime, PgAdminConfig } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import type { OperationHandle, SagaDefinition } from '../core/saga';
import {
  INITIAL_ADMIN_USERNAME,
  LeaseKeeper,
  OPERATION_ANNOTATION,
  acquireTenantLease,
  applyPendingMigrations,
  currentSchemaVersion,
  decodeSecretData,
  generatePassword,
  hashPassword,
  holdLease,
  isKubeConflict,
  latestVersion,
  releaseTenantLease,
  tenantDbName,
  tenantRoleName,
  tenantSecret,
  tenantSecretData,
  tenantSecretName,
  type RegistryEntry,
  type TenantPorts,
  type TenantSagaCtx,
} from '../tenants';
import { loadBackup, readSmallFile } from './load';
import type { Manifest } from './manifest';
import type { BackupStorage } from './storage';

export const RESTORE_CLONE = 'backup.restore.clone';
export const RESTORE_IN_PLACE = 'backup.restore.inplace';

/** Journaled as is: ids and names only. */
export interface RestoreParams {
  backupId: string;
  /** The tenant restored into: a new one (clone) or the backup's own (in place). */
  slug: string;
  name: string | null;
  actor: string;
}

export interface RestoreCtx extends TenantSagaCtx {
  params: RestoreParams;
  cluster: ClusterRuntime;
  admin: PgAdminConfig;
  /** The authenticated backup, opened on first use: a rollback needs none of it and works without storage. */
  source(): Promise<{ manifest: Manifest; storage: BackupStorage; identities: string[] }>;
  /** In place: the restored database is loaded here, then swapped with the live one. */
  staging: string;
  previous: string;
  adminPassword: string | null;
}

export interface RestoreDeps {
  ports(cluster: ClusterRuntime): Promise<TenantPorts>;
  /** The authenticated manifest and where its files are (re-read on every run, resume and rollback). */
  open(cluster: ClusterRuntime, backupId: string): Promise<{ manifest: Manifest; storage: BackupStorage; identities: string[] }>;
  /** In place: the safety backup of the live database (reason before-restore); returns its id. */
  safetyBackup(cluster: ClusterRuntime, slug: string, actor: string, note: string): Promise<string>;
  consoleId: string;
  leaseSeconds: number;
  jobs: number;
  bus: EventBus | null;
  beforeLoadTable?: (database: string, index: number) => Promise<void>;
}

const short = (id: string) => id.replace(/-/g, '').slice(0, 8);

async function context(
  deps: RestoreDeps,
  params: RestoreParams,
  op: OperationHandle,
  cluster: ClusterRuntime,
  kind: string,
): Promise<RestoreCtx> {
  const resumed = op.notes.started === true;
  if (!resumed) op.note('started', true);
  const ports = await deps.ports(cluster);
  const admin = await cluster.pgAdmin();
  if (!admin) throw new ContractError('UNAVAILABLE', `The profile of "${cluster.contextName}" has no database connection.`);
  let opened: ReturnType<RestoreCtx['source']> | null = null;
  const source = () => {
    opened ??= deps.open(cluster, params.backupId).then((o) => {
      if (kind === RESTORE_IN_PLACE && o.manifest.tenant.slug !== params.slug) {
        throw new ContractError(
          'VALIDATION',
          `Backup ${params.backupId} belongs to tenant "${o.manifest.tenant.slug}", not "${params.slug}". Restore it as a new tenant instead.`,
        );
      }
      return o;
    });
    opened.catch(() => (opened = null));
    return opened;
  };
  const holder = `${deps.consoleId}/${op.id}`;
  const db = tenantDbName(params.slug);
  return {
    ports,
    op,
    slug: params.slug,
    params,
    holder,
    leaseChecked: !resumed,
    leaseSeconds: deps.leaseSeconds,
    lease: new LeaseKeeper(ports.kube, params.slug, holder, deps.leaseSeconds),
    cluster,
    admin,
    source,
    staging: `${db}__r${short(op.id)}`,
    previous: `${db}__p${short(op.id)}`,
    adminPassword: null,
  };
}

/** Loads the backup into `database`; a half-loaded leftover of this operation (a crash mid-way) is recreated empty first. */
async function load(deps: RestoreDeps, ctx: RestoreCtx, kind: string, database: string, owner: string): Promise<void> {
  const pg = ctx.ports.pg;
  const { manifest, storage, identities } = await ctx.source();
  const objects = await pg.withDatabase(database, async (c) =>
    Number(
      (
        await c.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'`,
        )
      ).rows[0]!.n,
    ),
  );
  if (objects > 0) {
    const mark = await pg.ownershipMark('database', database);
    if (mark.operationId !== ctx.op.id)
      throw new ContractError('CONFLICT', `Database ${database} is not empty and not this operation's; refused to load into it.`);
    await pg.dropDatabase(database);
    await createMarkedDatabase(pg, database, owner, ctx.op.id);
  }
  await loadBackup({
    admin: ctx.admin,
    storage,
    manifest,
    identities,
    database,
    owner,
    jobs: deps.jobs,
    onProgress: (done, total, what) =>
      deps.bus?.publish('operation.progress', {
        operationId: ctx.op.id,
        kind,
        target: ctx.slug,
        step: 'load',
        status: 'running',
        done,
        total,
        message: what,
        at: new Date().toISOString(),
      }),
    ...(deps.beforeLoadTable ? { beforeTable: (i: number) => deps.beforeLoadTable!(database, i) } : {}),
  });
}

async function createMarkedDatabase(pg: PostgresAdmin, name: string, owner: string, opId: string): Promise<void> {
  const mark = await pg.ownershipMark('database', name);
  if (!mark.exists) {
    await pg.ensureDatabase(name, owner);
    await pg.setOwnershipMark('database', name, opId);
  } else if (mark.operationId !== opId) {
    if (mark.operationId === null && mark.owner === owner) await pg.setOwnershipMark('database', name, opId);
    else throw notOurs(`database ${name}`, mark.operationId);
  }
}

function notOurs(what: string, markedBy: string | null): ContractError {
  return new ContractError(
    'CONFLICT',
    `${what} exists but was not created by this operation (${markedBy ? `it carries the mark of operation ${markedBy}` : 'it carries no Gatehouse mark'}). It was left untouched; inspect it, then roll this operation back.`,
    { markedBy },
  );
}
const leftAlone = (what: string, markedBy: string | null): string =>
  `Left ${what} in place: it is not this operation's (${markedBy ? `marked by operation ${markedBy}` : 'no Gatehouse mark'}). Inspect it before deleting it by hand.`;

const migrate = (ctx: RestoreCtx, database: string) =>
  ctx.ports.pg.withDatabase(
    database,
    (c) => applyPendingMigrations(c, tenantRoleName(ctx.slug), ctx.ports.migrations),
    'applying pending schema migrations to the restored database',
  );

/**
 * Restore into a new tenant (clone): reserve → database → load → schema → secret →
 * registry → release. Like create, everything it makes carries its operation id and a
 * rollback removes only that. The clone gets new credentials (role password, JWT
 * material, tokens, initial admin password); its data is the backup's.
 */
export function restoreCloneSaga(deps: RestoreDeps): SagaDefinition<RestoreParams, RestoreCtx> {
  return {
    kind: RESTORE_CLONE,
    target: (p) => p.slug,
    context: (params, op, cluster) => context(deps, params, op, cluster, RESTORE_CLONE),
    guard: (ctx) => ctx.lease.check(),
    async dispose(ctx) {
      ctx.lease.stop();
    },
    steps: [
      {
        name: 'reserve',
        async run(ctx) {
          const { kube, registry, pg } = ctx.ports;
          await acquireTenantLease(kube, ctx.slug, ctx.holder, ctx.leaseSeconds);
          ctx.leaseChecked = true;
          ctx.lease.start();
          const taken: string[] = [];
          if (await registry.get(ctx.slug)) taken.push('a registry entry');
          if (await kube.getSecret(tenantSecretName(ctx.slug))) taken.push(`Secret ${tenantSecretName(ctx.slug)}`);
          if (await pg.databaseExists(tenantDbName(ctx.slug))) taken.push(`database ${tenantDbName(ctx.slug)}`);
          if (await pg.roleExists(tenantRoleName(ctx.slug))) taken.push(`role ${tenantRoleName(ctx.slug)}`);
          if (taken.length)
            throw new ContractError(
              'CONFLICT',
              `Tenant "${ctx.slug}" already exists (${taken.join(', ')}). Choose another slug for the restored copy.`,
              { existing: taken },
            );
        },
        compensate: (ctx) => releaseTenantLease(ctx.ports.kube, ctx.slug, ctx.holder),
      },
      {
        name: 'database',
        async run(ctx) {
          await holdLease(ctx);
          const { pg } = ctx.ports;
          const role = tenantRoleName(ctx.slug);
          const roleMark = await pg.ownershipMark('role', role);
          if (!roleMark.exists) await pg.createMarkedLoginRole(role, ctx.op.id);
          else if (roleMark.operationId !== ctx.op.id) throw notOurs(`role ${role}`, roleMark.operationId);
          await createMarkedDatabase(pg, tenantDbName(ctx.slug), role, ctx.op.id);
        },
        async compensate(ctx) {
          const { pg } = ctx.ports;
          const role = tenantRoleName(ctx.slug);
          const db = tenantDbName(ctx.slug);
          const roleMark = await pg.ownershipMark('role', role);
          const dbMark = await pg.ownershipMark('database', db);
          const roleOurs = roleMark.exists && roleMark.operationId === ctx.op.id;
          if (dbMark.exists) {
            if (dbMark.operationId === ctx.op.id || (dbMark.operationId === null && roleOurs && dbMark.owner === role))
              await pg.dropDatabase(db);
            else ctx.op.notice(leftAlone(`database ${db}`, dbMark.operationId));
          }
          if (roleMark.exists) {
            if (roleOurs) await pg.dropRole(role);
            else ctx.op.notice(leftAlone(`role ${role}`, roleMark.operationId));
          }
        },
      },
      {
        name: 'load',
        async run(ctx) {
          await holdLease(ctx);
          await load(deps, ctx, RESTORE_CLONE, tenantDbName(ctx.slug), tenantRoleName(ctx.slug));
        },
      },
      {
        name: 'schema',
        async run(ctx) {
          await holdLease(ctx);
          await migrate(ctx, tenantDbName(ctx.slug));
        },
      },
      {
        name: 'secret',
        async run(ctx) {
          await holdLease(ctx);
          const { kube, pg } = ctx.ports;
          const name = tenantSecretName(ctx.slug);
          const role = tenantRoleName(ctx.slug);
          const existing = await kube.getSecret(name);
          if (existing && existing.metadata?.annotations?.[OPERATION_ANNOTATION] !== ctx.op.id)
            throw notOurs(`Secret ${name}`, existing.metadata?.annotations?.[OPERATION_ANNOTATION] ?? null);
          const current = decodeSecretData(existing);
          const rolePassword = current.DATABASE_URL ? decodeURIComponent(new URL(current.DATABASE_URL).password) : generatePassword(32);
          const data = tenantSecretData(ctx.slug, current, {
            databaseUrl: pg.tenantUrl(role, rolePassword, tenantDbName(ctx.slug)),
            adminPassword: generatePassword(),
          });
          if (!existing) {
            try {
              await kube.createSecret(tenantSecret(ctx.slug, kube.namespace, data, null, ctx.op.id));
            } catch (error) {
              if (!isKubeConflict(error)) throw error;
              throw new ContractError('CONFLICT', `Secret ${name} appeared while creating it; resume the operation.`);
            }
          }
          await pg.setRolePassword(role, rolePassword);
          // The restored users keep their data; the initial admin gets the clone's new password (as after create).
          const adminPassword = data.INITIAL_ADMIN_PASSWORD!;
          await pg.withDatabase(
            tenantDbName(ctx.slug),
            async (c) => {
              await c.query(`SET ROLE ${quoteIdent(role)}`);
              await c.query(
                `INSERT INTO users (username, display_name, password_hash, is_admin, must_change_password) VALUES ($1, 'Administrator', $2, true, true)
               ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, must_change_password = true, updated_at = now()`,
                [INITIAL_ADMIN_USERNAME, await hashPassword(adminPassword)],
              );
            },
            'setting the initial admin password of the restored copy',
          );
          ctx.adminPassword = adminPassword;
        },
        async compensate(ctx) {
          const name = tenantSecretName(ctx.slug);
          const secret = await ctx.ports.kube.getSecret(name);
          if (!secret) return;
          const mark = secret.metadata?.annotations?.[OPERATION_ANNOTATION] ?? null;
          if (mark !== ctx.op.id) return ctx.op.notice(leftAlone(`Secret ${name}`, mark));
          await ctx.ports.kube.deleteSecret(name, { uid: secret.metadata?.uid, resourceVersion: secret.metadata?.resourceVersion });
        },
      },
      {
        name: 'registry',
        async run(ctx) {
          await holdLease(ctx);
          const { manifest } = await ctx.source();
          const source = await sourceRegistry(ctx);
          const schema = await ctx.ports.pg.withDatabase(tenantDbName(ctx.slug), (c) => currentSchemaVersion(c));
          await ctx.ports.registry
            .put(
              ctx.slug,
              {
                name:
                  ctx.params.name ?? `${source?.name ?? manifest.tenant.name} (restored ${manifest.createdAt.slice(0, 10)})`.slice(0, 100),
                tier: source?.tier ?? manifest.tenant.tier,
                status: 'active',
                created: new Date().toISOString(),
                schema: schema || latestVersion(ctx.ports.migrations),
                users: null,
                op: ctx.op.id,
              },
              { ifAbsent: true },
            )
            .catch(async (error: unknown) => {
              // A resumed run finds its own entry (same op): that is done, not a conflict.
              if ((await ctx.ports.registry.get(ctx.slug))?.op === ctx.op.id) return;
              throw error;
            });
        },
        async compensate(ctx) {
          if ((await ctx.ports.registry.removeIfMarked(ctx.slug, ctx.op.id)) === 'not-ours')
            ctx.op.notice(leftAlone(`registry entry ${ctx.slug}`, null));
        },
      },
      { name: 'release', run: (ctx) => releaseTenantLease(ctx.ports.kube, ctx.slug, ctx.holder) },
    ],
  };
}

async function sourceRegistry(ctx: RestoreCtx): Promise<RegistryEntry | null> {
  try {
    const k = JSON.parse((await readSmallFile(await ctx.source(), 'kubernetes.json.age')).toString('utf8')) as {
      registry?: RegistryEntry | null;
    };
    return k.registry ?? null;
  } catch {
    return null;
  }
}

async function setAllowConnections(pg: PostgresAdmin, db: string, allow: boolean): Promise<void> {
  await pg.query(
    `ALTER DATABASE ${quoteIdent(db)} WITH ALLOW_CONNECTIONS ${allow ? 'true' : 'false'}`,
    [],
    `${allow ? 'opening' : 'closing'} database ${db} to connections`,
  );
}

/**
 * Restore in place: reserve → suspend → safety-backup → staging → load → schema → swap →
 * reopen → drop-previous → release. The backup is loaded into a staging database owned
 * by the tenant's existing role, and swapped in by two renames only once complete, so
 * the live database is never half-restored; the role, its password and the tenant Secret
 * are never touched. Until drop-previous, a rollback swaps the previous database back.
 */
export function restoreInPlaceSaga(deps: RestoreDeps): SagaDefinition<RestoreParams, RestoreCtx> {
  return {
    kind: RESTORE_IN_PLACE,
    target: (p) => p.slug,
    context: (params, op, cluster) => context(deps, params, op, cluster, RESTORE_IN_PLACE),
    guard: (ctx) => ctx.lease.check(),
    async dispose(ctx) {
      ctx.lease.stop();
    },
    steps: [
      {
        name: 'reserve',
        async run(ctx) {
          await acquireTenantLease(ctx.ports.kube, ctx.slug, ctx.holder, ctx.leaseSeconds);
          ctx.leaseChecked = true;
          ctx.lease.start();
          await ctx.source();
          const { pg } = ctx.ports;
          if (!(await pg.roleExists(tenantRoleName(ctx.slug))))
            throw new ContractError(
              'NOT_FOUND',
              `Tenant "${ctx.slug}" has no role ${tenantRoleName(ctx.slug)}; restore the backup as a new tenant instead.`,
            );
          if (!(await pg.databaseExists(tenantDbName(ctx.slug))) && !(await pg.databaseExists(ctx.previous))) {
            throw new ContractError('NOT_FOUND', `Tenant "${ctx.slug}" has no database; restore the backup as a new tenant instead.`);
          }
        },
        compensate: (ctx) => releaseTenantLease(ctx.ports.kube, ctx.slug, ctx.holder),
      },
      {
        // The backend stops serving a suspended tenant while its data is replaced.
        name: 'suspend',
        async run(ctx) {
          await holdLease(ctx);
          const entry = await ctx.ports.registry.get(ctx.slug);
          if (!entry) return;
          if (typeof ctx.op.notes.statusBefore !== 'string') ctx.op.note('statusBefore', entry.status);
          if (entry.status !== 'suspended') await ctx.ports.registry.update(ctx.slug, (e) => ({ ...e, status: 'suspended' }));
        },
        async compensate(ctx) {
          const before = ctx.op.notes.statusBefore;
          if (typeof before !== 'string' || before === 'suspended') return;
          if ((await ctx.ports.registry.get(ctx.slug))?.status === 'suspended')
            await ctx.ports.registry.update(ctx.slug, (e) => ({ ...e, status: before as RegistryEntry['status'] }));
        },
      },
      {
        name: 'safety-backup',
        async run(ctx) {
          await holdLease(ctx);
          if (typeof ctx.op.notes.safetyBackup === 'string') return;
          if (!(await ctx.ports.pg.databaseExists(tenantDbName(ctx.slug)))) return;
          const id = await deps.safetyBackup(
            ctx.cluster,
            ctx.slug,
            ctx.params.actor,
            `safety backup before restoring ${ctx.params.backupId} (operation ${ctx.op.id})`,
          );
          ctx.op.note('safetyBackup', id);
        },
        async compensate(ctx) {
          if (typeof ctx.op.notes.safetyBackup === 'string')
            ctx.op.notice(`The safety backup ${ctx.op.notes.safetyBackup} taken before the restore was kept.`);
        },
      },
      {
        name: 'staging',
        async run(ctx) {
          await holdLease(ctx);
          if (ctx.op.notes.swapped === true) return;
          await createMarkedDatabase(ctx.ports.pg, ctx.staging, tenantRoleName(ctx.slug), ctx.op.id);
        },
        async compensate(ctx) {
          const mark = await ctx.ports.pg.ownershipMark('database', ctx.staging);
          if (!mark.exists) return;
          if (mark.operationId === ctx.op.id) await ctx.ports.pg.dropDatabase(ctx.staging);
          else ctx.op.notice(leftAlone(`database ${ctx.staging}`, mark.operationId));
        },
      },
      {
        name: 'load',
        async run(ctx) {
          await holdLease(ctx);
          if (ctx.op.notes.swapped === true) return;
          await load(deps, ctx, RESTORE_IN_PLACE, ctx.staging, tenantRoleName(ctx.slug));
        },
      },
      {
        name: 'schema',
        async run(ctx) {
          await holdLease(ctx);
          if (ctx.op.notes.swapped === true) return;
          await migrate(ctx, ctx.staging);
        },
      },
      {
        name: 'swap',
        async run(ctx) {
          await holdLease(ctx);
          const { pg } = ctx.ports;
          const live = tenantDbName(ctx.slug);
          // Converges from any point: before, between and after the two renames.
          if (await pg.databaseExists(live)) {
            if (!(await pg.databaseExists(ctx.previous)) && (await pg.databaseExists(ctx.staging))) {
              const liveMark = await pg.ownershipMark('database', live);
              ctx.op.note('liveMark', liveMark.operationId);
              await setAllowConnections(pg, live, false);
              await pg.terminateConnections(live);
              await pg.query(`ALTER DATABASE ${quoteIdent(live)} RENAME TO ${quoteIdent(ctx.previous)}`, [], `moving ${live} aside`);
            }
          }
          if (await pg.databaseExists(ctx.staging)) {
            await pg.terminateConnections(ctx.staging);
            await pg.query(
              `ALTER DATABASE ${quoteIdent(ctx.staging)} RENAME TO ${quoteIdent(live)}`,
              [],
              `putting the restored database in place`,
            );
          }
          if (!(await pg.databaseExists(live)))
            throw new ContractError(
              'INTERNAL',
              `Neither ${ctx.staging} nor ${live} exists after the swap; the previous data is in ${ctx.previous}.`,
            );
          // The restored database keeps the lineage mark of the tenant's database.
          const liveMark = ctx.op.notes.liveMark;
          if (typeof liveMark === 'string') await pg.setOwnershipMark('database', live, liveMark);
          else await pg.query(`COMMENT ON DATABASE ${quoteIdent(live)} IS NULL`);
          await pg.query(`REVOKE ALL ON DATABASE ${quoteIdent(live)} FROM PUBLIC`);
          ctx.op.note('swapped', true);
        },
        async compensate(ctx) {
          const { pg } = ctx.ports;
          const live = tenantDbName(ctx.slug);
          if (!(await pg.databaseExists(ctx.previous))) {
            if (ctx.op.notes.swapped === true)
              ctx.op.notice(
                `The previous database of "${ctx.slug}" is gone; the restored data stays in place. Restore the safety backup ${String(ctx.op.notes.safetyBackup ?? '(none)')} to go back.`,
              );
            return;
          }
          if (await pg.databaseExists(live)) {
            await pg.terminateConnections(live);
            await pg.query(
              `ALTER DATABASE ${quoteIdent(live)} RENAME TO ${quoteIdent(ctx.staging)}`,
              [],
              'moving the restored database aside',
            );
            await pg.setOwnershipMark('database', ctx.staging, ctx.op.id);
          }
          await pg.query(
            `ALTER DATABASE ${quoteIdent(ctx.previous)} RENAME TO ${quoteIdent(live)}`,
            [],
            'putting the previous database back',
          );
          await setAllowConnections(pg, live, true);
          ctx.op.note('swapped', false);
        },
      },
      {
        name: 'reopen',
        async run(ctx) {
          await holdLease(ctx);
          const live = tenantDbName(ctx.slug);
          await setAllowConnections(ctx.ports.pg, live, true);
          const schema = await ctx.ports.pg.withDatabase(live, (c) => currentSchemaVersion(c));
          const before = ctx.op.notes.statusBefore;
          if (await ctx.ports.registry.get(ctx.slug)) {
            await ctx.ports.registry.update(ctx.slug, (e) => ({
              ...e,
              schema,
              status: typeof before === 'string' ? (before as RegistryEntry['status']) : e.status,
            }));
          }
        },
      },
      {
        // The restore is complete: failing to drop the old copy is reported, never a reason to undo it.
        name: 'drop-previous',
        async run(ctx) {
          try {
            if (await ctx.ports.pg.databaseExists(ctx.previous)) await ctx.ports.pg.dropDatabase(ctx.previous);
          } catch (error) {
            ctx.op.notice(
              `The restore is complete, but the previous database ${ctx.previous} could not be dropped (${(error as Error).message}). Drop it by hand once PostgreSQL answers.`,
            );
          }
        },
      },
      { name: 'release', run: (ctx) => releaseTenantLease(ctx.ports.kube, ctx.slug, ctx.holder) },
    ],
  };
}
