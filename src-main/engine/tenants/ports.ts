import { ContractError } from '../../../src-shared/contract';
import type { PostgresAdmin } from '../../adapters/postgres';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { OperationHandle, SagaStep } from '../core/saga';
import type { TenantKube } from './kube-ports';
import { acquireTenantLease, type LeaseKeeper } from './lease';
import type { TenantRegistry } from './registry';
import type { TenantMigration } from './schema';

/** What a tenant operation talks to: the platform namespace, the registry and the admin database connection. */
export interface TenantPorts {
  kube: TenantKube;
  registry: TenantRegistry;
  pg: PostgresAdmin;
  migrations: TenantMigration[];
}

/**
 * Filled by the backup capability (engine/backups). Must throw to stop a delete if the backup
 * failed; `ready` throws before the delete starts when no final backup can be taken there.
 */
export type FinalBackupHook = ((tenant: {
  slug: string;
  database: string;
  cluster: ClusterRuntime;
  operationId: string;
}) => Promise<void>) & {
  ready?: (cluster: ClusterRuntime, slug: string) => Promise<void>;
};

/**
 * Installed by the engine: brings every tenant of the cluster up to date with the license
 * (the new or recreated tenant gets the license and its cap; everyone's even share is
 * recomputed and fanned out when it changed). Resolves with a problem to report, or null.
 */
export type LicenseHook = (cluster: ClusterRuntime, actor: string | null) => Promise<string | null>;

/** State shared by the steps of one tenant saga run, resume or rollback. */
export interface TenantSagaCtx {
  /** The cluster the operation belongs to. */
  cluster: ClusterRuntime;
  ports: TenantPorts;
  op: OperationHandle;
  slug: string;
  /** `<console id>/<operation id>`: the Lease holder of this operation. */
  holder: string;
  /** Resumed operations re-check their Lease once before touching anything. */
  leaseChecked: boolean;
  /** Renews the Lease while the saga runs; lost → the saga stops before its next step. */
  lease: LeaseKeeper;
  leaseSeconds: number;
}

export const noDatabase = (contextName: string): never => {
  throw new ContractError(
    'UNAVAILABLE',
    `The profile of "${contextName}" has no database connection. Set its PostgreSQL admin connection (Clusters → Profile).`,
  );
};

/**
 * A resumed operation may find its Lease expired (the console was down for long) and
 * possibly taken by another console: renew it before the first step, and stop with
 * CONFLICT rather than touch a tenant someone else now works on.
 */
export async function holdLease(ctx: TenantSagaCtx): Promise<void> {
  ctx.lease.check();
  if (!ctx.leaseChecked) {
    await acquireTenantLease(ctx.ports.kube, ctx.slug, ctx.holder, ctx.leaseSeconds);
    ctx.leaseChecked = true;
  }
  ctx.lease.start();
}

/** Options of the tenant sagas (tests shorten the Lease; a test hook may slow a step down). */
export interface TenantSagaOptions {
  consoleId: string;
  leaseSeconds: number;
  /** The license fan-out step (null: no license capability wired, e.g. unit tests). */
  license: () => LicenseHook | null;
  beforeStep?: ((kind: string, step: string, slug: string) => Promise<void>) | undefined;
  /** The entities capability: writes the current control-plane definitions into a new tenant (create saga step "system-entities"). */
  systemEntities?: ((pg: PostgresAdmin, slug: string, operationId: string) => Promise<void>) | undefined;
}

/** Runs the options' beforeStep hook (tests only) ahead of each step. */
export function hookSteps<C extends TenantSagaCtx>(kind: string, o: TenantSagaOptions, steps: SagaStep<C>[]): SagaStep<C>[] {
  const hook = o.beforeStep;
  if (!hook) return steps;
  return steps.map((step) => ({
    ...step,
    run: async (ctx: C) => {
      await hook(kind, step.name, ctx.slug);
      await step.run(ctx);
    },
  }));
}
