import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ContractError } from '../../../src-shared/contract';
import type { TenantPlan } from '../../../src-shared/contract/entities';
import { quoteIdent } from '../../adapters/postgres';
import {
  diff,
  emptySet,
  entityHash,
  findDrift,
  labelsOf,
  manifestOf,
  normaliseRole,
  normaliseRs,
  normaliseScope,
  type ActualRows,
  type EntitySet,
  type Manifest,
} from './model';

/**
 * The tenant side of entity sync: read a tenant's system rows and the state of their
 * protection, plan, and write the plan in one transaction as the sync role.
 *
 * Protection (resources/tenant-migrations/0004_system_entities.sql): triggers refuse any
 * write of a system row unless current_user is SYNC_ROLE. The tenant role is not a member
 * of SYNC_ROLE, so it cannot SET ROLE to it; the console's admin is, and writes through it.
 * The tenant role owns its tables, so it could still drop or disable those triggers (DDL):
 * every plan checks them and reports a damaged protection as drift, and an apply repairs it.
 */
export const SYNC_ROLE = 'gatehouse_entity_sync';
/** The tenant schema version that has is_system, system_hash and the protection. */
export const REQUIRED_SCHEMA = 4;
export const PROTECTED_TABLES = ['resource_servers', 'permissions', 'roles', 'role_permissions', 'system_entity_state'] as const;
const ROW_TRIGGER = { name: 'gatehouse_protect_rows', fn: 'gatehouse_protect_system_rows', type: 1 | 2 | 4 | 8 | 16 } as const; // ROW|BEFORE|INSERT|DELETE|UPDATE
const TRUNCATE_TRIGGER = { name: 'gatehouse_protect_truncate', fn: 'gatehouse_protect_system_truncate', type: 2 | 32 } as const; // BEFORE|TRUNCATE
const SYNC_LOCK = `SELECT pg_advisory_xact_lock(hashtext('gatehouse.entity-sync'))`;

/** What a pg.Client offers; the bench wraps it to count statements. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** The protection as shipped: the migration's SQL (re-run to repair) and its functions' source hashes. */
export interface ProtectionSpec {
  sql: string;
  functionHashes: Record<string, string>;
}

/** Reads the protection from the migration file itself, so the check and the repair cannot disagree with it. */
export function protectionSpec(migrationSql: string): ProtectionSpec {
  const functionHashes: Record<string, string> = {};
  for (const m of migrationSql.matchAll(/CREATE OR REPLACE FUNCTION (\w+)\(\)[\s\S]*?AS \$fn\$([\s\S]*?)\$fn\$/g)) {
    functionHashes[m[1]!] = createHash('md5').update(m[2]!).digest('hex');
  }
  if (!functionHashes[ROW_TRIGGER.fn] || !functionHashes[TRUNCATE_TRIGGER.fn])
    throw new Error('tenant migration 0004 does not define the protection functions');
  return { sql: migrationSql, functionHashes };
}

export interface TenantObservation {
  schemaVersion: number;
  protection: { ok: boolean; problems: string[]; tenantInSyncRole: boolean };
  actual: ActualRows;
  tenantOwned: { resourceServers: { id: string; identifier: string; name: string }[]; roles: { id: string; name: string }[] };
  state: { revision: number; hash: string; manifest: Manifest } | null;
}

interface TriggerRow {
  table: string;
  name: string;
  enabled: string;
  type: number;
  fn: string;
  qual: boolean;
  cols: string;
}

