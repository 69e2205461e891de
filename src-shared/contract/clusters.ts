import { z } from 'zod';
import { command, event } from './define';

/** One kubeconfig file the console reads, and whether it could. */
export const KubeconfigSource = z.object({
  path: z.string(),
  /** KUBECONFIG variable, ~/.kube/config, or added by an operator in the console. */
  origin: z.enum(['env', 'default', 'added']),
  /** Why the file could not be used; its contexts are then missing from the list. */
  error: z.string().nullable(),
  contextCount: z.number().int().nonnegative(),
});
export type KubeconfigSource = z.infer<typeof KubeconfigSource>;

/** A kubeconfig context as the console lists it. */
export const ClusterContext = z.object({
  /** Stable id: source file path + context name. */
  id: z.string(),
  contextName: z.string(),
  clusterName: z.string(),
  /** Empty when the context's cluster entry is missing or invalid. */
  server: z.string(),
  userName: z.string(),
  namespace: z.string().nullable(),
  sourceFile: z.string(),
  /** `error` means the context cannot be used as written; `error` says why. */
  status: z.enum(['ok', 'error']),
  error: z.string().nullable(),
  /** The file's current-context. */
  current: z.boolean(),
  /** Selected in this session (each session, each window, chooses its own). */
  selected: z.boolean(),
  /** The cluster this context was last seen leading to: its kube-system namespace UID; null until first reached. */
  clusterUid: z.string().nullable(),
  /** Set when the context now leads to a different cluster than before: its work stays bound to the old one. */
  identityChange: z.object({ previousUid: z.string(), uid: z.string(), at: z.string() }).nullable(),
});
export type ClusterContext = z.infer<typeof ClusterContext>;

export const ClustersList = z.object({
  sources: z.array(KubeconfigSource),
  contexts: z.array(ClusterContext),
  selectedId: z.string().nullable(),
});
export type ClustersList = z.infer<typeof ClustersList>;

/** A permission the console needs, as SelfSubjectAccessReview resource attributes. */
export const PermissionCheck = z.object({
  verb: z.string(),
  group: z.string(),
  resource: z.string(),
  subresource: z.string(),
  /** Null for cluster-wide resources. */
  namespace: z.string().nullable(),
  /** "cannot `delete secrets` in `iam-system`" */
  text: z.string(),
});
export type PermissionCheck = z.infer<typeof PermissionCheck>;

export const ConnectionTest = z.object({
  clusterId: z.string(),
  serverVersion: z.object({ gitVersion: z.string(), platform: z.string() }),
  namespace: z.string(),
  /** How many permissions were checked, and those the credentials lack. */
  permissionsChecked: z.number().int().nonnegative(),
  missing: z.array(PermissionCheck),
  ok: z.boolean(),
  testedAt: z.string(),
});
export type ConnectionTest = z.infer<typeof ConnectionTest>;

const Hostname = z.string().trim().min(1).max(253);
export const DatabaseConnection = z.object({
  host: Hostname,
  port: z.number().int().min(1).max(65535),
  user: z.string().trim().min(1).max(63),
  database: z.string().trim().min(1).max(63),
  ssl: z.boolean(),
});
export type DatabaseConnection = z.infer<typeof DatabaseConnection>;

const NamespaceName = z
  .string()
  .trim()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a Kubernetes namespace name (lowercase letters, digits, "-")');

export const ClusterProfile = z.object({
  clusterId: z.string(),
  namespace: z.string(),
  database: DatabaseConnection.nullable(),
  /** The admin password lives in the secret store; it is never returned. */
  hasPassword: z.boolean(),
  /** VPN-only clusters: unreachable is normal, shown as expected rather than as an error. */
  expectedOffline: z.boolean(),
  updatedAt: z.string().nullable(),
});
export type ClusterProfile = z.infer<typeof ClusterProfile>;

