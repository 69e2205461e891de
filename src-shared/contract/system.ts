import { z } from 'zod';
import { command, event } from './define';

export const RoleSchema = z.enum(['viewer', 'operator', 'admin']);

export const OperatorIdentity = z.object({
  id: z.string(),
  displayName: z.string(),
  role: RoleSchema,
  /** How the operator proved who they are. */
  via: z.enum(['local-account', 'member', 'oidc', 'os-user', 'token']),
  /** via 'token': the API token this connection signed in with (the owner is `id`). */
  token: z.object({ id: z.string(), name: z.string() }).optional(),
  /**
   * Tenant-scoped grants (members of the cluster, OIDC group mappings): this role on these tenants only.
   * Absent or empty: the global `role` is all there is.
   */
  grants: z.array(z.object({ role: z.enum(['operator', 'admin']), tenants: z.array(z.string()) })).optional(),
  /** false: no global role; `role` is then nominally viewer and tenant reads are limited to the grants. */
  globalRole: z.boolean().optional(),
  /** The local break-glass admin of this workstation (not a member of any cluster). */
  breakGlass: z.boolean().optional(),
  /**
   * A member of one cluster (docs/operators.md, "Members"): that cluster's kube-system UID and the
   * member record's version. The identity acts on that cluster only; a newer version (another
   * console changed the member) is re-read before the next command.
   */
  member: z.object({ cluster: z.string(), username: z.string(), version: z.number().int() }).optional(),
});
export type OperatorIdentity = z.infer<typeof OperatorIdentity>;

export const AppInfo = z.object({
  version: z.string(),
  mode: z.enum(['electron', 'browser']),
  developmentMode: z.boolean(),
  dataDir: z.string(),
  platform: z.string(),
  /** Warnings raised at start (a cache moved aside, a keychain fallback…). */
  startupWarnings: z.array(z.string()),
});

export const OperationProgress = z.object({
  operationId: z.string(),
  kind: z.string(),
  target: z.string(),
  step: z.string(),
  status: z.enum(['pending', 'running', 'done', 'failed', 'compensating', 'compensated', 'skipped']),
  message: z.string().optional(),
  /** Completed / total, when the step knows. */
  done: z.number().int().nonnegative().optional(),
  total: z.number().int().nonnegative().optional(),
  at: z.string(),
});
export type OperationProgress = z.infer<typeof OperationProgress>;

export const systemCommands = {
  'system.info': command({
    summary: 'Version, mode and data directory of this console',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: AppInfo,
  }),
  'system.session': command({
    summary: 'The operator this console acts as',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ operator: OperatorIdentity.nullable() }),
  }),
  'system.openFileDialog': command({
    summary: 'Ask for a file with the native dialog (desktop only)',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z
      .object({
        title: z.string().max(200),
        filters: z.array(z.object({ name: z.string().max(100), extensions: z.array(z.string().max(20)).max(20) })).max(10),
      })
      .strict(),
    output: z.object({ paths: z.array(z.string()) }),
  }),
  'system.settings.get': command({
    summary: 'Local console settings',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ theme: z.enum(['light', 'dark', 'system']) }),
  }),
  'system.settings.set': command({
    summary: 'Change local console settings',
    role: 'viewer',
    mutating: true,
    offline: true,
    input: z.object({ theme: z.enum(['light', 'dark', 'system']) }).strict(),
    output: z.object({ theme: z.enum(['light', 'dark', 'system']) }),
  }),
};

export const systemEvents = {
  'operation.progress': event({ role: 'viewer', summary: 'A step of a long operation moved on', payload: OperationProgress }),
};
