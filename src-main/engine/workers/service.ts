import { ContractError } from '../../../src-shared/contract';
import { LEASE_SECONDS, TenantRegistry, loginWorkerName, tenantKube } from '../tenants';
import type { RolloutStatus, WorkerConfig } from '../../../src-shared/contract/workers';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import type { OperationHandle, SagaRunner } from '../core/saga';
import { finish } from './finish';
import { AgentPools } from './pools';
import { Upgrades } from './upgrades';
import { DEFAULT_WORKER_CONFIG, WorkerConfigStore } from './config-store';
import {
  TENANT_PROFILE,
  WORKER_CONFIG,
  tenantProfileSaga,
  workerConfigSaga,
  type TenantProfileCtx,
  type TenantProfileParams,
  type WorkerConfigCtx,
  type WorkerConfigParams,
  type WorkerPorts,
  type WorkerSagaOptions,
} from './config-saga';
import { workersKube } from './kube';
import { dedicatedResources } from './manifests';
import { rolloutStatus, type RolloutWait } from './rollout';

export interface WorkersServiceOptions {
  saga: SagaRunner;
  bus: EventBus | null;
  consoleId: string;
  leaseSeconds?: number;
  registryShards?: number;
  /** How rollouts are watched: check period, checks without progress before "stuck", overall bound. */
  rollout?: Partial<Omit<RolloutWait, 'onProgress'>>;
  licenseCheck?: WorkerSagaOptions['licenseCheck'];
}

export interface ConfigInput {
  slug: string;
  taskMode: 'inline' | 'agent';
  taskPool: string | null;
  taskConcurrency: number;
  loginMode: 'inline' | 'shared' | 'dedicated';
  loginUrl: string | null;
  loginMaxConcurrent: number | null;
}

export const DEFAULT_ROLLOUT: Omit<RolloutWait, 'onProgress'> = {
  periodMs: 2000,
  stuckPeriods: 30,
  restartBudget: 3,
  timeoutMs: 10 * 60_000,
};