export const ClusterStateSchema = z.object({
  /** The context this state is about. */
  clusterId: z.string().nullable(),
  state: z.enum(['online', 'offline', 'expected-offline', 'unknown']),
  /** Last time the cluster answered. */
  lastSyncAt: z.string().nullable(),
  checkedAt: z.string().nullable(),
  error: z.string().nullable(),
});
export type ClusterState = z.infer<typeof ClusterStateSchema>;

export const SecretsStatus = z.object({
  kind: z.enum(['keychain', 'encrypted-file']),
  /** Encrypted file only: true until the passphrase is given. */
  locked: z.boolean(),
  /** Encrypted file only: false until the first secret is stored. */
  initialized: z.boolean(),
  /** Why the OS keychain is not used, when it is not. */
  keychainUnavailableReason: z.string().nullable(),
});
export type SecretsStatus = z.infer<typeof SecretsStatus>;

const ClusterIdInput = z.object({ clusterId: z.string().min(1).max(4096).optional() }).strict();
const AbsolutePath = z
  .string()
  .trim()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('~'), 'must be an absolute path');

export const clustersCommands = {
  'clusters.list': command({
    summary: 'Kubeconfig files and their contexts',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: ClustersList,
  }),
  'clusters.addKubeconfig': command({
    summary: 'Add a kubeconfig file to the list the console reads',
    role: 'operator',
    mutating: true,
    offline: true,
    input: z.object({ path: AbsolutePath }).strict(),
    output: ClustersList,
  }),
  'clusters.removeKubeconfig': command({
    summary: 'Stop reading a kubeconfig file added in the console',
    role: 'operator',
    mutating: true,
    offline: true,
    input: z.object({ path: AbsolutePath }).strict(),
    output: ClustersList,
  }),
  'clusters.select': command({
    summary: 'Choose the cluster context this session works on (new sessions start on the last choice)',
    role: 'viewer',
    mutating: true,
    offline: true,
    input: z.object({ clusterId: z.string().min(1).max(4096) }).strict(),
    output: ClusterStateSchema,
  }),
  'clusters.test': command({
    summary: 'Reach the cluster and check every permission the console needs',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: ClusterIdInput,
    output: ConnectionTest,
  }),
  'clusters.profile.get': command({
    summary: 'Platform namespace, database connection and offline expectation of a cluster',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: ClusterIdInput,
    output: ClusterProfile,
  }),
  'clusters.profile.save': command({
    summary: 'Save the profile of a cluster (the database password goes to the secret store)',
    role: 'operator',
    mutating: true,
    offline: true,
    input: z
      .object({
        clusterId: z.string().min(1).max(4096),
        namespace: NamespaceName.default('iam-system'),
        database: DatabaseConnection.extend({
          /** Write-only: omit to keep the stored one. */
          password: z.string().min(1).max(1024).optional(),
        })
          .strict()
          .nullable(),
        expectedOffline: z.boolean().default(false),
      })
      .strict(),
    output: ClusterProfile,
  }),
  'clusters.state': command({
    summary: 'Connection state of the cluster selected in this session',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({ refresh: z.boolean().default(false) }).strict(),
    output: ClusterStateSchema,
  }),
  'secrets.status': command({
    summary: 'Which secret store holds operator credentials, and whether it is unlocked',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: SecretsStatus,
  }),
  'secrets.unlock': command({
    summary: 'Unlock (or create) the encrypted secret file with its passphrase',
    role: 'viewer',
    mutating: true,
    offline: true,
    input: z.object({ passphrase: z.string().min(8, 'must be at least 8 characters').max(1024) }).strict(),
    output: SecretsStatus,
  }),
};

export const clustersEvents = {
  'clusters.changed': event({ role: 'viewer', summary: 'Kubeconfig files or their contexts changed', payload: ClustersList }),
  'cluster.state': event({ role: 'viewer', summary: 'A cluster context in use went online, offline or changed (sessions keep the one they selected)', payload: ClusterStateSchema }),
};
