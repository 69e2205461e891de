import type { V1Deployment } from '@kubernetes/client-node';
import {
  LeaseKeeper,
  OPERATION_ANNOTATION,
  TENANT_LABEL,
  acquireTenantLease,
  loginWorkerName,
  releaseTenantLease,
  tenantSecretName,
  type RegistryEntry,
  type TenantKube,
  type TenantRegistry,
} from '../tenants';
import { ContractError } from '../../../src-shared/contract';
import type { RolloutStatus, WorkerConfig } from '../../../src-shared/contract/workers';
import { MANAGED_BY_LABEL } from '../../adapters/kube';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { OperationHandle, SagaDefinition, SagaStep } from '../core/saga';
import { DEFAULT_WORKER_CONFIG, decodeWorkerConfig, type WorkerConfigStore } from './config-store';
import type { WorkersKube } from './kube';
import {
  SHARED_LOGIN_WORKER,
  applyResources,
  dedicatedResources,
  loginWorkerDeployment,
  loginWorkerService,
  poolDeploymentName,
  withTag,
  type LoginWorkerSpec,
  type TierResources,
} from './manifests';
import { waitForRollout, type RolloutWait } from './rollout';

export const WORKER_CONFIG = 'workers.config';
export const TENANT_PROFILE = 'tenant.profile';

/** What a tenant's workers saga talks to on its cluster. */
export interface WorkerPorts {
  kube: WorkersKube;
  /** For the tenant Lease (shared with the tenants capability: one lock per tenant). */
  tenantKube: TenantKube;
  registry: TenantRegistry;
  store: WorkerConfigStore;
}

export interface WorkerSagaOptions {
  consoleId: string;
  leaseSeconds: number;
  rollout: Omit<RolloutWait, 'onProgress'>;
  /** Live rollout figures of the operation (published as operation.progress messages). */
  progress?: (op: OperationHandle, kind: string, target: string, r: RolloutStatus) => void;
  /** The license's effective tier on this cluster and whether the tier of a tenant may be `tier` (null = allowed). */
  licenseCheck?: (cluster: ClusterRuntime, change: { slug: string; tier: string; from: string }) => Promise<string | null>;
}

interface BaseCtx {
  ports: WorkerPorts;
  /** False in a resumed run until the Lease is taken again (the crash may have outlived it). */
  leaseHeld: boolean;
  op: OperationHandle;
  slug: string;
  holder: string;
  lease: LeaseKeeper;
  entry: RegistryEntry | null;
  cluster: ClusterRuntime;
  loginWorker: RolloutStatus | null;
}

export interface WorkerConfigParams {
  slug: string;
  config: WorkerConfig;
}
export interface WorkerConfigCtx extends BaseCtx {
  params: WorkerConfigParams;
}

export interface TenantProfileParams {
  slug: string;
  name: string | null;
  tier: string | null;
}
export interface TenantProfileCtx extends BaseCtx {
  params: TenantProfileParams;
}

const RANK: Record<string, number> = { FREE: 0, DEV: 0, PRO: 1, Enterprise: 2 };
export const tierRank = (tier: string): number => RANK[tier] ?? -1;

/** The login worker image: the one the shared worker runs (same version as the platform), else the backend's repository. */
async function loginWorkerImage(kube: WorkersKube): Promise<string> {
  const shared = await kube.getDeployment(SHARED_LOGIN_WORKER);
  const image = shared?.spec?.template?.spec?.containers?.[0]?.image;
  if (image) return image;
  const backend = await kube.getDeployment('backend');
  const b = backend?.spec?.template?.spec?.containers?.[0]?.image;
  if (b) return withTag(b.replace(/\/backend(?=[:@]|$)/, '/login-worker'), b.split(':').pop() ?? 'latest');
  throw new ContractError(
    'VALIDATION',
    `No login worker image is known on this cluster: deploy ${SHARED_LOGIN_WORKER} (or the backend) first, then retry.`,
  );
}

