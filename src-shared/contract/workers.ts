import { z } from 'zod';
import { command } from './define';
import { StepReport, TenantName, TenantSlug, TenantTier } from './tenants';

/**
 * Workers: per-tenant worker configuration, login workers, agent pools and version
 * upgrades (docs/workers.md). The backend reads the configuration from the sharded
 * ConfigMaps `gatehouse-workers-<n>`; dedicated login workers and agent pools are
 * Deployments in the platform namespace.
 */

/** DNS-1123 label, short enough that `agent-pool-<name>` stays a valid object name. */
export const PoolName = z
  .string()
  .min(1, 'the pool name is required')
  .max(40, 'at most 40 characters')
  .regex(/^[a-z]([a-z0-9-]*[a-z0-9])?$/, 'lowercase letters, digits and "-", starting with a letter, not ending with "-"');

/** Image tag (what a version is on the platform's images). */
export const ImageTag = z
  .string()
  .min(1, 'the version is required')
  .max(128)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'an image tag: letters, digits, "_", "." and "-"');

export const TaskWorkerMode = z.enum(['inline', 'agent']);
export const LoginWorkerMode = z.enum(['inline', 'shared', 'dedicated']);

/** What the backend reads for one tenant. */
export const WorkerConfig = z.object({
  task: z.object({
    mode: TaskWorkerMode,
    /** The agent pool tasks are dispatched to (mode agent only). */
    pool: z.string().nullable(),
    /** Tasks of this tenant running at once. */
    concurrency: z.number().int(),
  }),
  login: z.object({
    mode: LoginWorkerMode,
    /** shared: the shared login worker's URL. */
    url: z.string().nullable(),
    /** shared: concurrent logins this tenant may run there. */
    maxConcurrent: z.number().int().nullable(),
  }),
});
export type WorkerConfig = z.infer<typeof WorkerConfig>;

/** A Deployment's rollout as the controller reports it. */
export const RolloutStatus = z.object({
  name: z.string(),
  exists: z.boolean(),
  desired: z.number().int(),
  updated: z.number().int(),
  ready: z.number().int(),
  available: z.number().int(),
  /** The controller has seen the latest spec (observedGeneration ≥ generation). */
  observed: z.boolean(),
  complete: z.boolean(),
  paused: z.boolean(),
  image: z.string().nullable(),
  message: z.string().nullable(),
});
export type RolloutStatus = z.infer<typeof RolloutStatus>;

export const TierResources = z.object({
  replicas: z.number().int(),
  requests: z.object({ cpu: z.string(), memory: z.string() }),
  limits: z.object({ cpu: z.string(), memory: z.string() }),
});

const MaxConcurrency = 1024;

export const workersCommands = {
  'workers.config.get': command({
    tenant: 'slug',
    summary: "A tenant's worker configuration and its dedicated login worker's rollout",
    role: 'viewer',
    mutating: false,
    input: z.object({ slug: TenantSlug }).strict(),
    output: z.object({
      slug: z.string(),
      name: z.string(),
      tier: z.string(),
      config: WorkerConfig,
      /** False: nothing stored yet, the defaults apply (inline/inline). */
      stored: z.boolean(),
      loginWorker: RolloutStatus.nullable(),
      /** What a dedicated login worker gets for this tier; null when the tier has none. */
      dedicatedResources: TierResources.nullable(),
    }),
  }),
  'workers.config.set': command({
    tenant: 'slug',
    summary: "Change a tenant's worker configuration (creates or removes its dedicated login worker)",
    role: 'operator',
    mutating: true,
    input: z
      .object({
        slug: TenantSlug,
        taskMode: TaskWorkerMode,
        taskPool: z.string().max(40).nullable().default(null),
        taskConcurrency: z.number().int().min(1).max(MaxConcurrency),
        loginMode: LoginWorkerMode,
        /** shared mode: URL of the shared login worker (checked by the engine). */
        loginUrl: z.string().max(2048).nullable().default(null),
        loginMaxConcurrent: z.number().int().min(1).max(MaxConcurrency).nullable().default(null),
      })
      .strict(),
    output: z.object({
      operationId: z.string(),
      slug: z.string(),
      config: WorkerConfig,
      steps: z.array(StepReport),
      loginWorker: RolloutStatus.nullable(),
    }),
  }),
  'tenants.profile.set': command({
    tenant: 'slug',
    summary: "Change a tenant's display name and tier (checked against the license; the tier's worker resources applied)",
    role: 'operator',
    mutating: true,
    input: z.object({ slug: TenantSlug, name: TenantName.optional(), tier: TenantTier.optional() }).strict(),
    output: z.object({
      operationId: z.string(),
      slug: z.string(),
      name: z.string(),
      tier: z.string(),
      steps: z.array(StepReport),
      loginWorker: RolloutStatus.nullable(),
    }),
  }),
};