async function readProtection(c: Queryable, tenantRole: string, spec: ProtectionSpec) {
  const { rows } = await c.query<{ version: number; triggers: TriggerRow[]; functions: Record<string, string>; tenant_member: boolean }>(
    `SELECT
       CASE WHEN to_regclass('public.schema_migrations') IS NULL THEN 0 ELSE (SELECT coalesce(max(version), 0) FROM public.schema_migrations) END AS version,
       (SELECT coalesce(json_agg(json_build_object('table', c.relname, 'name', t.tgname, 'enabled', t.tgenabled, 'type', t.tgtype, 'fn', p.proname,
                                                   'qual', t.tgqual IS NOT NULL, 'cols', t.tgattr::text)), '[]'::json)
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
         WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1::text[]) AND t.tgname LIKE 'gatehouse\\_protect\\_%') AS triggers,
       (SELECT coalesce(json_object_agg(p.proname, md5(p.prosrc)), '{}'::json) FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace AND p.proname = ANY($2::text[])) AS functions,
       CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $3) THEN pg_has_role($4, $3, 'MEMBER') ELSE false END AS tenant_member`,
    [[...PROTECTED_TABLES], Object.keys(spec.functionHashes), SYNC_ROLE, tenantRole],
  );
  const r = rows[0]!;
  const problems: string[] = [];
  if (r.version >= REQUIRED_SCHEMA) {
    for (const [fn, hash] of Object.entries(spec.functionHashes)) {
      if (!r.functions[fn]) problems.push(`function ${fn} is missing`);
      else if (r.functions[fn] !== hash) problems.push(`function ${fn} was replaced (its body differs from the shipped one)`);
    }
    for (const table of PROTECTED_TABLES) {
      for (const want of [ROW_TRIGGER, TRUNCATE_TRIGGER]) {
        const t = r.triggers.find((x) => x.table === table && x.name === want.name);
        if (!t) problems.push(`trigger ${want.name} on ${table} is missing`);
        else if (t.enabled !== 'O') problems.push(`trigger ${want.name} on ${table} is disabled`);
        else if (t.fn !== want.fn || t.type !== want.type || t.qual || t.cols !== '')
          problems.push(`trigger ${want.name} on ${table} was altered`);
      }
    }
    if (r.tenant_member) problems.push(`role ${tenantRole} is a member of ${SYNC_ROLE}, so it could write system rows`);
  }
  return { version: r.version, protection: { ok: problems.length === 0, problems, tenantInSyncRole: r.tenant_member } };
}

interface SnapshotRow {
  rs: { id: string; identifier: string; name: string; system: boolean; hash: string | null }[];
  perms: { id: string; rs: string; name: string; description: string | null; system: boolean; hash: string | null }[];
  roles: { id: string; name: string; description: string | null; system: boolean; hash: string | null }[];
  rp: [string, string, boolean][];
  state: { revision: string | number; definitions_hash: string; manifest: Manifest } | null;
}

/**
 * One statement: the tenant's system rows, the rows that belong to a system entity (a
 * permission under a system resource server, a permission of a system role: only a bypass
 * of the protection can create those, and they count as part of that entity), the
 * tenant-owned rows that collide with a definition, and the last sync's state.
 */
