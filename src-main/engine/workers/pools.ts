import { createHmac, randomBytes } from 'node:crypto';
import { OPERATION_ANNOTATION, acquireTenantLease, decodeSecretData, releaseTenantLease } from '../tenants';
import type { V1ConfigMap, V1Deployment, V1Secret } from '@kubernetes/client-node';
import { ContractError } from '../../../src-shared/contract';
import type { AgentPool } from '../../../src-shared/contract/workers';
import { MANAGED_BY_LABEL, retryOnConflict as retryKubeConflict } from '../../adapters/kube';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { OperationHandle, SagaDefinition, SagaRunner } from '../core/saga';
import { DEFAULT_WORKER_CONFIG } from './config-store';
import type { WorkerPorts } from './config-saga';
import { COMPONENT_LABEL, POOL_LABEL, POOL_USER_LABEL_PREFIX, SHARED_POOL, poolDeployment, poolDeploymentName, withTag } from './manifests';
import { rolloutStatus, waitForRollout, type RolloutWait } from './rollout';
import { finish } from './finish';

/**
 * Agent pools: a Deployment `agent-pool-<name>` each (labels `justiam.io/agent-pool=<name>`,
 * user labels under `pool.justiam.io/`), tenants assigned through their worker configuration.
 * The shared pool registers its agents with an HMAC key kept in Secret
 * `agent-pool-shared-registration`; rotation keeps the previous key until every agent runs
 * with the new one. Per-agent credentials are derived from the key, the agent id and an epoch
 * kept in ConfigMap `agent-pool-<name>-agents`, so one agent can be revoked (and later let
 * back in under a new epoch) without renaming it or rotating everyone's key (docs/workers.md).
 */
export const REGISTRATION_SECRET = 'agent-pool-shared-registration';
export const agentsConfigMap = (pool: string): string => `agent-pool-${pool}-agents`;
export const AGENT_REGISTRY_LABEL = 'gatehouse.io/agent-registry';
const KEY_ID_ANNOTATION = 'gatehouse.io/registration-key-id';

/** The credential an agent presents: HMAC-SHA256(key, "gatehouse-agent/v1\n<pool>\n<agent id>\n<epoch>"), base64url. */
export function deriveAgentCredential(key: string, pool: string, agent: string, epoch: number): string {
  return createHmac('sha256', Buffer.from(key, 'base64url')).update(`gatehouse-agent/v1\n${pool}\n${agent}\n${epoch}`).digest('base64url');
}

const newKey = () => ({
  id: `hk-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`,
  key: randomBytes(32).toString('base64url'),
});
const mark = (o: { metadata?: { annotations?: Record<string, string> } } | null) =>
  o?.metadata?.annotations?.[OPERATION_ANNOTATION] ?? null;

export interface AgentEntry {
  epoch: number;
  revoked: boolean;
}
export function decodeAgents(cm: V1ConfigMap | null): Map<string, AgentEntry> {
  const out = new Map<string, AgentEntry>();
  for (const [agent, raw] of Object.entries(cm?.data ?? {})) {
    try {
      const v = JSON.parse(raw) as Partial<AgentEntry>;
      if (typeof v.epoch === 'number') out.set(agent, { epoch: v.epoch, revoked: v.revoked === true });
    } catch {
      // a value the console cannot read is left to whoever wrote it
    }
  }
  return out;
}

interface PoolCtx<P = unknown> {
  ports: WorkerPorts;
  op: OperationHandle;
  cluster: ClusterRuntime;
  params: P;
}
interface CreateParams {
  name: string;
  labels: Record<string, string>;
  replicas: number;
  image: string;
  shared: boolean;
}
interface DeleteParams {
  name: string;
  reassignTo: string | null;
  tenants: string[];
}

export const POOL_CREATE = 'pool.create';
export const POOL_DELETE = 'pool.delete';
export const POOL_ROTATE = 'pool.shared.rotate';

export class AgentPools {
  constructor(
    private readonly saga: SagaRunner,
    private readonly ports: (c: ClusterRuntime) => WorkerPorts,
    private readonly rollout: Omit<RolloutWait, 'onProgress'>,
    private readonly consoleId: string,
  ) {
    saga.register(this.createSaga());
    saga.register(this.deleteSaga());
    saga.register(this.rotateSaga());
  }

