import { ContractError } from '../../../src-shared/contract';
import type { PostgresAdmin } from '../../adapters/postgres';
import type { OperationHandle } from '../core/saga';
import type { TenantKube } from './kube-ports';
import { acquireTenantLease } from './lease';
import type { TenantRegistry } from './registry';
import type { TenantMigration } from './schema';

/** What a tenant operation talks to: the platform namespace, the registry and the admin database connection. */
export interface TenantPorts {
  kube: TenantKube;
  registry: TenantRegistry;
  pg: PostgresAdmin;
  migrations: TenantMigration[];
}

/** Filled by the backup capability; until then a no-op. Must throw to stop a delete if the backup failed. */
export type FinalBackupHook = (tenant: { slug: string; database: string }) => Promise<void>;

/** State shared by the steps of one tenant saga run, resume or rollback. */
export interface TenantSagaCtx {
  ports: TenantPorts;
  op: OperationHandle;
  slug: string;
  /** `<console id>/<operation id>`: the Lease holder of this operation. */
  holder: string;
  /** Resumed operations re-check their Lease once before touching anything. */
  leaseChecked: boolean;
}

export const noPorts = (): never => {
  throw new ContractError('UNAVAILABLE', 'No cluster is selected, or its profile has no database connection. Select a cluster and set its PostgreSQL admin connection.');
};

/**
 * A resumed operation may find its Lease expired (the console was down for long) and
 * possibly taken by another console: renew it before the first step, and stop with
 * CONFLICT rather than touch a tenant someone else now works on.
 */
export async function holdLease(ctx: TenantSagaCtx): Promise<void> {
  if (ctx.leaseChecked) return;
  await acquireTenantLease(ctx.ports.kube, ctx.slug, ctx.holder);
  ctx.leaseChecked = true;
}
