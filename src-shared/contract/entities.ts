import { z } from 'zod';
import { command } from './define';
import { TenantSlug } from './tenants';

/**
 * Control-plane entities: resource servers (with scopes), roles and role permissions defined
 * once per cluster in `gatehouse_control`, synced into every tenant database as protected
 * system rows (`is_system = true`). See docs/entities.md.
 */

// eslint-disable-next-line no-control-regex
const noControl = (s: string) => !/[\u0000-\u001f\u007f\u2028\u2029]/.test(s);
const text = (what: string, max: number) =>
  z
    .string()
    .trim()
    .min(1, `${what} is required`)
    .max(max, `${what}: at most ${max} characters`)
    .refine(noControl, `${what}: control characters are not allowed`);
/** Absent, null and "" are the same thing: no description. */
const description = z
  .string()
  .trim()
  .max(500, 'description: at most 500 characters')
  .refine(noControl, 'description: control characters are not allowed')
  .nullable()
  .optional();
/** The audience value in access tokens (a URL or a URN, no spaces). */
const identifier = text('identifier', 200).refine((s) => !/\s/.test(s), 'identifier: no spaces');
const scopeValue = text('scope', 100).refine((s) => !/\s/.test(s), 'scope: no spaces (e.g. read:invoices)');
/** Ids are opaque to the operator; an unknown one is NOT_FOUND. */
const entityId = z.string().min(1).max(64);

export const ScopeInput = z.object({ value: scopeValue, description }).strict();
export const PermissionRef = z.object({ resourceServer: identifier, scope: scopeValue }).strict();

