import { z } from 'zod';
import { command } from './define';
import { OperatorIdentity, RoleSchema } from './system';

export const Username = z
  .string()
  .min(2)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'use lower-case letters, digits, ".", "_" or "-"');

/** Password rules are checked in the engine (policy); the schema only bounds the size. */
const Password = z.string().min(1).max(1024);

export const RoleMapping = z
  .object({
    admin: z.array(z.string().max(256)).max(100).default([]),
    operator: z.array(z.string().max(256)).max(100).default([]),
    viewer: z.array(z.string().max(256)).max(100).default([]),
    /** Groups that grant operator or admin on some tenants only (scoped roles, docs/operators.md). */
    tenants: z
      .array(
        z
          .object({
            group: z.string().min(1).max(256),
            role: z.enum(['operator', 'admin']),
            tenants: z.array(z.string().min(1).max(63)).min(1).max(500),
          })
          .strict(),
      )
      .max(100)
      .default([]),
  })
  .strict();

export const OidcConfig = z
  .object({
    /** Cluster profile this mapping belongs to; "default" applies where a profile has none. */
    profile: z.string().min(1).max(300).default('default'),
    issuer: z.url(),
    clientId: z.string().min(1).max(300),
    /** Confidential clients only; kept in the secret store, never shown again. */
    clientSecret: z.string().max(1000).optional(),
    scopes: z.array(z.string().max(100)).max(20).default(['openid', 'profile', 'email', 'groups']),
    groupsClaim: z.string().min(1).max(100).default('groups'),
    roleMapping: RoleMapping,
  })
  .strict();

export const OidcConfigView = z.object({
  profile: z.string(),
  issuer: z.string(),
  clientId: z.string(),
  hasClientSecret: z.boolean(),
  scopes: z.array(z.string()),
  groupsClaim: z.string(),
  roleMapping: z.object({
    admin: z.array(z.string()),
    operator: z.array(z.string()),
    viewer: z.array(z.string()),
    tenants: z.array(z.object({ group: z.string(), role: z.enum(['operator', 'admin']), tenants: z.array(z.string()) })).default([]),
  }),
});

export const LocalAccount = z.object({
  username: z.string(),
  displayName: z.string(),
  role: RoleSchema,
  createdAt: z.string(),
  failedAttempts: z.number().int(),
  lockedUntil: z.string().nullable(),
  lastSignInAt: z.string().nullable(),
});

export const OperatorsStatus = z.object({
  /** Fresh install: no local account and no OIDC: only first-admin setup is possible. */
  firstRun: z.boolean(),
  identityMode: z.enum(['sign-in', 'os-user']),
  operator: OperatorIdentity.nullable(),
  /** OIDC sessions end then unless refreshed (operators.oidc.refresh); null for other sessions. */
  sessionExpiresAt: z.string().nullable(),
  localAccounts: z.number().int(),
  oidcProfiles: z.array(z.string()),
  passwordPolicy: z.string(),
  /** Clusters whose members can sign in here (kubeconfig contexts: id and name only). */
  signInContexts: z.array(z.object({ id: z.string(), name: z.string() })),
});