export const AgentPool = z.object({
  name: z.string(),
  deployment: z.string(),
  labels: z.record(z.string(), z.string()),
  shared: z.boolean(),
  replicas: z.number().int(),
  rollout: RolloutStatus,
  /** Tenants whose tasks go to this pool. */
  tenants: z.array(z.string()),
  /** Id of the current registration key (shared pool); null for other pools. */
  keyId: z.string().nullable(),
  /** Previous key still accepted until the pool has rolled (rotation in progress). */
  previousKeyId: z.string().nullable(),
  revokedAgents: z.array(z.string()),
});
export type AgentPool = z.infer<typeof AgentPool>;

const PoolLabels = z.record(
  z
    .string()
    .max(63)
    .regex(/^[a-z0-9A-Z]([a-z0-9A-Z._-]*[a-z0-9A-Z])?$/, 'a label key'),
  z
    .string()
    .max(63)
    .regex(/^([a-z0-9A-Z]([a-z0-9A-Z._-]*[a-z0-9A-Z])?)?$/, 'a label value'),
);
const Replicas = z.number().int().min(0).max(200);
const poolResult = z.object({ operationId: z.string(), pool: AgentPool, steps: z.array(StepReport) });

export const poolsCommands = {
  'pools.list': command({
    summary: 'Agent pools with their replicas, rollout, assigned tenants and registration key ids',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({ pools: z.array(AgentPool) }),
  }),
  'pools.create': command({
    summary: 'Create an agent pool (Deployment agent-pool-<name>) with labels',
    role: 'operator',
    mutating: true,
    input: z
      .object({ name: PoolName, labels: PoolLabels.default({}), replicas: Replicas.default(1), version: ImageTag.optional() })
      .strict(),
    output: poolResult,
  }),
  'pools.delete': command({
    summary: 'Delete an agent pool; refused while tenants are assigned unless they are reassigned',
    role: 'admin',
    mutating: true,
    confirmField: 'name',
    input: z.object({ name: PoolName, confirm: z.string(), reassignTo: z.string().max(40).nullable().default(null) }).strict(),
    output: z.object({ operationId: z.string(), name: z.string(), reassigned: z.array(z.string()), steps: z.array(StepReport) }),
  }),
  'pools.assign': command({
    tenant: 'slug',
    summary: "Assign a tenant's tasks to a pool (null: back to inline)",
    role: 'operator',
    mutating: true,
    input: z.object({ slug: TenantSlug, pool: z.string().max(40).nullable() }).strict(),
    output: z.object({ slug: z.string(), config: WorkerConfig }),
  }),
  'pools.scale': command({
    summary: "Scale an agent pool's replicas",
    role: 'operator',
    mutating: true,
    input: z.object({ name: PoolName, replicas: Replicas }).strict(),
    output: z.object({ name: z.string(), replicas: z.number().int(), rollout: RolloutStatus }),
  }),
  'pools.shared.init': command({
    summary: 'Initialise the shared agent pool: Deployment + HMAC self-registration key in a Secret',
    role: 'admin',
    mutating: true,
    input: z.object({ replicas: Replicas.default(2), version: ImageTag.optional() }).strict(),
    output: poolResult,
  }),
  'pools.shared.rotateKey': command({
    summary: "Rotate the shared pool's HMAC registration key (old and new accepted until the pool has rolled)",
    role: 'admin',
    mutating: true,
    input: z.object({}).strict(),
    output: poolResult,
  }),
  'pools.agents.revoke': command({
    summary: "Revoke one agent's registration credential (the agent keeps its name)",
    role: 'admin',
    mutating: true,
    input: z.object({ pool: PoolName, agent: z.string().min(1).max(253) }).strict(),
    output: z.object({ pool: z.string(), agent: z.string(), epoch: z.number().int(), revoked: z.boolean() }),
  }),
  'pools.agents.readmit': command({
    summary: 'Let a revoked agent register again under a new credential epoch',
    role: 'admin',
    mutating: true,
    input: z.object({ pool: PoolName, agent: z.string().min(1).max(253) }).strict(),
    output: z.object({ pool: z.string(), agent: z.string(), epoch: z.number().int(), revoked: z.boolean() }),
  }),
};

