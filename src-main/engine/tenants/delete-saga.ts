import type { ClusterRuntime } from '../core/cluster-runtime';
import type { SagaDefinition } from '../core/saga';
import { LeaseKeeper, TENANT_LABEL, acquireTenantLease, releaseTenantLease } from './lease';
import { loginWorkerName, tenantDbName, tenantLoginRoleNames, tenantRoleName, tenantSecretName } from './material';
import { holdLease, hookSteps, type FinalBackupHook, type TenantPorts, type TenantSagaCtx, type TenantSagaOptions } from './ports';

export const DELETE_TENANT = 'tenant.delete';

export interface DeleteTenantParams {
  slug: string;
  finalBackup: boolean;
}

export interface DeleteTenantCtx extends TenantSagaCtx {
  params: DeleteTenantParams;
}

/**
 * Delete-tenant saga: reserve → mark-deleting → final-backup → workloads → database →
 * secret → registry → release. Forward-only (a dropped database cannot come back), so a
 * failure leaves the operation unfinished with its Lease held and resume continues it.
 * Every step tolerates "already gone".
 */
export function deleteTenantSaga(
  ports: (cluster: ClusterRuntime) => Promise<TenantPorts>,
  o: TenantSagaOptions,
  finalBackup: () => FinalBackupHook,
): SagaDefinition<DeleteTenantParams, DeleteTenantCtx> {
  return {
    kind: DELETE_TENANT,
    forwardOnly: true,
    target: (p) => p.slug,
    async context(params, op, cluster) {
      const resumed = op.notes.started === true;
      if (!resumed) op.note('started', true);
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
      };
    },
    guard: (ctx) => ctx.lease.check(),
    async dispose(ctx) {
      ctx.lease.stop();
    },
    steps: hookSteps(DELETE_TENANT, o, [
      {
        name: 'reserve',
        async run(ctx) {
          await acquireTenantLease(ctx.ports.kube, ctx.slug, ctx.holder, ctx.leaseSeconds);
          ctx.leaseChecked = true;
          ctx.lease.start();
        },
        compensate: (ctx) => releaseTenantLease(ctx.ports.kube, ctx.slug, ctx.holder),
      },
      {
        // The backend stops serving a tenant marked deleting before its database disappears.
        name: 'mark-deleting',
        async run(ctx) {
          await holdLease(ctx);
          if (await ctx.ports.registry.get(ctx.slug)) await ctx.ports.registry.update(ctx.slug, (e) => ({ ...e, status: 'deleting' }));
        },
      },
      {
        name: 'final-backup',
        async run(ctx) {
          if (!ctx.params.finalBackup) return;
          await holdLease(ctx);
          if (await ctx.ports.pg.databaseExists(tenantDbName(ctx.slug)))
            await finalBackup()({ slug: ctx.slug, database: tenantDbName(ctx.slug), cluster: ctx.cluster, operationId: ctx.op.id });
        },
      },
      {
        name: 'workloads',
        async run(ctx) {
          await holdLease(ctx);
          const { kube } = ctx.ports;
          const labelled = await kube.listDeployments(`${TENANT_LABEL}=${ctx.slug}`);
          const names = new Set([loginWorkerName(ctx.slug), ...labelled.map((d) => d.metadata?.name ?? '').filter(Boolean)]);
          for (const name of names) await kube.deleteDeployment(name);
        },
      },
      {
        name: 'database',
        async run(ctx) {
          await holdLease(ctx);
          await ctx.ports.pg.dropDatabase(tenantDbName(ctx.slug));
          await ctx.ports.pg.dropRole(tenantRoleName(ctx.slug));
          // The logins a database password rotation created (docs/secrets.md).
          for (const login of tenantLoginRoleNames(ctx.slug)) await ctx.ports.pg.dropRole(login);
        },
      },
      {
        name: 'secret',
        async run(ctx) {
          await holdLease(ctx);
          await ctx.ports.kube.deleteSecret(tenantSecretName(ctx.slug));
        },
      },
      {
        name: 'registry',
        async run(ctx) {
          await holdLease(ctx);
          await ctx.ports.registry.remove(ctx.slug);
        },
      },
      {
        // One tenant fewer: the even share of the others grows.
        name: 'license',
        async run(ctx) {
          const problem = await o.license()?.(ctx.cluster, ctx.op.actor);
          if (problem) ctx.op.notice(`The other tenants' license caps were not recomputed yet: ${problem}`);
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
