import type { SagaDefinition } from '../core/saga';
import { TENANT_LABEL, acquireTenantLease, releaseTenantLease } from './lease';
import { loginWorkerName, tenantDbName, tenantRoleName, tenantSecretName } from './material';
import { holdLease, type FinalBackupHook, type TenantPorts, type TenantSagaCtx } from './ports';

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
export function deleteTenantSaga(ports: () => Promise<TenantPorts>, consoleId: string, finalBackup: () => FinalBackupHook): SagaDefinition<DeleteTenantParams, DeleteTenantCtx> {
  return {
    kind: DELETE_TENANT,
    forwardOnly: true,
    target: (p) => p.slug,
    async context(params, op) {
      const resumed = op.notes.started === true;
      if (!resumed) op.note('started', true);
      return { ports: await ports(), op, slug: params.slug, params, holder: `${consoleId}/${op.id}`, leaseChecked: !resumed };
    },
    steps: [
      {
        name: 'reserve',
        async run(ctx) {
          await acquireTenantLease(ctx.ports.kube, ctx.slug, ctx.holder);
          ctx.leaseChecked = true;
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
          if (await ctx.ports.pg.databaseExists(tenantDbName(ctx.slug))) await finalBackup()({ slug: ctx.slug, database: tenantDbName(ctx.slug) });
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
        name: 'release',
        run: (ctx) => releaseTenantLease(ctx.ports.kube, ctx.slug, ctx.holder),
      },
    ],
  };
}