export const UpgradeComponent = z.enum(['backend', 'frontend', 'login-workers', 'agents', 'all']);

export const UpgradeTarget = z.object({
  deployment: z.string(),
  wave: z.enum(['canary', 'rest']),
  from: z.string().nullable(),
  to: z.string(),
  state: z.enum(['pending', 'rolling', 'done', 'stuck', 'paused', 'rolled-back', 'failed']),
  rollout: RolloutStatus.nullable(),
  /** Pods of the new version that are not ready, with why (stuck detection). */
  failingPods: z.array(z.object({ name: z.string(), reason: z.string().nullable(), restarts: z.number().int() })),
});

export const UpgradeStatus = z.object({
  operationId: z.string(),
  component: UpgradeComponent,
  version: z.string(),
  canaryPool: z.string().nullable(),
  state: z.enum(['running', 'paused', 'done', 'stuck', 'rolled-back', 'failed']),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  error: z.string().nullable(),
  targets: z.array(UpgradeTarget),
});
export type UpgradeStatus = z.infer<typeof UpgradeStatus>;

const OperationId = z.object({ operationId: z.string().min(1).max(100) }).strict();

export const upgradesCommands = {
  'upgrades.start': command({
    fleet: true,
    summary: 'Set a new version for a component (or all), optionally one agent pool first, with live rollout progress',
    role: 'operator',
    mutating: true,
    input: z
      .object({
        component: UpgradeComponent,
        version: ImageTag,
        canaryPool: z.string().max(40).nullable().default(null),
        /** Roll back by itself when a Deployment is stuck. */
        autoRollback: z.boolean().default(true),
      })
      .strict(),
    output: UpgradeStatus,
  }),
  'upgrades.status': command({
    summary: 'An upgrade (or the latest one of this cluster) with its rollout per Deployment',
    role: 'viewer',
    mutating: false,
    input: z.object({ operationId: z.string().max(100).nullable().default(null) }).strict(),
    output: z.object({ upgrade: UpgradeStatus.nullable() }),
  }),
  'upgrades.pause': command({
    summary: 'Pause a running upgrade (its Deployments stop rolling)',
    role: 'operator',
    mutating: true,
    input: OperationId,
    output: UpgradeStatus,
  }),
  'upgrades.resume': command({
    summary: 'Resume a paused upgrade',
    role: 'operator',
    mutating: true,
    input: OperationId,
    output: UpgradeStatus,
  }),
  'upgrades.rollback': command({
    summary: 'Roll every Deployment an upgrade changed back to its previous version',
    role: 'operator',
    mutating: true,
    input: OperationId,
    output: UpgradeStatus,
  }),
};