/** Checks and normalises an input into what is stored: fields of modes that do not use them are dropped. */
export function normaliseConfig(input: ConfigInput): WorkerConfig {
  if (input.taskMode === 'agent' && !input.taskPool)
    throw new ContractError('VALIDATION', 'Task worker mode "agent" needs a pool: choose the agent pool the tasks go to.');
  let url: string | null = null;
  if (input.loginMode === 'shared') {
    if (!input.loginUrl)
      throw new ContractError(
        'VALIDATION',
        'Login worker mode "shared" needs the shared login worker URL (e.g. http://login-worker-shared.iam-system.svc:8090).',
      );
    let parsed: URL;
    try {
      parsed = new URL(input.loginUrl);
    } catch {
      throw new ContractError(
        'VALIDATION',
        `"${input.loginUrl.slice(0, 100)}" is not a URL: give http(s)://host:port of the shared login worker.`,
      );
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new ContractError('VALIDATION', 'The shared login worker URL must be http:// or https://.');
    if (parsed.username || parsed.password)
      throw new ContractError('VALIDATION', 'The shared login worker URL must not carry credentials: the tenant token authenticates it.');
    url = parsed.toString().replace(/\/$/, '');
  }
  return {
    task: { mode: input.taskMode, pool: input.taskMode === 'agent' ? input.taskPool : null, concurrency: input.taskConcurrency },
    login: { mode: input.loginMode, url, maxConcurrent: input.loginMode === 'shared' ? (input.loginMaxConcurrent ?? 10) : null },
  };
}

/** Per-tenant worker configuration and tenant profile changes, each a small saga on the command's cluster. */
export class WorkersService {
  private readonly rollout: Omit<RolloutWait, 'onProgress'>;
  readonly pools: AgentPools;
  readonly upgrades: Upgrades;

  constructor(private readonly opts: WorkersServiceOptions) {
    this.rollout = { ...DEFAULT_ROLLOUT, ...opts.rollout };
    const sagaOptions: WorkerSagaOptions = {
      consoleId: opts.consoleId,
      leaseSeconds: opts.leaseSeconds ?? LEASE_SECONDS,
      rollout: this.rollout,
      progress: (op, kind, target, r) => this.progress(op, kind, target, r),
      licenseCheck: opts.licenseCheck,
    };
    const ports = (cluster: ClusterRuntime) => Promise.resolve(this.ports(cluster));
    opts.saga.register(workerConfigSaga(ports, sagaOptions));
    opts.saga.register(tenantProfileSaga(ports, sagaOptions));
    this.pools = new AgentPools(opts.saga, (c) => this.ports(c), this.rollout, opts.consoleId);
    this.upgrades = new Upgrades(opts.saga, opts.bus, (c) => this.ports(c), this.rollout);
  }

  ports(cluster: ClusterRuntime): WorkerPorts {
    const kube = workersKube(cluster.kube, cluster.namespace);
    const tk = tenantKube(cluster.kube, cluster.namespace);
    return { kube, tenantKube: tk, registry: new TenantRegistry(tk, this.opts.registryShards), store: new WorkerConfigStore(kube) };
  }

  /** Live rollout figures while a saga waits (the step itself is reported by the runner). */
  private progress(op: OperationHandle, kind: string, target: string, r: RolloutStatus): void {
    this.opts.bus?.publish('operation.progress', {
      operationId: op.id,
      kind,
      target,
      step: 'rollout',
      status: 'running',
      done: r.available,
      total: r.desired,
      at: new Date().toISOString(),
      message: r.complete
        ? `${r.name} rolled out (${r.available}/${r.desired} available)`
        : `${r.name}: ${r.message ?? 'rolling out'} (${r.updated} updated, ${r.available}/${r.desired} available)`,
    });
  }

  async getConfig(cluster: ClusterRuntime, slug: string) {
    const p = this.ports(cluster);
    const [entry, stored, deployment] = await Promise.all([
      p.registry.get(slug),
      p.store.get(slug),
      p.kube.getDeployment(loginWorkerName(slug)),
    ]);
    if (!entry) throw new ContractError('NOT_FOUND', `Tenant "${slug}" is not in the registry of this cluster.`);
    const resources = dedicatedResources(entry.tier);
    return {
      slug,
      name: entry.name,
      tier: entry.tier,
      config: stored?.config ?? DEFAULT_WORKER_CONFIG,
      stored: stored !== null,
      loginWorker: deployment ? rolloutStatus(loginWorkerName(slug), deployment) : null,
      dedicatedResources: resources,
    };
  }

  async setConfig(cluster: ClusterRuntime, input: ConfigInput, actor?: string) {
    const config = normaliseConfig(input);
    const params: WorkerConfigParams = { slug: input.slug, config };
    const outcome = await this.opts.saga.start<WorkerConfigParams, WorkerConfigCtx>(WORKER_CONFIG, params, cluster, actor ? { actor } : {});
    const ctx = finish(outcome, `Changing the workers of "${input.slug}"`);
    return { operationId: outcome.operation.id, slug: input.slug, config, steps: outcome.operation.steps, loginWorker: ctx.loginWorker };
  }

  async setProfile(cluster: ClusterRuntime, input: { slug: string; name?: string | undefined; tier?: string | undefined }, actor?: string) {
    if (input.name === undefined && input.tier === undefined)
      throw new ContractError('VALIDATION', 'Nothing to change: give a new display name, a new tier, or both.');
    const params: TenantProfileParams = { slug: input.slug, name: input.name ?? null, tier: input.tier ?? null };
    const outcome = await this.opts.saga.start<TenantProfileParams, TenantProfileCtx>(
      TENANT_PROFILE,
      params,
      cluster,
      actor ? { actor } : {},
    );
    const ctx = finish(outcome, `Changing tenant "${input.slug}"`);
    const entry = await this.ports(cluster).registry.get(input.slug);
    return {
      operationId: outcome.operation.id,
      slug: input.slug,
      name: entry?.name ?? input.name ?? input.slug,
      tier: entry?.tier ?? input.tier ?? '',
      steps: outcome.operation.steps,
      loginWorker: ctx.loginWorker,
    };
  }

  /** Sends a tenant's tasks to a pool (or back inline with null), keeping the rest of its configuration: the worker-config saga. */
  async assign(cluster: ClusterRuntime, slug: string, pool: string | null, actor?: string) {
    const current = (await this.ports(cluster).store.get(slug))?.config ?? DEFAULT_WORKER_CONFIG;
    const out = await this.setConfig(
      cluster,
      {
        slug,
        taskMode: pool ? 'agent' : 'inline',
        taskPool: pool,
        taskConcurrency: current.task.concurrency,
        loginMode: current.login.mode,
        loginUrl: current.login.url,
        loginMaxConcurrent: current.login.maxConcurrent,
      },
      actor,
    );
    return { slug, config: out.config, before: current };
  }
}