  /** Every pool with its rollout, assigned tenants and key ids: three LISTs and one GET, whatever the number of tenants. */
  async list(cluster: ClusterRuntime): Promise<AgentPool[]> {
    const p = this.ports(cluster);
    const [deployments, configs, registries, secret] = await Promise.all([
      p.kube.listDeployments(`${COMPONENT_LABEL}=agent,${POOL_LABEL}`),
      p.store.readAll(),
      p.kube.listConfigMaps(AGENT_REGISTRY_LABEL),
      p.kube.getSecret(REGISTRATION_SECRET),
    ]);
    const tenantsOf = new Map<string, string[]>();
    for (const [slug, c] of configs)
      if (c.config.task.mode === 'agent' && c.config.task.pool)
        tenantsOf.set(c.config.task.pool, [...(tenantsOf.get(c.config.task.pool) ?? []), slug]);
    const revoked = new Map<string, string[]>();
    for (const cm of registries) {
      const pool = cm.metadata?.labels?.[AGENT_REGISTRY_LABEL] ?? '';
      revoked.set(
        pool,
        [...decodeAgents(cm)]
          .filter(([, e]) => e.revoked)
          .map(([a]) => a)
          .sort(),
      );
    }
    const keys = decodeSecretData(secret);
    return deployments.map((d) => this.summary(d, tenantsOf, revoked, keys)).sort((a, b) => a.name.localeCompare(b.name));
  }

  private summary(
    d: V1Deployment,
    tenantsOf: Map<string, string[]>,
    revoked: Map<string, string[]>,
    keys: Record<string, string>,
  ): AgentPool {
    const name = d.metadata?.labels?.[POOL_LABEL] ?? '';
    const shared = name === SHARED_POOL;
    const labels = Object.fromEntries(
      Object.entries(d.metadata?.labels ?? {})
        .filter(([k]) => k.startsWith(POOL_USER_LABEL_PREFIX))
        .map(([k, v]) => [k.slice(POOL_USER_LABEL_PREFIX.length), v]),
    );
    return {
      name,
      deployment: d.metadata?.name ?? poolDeploymentName(name),
      labels,
      shared,
      replicas: d.spec?.replicas ?? 1,
      rollout: rolloutStatus(d.metadata?.name ?? '', d),
      tenants: (tenantsOf.get(name) ?? []).sort(),
      keyId: shared ? (keys.HMAC_KEY_CURRENT_ID ?? null) : null,
      previousKeyId: shared ? (keys.HMAC_KEY_PREVIOUS_ID ?? null) : null,
      revokedAgents: revoked.get(name) ?? [],
    };
  }

  async get(cluster: ClusterRuntime, name: string): Promise<AgentPool> {
    const pool = (await this.list(cluster)).find((x) => x.name === name);
    if (!pool) throw new ContractError('NOT_FOUND', `Agent pool "${name}" does not exist on this cluster.`);
    return pool;
  }

  /** The agent image: what an existing pool runs (same version as the platform), else the backend's repository with "agent". */
  private async image(p: WorkerPorts, version: string | undefined): Promise<string> {
    const agents = await p.kube.listDeployments(`${COMPONENT_LABEL}=agent`);
    let image = agents[0]?.spec?.template?.spec?.containers?.[0]?.image ?? null;
    if (!image) {
      const b = (await p.kube.getDeployment('backend'))?.spec?.template?.spec?.containers?.[0]?.image;
      if (b) image = b.replace(/\/backend(?=[:@]|$)/, '/agent');
    }
    if (!image)
      throw new ContractError('VALIDATION', 'No agent image is known on this cluster: give the version, after deploying the backend.');
    return version ? withTag(image, version) : image;
  }