async function readRows(c: Queryable, desired: EntitySet): Promise<Omit<TenantObservation, 'schemaVersion' | 'protection'>> {
  const ids = [...desired.resourceServers.keys(), ...desired.roles.keys()];
  const { rows } = await c.query<{ snap: SnapshotRow }>(
    `SELECT json_build_object(
       'rs', (SELECT coalesce(json_agg(json_build_object('id', id, 'identifier', identifier, 'name', name, 'system', is_system, 'hash', system_hash)), '[]'::json)
                FROM public.resource_servers WHERE is_system OR id = ANY($1::uuid[]) OR identifier = ANY($2::text[]) OR name = ANY($3::text[])),
       'perms', (SELECT coalesce(json_agg(json_build_object('id', id, 'rs', resource_server_id, 'name', name, 'description', description, 'system', is_system, 'hash', system_hash)), '[]'::json)
                FROM public.permissions WHERE is_system OR resource_server_id IN (SELECT id FROM public.resource_servers WHERE is_system)),
       'roles', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'description', description, 'system', is_system, 'hash', system_hash)), '[]'::json)
                FROM public.roles WHERE is_system OR id = ANY($1::uuid[]) OR name = ANY($4::text[])),
       'rp', (SELECT coalesce(json_agg(json_build_array(role_id, permission_id, is_system)), '[]'::json)
                FROM public.role_permissions WHERE is_system OR role_id IN (SELECT id FROM public.roles WHERE is_system)),
       'state', (SELECT row_to_json(s) FROM (SELECT revision, definitions_hash, manifest FROM public.system_entity_state WHERE id = 1) s)
     ) AS snap`,
    [
      ids,
      [...desired.resourceServers.values()].map((r) => r.identifier),
      [...desired.resourceServers.values()].map((r) => r.name),
      [...desired.roles.values()].map((r) => r.name),
    ],
  );
  const snap = rows[0]!.snap;
  const set = emptySet();
  const storedHash: ActualRows['storedHash'] = { 'resource-server': new Map(), scope: new Map(), role: new Map() };
  const tenantOwned: TenantObservation['tenantOwned'] = { resourceServers: [], roles: [] };
  for (const r of snap.rs) {
    if (!r.system) {
      tenantOwned.resourceServers.push({ id: r.id, identifier: r.identifier, name: r.name });
      continue;
    }
    set.resourceServers.set(r.id, normaliseRs(r));
    storedHash['resource-server'].set(r.id, r.hash);
  }
  for (const p of snap.perms) {
    set.scopes.set(p.id, normaliseScope({ id: p.id, resourceServerId: p.rs, value: p.name, description: p.description }));
    storedHash.scope.set(p.id, p.system ? p.hash : null);
  }
  const perms = new Map<string, string[]>();
  for (const [role, perm] of snap.rp) perms.set(role, [...(perms.get(role) ?? []), perm]);
  for (const r of snap.roles) {
    if (!r.system) {
      tenantOwned.roles.push({ id: r.id, name: r.name });
      continue;
    }
    set.roles.set(r.id, normaliseRole({ ...r, permissions: perms.get(r.id) ?? [] }));
    storedHash.role.set(r.id, r.hash);
  }
  const state = snap.state
    ? { revision: Number(snap.state.revision), hash: snap.state.definitions_hash, manifest: snap.state.manifest }
    : null;
  return { actual: { set, storedHash, manifest: state?.manifest ?? null, rolePermissions: snap.rp }, tenantOwned, state };
}

/** Two statements: the schema version with the protection, then (at version 4+) the rows. */
export async function observeTenant(
  c: Queryable,
  tenantRole: string,
  desired: EntitySet,
  spec: ProtectionSpec,
): Promise<TenantObservation> {
  const { version, protection } = await readProtection(c, tenantRole, spec);
  if (version < REQUIRED_SCHEMA) {
    const actual: ActualRows = {
      set: emptySet(),
      storedHash: { 'resource-server': new Map(), scope: new Map(), role: new Map() },
      manifest: null,
      rolePermissions: [],
    };
    return { schemaVersion: version, protection, actual, tenantOwned: { resourceServers: [], roles: [] }, state: null };
  }
  return { schemaVersion: version, protection, ...(await readRows(c, desired)) };
}

function conflictsOf(desired: EntitySet, obs: TenantObservation): string[] {
  const out: string[] = [];
  for (const want of desired.resourceServers.values()) {
    for (const own of obs.tenantOwned.resourceServers) {
      const same = own.id === want.id ? 'id' : own.identifier === want.identifier ? 'identifier' : own.name === want.name ? 'name' : null;
      if (same)
        out.push(
          `tenant-owned resource server "${own.identifier}" has the ${same} of the definition "${want.identifier}": rename or remove it in the tenant (the sync never touches tenant-owned rows), or rename the definition`,
        );
    }
  }
  for (const want of desired.roles.values()) {
    for (const own of obs.tenantOwned.roles) {
      const same = own.id === want.id ? 'id' : own.name === want.name ? 'name' : null;
      if (same)
        out.push(
          `tenant-owned role "${own.name}" has the ${same} of the definition "${want.name}": rename or remove it in the tenant (the sync never touches tenant-owned rows), or rename the definition`,
        );
    }
  }
  return out;
}