/** A worker named like the tenant's, made by this console for this tenant (any operation): it is the tenant's. */
const isTenantsWorker = (d: V1Deployment, slug: string) =>
  d.metadata?.labels?.['app.kubernetes.io/managed-by'] === MANAGED_BY_LABEL['app.kubernetes.io/managed-by'] &&
  d.metadata?.labels?.[TENANT_LABEL] === slug;

const mark = (o: { metadata?: { annotations?: Record<string, string> } } | null) =>
  o?.metadata?.annotations?.[OPERATION_ANNOTATION] ?? null;

function notices(op: OperationHandle, what: string, markedBy: string | null) {
  op.notice(
    `Left ${what} in place: it is not this operation's (${markedBy ? `marked by operation ${markedBy}` : 'no Gatehouse mark'}). Inspect it before deleting it by hand.`,
  );
}

function commonContext<P extends { slug: string }>(ports: (c: ClusterRuntime) => Promise<WorkerPorts>, o: WorkerSagaOptions) {
  return async (params: P, op: OperationHandle, cluster: ClusterRuntime) => {
    const p = await ports(cluster);
    const holder = `${o.consoleId}/${op.id}`;
    return {
      ports: p,
      leaseHeld: false,
      op,
      slug: params.slug,
      holder,
      lease: new LeaseKeeper(p.tenantKube, params.slug, holder, o.leaseSeconds),
      entry: null,
      cluster,
      loginWorker: null,
      params,
    };
  };
}

function reserveStep<C extends BaseCtx>(o: WorkerSagaOptions, check: (ctx: C) => Promise<void>): SagaStep<C> {
  return {
    name: 'reserve',
    async run(ctx) {
      await acquireTenantLease(ctx.ports.tenantKube, ctx.slug, ctx.holder, o.leaseSeconds);
      ctx.leaseHeld = true;
      ctx.lease.start();
      ctx.entry = await ctx.ports.registry.get(ctx.slug);
      if (!ctx.entry)
        throw new ContractError(
          'NOT_FOUND',
          `Tenant "${ctx.slug}" is not in the registry of this cluster. Reconcile the tenant list to see what exists.`,
        );
      if (ctx.entry.status === 'deleting')
        throw new ContractError('CONFLICT', `Tenant "${ctx.slug}" is being deleted; its workers cannot change.`);
      // What was stored before this operation: a compensation puts exactly this back.
      if (ctx.op.notes.previousConfig === undefined) ctx.op.note('previousConfig', await ctx.ports.store.raw(ctx.slug));
      await check(ctx);
    },
    compensate: (ctx) => releaseTenantLease(ctx.ports.tenantKube, ctx.slug, ctx.holder),
  };
}

/** Creates the dedicated worker (or converges the tenant's existing one to `resources`); marks what it creates. */
async function provisionDedicated(ctx: BaseCtx, resources: TierResources): Promise<void> {
  const { kube } = ctx.ports;
  const name = loginWorkerName(ctx.slug);
  const existing = await kube.getDeployment(name);
  if (existing) {
    if (!isTenantsWorker(existing, ctx.slug)) {
      throw new ContractError(
        'CONFLICT',
        `Deployment ${name} exists but was not made by Gatehouse for tenant "${ctx.slug}". It was left untouched; rename or remove it, then retry.`,
      );
    }
    if (mark(existing) !== ctx.op.id && ctx.op.notes.adoptedWorker === undefined)
      ctx.op.note('adoptedWorker', existing.metadata?.uid ?? true);
    if (applyResources(existing, resources)) await kube.replaceDeployment(name, existing);
  } else {
    const secret = await kube.getSecret(tenantSecretName(ctx.slug));
    if (!secret)
      throw new ContractError(
        'NOT_FOUND',
        `Secret ${tenantSecretName(ctx.slug)} is missing, so the login worker would have no token. Repair the tenant first.`,
      );
    const spec: LoginWorkerSpec = {
      slug: ctx.slug,
      namespace: kube.namespace,
      image: await loginWorkerImage(kube),
      resources,
      operationId: ctx.op.id,
      owner: secret.metadata?.uid ? { uid: secret.metadata.uid } : null,
    };
    await kube.createDeployment(loginWorkerDeployment(spec));
  }
  const deployment = await kube.getDeployment(name);
  if (!(await kube.getService(name))) {
    const spec: LoginWorkerSpec = { slug: ctx.slug, namespace: kube.namespace, image: '', resources, operationId: ctx.op.id, owner: null };
    await kube.createService(loginWorkerService(spec, deployment?.metadata?.uid ? { uid: deployment.metadata.uid } : null));
  }
}

