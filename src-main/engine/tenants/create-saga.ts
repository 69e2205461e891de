import { ContractError } from '../../../src-shared/contract';
import type { SagaDefinition } from '../core/saga';
import type { ClusterRuntime } from '../core/cluster-runtime';
import { LeaseKeeper, acquireTenantLease, releaseTenantLease } from './lease';
import {
  INITIAL_ADMIN_USERNAME,
  OPERATION_ANNOTATION,
  decodeSecretData,
  generatePassword,
  hashPassword,
  tenantDbName,
  tenantRoleName,
  tenantSecret,
  tenantSecretData,
  tenantSecretName,
  verifyPassword,
} from './material';
import { holdLease, hookSteps, type TenantPorts, type TenantSagaCtx, type TenantSagaOptions } from './ports';
import { applyPendingMigrations, latestVersion } from './schema';
import { isKubeConflict } from './kube-ports';

export const CREATE_TENANT = 'tenant.create';

/** Journaled as is: no secret here (the journal refuses one). */
export interface CreateTenantParams {
  slug: string;
  name: string;
  tier: string;
  adminEmail: string | null;
}

export interface CreateTenantCtx extends TenantSagaCtx {
  params: CreateTenantParams;
  created: string;
  /** Generated in memory only; a process that never saw it regenerates it (see the secret step). */
  adminPassword: string | null;
}

/**
 * Create-tenant saga: reserve → database → schema → (system-entities) → admin-user → secret → registry → release.
 * Every step converges ("create if absent, else compare") so a resume simply re-runs it.
 * Everything it creates carries its operation id (COMMENT ON ROLE/DATABASE, a Secret
 * annotation, the registry entry's `op`), and a compensation removes only what carries
 * its own mark: anything else is left alone and reported as a notice.
 * Secrets are never journaled: the tenant Secret is where they live, and the secret step
 * re-derives the role password and the admin password from it when it already exists.
 */