  async create(
    cluster: ClusterRuntime,
    input: { name: string; labels: Record<string, string>; replicas: number; version?: string | undefined },
    actor?: string,
  ) {
    if (input.name === SHARED_POOL)
      throw new ContractError('VALIDATION', 'The shared pool is created with "Initialise shared pool" (it needs its registration key).');
    const p = this.ports(cluster);
    if (await p.kube.getDeployment(poolDeploymentName(input.name)))
      throw new ContractError('CONFLICT', `Agent pool "${input.name}" already exists.`);
    const params: CreateParams = {
      name: input.name,
      labels: input.labels,
      replicas: input.replicas,
      image: await this.image(p, input.version),
      shared: false,
    };
    return this.runCreate(cluster, params, actor);
  }

  async initShared(cluster: ClusterRuntime, input: { replicas: number; version?: string | undefined }, actor?: string) {
    const p = this.ports(cluster);
    if (await p.kube.getDeployment(poolDeploymentName(SHARED_POOL)))
      throw new ContractError('CONFLICT', 'The shared agent pool is already initialised: scale it or rotate its key instead.');
    const params: CreateParams = {
      name: SHARED_POOL,
      labels: { scope: 'shared' },
      replicas: input.replicas,
      image: await this.image(p, input.version),
      shared: true,
    };
    return this.runCreate(cluster, params, actor);
  }

  private async runCreate(cluster: ClusterRuntime, params: CreateParams, actor?: string) {
    const outcome = await this.saga.start<CreateParams, PoolCtx<CreateParams>>(POOL_CREATE, params, cluster, actor ? { actor } : {});
    finish(outcome, `Creating agent pool "${params.name}"`);
    return { operationId: outcome.operation.id, pool: await this.get(cluster, params.name), steps: outcome.operation.steps };
  }

  private createSaga(): SagaDefinition<CreateParams, PoolCtx<CreateParams>> {
    return {
      kind: POOL_CREATE,
      target: (p) => p.name,
      context: (params, op, cluster) => ({ ports: this.ports(cluster), op, cluster, params }),
      steps: [
        {
          name: 'registration-key',
          run: async (ctx) => {
            const params = ctx.params;
            if (!params.shared) return;
            const existing = await ctx.ports.kube.getSecret(REGISTRATION_SECRET);
            if (existing) {
              if (mark(existing) !== ctx.op.id)
                throw new ContractError(
                  'CONFLICT',
                  `Secret ${REGISTRATION_SECRET} exists but was not made by this operation; it was left untouched. Remove it or rotate the key instead.`,
                );
              return;
            }
            const k = newKey();
            await ctx.ports.kube.createSecret(
              registrationSecret(ctx.ports.kube.namespace, { HMAC_KEY_CURRENT_ID: k.id, HMAC_KEY_CURRENT: k.key }, ctx.op.id),
            );
          },
          compensate: async (ctx) => {
            const s = await ctx.ports.kube.getSecret(REGISTRATION_SECRET);
            if (!s) return;
            if (mark(s) === ctx.op.id) await deleteSecret(ctx, s);
            else if (ctx.params.shared) ctx.op.notice(`Left Secret ${REGISTRATION_SECRET} in place: it is not this operation's.`);
          },
        },
        {
          name: 'deployment',
          run: async (ctx) => {
            const params = ctx.params;
            const name = poolDeploymentName(params.name);
            const existing = await ctx.ports.kube.getDeployment(name);
            if (existing) {
              if (mark(existing) !== ctx.op.id)
                throw new ContractError('CONFLICT', `Deployment ${name} exists but was not made by this operation; it was left untouched.`);
              return;
            }
            const keyId = params.shared
              ? (decodeSecretData(await ctx.ports.kube.getSecret(REGISTRATION_SECRET)).HMAC_KEY_CURRENT_ID ?? '')
              : '';
            await ctx.ports.kube.createDeployment(
              poolDeployment({
                pool: params.name,
                namespace: ctx.ports.kube.namespace,
                image: params.image,
                replicas: params.replicas,
                labels: params.labels,
                operationId: ctx.op.id,
                ...(params.shared ? { registration: { secret: REGISTRATION_SECRET, keyId } } : {}),
              }),
            );
          },
          compensate: async (ctx) => {
            const name = poolDeploymentName(ctx.params.name);
            const d = await ctx.ports.kube.getDeployment(name);
            if (!d) return;
            if (mark(d) === ctx.op.id)
              await ctx.ports.kube.deleteDeployment(name, { uid: d.metadata?.uid, resourceVersion: d.metadata?.resourceVersion });
            else ctx.op.notice(`Left Deployment ${name} in place: it is not this operation's.`);
          },
        },
        {
          name: 'rollout',
          run: async (ctx) => {
            await waitForRollout(ctx.ports.kube, poolDeploymentName(ctx.params.name), this.rollout);
          },
        },
      ],
    };
  }

