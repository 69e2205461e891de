import { z } from 'zod';
import { command, event } from './define';

export const WorkloadImage = z.object({
  container: z.string(),
  image: z.string(),
  /** Tag or digest; "latest" when the image names none. */
  tag: z.string(),
});

export const WorkloadSummary = z.object({
  name: z.string(),
  desired: z.number().int().nonnegative(),
  ready: z.number().int().nonnegative(),
  updated: z.number().int().nonnegative(),
  available: z.number().int().nonnegative(),
  images: z.array(WorkloadImage),
  /** One word for the list; `reason`/`message` from the deployment's conditions explain it. */
  condition: z.enum(['available', 'progressing', 'degraded', 'scaled-down']),
  reason: z.string().nullable(),
  message: z.string().nullable(),
});
export type WorkloadSummary = z.infer<typeof WorkloadSummary>;

export const Dashboard = z.object({
  clusterId: z.string(),
  namespace: z.string(),
  serverVersion: z.string(),
  nodes: z.object({ total: z.number().int().nonnegative(), ready: z.number().int().nonnegative() }),
  deployments: z.array(WorkloadSummary),
  /** When this data was read from the cluster. */
  lastSyncAt: z.string(),
  /** True when the cluster did not answer and this is the cached copy. */
  offline: z.boolean(),
  /** Why the live read failed, when `offline`. */
  error: z.string().nullable(),
});
export type Dashboard = z.infer<typeof Dashboard>;

export const dashboardCommands = {
  'dashboard.get': command({
    summary: 'Server version, nodes and platform workloads of the selected cluster',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({ clusterId: z.string().min(1).max(4096).optional() }).strict(),
    output: Dashboard,
  }),
};

export const dashboardEvents = {
  'workloads.changed': event({
    role: 'viewer',
    summary: 'A deployment in the platform namespace was added, changed or removed',
    payload: z.object({
      clusterId: z.string(),
      namespace: z.string(),
      change: z.enum(['added', 'modified', 'deleted']),
      deployment: WorkloadSummary,
      at: z.string(),
    }),
  }),
};

const Count = z.number().int().nonnegative();

/** "Is everything all right?": totals from the tenant cache and the last alert evaluation; paints without a cluster call. */
export const DashboardOverview = z.object({
  clusterId: z.string(),
  tenants: z
    .object({
      total: Count,
      users: Count,
      byStatus: z.record(z.string(), Count),
      byTier: z.record(z.string(), Count),
      refreshedAt: z.string(),
    })
    .nullable(),
  license: z
    .object({
      state: z.string(),
      licenseId: z.string().nullable(),
      daysToExpiry: z.number().int().nullable(),
      tenantsLimit: z.number().int().nullable(),
      usersLimit: z.number().int().nullable(),
    })
    .nullable(),
  alerts: z.object({
    firing: Count,
    acknowledged: Count,
    silenced: Count,
    top: z.array(
      z.object({
        fingerprint: z.string(),
        severity: z.string(),
        summary: z.string(),
        link: z.string(),
        state: z.string(),
        lastFiredAt: z.string(),
      }),
    ),
  }),
  backups: z.object({ ok: Count, failed: Count, never: Count, unverified: Count }).nullable(),
  rollouts: z.object({ total: Count, healthy: Count, progressing: Count, degraded: Count, stuck: z.array(z.string()) }).nullable(),
  database: z.object({ used: Count, max: Count }).nullable(),
  auditAlarms: Count.nullable(),
  /** The newest entries of this console's copy of the cluster's audit log (synced in the background). */
  activity: z.array(
    z.object({ at: z.string(), actor: z.string(), action: z.string(), target: z.string().nullable(), outcome: z.string() }),
  ),
  /** When the figures other than tenants and alerts were read (the last alert evaluation); null: not yet. */
  evaluatedAt: z.string().nullable(),
});
export type DashboardOverview = z.infer<typeof DashboardOverview>;

export const dashboardOverviewCommands = {
  'dashboard.overview': command({
    summary: 'Totals of the selected cluster: tenants, users, license, alerts, backups, rollouts, database (from the cache)',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: DashboardOverview,
  }),
};
