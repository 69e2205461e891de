import { z } from 'zod';
import { command, event } from './define';

/** Names the platform itself uses in hostnames, routes or Kubernetes; a tenant may not take them. */
export const RESERVED_SLUGS = [
  'admin',
  'api',
  'www',
  'default',
  'system',
  'root',
  'control',
  'controlplane',
  'cp',
  'gatehouse',
  'backend',
  'frontend',
  'login',
  'login-worker',
  'login-worker-shared',
  'auth',
  'oauth',
  'oidc',
  'sso',
  'static',
  'assets',
  'status',
  'health',
  'metrics',
  'mail',
  'smtp',
  'public',
  'internal',
  'postgres',
  'template0',
  'template1',
  'shared',
  'registry',
  'test',
] as const;
/** Prefixes Kubernetes and the platform reserve. */
export const RESERVED_SLUG_PREFIXES = ['kube-', 'system-', 'gatehouse-', 'pg-'] as const;
export const SLUG_MAX = 40;
export const TENANT_NAME_MAX = 100;

/**
 * DNS-1123 label rules, checked one at a time so the message says which one failed.
 * Shared with the renderer, which validates live with the same rules.
 */
export const TenantSlug = z.string().superRefine((s, ctx) => {
  const fail = (message: string) => ctx.addIssue({ code: 'custom', message });
  if (s.length === 0) return fail('the slug is required');
  if (s.length > SLUG_MAX) return fail(`at most ${SLUG_MAX} characters (got ${s.length})`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) return fail('control characters are not allowed');
  if (/[^\x20-\x7e]/.test(s)) return fail('only ASCII lowercase letters, digits and "-" are allowed (no unicode)');
  if (/[;'"`$\\|&<>(){}*?!#%^=,/:@[\]~+ ]/.test(s)) return fail('shell and SQL metacharacters are not allowed: use a-z, 0-9 and "-"');
  if (/[A-Z]/.test(s)) return fail('use lowercase letters only');
  if (s.includes('_') || s.includes('.')) return fail('"_" and "." are not allowed: use "-"');
  if (!/^[a-z0-9-]+$/.test(s)) return fail('only lowercase letters, digits and "-" are allowed');
  if (!/^[a-z]/.test(s)) return fail('must start with a letter');
  if (s.endsWith('-')) return fail('must not end with "-"');
  if (s.includes('--')) return fail('must not contain "--"');
  if ((RESERVED_SLUGS as readonly string[]).includes(s)) return fail(`"${s}" is reserved by the platform`);
  const prefix = RESERVED_SLUG_PREFIXES.find((p) => s.startsWith(p));
  if (prefix) return fail(`the prefix "${prefix}" is reserved`);
});

export const TenantName = z
  .string()
  .trim()
  .min(1, 'the display name is required')
  .max(TENANT_NAME_MAX, `at most ${TENANT_NAME_MAX} characters`)
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f\u2028\u2029]/.test(s), 'control characters are not allowed');

export const TenantTier = z.enum(['DEV', 'PRO', 'Enterprise'], { message: 'tier must be one of DEV, PRO, Enterprise' });
export type TenantTier = z.infer<typeof TenantTier>;

/** What each tier allows (docs/tenants.md). null = unlimited. */
export const TIER_LIMITS: Record<TenantTier, { users: number | null; applications: number | null; dedicatedLoginWorker: boolean }> = {
  DEV: { users: 100, applications: 5, dedicatedLoginWorker: false },
  PRO: { users: 10_000, applications: 50, dedicatedLoginWorker: true },
  Enterprise: { users: null, applications: null, dedicatedLoginWorker: true },
};

export const TenantStatus = z.enum(['active', 'suspended', 'provisioning', 'deleting']);
export const DriftKind = z.enum([
  'database-without-registry',
  'registry-without-secret',
  'secret-without-database',
  'registry-without-database',
]);
export const RepairAction = z.enum(['register', 'recreate-secret', 'remove-registry-entry', 'drop-orphan']);

export const TenantStats = z.object({ users: z.number().int(), groups: z.number().int(), applications: z.number().int() });