/** Deletes the dedicated worker and its Service only where they carry this operation's mark. */
async function removeOwnDedicated(ctx: BaseCtx): Promise<void> {
  const { kube } = ctx.ports;
  const name = loginWorkerName(ctx.slug);
  const svc = await kube.getService(name);
  if (svc) {
    if (mark(svc) === ctx.op.id) await kube.deleteService(name, { uid: svc.metadata?.uid, resourceVersion: svc.metadata?.resourceVersion });
    else if (ctx.op.notes.adoptedWorker === undefined) notices(ctx.op, `Service ${name}`, mark(svc));
  }
  const d = await kube.getDeployment(name);
  if (d) {
    if (mark(d) === ctx.op.id) await kube.deleteDeployment(name, { uid: d.metadata?.uid, resourceVersion: d.metadata?.resourceVersion });
    else if (ctx.op.notes.adoptedWorker === undefined) notices(ctx.op, `Deployment ${name}`, mark(d));
  }
}

/** Removes the tenant's dedicated worker (any operation's: switching away means the tenant no longer has one). */
async function retireDedicated(ctx: BaseCtx): Promise<void> {
  const { kube } = ctx.ports;
  const name = loginWorkerName(ctx.slug);
  const d = await kube.getDeployment(name);
  if (d) {
    if (!isTenantsWorker(d, ctx.slug)) {
      notices(ctx.op, `Deployment ${name}`, mark(d));
    } else {
      await kube.deleteDeployment(name, { uid: d.metadata?.uid, resourceVersion: d.metadata?.resourceVersion });
    }
  }
  const svc = await kube.getService(name);
  if (svc) {
    if (svc.metadata?.labels?.[TENANT_LABEL] === ctx.slug && svc.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'gatehouse') {
      await kube.deleteService(name, { uid: svc.metadata?.uid, resourceVersion: svc.metadata?.resourceVersion });
    } else notices(ctx.op, `Service ${name}`, mark(svc));
  }
}

function rolloutStep<C extends BaseCtx>(o: WorkerSagaOptions, kind: string, wanted: (ctx: C) => boolean): SagaStep<C> {
  return {
    name: 'rollout',
    async run(ctx) {
      const name = loginWorkerName(ctx.slug);
      if (!wanted(ctx)) {
        ctx.loginWorker = null;
        return;
      }
      const done = await waitForRollout(ctx.ports.kube, name, {
        ...o.rollout,
        onProgress: (r) => o.progress?.(ctx.op, kind, ctx.slug, r),
      });
      ctx.loginWorker = done.exists ? done : null;
    },
  };
}

/** Every step after reserve runs under the Lease: a resumed operation takes it again first (CONFLICT if someone else holds it). */
function underLease<C extends BaseCtx>(o: WorkerSagaOptions, steps: SagaStep<C>[]): SagaStep<C>[] {
  return steps.map((step, i) =>
    i === 0
      ? step
      : {
          ...step,
          run: async (ctx: C) => {
            if (!ctx.leaseHeld) {
              await acquireTenantLease(ctx.ports.tenantKube, ctx.slug, ctx.holder, o.leaseSeconds);
              ctx.leaseHeld = true;
              ctx.lease.start();
            }
            await step.run(ctx);
          },
        },
  );
}

