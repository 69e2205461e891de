import { ContractError } from '../../../src-shared/contract';
import type { SagaDefinition } from '../core/saga';
import { acquireTenantLease, releaseTenantLease } from './lease';
import {
  INITIAL_ADMIN_USERNAME,
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
import { holdLease, type TenantPorts, type TenantSagaCtx } from './ports';
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
 * Create-tenant saga: reserve → database → schema → admin-user → secret → registry → release.
 * Every step converges ("create if absent, else compare") so a resume simply re-runs it.
 * Secrets are never journaled: the tenant Secret is where they live, and the secret step
 * re-derives the role password and the admin password from it when it already exists.
 */
export function createTenantSaga(ports: () => Promise<TenantPorts>, consoleId: string): SagaDefinition<CreateTenantParams, CreateTenantCtx> {
  return {
    kind: CREATE_TENANT,
    target: (p) => p.slug,
    async context(params, op) {
      const resumed = typeof op.notes.created === 'string';
      if (!resumed) op.note('created', new Date().toISOString());
      return {
        ports: await ports(), op, slug: params.slug, params, holder: `${consoleId}/${op.id}`,
        leaseChecked: !resumed, created: op.notes.created as string, adminPassword: null,
      };
    },
    async dispose() {},
    steps: [
      {
        name: 'reserve',
        async run(ctx) {
          const { kube, registry, pg } = ctx.ports;
          await acquireTenantLease(kube, ctx.slug, ctx.holder);
          ctx.leaseChecked = true;
          // Under the Lease nobody else can be creating it: anything found now predates us.
          const db = tenantDbName(ctx.slug);
          const taken: string[] = [];
          if (await registry.get(ctx.slug)) taken.push('a registry entry');
          if (await kube.getSecret(tenantSecretName(ctx.slug))) taken.push(`Secret ${tenantSecretName(ctx.slug)}`);
          if (await pg.databaseExists(db)) taken.push(`database ${db}`);
          if (await pg.roleExists(tenantRoleName(ctx.slug))) taken.push(`role ${tenantRoleName(ctx.slug)}`);
          if (taken.length) {
            throw new ContractError('CONFLICT', `Tenant "${ctx.slug}" already exists (${taken.join(', ')}). Choose another slug, or reconcile to repair it.`, { existing: taken });
          }
        },
        compensate: (ctx) => releaseTenantLease(ctx.ports.kube, ctx.slug, ctx.holder),
      },
      {
        name: 'database',
        async run(ctx) {
          await holdLease(ctx);
          const role = tenantRoleName(ctx.slug);
          await ctx.ports.pg.ensureLoginRole(role);
          await ctx.ports.pg.ensureDatabase(tenantDbName(ctx.slug), role);
        },
        // Safe to drop: the reserve step proved neither existed before this operation.
        async compensate(ctx) {
          await holdLease(ctx);
          await ctx.ports.pg.dropDatabase(tenantDbName(ctx.slug));
          await ctx.ports.pg.dropRole(tenantRoleName(ctx.slug));
        },
      },
      {
        name: 'schema',
        async run(ctx) {
          await holdLease(ctx);
          await ctx.ports.pg.withDatabase(tenantDbName(ctx.slug), (c) => applyPendingMigrations(c, tenantRoleName(ctx.slug), ctx.ports.migrations), 'applying the tenant schema');
        },
        // Dropping the database (previous step's compensation) removes the schema.
      },
      {
        name: 'admin-user',
        async run(ctx) {
          await holdLease(ctx);
          const password = generatePassword();
          const hash = await hashPassword(password);
          await ctx.ports.pg.withDatabase(tenantDbName(ctx.slug), (c) =>
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
          const current = decodeSecretData(existing);
          const rolePassword = current.DATABASE_URL ? decodeURIComponent(new URL(current.DATABASE_URL).password) : generatePassword(32);
          const data = tenantSecretData(ctx.slug, current, {
            databaseUrl: pg.tenantUrl(role, rolePassword, tenantDbName(ctx.slug)),
            adminPassword: ctx.adminPassword ?? generatePassword(),
          });
          // The Secret is written first: a crash after it leaves the credentials somewhere, and the next run adopts them.
          if (!existing) {
            try {
              await kube.createSecret(tenantSecret(ctx.slug, kube.namespace, data));
            } catch (error) {
              if (!isKubeConflict(error)) throw error;
              throw new ContractError('CONFLICT', `Secret ${name} appeared while creating it; retry (resume) the operation.`);
            }
          } else if (Object.keys(data).length !== Object.keys(current).length) {
            await kube.replaceSecret(name, tenantSecret(ctx.slug, kube.namespace, data, existing));
          }
          await pg.setRolePassword(role, rolePassword);
          const adminPassword = data.INITIAL_ADMIN_PASSWORD!;
          if (adminPassword !== ctx.adminPassword) {
            // This process never saw the password of the admin-user step (resume after a crash): make the hash match the Secret.
            await pg.withDatabase(tenantDbName(ctx.slug), async (c) => {
              const row = (await c.query<{ h: string | null }>('SELECT password_hash AS h FROM users WHERE username = $1', [INITIAL_ADMIN_USERNAME])).rows[0];
              if (!row?.h || !(await verifyPassword(row.h, adminPassword))) {
                await c.query('UPDATE users SET password_hash = $2, updated_at = now() WHERE username = $1', [INITIAL_ADMIN_USERNAME, await hashPassword(adminPassword)]);
              }
            }, 'matching the admin password to the tenant Secret');
          }
          ctx.adminPassword = adminPassword;
        },
        compensate: async (ctx) => {
          await holdLease(ctx);
          await ctx.ports.kube.deleteSecret(tenantSecretName(ctx.slug));
        },
      },
      {
        name: 'registry',
        async run(ctx) {
          await holdLease(ctx);
          const { params } = ctx;
          await ctx.ports.registry.put(
            ctx.slug,
            { name: params.name, tier: params.tier, status: 'active', created: ctx.created, schema: latestVersion(ctx.ports.migrations), users: null },
            { ifAbsent: true },
          );
        },
        compensate: async (ctx) => {
          await holdLease(ctx);
          await ctx.ports.registry.remove(ctx.slug);
        },
      },
      {
        name: 'release',
        run: (ctx) => releaseTenantLease(ctx.ports.kube, ctx.slug, ctx.holder),
      },
    ],
  };
}
