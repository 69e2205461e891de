import { z } from 'zod';
import { command } from './define';
import { OperationSummary, StepReport, TenantSlug } from './tenants';

/**
 * Tenant credential rotation (docs/secrets.md). The command names are `rotation.*`:
 * `secrets.*` belongs to the console's local secret store.
 */
export const CredentialKind = z.enum(['jwt', 'login-worker', 'proxy', 'cp', 'database'], {
  message: 'kind must be one of jwt, login-worker, proxy, cp, database',
});
export type CredentialKind = z.infer<typeof CredentialKind>;
/** Kinds held as next/current/previous sets (an emergency revoke applies to these). */
export const SetKind = z.enum(['jwt', 'login-worker', 'proxy', 'cp'], { message: 'kind must be one of jwt, login-worker, proxy, cp' });
export const KeyState = z.enum(['next', 'current', 'previous', 'retired']);
export type KeyState = z.infer<typeof KeyState>;
export const SigningAlgorithm = z.enum(['ES256', 'EdDSA', 'HS256'], { message: 'algorithm must be one of ES256, EdDSA, HS256' });
export type SigningAlgorithm = z.infer<typeof SigningAlgorithm>;
/** Kinds a max-age policy covers (the bootstrap token too). */
export const PolicyKind = z.enum(['jwt', 'login-worker', 'proxy', 'cp', 'database', 'bootstrap']);
export type PolicyKind = z.infer<typeof PolicyKind>;

/** An entry's metadata: never its key material or value. */
export const CredentialEntryView = z.object({
  id: z.string(),
  state: KeyState,
  alg: SigningAlgorithm.nullable(),
  created: z.string(),
  activated: z.string().nullable(),
  demoted: z.string().nullable(),
  retireAfter: z.string().nullable(),
  retired: z.string().nullable(),
  revoked: z.boolean(),
  legacy: z.boolean(),
  operationId: z.string().nullable(),
});
export type CredentialEntryView = z.infer<typeof CredentialEntryView>;

export const WorkloadRollout = z.object({
  name: z.string(),
  desired: z.number().int(),
  updated: z.number().int(),
  available: z.number().int(),
  /** Whether its pod template carries the Secret's current revision and the rollout completed. */
  upToDate: z.boolean(),
  /** The revision its pod template carries; null: never rolled by a rotation. */
  revision: z.string().nullable(),
  complete: z.boolean(),
});

export const OverlapWindow = z.object({
  seconds: z.number().int(),
  /** The parts it is derived from (docs/secrets.md). */
  longestLifetimeSeconds: z.number().int(),
  jwksMaxAgeSeconds: z.number().int(),
  marginSeconds: z.number().int(),
});

export const KindStatus = z.object({
  kind: CredentialKind,
  /** Id of the entry in use (kid for JWT, token id, database credential id). */
  currentId: z.string().nullable(),
  /** Seconds since the entry in use became current; null when unknown. */
  ageSeconds: z.number().int().nullable(),
  since: z.string().nullable(),
  phase: z.enum(['stable', 'staged', 'promoted']),
  /** Set kinds: every entry; database: the login in use. */
  entries: z.array(CredentialEntryView),
  databaseUser: z.string().nullable(),
  /** An unfinished rotation of this kind (its operation id). */
  operationId: z.string().nullable(),
  maxAgeDays: z.number().int().nullable(),
  overdue: z.boolean(),
  /** Legacy layout (before key sets): it keeps working; the first rotation converts it. */
  legacy: z.boolean(),
});
export type KindStatus = z.infer<typeof KindStatus>;

export const BootstrapStatus = z.object({
  present: z.boolean(),
  id: z.string().nullable(),
  created: z.string().nullable(),
  expires: z.string().nullable(),
  expired: z.boolean(),
  revoked: z.string().nullable(),
  createdBy: z.string().nullable(),
  /** A hash written at tenant creation whose token was never shown: nobody holds it. */
  legacy: z.boolean(),
  ageSeconds: z.number().int().nullable(),
  maxAgeDays: z.number().int().nullable(),
  overdue: z.boolean(),
});
export type BootstrapStatus = z.infer<typeof BootstrapStatus>;