export function planTenant(slug: string, desired: EntitySet, obs: TenantObservation): TenantPlan {
  const base = {
    slug,
    appliedRevision: obs.state?.revision ?? null,
    protection: { ok: obs.protection.ok, problems: obs.protection.problems },
  };
  if (obs.schemaVersion < REQUIRED_SCHEMA) {
    return {
      ...base,
      status: 'schema-behind',
      changes: [],
      drift: [],
      conflicts: [],
      error: `The tenant schema is at version ${obs.schemaVersion}; entity sync needs version ${REQUIRED_SCHEMA}. Apply the tenant schema migrations first (Tenants → Schema), then plan again.`,
    };
  }
  const labels = labelsOf(desired, obs.actual.set);
  const drift = findDrift(obs.actual, labels);
  const changes = diff(desired, obs.actual, new Set(drift.map((d) => d.id)));
  const conflicts = conflictsOf(desired, obs);
  const status = conflicts.length ? 'conflict' : drift.length || !obs.protection.ok ? 'drift' : changes.length ? 'pending' : 'in-sync';
  return { ...base, status, changes, drift, conflicts, error: null };
}

export interface SyncInput {
  tenantRole: string;
  desired: EntitySet;
  revision: number;
  definitionsHash: string;
  operationId: string | null;
  spec: ProtectionSpec;
}

export interface SyncOutcome {
  status: 'applied' | 'unchanged' | 'skipped';
  rows: number;
  message: string | null;
  plan: TenantPlan;
}

const rec = (rows: object[]) => JSON.stringify(rows);

/**
 * Brings one tenant to the definitions in one transaction, under an advisory lock so two
 * consoles never interleave on it: re-reads and re-plans under the lock, writes only the
 * difference (deletes first, children before parents, so no cascade has to run through
 * the protection), repairs a damaged protection, and records the state and manifest.
 * Tenant-owned rows are never written; a collision with one stops this tenant (CONFLICT).
 */