  async delete(cluster: ClusterRuntime, input: { name: string; reassignTo: string | null }, actor?: string) {
    const pools = await this.list(cluster);
    const pool = pools.find((x) => x.name === input.name);
    if (!pool) throw new ContractError('NOT_FOUND', `Agent pool "${input.name}" does not exist on this cluster.`);
    if (pool.tenants.length && !input.reassignTo) {
      throw new ContractError(
        'CONFLICT',
        `Agent pool "${input.name}" still serves ${pool.tenants.length} tenant(s) (${pool.tenants.slice(0, 10).join(', ')}${pool.tenants.length > 10 ? ', …' : ''}). Reassign them to another pool (or to inline) first, or delete with "reassign to".`,
        { tenants: pool.tenants },
      );
    }
    if (input.reassignTo !== null && input.reassignTo !== 'inline') {
      if (input.reassignTo === input.name)
        throw new ContractError('VALIDATION', 'Reassign the tenants to another pool than the one being deleted.');
      if (!pools.some((x) => x.name === input.reassignTo))
        throw new ContractError('NOT_FOUND', `Pool "${input.reassignTo}" to reassign the tenants to does not exist.`);
    }
    const params: DeleteParams = { name: input.name, reassignTo: input.reassignTo, tenants: pool.tenants };
    const outcome = await this.saga.start<DeleteParams, PoolCtx<DeleteParams>>(POOL_DELETE, params, cluster, actor ? { actor } : {});
    finish(outcome, `Deleting agent pool "${input.name}"`);
    return { operationId: outcome.operation.id, name: input.name, reassigned: pool.tenants, steps: outcome.operation.steps };
  }

  private deleteSaga(): SagaDefinition<DeleteParams, PoolCtx<DeleteParams>> {
    return {
      kind: POOL_DELETE,
      forwardOnly: true,
      target: (p) => p.name,
      context: (params, op, cluster) => ({ ports: this.ports(cluster), op, cluster, params }),
      steps: [
        {
          // Each tenant moves under its own Lease, so no worker-config change of that tenant interleaves.
          name: 'reassign',
          run: async (ctx) => {
            const { params } = ctx;
            for (const slug of params.tenants) {
              const holder = `${this.consoleId}/${ctx.op.id}`;
              await acquireTenantLease(ctx.ports.tenantKube, slug, holder);
              try {
                const current = (await ctx.ports.store.get(slug))?.config ?? DEFAULT_WORKER_CONFIG;
                if (current.task.mode !== 'agent' || current.task.pool !== params.name) continue;
                const task =
                  params.reassignTo === null || params.reassignTo === 'inline'
                    ? { ...current.task, mode: 'inline' as const, pool: null }
                    : { ...current.task, pool: params.reassignTo };
                await ctx.ports.store.put(slug, { ...current, task }, ctx.op.id);
              } finally {
                await releaseTenantLease(ctx.ports.tenantKube, slug, holder).catch(() => undefined);
              }
            }
          },
        },
        {
          name: 'deployment',
          run: async (ctx) => {
            const name = poolDeploymentName(ctx.params.name);
            const d = await ctx.ports.kube.getDeployment(name);
            if (d) await ctx.ports.kube.deleteDeployment(name, { uid: d.metadata?.uid, resourceVersion: d.metadata?.resourceVersion });
          },
        },
        {
          name: 'registration',
          run: async (ctx) => {
            await ctx.ports.kube.deleteConfigMap(agentsConfigMap(ctx.params.name));
            if (ctx.params.name === SHARED_POOL) {
              const s = await ctx.ports.kube.getSecret(REGISTRATION_SECRET);
              if (s) await deleteSecret(ctx, s);
            }
          },
        },
      ],
    };
  }