export function createTenantSaga(
  ports: (cluster: ClusterRuntime) => Promise<TenantPorts>,
  o: TenantSagaOptions,
): SagaDefinition<CreateTenantParams, CreateTenantCtx> {
  return {
    kind: CREATE_TENANT,
    target: (p) => p.slug,
    async context(params, op, cluster) {
      const resumed = typeof op.notes.created === 'string';
      if (!resumed) op.note('created', new Date().toISOString());
      const p = await ports(cluster);
      const holder = `${o.consoleId}/${op.id}`;
      return {
        cluster,
        ports: p,
        op,
        slug: params.slug,
        params,
        holder,
        leaseChecked: !resumed,
        leaseSeconds: o.leaseSeconds,
        lease: new LeaseKeeper(p.kube, params.slug, holder, o.leaseSeconds),
        created: op.notes.created as string,
        adminPassword: null,
      };
    },
    guard: (ctx) => ctx.lease.check(),
    async dispose(ctx) {
      ctx.lease.stop();
    },
    steps: hookSteps(CREATE_TENANT, o, [
      {
        name: 'reserve',
        async run(ctx) {
          const { kube, registry, pg } = ctx.ports;
          await acquireTenantLease(kube, ctx.slug, ctx.holder, ctx.leaseSeconds);
          ctx.leaseChecked = true;
          ctx.lease.start();
          // Under the Lease nobody else can be creating it: anything found now predates us.
          const db = tenantDbName(ctx.slug);
          const taken: string[] = [];
          if (await registry.get(ctx.slug)) taken.push('a registry entry');
          if (await kube.getSecret(tenantSecretName(ctx.slug))) taken.push(`Secret ${tenantSecretName(ctx.slug)}`);
          if (await pg.databaseExists(db)) taken.push(`database ${db}`);
          if (await pg.roleExists(tenantRoleName(ctx.slug))) taken.push(`role ${tenantRoleName(ctx.slug)}`);
          if (taken.length) {
            throw new ContractError(
              'CONFLICT',
              `Tenant "${ctx.slug}" already exists (${taken.join(', ')}). Choose another slug, or reconcile to repair it.`,
              { existing: taken },
            );
          }
        },
        compensate: (ctx) => releaseTenantLease(ctx.ports.kube, ctx.slug, ctx.holder),
      },
      {
        name: 'database',
        async run(ctx) {
          await holdLease(ctx);
          const { pg } = ctx.ports;
          const role = tenantRoleName(ctx.slug);
          const db = tenantDbName(ctx.slug);
          const roleMark = await pg.ownershipMark('role', role);
          if (!roleMark.exists) await pg.createMarkedLoginRole(role, ctx.op.id);
          else if (roleMark.operationId !== ctx.op.id) throw notOurs(`role ${role}`, roleMark.operationId);
          const dbMark = await pg.ownershipMark('database', db);
          if (!dbMark.exists) {
            // CREATE DATABASE cannot share a transaction with its COMMENT: a crash in between
            // leaves it unmarked but owned by our marked role, which is how a resume knows it.
            await pg.ensureDatabase(db, role);
            await pg.setOwnershipMark('database', db, ctx.op.id);
          } else if (dbMark.operationId !== ctx.op.id) {
            if (dbMark.operationId === null && dbMark.owner === role) await pg.setOwnershipMark('database', db, ctx.op.id);
            else throw notOurs(`database ${db}`, dbMark.operationId);
          }
        },
        // Drops only what this operation marked (or the database its own role owns, unmarked after a crash).
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
        name: 'schema',
        async run(ctx) {
          await holdLease(ctx);
          await ctx.ports.pg.withDatabase(
            tenantDbName(ctx.slug),
            (c) => applyPendingMigrations(c, tenantRoleName(ctx.slug), ctx.ports.migrations),
            'applying the tenant schema',
          );
        },
        // Dropping the database (previous step's compensation) removes the schema.
      },
      // The current control-plane definitions (docs/entities.md); dropping the database undoes it.
      ...(o.systemEntities
        ? [
            {
              name: 'system-entities',
              run: async (ctx: CreateTenantCtx) => {
                await holdLease(ctx);
                await o.systemEntities!(ctx.ports.pg, ctx.slug, ctx.op.id);
              },
            },
          ]
        : []),
      {
        name: 'admin-user',
        async run(ctx) {
          await holdLease(ctx);
          const password = generatePassword();
          const hash = await hashPassword(password);
          await ctx.ports.pg.withDatabase(
            tenantDbName(ctx.slug),
            (c) =>
              c.query(
                `INSERT INTO users (username, email, display_name, password_hash, is_admin, must_change_password)
               VALUES ($1, $2, 'Administrator', $3, true, true)
               ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now()`,
                [INITIAL_ADMIN_USERNAME, ctx.params.adminEmail, hash],
              ),
            'creating the initial admin user',
          );
          ctx.adminPassword = password;
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
          // A Secret this operation did not create is never adopted (its credentials are someone else's).
          if (existing && existing.metadata?.annotations?.[OPERATION_ANNOTATION] !== ctx.op.id) {
            throw notOurs(`Secret ${name}`, existing.metadata?.annotations?.[OPERATION_ANNOTATION] ?? null);
          }
          const current = decodeSecretData(existing);
          const rolePassword = current.DATABASE_URL ? decodeURIComponent(new URL(current.DATABASE_URL).password) : generatePassword(32);
          const data = tenantSecretData(ctx.slug, current, {
            databaseUrl: pg.tenantUrl(role, rolePassword, tenantDbName(ctx.slug)),
            adminPassword: ctx.adminPassword ?? generatePassword(),
          });
          // The Secret is written first: a crash after it leaves the credentials somewhere, and the next run adopts them.
          if (!existing) {
            try {
              await kube.createSecret(tenantSecret(ctx.slug, kube.namespace, data, null, ctx.op.id));
            } catch (error) {
              if (!isKubeConflict(error)) throw error;
              throw new ContractError('CONFLICT', `Secret ${name} appeared while creating it; retry (resume) the operation.`);
            }
          } else if (Object.keys(data).length !== Object.keys(current).length) {
            await kube.replaceSecret(name, tenantSecret(ctx.slug, kube.namespace, data, existing, ctx.op.id));
          }
          await pg.setRolePassword(role, rolePassword);
          const adminPassword = data.INITIAL_ADMIN_PASSWORD!;
          if (adminPassword !== ctx.adminPassword) {
            // This process never saw the password of the admin-user step (resume after a crash): make the hash match the Secret.
            await pg.withDatabase(
              tenantDbName(ctx.slug),
              async (c) => {
                const row = (
                  await c.query<{ h: string | null }>('SELECT password_hash AS h FROM users WHERE username = $1', [INITIAL_ADMIN_USERNAME])
                ).rows[0];
                if (!row?.h || !(await verifyPassword(row.h, adminPassword))) {
                  await c.query('UPDATE users SET password_hash = $2, updated_at = now() WHERE username = $1', [
                    INITIAL_ADMIN_USERNAME,
                    await hashPassword(adminPassword),
                  ]);
                }
              },
              'matching the admin password to the tenant Secret',
            );
          }
          ctx.adminPassword = adminPassword;
        },
        compensate: async (ctx) => {
          const name = tenantSecretName(ctx.slug);
          const secret = await ctx.ports.kube.getSecret(name);
          if (!secret) return;
          const mark = secret.metadata?.annotations?.[OPERATION_ANNOTATION] ?? null;
          if (mark !== ctx.op.id) {
            ctx.op.notice(leftAlone(`Secret ${name}`, mark));
            return;
          }
          // Preconditions: the exact object that was read, not one recreated by someone since.
          await ctx.ports.kube.deleteSecret(name, { uid: secret.metadata?.uid, resourceVersion: secret.metadata?.resourceVersion });
        },
      },
      {
        name: 'registry',
        async run(ctx) {
          await holdLease(ctx);
          const { params } = ctx;
          await ctx.ports.registry.put(
            ctx.slug,
            {
              name: params.name,
              tier: params.tier,
              status: 'active',
              created: ctx.created,
              schema: latestVersion(ctx.ports.migrations),
              users: null,
              op: ctx.op.id,
            },
            { ifAbsent: true },
          );
        },
        compensate: async (ctx) => {
          if ((await ctx.ports.registry.removeIfMarked(ctx.slug, ctx.op.id)) === 'not-ours')
            ctx.op.notice(leftAlone(`registry entry ${ctx.slug}`, null));
        },
      },
      {
        // The new tenant gets the license and its cap at once; everyone's share is recomputed.
        name: 'license',
        async run(ctx) {
          await holdLease(ctx);
          const problem = await o.license()?.(ctx.cluster, ctx.op.actor);
          if (problem)
            ctx.op.notice(
              `The license was not installed on the new tenant yet: ${problem} Run License → Bring tenants up to date once it is fixed.`,
            );
        },
      },
      {
        name: 'release',
        async run(ctx) {
          await ctx.lease.halt();
          await releaseTenantLease(ctx.ports.kube, ctx.slug, ctx.holder);
        },
      },
    ]),
  };
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