export const operatorsCommands = {
  'operators.status': command({
    summary: 'Who is signed in, and whether the console still needs its first admin',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: OperatorsStatus,
  }),
  'operators.setupFirstAdmin': command({
    summary: 'Create the first local admin account (only while no account and no OIDC exist)',
    role: 'viewer',
    mutating: true,
    offline: true,
    input: z.object({ username: Username, displayName: z.string().max(200).optional(), password: Password }).strict(),
    output: z.object({ operator: OperatorIdentity }),
  }),
  'operators.signIn': command({
    summary: "Sign in as a member of a cluster (context given) or as this workstation's break-glass account",
    role: 'viewer',
    mutating: true,
    offline: true,
    input: z
      .object({
        username: z.string().min(1).max(64),
        password: Password,
        /** The kubeconfig context whose cluster's members to sign in against; absent: a local account of this workstation. */
        context: z.string().min(1).max(500).optional(),
      })
      .strict(),
    output: z.object({ operator: OperatorIdentity }),
  }),
  'operators.signOut': command({
    summary: 'Sign out of this console window (revokes OIDC tokens kept for it)',
    role: 'viewer',
    mutating: true,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ endSessionUrl: z.string().nullable() }),
  }),
  'operators.changePassword': command({
    summary: 'Change your own local-account password',
    role: 'viewer',
    mutating: true,
    offline: true,
    input: z.object({ currentPassword: Password, newPassword: Password }).strict(),
    output: z.object({}),
  }),
  'operators.list': command({
    summary: 'Local accounts',
    role: 'admin',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ accounts: z.array(LocalAccount) }),
  }),
  'operators.create': command({
    summary: 'Create a local account',
    role: 'admin',
    mutating: true,
    offline: true,
    input: z.object({ username: Username, displayName: z.string().max(200).optional(), role: RoleSchema, password: Password }).strict(),
    output: LocalAccount,
  }),
  'operators.setRole': command({
    summary: "Change a local account's role",
    role: 'admin',
    mutating: true,
    offline: true,
    input: z.object({ username: Username, role: RoleSchema }).strict(),
    output: LocalAccount,
  }),
  'operators.unlock': command({
    summary: 'Clear the failed sign-in counter and lockout of a local account',
    role: 'admin',
    mutating: true,
    offline: true,
    input: z.object({ username: Username }).strict(),
    output: LocalAccount,
  }),
  'operators.delete': command({
    summary: 'Delete a local account',
    role: 'admin',
    mutating: true,
    offline: true,
    confirmField: 'username',
    input: z.object({ username: Username, confirm: z.string() }).strict(),
    output: z.object({}),
  }),
  'operators.oidc.get': command({
    summary: 'OIDC settings of the cluster profiles',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ profiles: z.array(OidcConfigView) }),
  }),
  'operators.oidc.configure': command({
    summary: 'Set the OIDC provider and group→role mapping of a cluster profile',
    role: 'admin',
    mutating: true,
    offline: true,
    input: OidcConfig,
    output: OidcConfigView,
  }),
  'operators.oidc.remove': command({
    summary: 'Remove the OIDC settings of a cluster profile',
    role: 'admin',
    mutating: true,
    offline: true,
    confirmField: 'profile',
    input: z.object({ profile: z.string().min(1).max(300), confirm: z.string() }).strict(),
    output: z.object({}),
  }),
  'operators.oidc.begin': command({
    summary: 'Start OIDC sign-in: returns the URL to open in the system browser',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z
      .object({
        profile: z.string().min(1).max(300).optional(),
        /** "link": confirm an identity for members.invitations.accept (never signs this window in). */
        purpose: z.enum(['sign-in', 'link']).default('sign-in'),
        /** The cluster whose profile applies when this window has none selected (an invitee). */
        context: z.string().min(1).max(500).optional(),
      })
      .strict(),
    output: z.object({ flowId: z.string(), authorizationUrl: z.string(), redirectUri: z.string(), expiresAt: z.string() }),
  }),
  'operators.oidc.complete': command({
    summary: 'Wait for the browser to come back and finish OIDC sign-in',
    role: 'viewer',
    mutating: true,
    offline: true,
    input: z
      .object({
        flowId: z.string().min(1).max(100),
        timeoutMs: z.number().int().min(0).max(600_000).default(300_000),
        /** The cluster whose members to look the identity up in (else the window's selected cluster). */
        context: z.string().min(1).max(500).optional(),
      })
      .strict(),
    output: z.object({ operator: OperatorIdentity, expiresAt: z.string().nullable() }),
  }),
  'operators.oidc.test': command({
    summary: 'Test sign-in: finish a flow started with operators.oidc.begin and show the identity and role it maps to, without signing in',
    role: 'admin',
    // audited: who tested which provider, and what it mapped to
    mutating: true,
    offline: true,
    input: z.object({ flowId: z.string().min(1).max(100), timeoutMs: z.number().int().min(0).max(600_000).default(300_000) }).strict(),
    output: z.object({ operator: OperatorIdentity, expiresAt: z.string().nullable() }),
  }),
  'operators.oidc.refresh': command({
    summary: 'Refresh the OIDC session (new tokens, groups and role re-read)',
    role: 'viewer',
    // audited: the role may change with the groups
    mutating: true,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ operator: OperatorIdentity, expiresAt: z.string().nullable() }),
  }),
};