/** Lifetimes of what the tenant's keys sign (names avoid the audit redactor's "token": these are not secrets). */
export const TokenLifetimes = z.object({
  accessSeconds: z
    .number()
    .int()
    .min(1)
    .max(86_400 * 7),
  refreshSeconds: z
    .number()
    .int()
    .min(0)
    .max(86_400 * 400),
  offlineIdleSeconds: z
    .number()
    .int()
    .min(0)
    .max(86_400 * 400),
  jwksMaxAgeSeconds: z
    .number()
    .int()
    .min(0)
    .max(86_400 * 2),
});
export type TokenLifetimes = z.infer<typeof TokenLifetimes>;

export const MaxAgePolicy = z
  .object(
    Object.fromEntries(PolicyKind.options.map((k) => [k, z.number().int().min(1).max(3650).nullable()])) as Record<
      PolicyKind,
      z.ZodNullable<z.ZodNumber>
    >,
  )
  .strict();
export type MaxAgePolicy = z.infer<typeof MaxAgePolicy>;

export const TenantSecretsStatus = z.object({
  slug: z.string(),
  kinds: z.array(KindStatus),
  bootstrap: BootstrapStatus,
  lifetimes: TokenLifetimes,
  /** Whether the lifetimes come from the Secret (TOKEN_POLICY) or the platform defaults. */
  lifetimesSource: z.enum(['secret', 'defaults']),
  window: OverlapWindow,
  /** Deployments labelled with the tenant (rolled on every phase); none: only shared workloads read the Secret. */
  workloads: z.array(WorkloadRollout),
  revision: z.string(),
});
export type TenantSecretsStatus = z.infer<typeof TenantSecretsStatus>;

export const RotationResult = z.object({
  slug: z.string(),
  kind: CredentialKind,
  operationId: z.string(),
  status: OperationSummary.shape.status,
  steps: z.array(StepReport),
  /** The entry it introduced (kid / token id / database credential id). */
  id: z.string().nullable(),
  /** JWT: when the demoted key may be retired. */
  retireAfter: z.string().nullable(),
  /** Things left alone and why. */
  notices: z.array(z.string()),
});
export type RotationResult = z.infer<typeof RotationResult>;

export const FleetItem = z.object({
  slug: z.string(),
  status: z.enum(['pending', 'running', 'done', 'failed', 'skipped']),
  operationId: z.string().nullable(),
  error: z.string().nullable(),
});
export const FleetSummary = z.object({
  fleetId: z.string(),
  clusterId: z.string(),
  kind: CredentialKind,
  status: z.enum(['running', 'done', 'partial', 'interrupted']),
  createdAt: z.string(),
  updatedAt: z.string(),
  actor: z.string().nullable(),
  concurrency: z.number().int(),
  total: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int(),
  items: z.array(FleetItem),
});
export type FleetSummary = z.infer<typeof FleetSummary>;

export const FleetTenantRow = z.object({
  slug: z.string(),
  kinds: z.array(
    z.object({
      kind: PolicyKind,
      currentId: z.string().nullable(),
      ageSeconds: z.number().int().nullable(),
      phase: z.string(),
      overdue: z.boolean(),
    }),
  ),
  error: z.string().nullable(),
});
export const RotationAlert = z.object({
  slug: z.string(),
  kind: PolicyKind,
  ageSeconds: z.number().int(),
  maxAgeDays: z.number().int(),
  message: z.string(),
});
export type RotationAlert = z.infer<typeof RotationAlert>;

const slugKind = { slug: TenantSlug, kind: SetKind };
const EntryId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9._-]+$/, 'an entry id has letters, digits, ".", "_" and "-" only');