export const TenantSummary = z.object({
  slug: z.string(),
  name: z.string(),
  tier: z.string(),
  status: z.string(),
  created: z.string().nullable(),
  schemaVersion: z.number().int().nullable(),
  licenseUsers: z.number().int().nullable(),
  backendVersion: z.string().nullable(),
  hasSecret: z.boolean(),
  hasDatabase: z.boolean(),
  inRegistry: z.boolean(),
  stats: TenantStats.nullable(),
  /** When stats were read from the tenant database (background refresh); null = never. */
  statsAt: z.string().nullable(),
});
export type TenantSummary = z.infer<typeof TenantSummary>;

export const Drift = z.object({
  slug: z.string(),
  kind: DriftKind,
  message: z.string(),
  repairs: z.array(RepairAction),
});
export type Drift = z.infer<typeof Drift>;

export const TenantList = z.object({
  /** The cluster the rows belong to (kube-system namespace UID). */
  clusterId: z.string(),
  tenants: z.array(TenantSummary),
  drift: z.array(Drift),
  refreshedAt: z.string().nullable(),
  fromCache: z.boolean(),
  /** LIST/query calls the last rebuild made; constant in the number of tenants. */
  apiCalls: z.number().int(),
});

export const StepReport = z.object({ name: z.string(), status: z.string(), error: z.string().nullable() });

export const OperationSummary = z.object({
  id: z.string(),
  kind: z.string(),
  target: z.string(),
  status: z.enum(['running', 'done', 'failed', 'rolled-back', 'interrupted']),
  /** The cluster the operation belongs to (its kube-system namespace UID); it only ever runs there. */
  clusterId: z.string().nullable(),
  /** The context it was started through, for display. */
  clusterName: z.string().nullable(),
  /** Who started it. */
  actor: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  failedStep: z.string().nullable(),
  error: z.string().nullable(),
  steps: z.array(StepReport),
  canRollback: z.boolean(),
  /** Things a step or compensation left alone and why (e.g. an object marked by another operation). */
  notices: z.array(z.string()),
});
export type OperationSummary = z.infer<typeof OperationSummary>;

export const Leftover = z.object({
  kind: z.enum(['database', 'role', 'secret', 'registry-entry', 'lease', 'deployment']),
  name: z.string(),
});

const slugInput = z.object({ slug: TenantSlug }).strict();
const adminPassword = z.object({ slug: z.string(), username: z.string(), password: z.string() });