  async scale(cluster: ClusterRuntime, name: string, replicas: number) {
    const p = this.ports(cluster);
    const deployment = poolDeploymentName(name);
    const before = await p.kube.getDeployment(deployment);
    if (!before) throw new ContractError('NOT_FOUND', `Agent pool "${name}" does not exist on this cluster.`);
    await p.kube.scaleDeployment(deployment, replicas);
    return {
      name,
      replicas,
      before: before.spec?.replicas ?? 1,
      rollout: rolloutStatus(deployment, await p.kube.getDeployment(deployment)),
    };
  }

  /**
   * Rotation saga: stage (new key current, old key kept as previous) → roll (the pods' template
   * names the new key id, so every agent restarts on it) → wait until rolled → retire (drop the
   * previous key). Until retire, the backend accepts both; a failure restores the old key.
   */
  async rotateKey(cluster: ClusterRuntime, actor?: string) {
    const p = this.ports(cluster);
    const secret = await p.kube.getSecret(REGISTRATION_SECRET);
    if (!secret || !(await p.kube.getDeployment(poolDeploymentName(SHARED_POOL))))
      throw new ContractError('NOT_FOUND', 'The shared agent pool is not initialised on this cluster: initialise it first.');
    const keys = decodeSecretData(secret);
    if (keys.HMAC_KEY_PREVIOUS_ID)
      throw new ContractError(
        'CONFLICT',
        `A rotation is still in progress (previous key ${keys.HMAC_KEY_PREVIOUS_ID} not retired yet). Resume or roll back that operation first.`,
      );
    const outcome = await this.saga.start<{ pool: string }, PoolCtx>(POOL_ROTATE, { pool: SHARED_POOL }, cluster, actor ? { actor } : {});
    finish(outcome, 'Rotating the shared pool registration key');
    return { operationId: outcome.operation.id, pool: await this.get(cluster, SHARED_POOL), steps: outcome.operation.steps };
  }