const releaseStep = <C extends BaseCtx>(): SagaStep<C> => ({
  name: 'release',
  run: (ctx) => releaseTenantLease(ctx.ports.tenantKube, ctx.slug, ctx.holder),
});

/** Puts back the worker configuration this operation replaced, only while the entry is still its own write. */
async function restoreConfig(ctx: BaseCtx): Promise<void> {
  const previous = (ctx.op.notes.previousConfig as string | null | undefined) ?? null;
  if ((await ctx.ports.store.restore(ctx.slug, previous, ctx.op.id)) === 'not-ours') {
    ctx.op.notice(`Left the worker configuration of "${ctx.slug}" as it is: it was changed by someone else after this operation wrote it.`);
  }
}

/**
 * Worker-config saga: reserve → provision → rollout → config → retire → release.
 * Switching to dedicated creates the worker and waits for it to roll out before the backend
 * is told to use it; switching away tells the backend first and removes the worker after.
 * Compensations delete only the Deployment/Service this operation created and restore the
 * exact configuration entry it replaced.
 */
export function workerConfigSaga(
  ports: (c: ClusterRuntime) => Promise<WorkerPorts>,
  o: WorkerSagaOptions,
): SagaDefinition<WorkerConfigParams, WorkerConfigCtx> {
  const dedicated = (ctx: WorkerConfigCtx) => ctx.params.config.login.mode === 'dedicated';
  return {
    kind: WORKER_CONFIG,
    target: (p) => p.slug,
    context: commonContext<WorkerConfigParams>(ports, o),
    guard: (ctx) => ctx.lease.check(),
    async dispose(ctx) {
      ctx.lease.stop();
    },
    steps: underLease(o, [
      reserveStep<WorkerConfigCtx>(o, async (ctx) => {
        const { config } = ctx.params;
        const tier = ctx.entry!.tier;
        if (config.login.mode === 'dedicated' && !dedicatedResources(tier)) {
          throw new ContractError(
            'VALIDATION',
            `Tier ${tier} has no dedicated login worker. Move the tenant to PRO or Enterprise first, or use the shared login worker.`,
          );
        }
        if (config.task.mode === 'agent') {
          const pool = config.task.pool!;
          if (!(await ctx.ports.kube.getDeployment(poolDeploymentName(pool)))) {
            throw new ContractError(
              'NOT_FOUND',
              `Agent pool "${pool}" does not exist on this cluster (no Deployment ${poolDeploymentName(pool)}). Create it under Infrastructure → Agent pools first.`,
            );
          }
        }
      }),
      {
        name: 'provision',
        async run(ctx) {
          if (!dedicated(ctx)) return;
          // A resumed run has no entry in memory yet: read the tier again.
          const tier = (ctx.entry ?? (await ctx.ports.registry.get(ctx.slug)))?.tier ?? '';
          const resources = dedicatedResources(tier);
          if (!resources) throw new ContractError('VALIDATION', `Tier ${tier} has no dedicated login worker.`);
          await provisionDedicated(ctx, resources);
        },
        compensate: (ctx) => removeOwnDedicated(ctx),
      },
      rolloutStep<WorkerConfigCtx>(o, WORKER_CONFIG, dedicated),
      {
        name: 'config',
        run: (ctx) => ctx.ports.store.put(ctx.slug, ctx.params.config, ctx.op.id),
        compensate: (ctx) => restoreConfig(ctx),
      },
      {
        name: 'retire',
        async run(ctx) {
          if (dedicated(ctx)) return;
          const previous = decodeWorkerConfig((ctx.op.notes.previousConfig as string | null) ?? '')?.config ?? DEFAULT_WORKER_CONFIG;
          // Only a tenant that had a dedicated worker (or one left by a crash) has anything to remove.
          if (previous.login.mode === 'dedicated' || (await ctx.ports.kube.getDeployment(loginWorkerName(ctx.slug))))
            await retireDedicated(ctx);
        },
      },
      releaseStep<WorkerConfigCtx>(),
    ]),
  };
}