export const tenantCommands = {
  'tenants.list': command({
    fleet: true,
    summary: 'Tenants of the selected cluster (from the cache unless refresh is asked)',
    role: 'viewer',
    mutating: false,
    input: z.object({ refresh: z.boolean().default(false), stats: z.boolean().default(false) }).strict(),
    output: TenantList,
  }),
  'tenants.get': command({
    tenant: 'slug',
    summary: 'One tenant with its database, schema and stats',
    role: 'viewer',
    mutating: false,
    input: slugInput,
    output: z.object({
      tenant: TenantSummary,
      database: z.object({ host: z.string(), port: z.number().int(), database: z.string(), user: z.string() }).nullable(),
      schema: z.object({ current: z.number().int(), latest: z.number().int(), pending: z.array(z.string()) }).nullable(),
      limits: z
        .object({ users: z.number().int().nullable(), applications: z.number().int().nullable(), dedicatedLoginWorker: z.boolean() })
        .nullable(),
    }),
  }),
  'tenants.create': command({
    tenant: 'slug',
    summary: 'Create a tenant: database, schema, admin user, Secret, registry entry',
    role: 'operator',
    mutating: true,
    input: z.object({ slug: TenantSlug, name: TenantName, tier: TenantTier, adminEmail: z.email().max(254).optional() }).strict(),
    output: z.object({
      operationId: z.string(),
      slug: z.string(),
      adminUsername: z.string(),
      adminPassword: z.string(),
      steps: z.array(StepReport),
    }),
  }),
  'tenants.delete': command({
    tenant: 'slug',
    summary: 'Delete a tenant: database, role, Secret, workloads and registry entry',
    role: 'admin',
    mutating: true,
    confirmField: 'slug',
    input: z.object({ slug: TenantSlug, confirm: z.string(), finalBackup: z.boolean().default(true) }).strict(),
    output: z.object({ operationId: z.string(), slug: z.string(), steps: z.array(StepReport), leftovers: z.array(Leftover) }),
  }),
  'tenants.suspend': command({
    tenant: 'slug',
    summary: 'Suspend a tenant and scale its dedicated workloads to zero',
    role: 'operator',
    mutating: true,
    input: slugInput,
    output: z.object({ slug: z.string(), status: z.string(), scaled: z.array(z.object({ name: z.string(), replicas: z.number().int() })) }),
  }),
  'tenants.resume': command({
    tenant: 'slug',
    summary: 'Resume a suspended tenant and scale its dedicated workloads back',
    role: 'operator',
    mutating: true,
    input: slugInput,
    output: z.object({ slug: z.string(), status: z.string(), scaled: z.array(z.object({ name: z.string(), replicas: z.number().int() })) }),
  }),
  'tenants.reconcile': command({
    fleet: true,
    summary: 'Rebuild the tenant list from the cluster and the database server',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: TenantList,
  }),
  'tenants.repair': command({
    tenant: 'slug',
    summary: 'Repair one drift finding',
    role: 'admin',
    mutating: true,
    confirmField: 'slug',
    input: z.object({ slug: TenantSlug, action: RepairAction, confirm: z.string() }).strict(),
    output: z.object({ slug: z.string(), action: RepairAction, done: z.string() }),
  }),
  'tenants.schema.status': command({
    tenant: 'slug',
    summary: 'Schema version and pending migrations per tenant',
    role: 'viewer',
    mutating: false,
    input: z.object({ slug: TenantSlug.optional() }).strict(),
    output: z.object({
      latest: z.number().int(),
      tenants: z.array(
        z.object({
          slug: z.string(),
          current: z.number().int().nullable(),
          pending: z.array(z.string()),
          /** Applied migrations whose file changed since (or that this console does not ship): further migrations are refused. */
          modified: z.array(z.string()),
          error: z.string().nullable(),
        }),
      ),
    }),
  }),
  'tenants.schema.apply': command({
    tenant: 'slug',
    summary: 'Apply pending tenant schema migrations (one tenant or all)',
    role: 'operator',
    mutating: true,
    input: z.object({ slug: TenantSlug.optional(), concurrency: z.number().int().min(1).max(16).default(4) }).strict(),
    output: z.object({
      operationId: z.string(),
      results: z.array(z.object({ slug: z.string(), ok: z.boolean(), applied: z.array(z.string()), error: z.string().nullable() })),
      summary: z.object({ ok: z.number().int(), failed: z.number().int(), upToDate: z.number().int() }),
    }),
  }),
  'tenants.adminPassword.reveal': command({
    tenant: 'slug',
    summary: "Reveal a tenant's initial admin password (audited)",
    role: 'admin',
    // Marked mutating so the reveal itself passes the audit path.
    mutating: true,
    input: slugInput,
    output: adminPassword,
  }),
  'tenants.adminPassword.reset': command({
    tenant: 'slug',
    summary: "Generate a new password for a tenant's initial admin",
    role: 'admin',
    mutating: true,
    input: slugInput,
    output: adminPassword,
  }),
};

export const operationCommands = {
  'operations.unfinished': command({
    summary: 'Operations a crash or failure left unfinished',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ operations: z.array(OperationSummary) }),
  }),
  'operations.resume': command({
    summary: 'Run an unfinished operation to its end, on the cluster it belongs to',
    role: 'operator',
    mutating: true,
    // Runs on the operation's own cluster (the engine proves it answers), not on the session's selected one.
    offline: true,
    input: z.object({ operationId: z.string().min(1).max(100) }).strict(),
    output: OperationSummary,
  }),
  'operations.rollback': command({
    summary: 'Undo the completed steps of an unfinished operation, on the cluster it belongs to',
    role: 'operator',
    mutating: true,
    // Runs on the operation's own cluster (the engine proves it answers), not on the session's selected one.
    offline: true,
    input: z.object({ operationId: z.string().min(1).max(100) }).strict(),
    output: OperationSummary,
  }),
};

/**
 * The cached tenant list changed without a reconcile (the WATCH on tenant Secrets,
 * registry ConfigMaps and Leases saw something). A delta, so 5,000 tenants do not
 * travel on every change: apply `upserted` and `removed`, replace `drift`.
 */
export const TenantsChanged = z.object({
  clusterId: z.string(),
  upserted: z.array(TenantSummary),
  removed: z.array(z.string()),
  drift: z.array(Drift),
  refreshedAt: z.string(),
});
export type TenantsChanged = z.infer<typeof TenantsChanged>;

export const tenantEvents = {
  'tenants.changed': event({
    role: 'viewer',
    summary: 'The tenant list of the selected cluster changed (seen by WATCH)',
    payload: TenantsChanged,
  }),
};