  private rotateSaga(): SagaDefinition<{ pool: string }, PoolCtx> {
    const deployment = poolDeploymentName(SHARED_POOL);
    const setKeyId = async (ctx: PoolCtx, keyId: string) =>
      retryKubeConflict(async () => {
        const d = await ctx.ports.kube.getDeployment(deployment);
        if (!d?.spec?.template) throw new ContractError('NOT_FOUND', `Deployment ${deployment} disappeared during the rotation.`);
        if (d.spec.template.metadata?.annotations?.[KEY_ID_ANNOTATION] === keyId) return;
        d.spec.template.metadata = {
          ...d.spec.template.metadata,
          annotations: { ...(d.spec.template.metadata?.annotations ?? {}), [KEY_ID_ANNOTATION]: keyId },
        };
        await ctx.ports.kube.replaceDeployment(deployment, d);
      });
    const writeKeys = (ctx: PoolCtx, change: (k: Record<string, string>) => Record<string, string> | null) =>
      retryKubeConflict(async () => {
        const s = await ctx.ports.kube.getSecret(REGISTRATION_SECRET);
        if (!s) throw new ContractError('NOT_FOUND', `Secret ${REGISTRATION_SECRET} disappeared during the rotation.`);
        const next = change(decodeSecretData(s));
        if (!next) return;
        await ctx.ports.kube.replaceSecret(REGISTRATION_SECRET, {
          ...s,
          data: Object.fromEntries(Object.entries(next).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
        });
      });
    return {
      kind: POOL_ROTATE,
      target: () => SHARED_POOL,
      context: (params, op, cluster) => ({ ports: this.ports(cluster), op, cluster, params }),
      steps: [
        {
          name: 'stage',
          run: async (ctx) => {
            // Key ids (not keys) are journaled: a resume knows which key is whose.
            const fresh = newKey();
            await writeKeys(ctx, (k) => {
              if (k.HMAC_KEY_CURRENT_ID === ctx.op.notes.newKeyId) return null; // already staged by this operation
              ctx.op.note('oldKeyId', k.HMAC_KEY_CURRENT_ID ?? null);
              ctx.op.note('newKeyId', fresh.id);
              return {
                ...k,
                HMAC_KEY_PREVIOUS_ID: k.HMAC_KEY_CURRENT_ID ?? '',
                HMAC_KEY_PREVIOUS: k.HMAC_KEY_CURRENT ?? '',
                HMAC_KEY_CURRENT_ID: fresh.id,
                HMAC_KEY_CURRENT: fresh.key,
              };
            });
          },
          compensate: (ctx) =>
            writeKeys(ctx, (k) => {
              if (k.HMAC_KEY_CURRENT_ID !== ctx.op.notes.newKeyId || k.HMAC_KEY_PREVIOUS_ID !== ctx.op.notes.oldKeyId) return null;
              const rest = { ...k };
              delete rest.HMAC_KEY_PREVIOUS_ID;
              delete rest.HMAC_KEY_PREVIOUS;
              return { ...rest, HMAC_KEY_CURRENT_ID: k.HMAC_KEY_PREVIOUS_ID ?? '', HMAC_KEY_CURRENT: k.HMAC_KEY_PREVIOUS ?? '' };
            }),
        },
        {
          name: 'roll',
          run: (ctx) => setKeyId(ctx, ctx.op.notes.newKeyId as string),
          compensate: async (ctx) => {
            if (ctx.op.notes.oldKeyId) await setKeyId(ctx, ctx.op.notes.oldKeyId as string);
          },
        },
        { name: 'wait', run: async (ctx) => void (await waitForRollout(ctx.ports.kube, deployment, this.rollout)) },
        {
          name: 'retire',
          run: (ctx) =>
            writeKeys(ctx, (k) => {
              if (k.HMAC_KEY_PREVIOUS_ID !== ctx.op.notes.oldKeyId) return null;
              const rest = { ...k };
              delete rest.HMAC_KEY_PREVIOUS_ID;
              delete rest.HMAC_KEY_PREVIOUS;
              return rest;
            }),
        },
      ],
    };
  }

  /** Revokes one agent's credential (epoch kept) or lets it back in under epoch + 1. */
  async setAgent(cluster: ClusterRuntime, pool: string, agent: string, revoke: boolean) {
    const p = this.ports(cluster);
    if (!(await p.kube.getDeployment(poolDeploymentName(pool))))
      throw new ContractError('NOT_FOUND', `Agent pool "${pool}" does not exist on this cluster.`);
    const name = agentsConfigMap(pool);
    let result: AgentEntry = { epoch: 0, revoked: false };
    let before: AgentEntry | null = null;
    await retryKubeConflict(async () => {
      const cm = await p.kube.getConfigMap(name);
      const entries = decodeAgents(cm);
      before = entries.get(agent) ?? null;
      const current = before ?? { epoch: 0, revoked: false };
      result = revoke ? { epoch: current.epoch, revoked: true } : current.revoked ? { epoch: current.epoch + 1, revoked: false } : current;
      const data = { ...(cm?.data ?? {}), [agent]: JSON.stringify(result) };
      if (!cm) {
        await p.kube.createConfigMap({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, namespace: p.kube.namespace, labels: { ...MANAGED_BY_LABEL, [AGENT_REGISTRY_LABEL]: pool } },
          data,
        });
      } else await p.kube.replaceConfigMap(name, { ...cm, data });
    });
    return { pool, agent, epoch: result.epoch, revoked: result.revoked, before };
  }
}

function registrationSecret(namespace: string, data: Record<string, string>, operationId: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: REGISTRATION_SECRET,
      namespace,
      labels: { ...MANAGED_BY_LABEL, [POOL_LABEL]: SHARED_POOL },
      annotations: { [OPERATION_ANNOTATION]: operationId },
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

async function deleteSecret(ctx: PoolCtx, s: V1Secret): Promise<void> {
  await ctx.ports.kube.deleteSecret(s.metadata!.name!, { uid: s.metadata?.uid, resourceVersion: s.metadata?.resourceVersion });
}