/**
 * Tenant profile saga (display name, tier): reserve (license check) → registry → resources →
 * rollout → release. A tier change applies the new tier's resources to a dedicated worker;
 * a tier without dedicated workers is refused while the tenant uses one.
 */
export function tenantProfileSaga(
  ports: (c: ClusterRuntime) => Promise<WorkerPorts>,
  o: WorkerSagaOptions,
): SagaDefinition<TenantProfileParams, TenantProfileCtx> {
  const tierChange = (ctx: TenantProfileCtx) => ctx.params.tier !== null;
  return {
    kind: TENANT_PROFILE,
    target: (p) => p.slug,
    context: commonContext<TenantProfileParams>(ports, o),
    guard: (ctx) => ctx.lease.check(),
    async dispose(ctx) {
      ctx.lease.stop();
    },
    steps: underLease(o, [
      reserveStep<TenantProfileCtx>(o, async (ctx) => {
        const from = ctx.entry!.tier;
        if (ctx.op.notes.previous === undefined) ctx.op.note('previous', { name: ctx.entry!.name, tier: from });
        const tier = ctx.params.tier;
        if (tier === null || tier === from) return;
        const refusal = await o.licenseCheck?.(ctx.cluster, { slug: ctx.slug, tier, from });
        if (refusal) throw new ContractError('LICENSE_INVALID', refusal);
        const stored = (await ctx.ports.store.get(ctx.slug))?.config ?? DEFAULT_WORKER_CONFIG;
        if (stored.login.mode === 'dedicated' && !dedicatedResources(tier)) {
          throw new ContractError(
            'VALIDATION',
            `Tier ${tier} has no dedicated login worker, and "${ctx.slug}" uses one. Switch its login worker to shared or inline first.`,
          );
        }
      }),
      {
        name: 'registry',
        async run(ctx) {
          await ctx.ports.registry.update(ctx.slug, (e) => ({ ...e, name: ctx.params.name ?? e.name, tier: ctx.params.tier ?? e.tier }));
        },
        async compensate(ctx) {
          const previous = ctx.op.notes.previous as { name: string; tier: string } | undefined;
          if (!previous) return;
          await ctx.ports.registry.update(ctx.slug, (e) => {
            // Only what this operation set goes back; a later change by someone else stays.
            const ours =
              (ctx.params.name === null || e.name === ctx.params.name) && (ctx.params.tier === null || e.tier === ctx.params.tier);
            if (!ours) {
              ctx.op.notice(`Left the registry entry of "${ctx.slug}" as it is: it was changed by someone else after this operation.`);
              return e;
            }
            return { ...e, name: previous.name, tier: previous.tier };
          });
        },
      },
      {
        name: 'resources',
        async run(ctx) {
          if (!tierChange(ctx)) return;
          const d = await ctx.ports.kube.getDeployment(loginWorkerName(ctx.slug));
          const resources = dedicatedResources(ctx.params.tier!);
          if (!d || !resources || !isTenantsWorker(d, ctx.slug)) return;
          if (applyResources(d, resources)) await ctx.ports.kube.replaceDeployment(loginWorkerName(ctx.slug), d);
        },
        async compensate(ctx) {
          const previous = ctx.op.notes.previous as { tier: string } | undefined;
          const d = await ctx.ports.kube.getDeployment(loginWorkerName(ctx.slug));
          const resources = previous ? dedicatedResources(previous.tier) : null;
          if (!d || !resources || !isTenantsWorker(d, ctx.slug)) return;
          if (applyResources(d, resources)) await ctx.ports.kube.replaceDeployment(loginWorkerName(ctx.slug), d);
        },
      },
      rolloutStep<TenantProfileCtx>(o, TENANT_PROFILE, tierChange),
      releaseStep<TenantProfileCtx>(),
    ]),
  };
}