export const Scope = z.object({ id: z.string(), value: z.string(), description: z.string().nullable() });
export const ResourceServer = z.object({
  id: z.string(),
  identifier: z.string(),
  name: z.string(),
  scopes: z.array(Scope),
  /** Bumped on every change; an update carries the version it read (optimistic concurrency). */
  version: z.number().int(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export type ResourceServer = z.infer<typeof ResourceServer>;
export const RolePermission = z.object({
  resourceServerId: z.string(),
  resourceServer: z.string(),
  scopeId: z.string(),
  scope: z.string(),
});
export const Role = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  permissions: z.array(RolePermission),
  version: z.number().int(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export type Role = z.infer<typeof Role>;

export const Definitions = z.object({
  clusterId: z.string(),
  /** Bumped by every change of any definition; a plan is applied only at the revision it was made for. */
  revision: z.number().int(),
  /** Hash of the normalised definitions (equal definitions, equal hash). */
  hash: z.string(),
  resourceServers: z.array(ResourceServer),
  roles: z.array(Role),
});
export type Definitions = z.infer<typeof Definitions>;

const mutationResult = <T extends z.ZodType>(entity: T) => z.object({ revision: z.number().int(), changed: z.boolean(), entity });

export const FieldChange = z.object({
  field: z.string(),
  from: z.union([z.string(), z.array(z.string())]).nullable(),
  to: z.union([z.string(), z.array(z.string())]).nullable(),
});
export type FieldChange = z.infer<typeof FieldChange>;
export const PlanChange = z.object({
  entity: z.enum(['resource-server', 'scope', 'role']),
  action: z.enum(['create', 'update', 'delete']),
  id: z.string(),
  label: z.string(),
  changes: z.array(FieldChange),
  /** The tenant's row differs from what was last applied (edited behind the console, missing or extra). */
  drift: z.boolean(),
});
export type PlanChange = z.infer<typeof PlanChange>;
export const DriftFinding = z.object({
  entity: z.enum(['resource-server', 'scope', 'role']),
  id: z.string(),
  label: z.string(),
  kind: z.enum(['edited', 'missing', 'extra']),
});
export type DriftFinding = z.infer<typeof DriftFinding>;
export const TenantSyncStatus = z.enum(['in-sync', 'pending', 'drift', 'conflict', 'schema-behind', 'error']);
export type TenantSyncStatus = z.infer<typeof TenantSyncStatus>;
export const TenantPlan = z.object({
  slug: z.string(),
  status: TenantSyncStatus,
  /** Revision last written into the tenant; null: never synced. */
  appliedRevision: z.number().int().nullable(),
  changes: z.array(PlanChange),
  drift: z.array(DriftFinding),
  /** The database-side protection (triggers, the sync role) is intact; problems say what is not. */
  protection: z.object({ ok: z.boolean(), problems: z.array(z.string()) }),
  /** Tenant-owned rows that block the sync (same name as a definition); they are never touched. */
  conflicts: z.array(z.string()),
  error: z.string().nullable(),
});
export type TenantPlan = z.infer<typeof TenantPlan>;
export const FleetPlan = z.object({
  clusterId: z.string(),
  revision: z.number().int(),
  hash: z.string(),
  tenants: z.array(TenantPlan),
  summary: z.record(TenantSyncStatus, z.number().int()),
});
export type FleetPlan = z.infer<typeof FleetPlan>;

export const TenantApplyResult = z.object({
  slug: z.string(),
  status: z.enum(['pending', 'running', 'applied', 'unchanged', 'skipped', 'failed']),
  /** Rows written (create/update/delete statements' row counts). */
  changes: z.number().int(),
  message: z.string().nullable(),
});
export type TenantApplyResult = z.infer<typeof TenantApplyResult>;
export const ApplyResult = z.object({
  operationId: z.string(),
  /** done: every tenant applied, unchanged or skipped; partial: some failed (resume the operation to retry them). */
  status: z.enum(['done', 'partial', 'running', 'interrupted']),
  revision: z.number().int(),
  results: z.array(TenantApplyResult),
  summary: z.object({
    applied: z.number().int(),
    unchanged: z.number().int(),
    skipped: z.number().int(),
    failed: z.number().int(),
    pending: z.number().int(),
  }),
});
export type ApplyResult = z.infer<typeof ApplyResult>;

const tenantList = z.array(TenantSlug).max(5000).optional();

export const entitiesCommands = {
  'entities.list': command({
    summary: 'Control-plane entity definitions of the selected cluster (resource servers, roles, role permissions)',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: Definitions,
  }),
  'entities.resourceServers.create': command({
    summary: 'Define a resource server (identifier, name, scopes) on the control plane',
    role: 'operator',
    mutating: true,
    input: z.object({ identifier, name: text('name', 200), scopes: z.array(ScopeInput).max(200).optional() }).strict(),
    output: mutationResult(ResourceServer),
  }),
  'entities.resourceServers.update': command({
    summary: 'Replace a resource server definition (absent scopes = no scopes)',
    role: 'operator',
    mutating: true,
    input: z
      .object({
        id: entityId,
        version: z.number().int().min(0),
        identifier,
        name: text('name', 200),
        scopes: z.array(ScopeInput).max(200).optional(),
      })
      .strict(),
    output: mutationResult(ResourceServer),
  }),
  'entities.resourceServers.delete': command({
    summary: 'Delete a resource server definition (removed from every tenant at the next apply)',
    role: 'admin',
    mutating: true,
    confirmField: 'identifier',
    input: z.object({ id: entityId, identifier: z.string().min(1).max(200), confirm: z.string() }).strict(),
    output: z.object({ revision: z.number().int(), deleted: z.string(), rolesAffected: z.array(z.string()) }),
  }),
  'entities.roles.create': command({
    summary: 'Define a role (name, description, permissions) on the control plane',
    role: 'operator',
    mutating: true,
    input: z.object({ name: text('name', 200), description, permissions: z.array(PermissionRef).max(1000).optional() }).strict(),
    output: mutationResult(Role),
  }),
  'entities.roles.update': command({
    summary: 'Replace a role definition (absent permissions = no permissions)',
    role: 'operator',
    mutating: true,
    input: z
      .object({
        id: entityId,
        version: z.number().int().min(0),
        name: text('name', 200),
        description,
        permissions: z.array(PermissionRef).max(1000).optional(),
      })
      .strict(),
    output: mutationResult(Role),
  }),
  'entities.roles.delete': command({
    summary: 'Delete a role definition (removed from every tenant at the next apply)',
    role: 'admin',
    mutating: true,
    confirmField: 'name',
    input: z.object({ id: entityId, name: z.string().min(1).max(200), confirm: z.string() }).strict(),
    output: z.object({ revision: z.number().int(), deleted: z.string() }),
  }),
  'entities.plan': command({
    tenant: 'slugs',
    summary: 'What an apply would change in each tenant (field-level, normalised), with drift and conflicts',
    role: 'viewer',
    mutating: false,
    input: z.object({ slugs: tenantList }).strict(),
    output: FleetPlan,
  }),
  'entities.apply': command({
    tenant: 'slugs',
    summary: 'Sync the definitions into tenants (a resumable fan-out; also repairs drift)',
    role: 'operator',
    mutating: true,
    input: z
      .object({
        /** Absent: every tenant database of the cluster. */
        slugs: tenantList,
        /** The revision the operator reviewed the plan at; a newer one is refused (plan again). */
        revision: z.number().int().min(0),
        concurrency: z.number().int().min(1).max(32).default(8),
      })
      .strict(),
    output: ApplyResult,
  }),
  'entities.applyResult': command({
    summary: 'Per-tenant results of an apply (live while it runs, after a crash, after a resume)',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({ operationId: z.string().min(1).max(100) }).strict(),
    output: ApplyResult,
  }),
};