export async function syncTenant(c: Queryable, slug: string, input: SyncInput): Promise<SyncOutcome> {
  const { desired } = input;
  await c.query('BEGIN');
  try {
    await c.query(SYNC_LOCK);
    const obs = await observeTenant(c, input.tenantRole, desired, input.spec);
    const plan = planTenant(slug, desired, obs);
    if (plan.status === 'schema-behind') throw new ContractError('CONFLICT', plan.error!);
    if (plan.status === 'conflict')
      throw new ContractError('CONFLICT', `Tenant "${slug}" was not changed: ${plan.conflicts.join('; ')}.`, { conflicts: plan.conflicts });
    if (obs.state && obs.state.revision > input.revision) {
      await c.query('ROLLBACK');
      return {
        status: 'skipped',
        rows: 0,
        message: `already at revision ${obs.state.revision}, newer than this apply's ${input.revision}`,
        plan,
      };
    }
    if (plan.changes.length === 0 && plan.drift.length === 0 && obs.protection.ok) {
      await c.query('COMMIT');
      return { status: 'unchanged', rows: 0, message: null, plan };
    }
    if (obs.protection.tenantInSyncRole) await c.query(`REVOKE ${SYNC_ROLE} FROM ${quoteIdent(input.tenantRole)}`);
    await c.query(`SET LOCAL ROLE ${quoteIdent(input.tenantRole)}`);
    // As the owner: restore the protection if it was damaged, and let the sync role write these tables.
    if (!obs.protection.ok) await c.query(input.spec.sql);
    await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${PROTECTED_TABLES.map((t) => `public.${t}`).join(', ')} TO ${SYNC_ROLE}`);
    await c.query(`SET LOCAL ROLE ${SYNC_ROLE}`);
    const rows = await writeDifference(c, desired, obs.actual);
    await c.query(
      `INSERT INTO public.system_entity_state (id, revision, definitions_hash, manifest, operation_id, applied_at) VALUES (1, $1, $2, $3, $4, now())
       ON CONFLICT (id) DO UPDATE SET revision = EXCLUDED.revision, definitions_hash = EXCLUDED.definitions_hash, manifest = EXCLUDED.manifest,
         operation_id = EXCLUDED.operation_id, applied_at = EXCLUDED.applied_at`,
      [input.revision, input.definitionsHash, JSON.stringify(manifestOf(desired)), input.operationId],
    );
    await c.query('COMMIT');
    return { status: 'applied', rows, message: null, plan };
  } catch (error) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function exec(c: Queryable, sql: string, rows: object[]): Promise<number> {
  if (rows.length === 0) return 0;
  return (await c.query(sql, [rec(rows)])).rowCount ?? 0;
}

/** Set-based writes: one statement per table and action that has rows, whatever the number of entities. */
async function writeDifference(c: Queryable, desired: EntitySet, actual: ActualRows): Promise<number> {
  const have = actual.set;
  let n = 0;
  const hash = entityHash;

  // Role permissions: wanted pairs, and what is there (system rows and rows attached to system roles).
  const want = new Set<string>();
  for (const r of desired.roles.values()) for (const p of r.permissions) want.add(`${r.id}|${p}`);
  const there = new Map<string, boolean>();
  for (const [role, perm, system] of actual.rolePermissions) there.set(`${role}|${perm}`, system);
  const pair = (k: string) => ({ r: k.split('|')[0], p: k.split('|')[1] });
  const rpDelete = [...there.keys()].filter((k) => !want.has(k)).map(pair);
  const rpInsert = [...want].filter((k) => there.get(k) !== true).map(pair);

  n += await exec(
    c,
    `DELETE FROM public.role_permissions WHERE (role_id, permission_id) IN (SELECT r, p FROM json_to_recordset($1::json) AS x(r uuid, p uuid))`,
    rpDelete,
  );
  n += await exec(
    c,
    `DELETE FROM public.roles WHERE is_system AND id IN (SELECT id FROM json_to_recordset($1::json) AS x(id uuid))`,
    [...have.roles.keys()].filter((id) => !desired.roles.has(id)).map((id) => ({ id })),
  );
  n += await exec(
    c,
    `DELETE FROM public.permissions WHERE id IN (SELECT id FROM json_to_recordset($1::json) AS x(id uuid))
                        AND (is_system OR resource_server_id IN (SELECT id FROM public.resource_servers WHERE is_system))`,
    [...have.scopes.keys()].filter((id) => !desired.scopes.has(id)).map((id) => ({ id })),
  );
  n += await exec(
    c,
    `DELETE FROM public.resource_servers WHERE is_system AND id IN (SELECT id FROM json_to_recordset($1::json) AS x(id uuid))`,
    [...have.resourceServers.keys()].filter((id) => !desired.resourceServers.has(id)).map((id) => ({ id })),
  );

  // Renames go through a unique placeholder first, so a swap (A→B, B→A) never collides.
  const rsUpdate = [...desired.resourceServers.values()].filter((w) => {
    const h = have.resourceServers.get(w.id);
    return (
      h &&
      (h.identifier !== w.identifier || h.name !== w.name || actual.storedHash['resource-server'].get(w.id) !== hash('resource-server', w))
    );
  });
  const rsRenamed = rsUpdate.filter((w) => {
    const h = have.resourceServers.get(w.id)!;
    return h.identifier !== w.identifier || h.name !== w.name;
  });
  const scUpdate = [...desired.scopes.values()].filter((w) => {
    const h = have.scopes.get(w.id);
    return (
      h &&
      (h.value !== w.value ||
        h.description !== w.description ||
        h.resourceServerId !== w.resourceServerId ||
        actual.storedHash.scope.get(w.id) !== hash('scope', w))
    );
  });
  const scRenamed = scUpdate.filter((w) => have.scopes.get(w.id)!.value !== w.value);
  const roUpdate = [...desired.roles.values()].filter((w) => {
    const h = have.roles.get(w.id);
    return (
      h &&
      (h.name !== w.name ||
        h.description !== w.description ||
        actual.storedHash.role.get(w.id) !== hash('role', w) ||
        hash('role', h) !== hash('role', w))
    );
  });
  const roRenamed = roUpdate.filter((w) => have.roles.get(w.id)!.name !== w.name);
  const placeholder = `'~gatehouse-rename~' || x.id::text`;
  // (placeholder rows are rewritten just below, so they are not counted twice)
  await exec(
    c,
    `UPDATE public.resource_servers t SET identifier = ${placeholder}, name = ${placeholder} FROM json_to_recordset($1::json) AS x(id uuid) WHERE t.id = x.id AND t.is_system`,
    rsRenamed.map((w) => ({ id: w.id })),
  );
  await exec(
    c,
    `UPDATE public.permissions t SET name = ${placeholder} FROM json_to_recordset($1::json) AS x(id uuid) WHERE t.id = x.id`,
    scRenamed.map((w) => ({ id: w.id })),
  );
  await exec(
    c,
    `UPDATE public.roles t SET name = ${placeholder} FROM json_to_recordset($1::json) AS x(id uuid) WHERE t.id = x.id AND t.is_system`,
    roRenamed.map((w) => ({ id: w.id })),
  );

  n += await exec(
    c,
    `UPDATE public.resource_servers t SET identifier = x.identifier, name = x.name, system_hash = x.hash
                        FROM json_to_recordset($1::json) AS x(id uuid, identifier text, name text, hash text) WHERE t.id = x.id AND t.is_system`,
    rsUpdate.map((w) => ({ id: w.id, identifier: w.identifier, name: w.name, hash: hash('resource-server', w) })),
  );
  n += await exec(
    c,
    `INSERT INTO public.resource_servers (id, identifier, name, is_system, system_hash)
                        SELECT id, identifier, name, true, hash FROM json_to_recordset($1::json) AS x(id uuid, identifier text, name text, hash text)`,
    [...desired.resourceServers.values()]
      .filter((w) => !have.resourceServers.has(w.id))
      .map((w) => ({ id: w.id, identifier: w.identifier, name: w.name, hash: hash('resource-server', w) })),
  );
  // A permission row written behind the console under a system resource server is adopted as the system row it must be.
  n += await exec(
    c,
    `UPDATE public.permissions t SET resource_server_id = x.rs, name = x.name, description = x.description, is_system = true, system_hash = x.hash
                        FROM json_to_recordset($1::json) AS x(id uuid, rs uuid, name text, description text, hash text) WHERE t.id = x.id`,
    scUpdate.map((w) => ({ id: w.id, rs: w.resourceServerId, name: w.value, description: w.description, hash: hash('scope', w) })),
  );
  n += await exec(
    c,
    `INSERT INTO public.permissions (id, resource_server_id, name, description, is_system, system_hash)
                        SELECT id, rs, name, description, true, hash FROM json_to_recordset($1::json) AS x(id uuid, rs uuid, name text, description text, hash text)`,
    [...desired.scopes.values()]
      .filter((w) => !have.scopes.has(w.id))
      .map((w) => ({ id: w.id, rs: w.resourceServerId, name: w.value, description: w.description, hash: hash('scope', w) })),
  );
  n += await exec(
    c,
    `UPDATE public.roles t SET name = x.name, description = x.description, system_hash = x.hash
                        FROM json_to_recordset($1::json) AS x(id uuid, name text, description text, hash text) WHERE t.id = x.id AND t.is_system`,
    roUpdate.map((w) => ({ id: w.id, name: w.name, description: w.description, hash: hash('role', w) })),
  );
  n += await exec(
    c,
    `INSERT INTO public.roles (id, name, description, is_system, system_hash)
                        SELECT id, name, description, true, hash FROM json_to_recordset($1::json) AS x(id uuid, name text, description text, hash text)`,
    [...desired.roles.values()]
      .filter((w) => !have.roles.has(w.id))
      .map((w) => ({ id: w.id, name: w.name, description: w.description, hash: hash('role', w) })),
  );
  n += await exec(
    c,
    `INSERT INTO public.role_permissions (role_id, permission_id, is_system)
                        SELECT r, p, true FROM json_to_recordset($1::json) AS x(r uuid, p uuid)
                        ON CONFLICT (role_id, permission_id) DO UPDATE SET is_system = true`,
    rpInsert,
  );
  return n;
}
