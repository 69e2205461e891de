import { z } from 'zod';
import { command, event } from './define';

export const RoleSchema = z.enum(['viewer', 'operator', 'admin']);

export const OperatorIdentity = z.object({
  id: z.string(),
  displayName: z.string(),
  role: RoleSchema,
  /** How the operator proved who they are. */
  via: z.enum(['local-account', 'oidc', 'os-user']),
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