export const rotationCommands = {
  'rotation.status': command({
    tenant: 'slug',
    summary: "A tenant's credentials: ids, ages, phases, the overlap window and the rollout of its workloads (never a value)",
    role: 'viewer',
    mutating: false,
    input: z.object({ slug: TenantSlug }).strict(),
    output: TenantSecretsStatus,
  }),
  'rotation.rotate': command({
    tenant: 'slug',
    summary: 'Rotate one credential of a tenant without logging anyone out (two phases, rollout-aware)',
    role: 'operator',
    mutating: true,
    input: z.object({ slug: TenantSlug, kind: CredentialKind, algorithm: SigningAlgorithm.optional() }).strict(),
    output: RotationResult,
  }),
  'rotation.retire': command({
    tenant: 'slug',
    summary: 'Retire a previous key or token once its overlap window has ended',
    role: 'operator',
    mutating: true,
    input: z.object({ ...slugKind, id: EntryId }).strict(),
    output: RotationResult,
  }),
  'rotation.revoke': command({
    tenant: 'slug',
    summary: 'Emergency revoke: retire a key or token now, before its window ends (tokens it signed stop working)',
    role: 'admin',
    mutating: true,
    confirmField: 'id',
    input: z.object({ ...slugKind, id: EntryId, confirm: z.string() }).strict(),
    output: RotationResult,
  }),
  'rotation.lifetimes.set': command({
    tenant: 'slug',
    summary: "Set a tenant's token lifetimes and JWKS cache max-age (the overlap window is derived from them)",
    role: 'admin',
    mutating: true,
    input: z.object({ slug: TenantSlug, lifetimes: TokenLifetimes.strict() }).strict(),
    output: z.object({ slug: z.string(), lifetimes: TokenLifetimes, window: OverlapWindow }),
  }),
  'rotation.bootstrap.issue': command({
    tenant: 'slug',
    summary: 'Issue the Terraform bootstrap token of a tenant: shown once, stored only as a hash, with an expiry',
    role: 'admin',
    mutating: true,
    input: z.object({ slug: TenantSlug, expiresInDays: z.number().int().min(1).max(365).default(30) }).strict(),
    output: z.object({ slug: z.string(), id: z.string(), token: z.string(), expires: z.string(), rollout: z.array(WorkloadRollout) }),
  }),
  'rotation.bootstrap.revoke': command({
    tenant: 'slug',
    summary: "Revoke a tenant's bootstrap token",
    role: 'admin',
    mutating: true,
    confirmField: 'slug',
    input: z.object({ slug: TenantSlug, confirm: z.string() }).strict(),
    output: z.object({ slug: z.string(), revokedId: z.string().nullable(), rollout: z.array(WorkloadRollout) }),
  }),
  'rotation.fleet.status': command({
    fleet: true,
    summary: 'Key age of every tenant, per kind, and the tenants over the max-age policy (one LIST)',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({
      clusterId: z.string(),
      policy: MaxAgePolicy,
      tenants: z.array(FleetTenantRow),
      alerts: z.array(RotationAlert),
      readAt: z.string(),
    }),
  }),
  'rotation.fleet.rotate': command({
    tenant: 'slugs',
    summary: 'Rotate one kind of credential for all tenants (or a list): resumable, bounded concurrency, per-tenant results',
    role: 'operator',
    mutating: true,
    input: z
      .object({
        kind: CredentialKind,
        concurrency: z.number().int().min(1).max(16).default(8),
        slugs: z.array(TenantSlug).max(10_000).optional(),
        algorithm: SigningAlgorithm.optional(),
      })
      .strict(),
    output: FleetSummary,
  }),
  'rotation.fleet.resume': command({
    fleet: true,
    summary: 'Resume a fleet rotation: retries the tenants that did not finish',
    role: 'operator',
    mutating: true,
    input: z.object({ fleetId: z.string().min(1).max(100) }).strict(),
    output: FleetSummary,
  }),
  'rotation.fleet.list': command({
    fleet: true,
    summary: 'Recent fleet rotations of the selected cluster',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({ fleets: z.array(FleetSummary) }),
  }),
  'rotation.policy.set': command({
    fleet: true,
    summary: 'Set the max age per credential kind (shared by every console of the cluster)',
    role: 'admin',
    mutating: true,
    input: z.object({ maxAgeDays: MaxAgePolicy }).strict(),
    output: z.object({ policy: MaxAgePolicy }),
  }),
};
