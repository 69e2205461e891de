import { z } from 'zod';
import { command, event } from './define';

/**
 * The Infrastructure page: the platform's workloads and pods, live from one LIST + WATCH
 * per resource (never a GET per object), and the PostgreSQL server's status (docs/workers.md).
 */

export const InfraGroup = z.enum(['backend', 'frontend', 'login-shared', 'login-dedicated', 'agent-pool', 'other']);
export type InfraGroup = z.infer<typeof InfraGroup>;

/** Argo CD's health vocabulary. */
export const Health = z.enum(['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown']);
export type Health = z.infer<typeof Health>;

export const InfraPod = z.object({
  uid: z.string(),
  name: z.string(),
  /** The Deployment it belongs to (its app.kubernetes.io/name label). */
  workload: z.string().nullable(),
  group: InfraGroup,
  tenant: z.string().nullable(),
  pool: z.string().nullable(),
  phase: z.string(),
  ready: z.boolean(),
  restarts: z.number().int(),
  node: z.string().nullable(),
  image: z.string().nullable(),
  version: z.string().nullable(),
  /** Why it is not ready (a waiting/terminated reason or an unmet condition). */
  reason: z.string().nullable(),
  startedAt: z.string().nullable(),
});
export type InfraPod = z.infer<typeof InfraPod>;

export const InfraWorkload = z.object({
  name: z.string(),
  group: InfraGroup,
  tenant: z.string().nullable(),
  pool: z.string().nullable(),
  desired: z.number().int(),
  updated: z.number().int(),
  ready: z.number().int(),
  available: z.number().int(),
  version: z.string().nullable(),
  image: z.string().nullable(),
  health: Health,
  message: z.string().nullable(),
  paused: z.boolean(),
});
export type InfraWorkload = z.infer<typeof InfraWorkload>;

export const InfraWatchStats = z.object({
  /** LIST requests (pages included) since the watch started; a 410 adds one re-list, not one per object. */
  lists: z.number().int(),
  watches: z.number().int(),
  events: z.number().int(),
  relists: z.number().int(),
  /** Batches published as infra.changed. */
  batches: z.number().int(),
});

export const InfraSnapshot = z.object({
  clusterId: z.string(),
  namespace: z.string(),
  workloads: z.array(InfraWorkload),
  pods: z.array(InfraPod),
  /** Expected but absent (e.g. a tenant in dedicated mode without its login worker). */
  missing: z.array(InfraWorkload),
  stats: InfraWatchStats,
  at: z.string(),
});
export type InfraSnapshot = z.infer<typeof InfraSnapshot>;

export const DatabaseStatus = z.object({
  reachable: z.boolean(),
  error: z.string().nullable(),
  version: z.string().nullable(),
  startedAt: z.string().nullable(),
  uptimeSeconds: z.number().int().nullable(),
  connections: z.object({ used: z.number().int(), max: z.number().int() }).nullable(),
  databases: z.array(z.object({ name: z.string(), bytes: z.number() })),
  totalBytes: z.number().nullable(),
  longestTransaction: z.object({ seconds: z.number(), database: z.string().nullable(), state: z.string().nullable() }).nullable(),
  replication: z.object({
    role: z.enum(['primary', 'standby']),
    replicas: z.array(z.object({ name: z.string(), state: z.string(), lagBytes: z.number().nullable() })),
  }),
  at: z.string(),
});
export type DatabaseStatus = z.infer<typeof DatabaseStatus>;

export const infraCommands = {
  'infra.snapshot': command({
    summary: "The platform's workloads and pods (from the cluster's LIST + WATCH), grouped",
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: InfraSnapshot,
  }),
  'infra.tenant': command({
    tenant: 'slug',
    summary: "One tenant's own workloads and pods (dedicated login worker, per-tenant agents), from the same watch",
    role: 'viewer',
    mutating: false,
    input: z.object({ slug: z.string().min(1).max(40) }).strict(),
    output: z.object({ workloads: z.array(InfraWorkload), pods: z.array(InfraPod) }),
  }),
  'infra.database': command({
    summary: 'PostgreSQL status: version, uptime, connections, database sizes, longest transaction, replication',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: DatabaseStatus,
  }),
};

/** A batch of changes seen by the watch (at most a few per second, whatever the event rate). */
export const InfraChanged = z.object({
  clusterId: z.string(),
  namespace: z.string(),
  pods: z.array(InfraPod),
  podsRemoved: z.array(z.string()),
  workloads: z.array(InfraWorkload),
  workloadsRemoved: z.array(z.string()),
  missing: z.array(InfraWorkload).nullable(),
  /** True after a re-list (410 Gone): apply the snapshot again instead of the delta. */
  resync: z.boolean(),
  at: z.string(),
});
export type InfraChanged = z.infer<typeof InfraChanged>;

export const infraEvents = {
  'infra.changed': event({ role: 'viewer', summary: "The platform's pods or workloads changed (batched)", payload: InfraChanged }),
};
