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
