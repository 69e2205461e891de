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

/**
 * A command a kubeconfig added in the console would run (exec, auth-provider) or a file it
 * would read (token-file, client certificate and key), bound to the context, the server the
 * credential goes to and exactly that command or path. Nothing runs or is read before an admin
 * approves it; an approval is revoked when what it approved changes.
 */
export const KubeconfigApproval = z.object({
  /** Fingerprint of exactly what is shown (approving names it, so a change in between is refused). */
  id: z.string(),
  sourceFile: z.string(),
  contextName: z.string(),
  userName: z.string(),
  /** Where the credential is sent. */
  server: z.string(),
  kind: z.enum(['exec', 'auth-provider', 'token-file', 'client-certificate', 'client-key']),
  /** The full command line with its environment, the provider with its settings, or the absolute path. */
  detail: z.string(),
  approved: z.boolean(),
  approvedBy: z.string().nullable(),
  approvedAt: z.string().nullable(),
});
export type KubeconfigApproval = z.infer<typeof KubeconfigApproval>;

export const ClustersList = z.object({
  sources: z.array(KubeconfigSource),
  contexts: z.array(ClusterContext),
  selectedId: z.string().nullable(),
  /** What kubeconfigs added in the console run or read, approved or waiting for an admin. */
  approvals: z.array(KubeconfigApproval),
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

/**
 * TLS to the platform's PostgreSQL. `verify-full` (the default): encrypted, and the server's
 * certificate must chain to the profile's CA (else the system's roots) and name the host.
 * `require`: encrypted but the server is not verified; `disable`: no TLS. Both weaker modes
 * are saved only with `allowInsecureTls: true` (see docs/clusters.md).
 */
export const PgSslModeSchema = z.enum(['verify-full', 'require', 'disable']);
export type PgSslMode = z.infer<typeof PgSslModeSchema>;

/** One or more PEM certificates; the engine parses each one. */
const CaPem = z
  .string()
  .trim()
  .max(65_536)
  .regex(
    /^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----$/,
    'must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)',
  );

export const DatabaseConnection = z.object({
  host: Hostname,
  port: z.number().int().min(1).max(65535),
  user: z.string().trim().min(1).max(63),
  database: z.string().trim().min(1).max(63),
  sslMode: PgSslModeSchema.default('verify-full'),
  /** The CA that signed the database server's certificate (PEM); null: the system's trusted roots. */
  caPem: CaPem.nullable().default(null),
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
  'clusters.kubeconfig.approve': command({
    summary: 'Approve exactly what a kubeconfig added in the console runs or reads (a command or a file)',
    role: 'admin',
    mutating: true,
    offline: true,
    input: z.object({ approvalId: z.string().min(1).max(200) }).strict(),
    output: ClustersList,
  }),
  'clusters.kubeconfig.revoke': command({
    summary: 'Withdraw the approval of a command or file of a kubeconfig added in the console',
    role: 'admin',
    mutating: true,
    offline: true,
    input: z.object({ approvalId: z.string().min(1).max(200) }).strict(),
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
    // It decides where the admin password is sent and how the server is verified.
    role: 'admin',
    mutating: true,
    offline: true,
    input: z
      .object({
        clusterId: z.string().min(1).max(4096),
        namespace: NamespaceName.default('iam-system'),
        database: DatabaseConnection.extend({
          /** Write-only: omit to keep the stored one (dropped anyway when the target or TLS changes). */
          password: z.string().min(1).max(1024).optional(),
          /** The explicit choice of a connection whose server is not verified (require) or not encrypted (disable). */
          allowInsecureTls: z.boolean().optional(),
        })
          .strict()
          .refine((d) => d.sslMode === 'verify-full' || d.allowInsecureTls === true, {
            path: ['allowInsecureTls'],
            message:
              'TLS without server verification ("require") or without encryption ("disable") exposes the admin password on the network; set allowInsecureTls to confirm that choice',
          })
          .nullable(),
        expectedOffline: z.boolean().default(false),
      })
      .strict(),
    output: ClusterProfile.extend({
      /** The host, port, user, database or TLS changed and no password was given: the stored one was deleted. */
      passwordDropped: z.boolean(),
    }),
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
    // Creating the file chooses the passphrase every stored credential depends on: admin (checked in the engine).
    role: 'operator',
    mutating: true,
    offline: true,
    input: z.object({ passphrase: z.string().min(8, 'must be at least 8 characters').max(1024) }).strict(),
    output: SecretsStatus,
  }),
};

export const clustersEvents = {
  'clusters.changed': event({ role: 'viewer', summary: 'Kubeconfig files or their contexts changed', payload: ClustersList }),
  'cluster.state': event({
    role: 'viewer',
    summary: 'A cluster context in use went online, offline or changed (sessions keep the one they selected)',
    payload: ClusterStateSchema,
  }),
};
