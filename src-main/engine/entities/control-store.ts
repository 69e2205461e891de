import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { ContractError } from '../../../src-shared/contract';
import type { Definitions, ResourceServer, Role } from '../../../src-shared/contract/entities';
import type { PostgresAdmin } from '../../adapters/postgres';
import { applyControlMigrations, CONTROL_DATABASE, ensureControlDatabase, type ControlMigration } from '../core/control-database';
import { emptySet, normaliseRole, normaliseRs, normaliseScope, setHash, type EntitySet } from './model';

/**
 * The definitions, per cluster, in that cluster's `gatehouse_control` database (created
 * through the admin connection if the audit log has not done it yet). Every change bumps
 * one revision counter in the same transaction, so a plan names exactly what it was made
 * against; each definition also has its own version for optimistic concurrency between
 * operators editing the same one.
 */
/** The same database as the shared audit log (audit/shared-log.ts): what all operators of a cluster share. */
export { CONTROL_DATABASE };
const MIGRATION_LOCK = 7_263_917_001;
const MIGRATIONS: ControlMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE entity_revision (id int PRIMARY KEY CHECK (id = 1), revision bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO entity_revision (id, revision) VALUES (1, 0);
      CREATE TABLE entity_resource_servers (
        id uuid PRIMARY KEY, identifier text NOT NULL UNIQUE, name text NOT NULL UNIQUE,
        version int NOT NULL DEFAULT 1, updated_at timestamptz NOT NULL DEFAULT now(), updated_by text NOT NULL);
      CREATE TABLE entity_scopes (
        id uuid PRIMARY KEY, resource_server_id uuid NOT NULL REFERENCES entity_resource_servers(id) ON DELETE CASCADE,
        value text NOT NULL, description text, UNIQUE (resource_server_id, value));
      CREATE TABLE entity_roles (
        id uuid PRIMARY KEY, name text NOT NULL UNIQUE, description text,
        version int NOT NULL DEFAULT 1, updated_at timestamptz NOT NULL DEFAULT now(), updated_by text NOT NULL);
      CREATE TABLE entity_role_permissions (
        role_id uuid NOT NULL REFERENCES entity_roles(id) ON DELETE CASCADE,
        scope_id uuid NOT NULL REFERENCES entity_scopes(id) ON DELETE CASCADE,
        PRIMARY KEY (role_id, scope_id));`,
  },
];

/** Creates gatehouse_control if needed and applies this capability's migrations there, once per process and cluster. */
export async function ensureControlSchema(pg: PostgresAdmin): Promise<void> {
  await ensureControlDatabase(pg);
  await pg.withDatabase(
    CONTROL_DATABASE,
    (c) => applyControlMigrations(c, { lock: MIGRATION_LOCK, table: 'entity_migrations', migrations: MIGRATIONS }),
    'preparing the entity definitions in gatehouse_control',
  );
}

interface RsRow {
  id: string;
  identifier: string;
  name: string;
  version: number;
  updated_at: Date;
  updated_by: string;
}
interface ScopeRow {
  id: string;
  resource_server_id: string;
  value: string;
  description: string | null;
}
interface RoleRow {
  id: string;
  name: string;
  description: string | null;
  version: number;
  updated_at: Date;
  updated_by: string;
}

/** The definitions as the contract shows them, and as the comparable set the sync uses. */
export interface LoadedDefinitions {
  view: Omit<Definitions, 'clusterId'>;
  set: EntitySet;
}

export function toSet(view: Pick<Definitions, 'resourceServers' | 'roles'>): EntitySet {
  const set = emptySet();
  for (const rs of view.resourceServers) {
    set.resourceServers.set(rs.id, normaliseRs(rs));
    for (const s of rs.scopes) set.scopes.set(s.id, normaliseScope({ ...s, resourceServerId: rs.id }));
  }
  for (const r of view.roles) set.roles.set(r.id, normaliseRole({ ...r, permissions: r.permissions.map((p) => p.scopeId) }));
  return set;
}

/** One consistent read (REPEATABLE READ): the revision and every definition. */
export async function readDefinitions(c: pg.Client): Promise<LoadedDefinitions> {
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const revision = Number(
      (await c.query<{ revision: string }>('SELECT revision FROM entity_revision WHERE id = 1')).rows[0]?.revision ?? 0,
    );
    const rs = (
      await c.query<RsRow>('SELECT id, identifier, name, version, updated_at, updated_by FROM entity_resource_servers ORDER BY identifier')
    ).rows;
    const scopes = (await c.query<ScopeRow>('SELECT id, resource_server_id, value, description FROM entity_scopes ORDER BY value')).rows;
    const roles = (await c.query<RoleRow>('SELECT id, name, description, version, updated_at, updated_by FROM entity_roles ORDER BY name'))
      .rows;
    const rp = (await c.query<{ role_id: string; scope_id: string }>('SELECT role_id, scope_id FROM entity_role_permissions')).rows;
    await c.query('COMMIT');
    const rsById = new Map(rs.map((r) => [r.id, r]));
    const scopeById = new Map(scopes.map((s) => [s.id, s]));
    const resourceServers: ResourceServer[] = rs.map((r) => ({
      id: r.id,
      identifier: r.identifier,
      name: r.name,
      version: r.version,
      updatedAt: r.updated_at.toISOString(),
      updatedBy: r.updated_by,
      scopes: scopes.filter((s) => s.resource_server_id === r.id).map((s) => ({ id: s.id, value: s.value, description: s.description })),
    }));
    const roleViews: Role[] = roles.map((r) => ({
      id: r.id,
      name: r.name,
      description: r.description,
      version: r.version,
      updatedAt: r.updated_at.toISOString(),
      updatedBy: r.updated_by,
      permissions: rp
        .filter((p) => p.role_id === r.id)
        .map((p) => {
          const s = scopeById.get(p.scope_id)!;
          return {
            resourceServerId: s.resource_server_id,
            resourceServer: rsById.get(s.resource_server_id)!.identifier,
            scopeId: s.id,
            scope: s.value,
          };
        })
        .sort((a, b) => `${a.resourceServer} ${a.scope}`.localeCompare(`${b.resourceServer} ${b.scope}`)),
    }));
    const set = toSet({ resourceServers, roles: roleViews });
    return { view: { revision, hash: setHash(set), resourceServers, roles: roleViews }, set };
  } catch (error) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** One resource server with its scopes (inside the caller's transaction: the audit's exact before/after). */
export async function readResourceServer(c: pg.Client, id: string): Promise<ResourceServer | null> {
  const r = (
    await c.query<RsRow>('SELECT id, identifier, name, version, updated_at, updated_by FROM entity_resource_servers WHERE id = $1', [id])
  ).rows[0];
  if (!r) return null;
  const scopes = (
    await c.query<ScopeRow>(
      'SELECT id, resource_server_id, value, description FROM entity_scopes WHERE resource_server_id = $1 ORDER BY value',
      [id],
    )
  ).rows;
  return {
    id: r.id,
    identifier: r.identifier,
    name: r.name,
    version: r.version,
    updatedAt: r.updated_at.toISOString(),
    updatedBy: r.updated_by,
    scopes: scopes.map((s) => ({ id: s.id, value: s.value, description: s.description })),
  };
}

export async function readRole(c: pg.Client, id: string): Promise<Role | null> {
  const r = (await c.query<RoleRow>('SELECT id, name, description, version, updated_at, updated_by FROM entity_roles WHERE id = $1', [id]))
    .rows[0];
  if (!r) return null;
  const perms = (
    await c.query<{ rs_id: string; identifier: string; scope_id: string; value: string }>(
      `SELECT rs.id AS rs_id, rs.identifier, s.id AS scope_id, s.value FROM entity_role_permissions p
       JOIN entity_scopes s ON s.id = p.scope_id JOIN entity_resource_servers rs ON rs.id = s.resource_server_id
      WHERE p.role_id = $1 ORDER BY rs.identifier, s.value`,
      [id],
    )
  ).rows;
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    version: r.version,
    updatedAt: r.updated_at.toISOString(),
    updatedBy: r.updated_by,
    permissions: perms.map((p) => ({ resourceServerId: p.rs_id, resourceServer: p.identifier, scopeId: p.scope_id, scope: p.value })),
  };
}

/** Runs fn in a transaction holding the revision row, and bumps the revision when fn says it changed something. */
async function mutate<T>(
  c: pg.Client,
  fn: () => Promise<{ changed: boolean; value: T }>,
): Promise<{ revision: number; changed: boolean; value: T }> {
  await c.query('BEGIN');
  try {
    let revision = Number(
      (await c.query<{ revision: string }>('SELECT revision FROM entity_revision WHERE id = 1 FOR UPDATE')).rows[0]!.revision,
    );
    const { changed, value } = await fn();
    if (changed)
      revision = Number(
        (
          await c.query<{ revision: string }>(
            'UPDATE entity_revision SET revision = revision + 1, updated_at = now() WHERE id = 1 RETURNING revision',
          )
        ).rows[0]!.revision,
      );
    await c.query('COMMIT');
    return { revision, changed, value };
  } catch (error) {
    await c.query('ROLLBACK').catch(() => undefined);
    if ((error as { code?: string }).code === '23505') {
      throw new ContractError(
        'CONFLICT',
        `Another definition already uses that ${/identifier/.test((error as { detail?: string }).detail ?? '') ? 'identifier' : 'name'}: ${(error as { detail?: string }).detail ?? ''} Choose another one.`,
      );
    }
    throw error;
  }
}

const clean = (s: string | null | undefined): string | null => (s === undefined || s === null || s.trim() === '' ? null : s.trim());

function uniqueScopes(scopes: { value: string; description?: string | null | undefined }[] | undefined) {
  const seen = new Set<string>();
  for (const s of scopes ?? []) {
    if (seen.has(s.value))
      throw new ContractError('VALIDATION', `Scope "${s.value}" is listed twice; each scope value appears once per resource server.`, {
        fields: { scopes: 'duplicate value' },
      });
    seen.add(s.value);
  }
  return (scopes ?? []).map((s) => ({ value: s.value, description: clean(s.description) }));
}

function staleVersion(what: string, current: { version: number; updated_by: string; updated_at: Date }, read: number): ContractError {
  return new ContractError(
    'CONFLICT',
    `${what} was changed by ${current.updated_by} at ${current.updated_at.toISOString()} since you read it (version ${read} → ${current.version}). Reload it and redo your edit.`,
    { version: current.version },
  );
}

export interface RsInput {
  identifier: string;
  name: string;
  scopes?: { value: string; description?: string | null | undefined }[] | undefined;
}

export async function createResourceServer(c: pg.Client, input: RsInput, actor: string) {
  const scopes = uniqueScopes(input.scopes);
  const id = randomUUID();
  return mutate(c, async () => {
    await c.query('INSERT INTO entity_resource_servers (id, identifier, name, updated_by) VALUES ($1, $2, $3, $4)', [
      id,
      input.identifier,
      input.name,
      actor,
    ]);
    for (const s of scopes)
      await c.query('INSERT INTO entity_scopes (id, resource_server_id, value, description) VALUES ($1, $2, $3, $4)', [
        randomUUID(),
        id,
        s.value,
        s.description,
      ]);
    return { changed: true, value: { before: null, after: (await readResourceServer(c, id))! } };
  });
}

/** Replaces a resource server's definition; scopes keep their id (and their role permissions) by value. */
export async function updateResourceServer(c: pg.Client, input: RsInput & { id: string; version: number }, actor: string) {
  const scopes = uniqueScopes(input.scopes);
  return mutate(c, async () => {
    const current = (await c.query<RsRow>('SELECT * FROM entity_resource_servers WHERE id = $1 FOR UPDATE', [input.id])).rows[0];
    if (!current) throw new ContractError('NOT_FOUND', `Resource server ${input.id} is not defined (deleted meanwhile?). Reload the page.`);
    if (current.version !== input.version) throw staleVersion(`Resource server "${current.identifier}"`, current, input.version);
    const before = (await readResourceServer(c, input.id))!;
    const existing = (await c.query<ScopeRow>('SELECT * FROM entity_scopes WHERE resource_server_id = $1', [input.id])).rows;
    const byValue = new Map(existing.map((s) => [s.value, s]));
    const removed = existing.filter((s) => !scopes.some((x) => x.value === s.value));
    const added = scopes.filter((s) => !byValue.has(s.value));
    const described = scopes.filter((s) => byValue.has(s.value) && clean(byValue.get(s.value)!.description) !== s.description);
    const changed =
      current.identifier !== input.identifier || current.name !== input.name || removed.length + added.length + described.length > 0;
    if (!changed) return { changed: false, value: { before, after: before } };
    await c.query(
      'UPDATE entity_resource_servers SET identifier = $2, name = $3, version = version + 1, updated_at = now(), updated_by = $4 WHERE id = $1',
      [input.id, input.identifier, input.name, actor],
    );
    if (removed.length) await c.query('DELETE FROM entity_scopes WHERE id = ANY($1::uuid[])', [removed.map((s) => s.id)]);
    for (const s of described)
      await c.query('UPDATE entity_scopes SET description = $2 WHERE id = $1', [byValue.get(s.value)!.id, s.description]);
    for (const s of added)
      await c.query('INSERT INTO entity_scopes (id, resource_server_id, value, description) VALUES ($1, $2, $3, $4)', [
        randomUUID(),
        input.id,
        s.value,
        s.description,
      ]);
    return { changed: true, value: { before, after: (await readResourceServer(c, input.id))! } };
  });
}

export async function deleteResourceServer(c: pg.Client, input: { id: string; identifier: string }) {
  return mutate(c, async () => {
    const current = (await c.query<RsRow>('SELECT * FROM entity_resource_servers WHERE id = $1 FOR UPDATE', [input.id])).rows[0];
    if (!current) throw new ContractError('NOT_FOUND', `Resource server ${input.id} is not defined (deleted meanwhile?). Reload the page.`);
    if (current.identifier !== input.identifier)
      throw new ContractError(
        'VALIDATION',
        `Resource server ${input.id} is "${current.identifier}", not "${input.identifier}". Reload the page and confirm again.`,
      );
    const before = (await readResourceServer(c, input.id))!;
    const roles = (
      await c.query<{ name: string }>(
        `SELECT DISTINCT r.name FROM entity_roles r JOIN entity_role_permissions p ON p.role_id = r.id JOIN entity_scopes s ON s.id = p.scope_id WHERE s.resource_server_id = $1 ORDER BY r.name`,
        [input.id],
      )
    ).rows.map((r) => r.name);
    // Roles lose their permissions on it: their version moves too, so an editor holding an old copy is told.
    if (roles.length) await c.query('UPDATE entity_roles SET version = version + 1, updated_at = now() WHERE name = ANY($1)', [roles]);
    await c.query('DELETE FROM entity_resource_servers WHERE id = $1', [input.id]);
    return { changed: true, value: { before, rolesAffected: roles } };
  });
}

export interface RoleInput {
  name: string;
  description?: string | null | undefined;
  permissions?: { resourceServer: string; scope: string }[] | undefined;
}

async function resolvePermissions(c: pg.Client, perms: RoleInput['permissions']): Promise<string[]> {
  const list = perms ?? [];
  if (list.length === 0) return [];
  const { rows } = await c.query<{ id: string; identifier: string; value: string }>(
    `SELECT s.id, r.identifier, s.value FROM entity_scopes s JOIN entity_resource_servers r ON r.id = s.resource_server_id
      WHERE (r.identifier, s.value) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [list.map((p) => p.resourceServer), list.map((p) => p.scope)],
  );
  const found = new Map(rows.map((r) => [`${r.identifier} ${r.value}`, r.id]));
  const missing = list.filter((p) => !found.has(`${p.resourceServer} ${p.scope}`));
  if (missing.length) {
    throw new ContractError(
      'VALIDATION',
      `No such permission: ${missing.map((p) => `scope "${p.scope}" of resource server "${p.resourceServer}"`).join(', ')}. Define the scope on the resource server first.`,
      { fields: { permissions: 'unknown scope' } },
    );
  }
  return [...new Set(list.map((p) => found.get(`${p.resourceServer} ${p.scope}`)!))];
}

export async function createRole(c: pg.Client, input: RoleInput, actor: string) {
  const id = randomUUID();
  return mutate(c, async () => {
    const scopeIds = await resolvePermissions(c, input.permissions);
    await c.query('INSERT INTO entity_roles (id, name, description, updated_by) VALUES ($1, $2, $3, $4)', [
      id,
      input.name,
      clean(input.description),
      actor,
    ]);
    if (scopeIds.length)
      await c.query('INSERT INTO entity_role_permissions (role_id, scope_id) SELECT $1, unnest($2::uuid[])', [id, scopeIds]);
    return { changed: true, value: { before: null, after: (await readRole(c, id))! } };
  });
}

export async function updateRole(c: pg.Client, input: RoleInput & { id: string; version: number }, actor: string) {
  return mutate(c, async () => {
    const current = (await c.query<RoleRow>('SELECT * FROM entity_roles WHERE id = $1 FOR UPDATE', [input.id])).rows[0];
    if (!current) throw new ContractError('NOT_FOUND', `Role ${input.id} is not defined (deleted meanwhile?). Reload the page.`);
    if (current.version !== input.version) throw staleVersion(`Role "${current.name}"`, current, input.version);
    const before = (await readRole(c, input.id))!;
    const scopeIds = await resolvePermissions(c, input.permissions);
    const had = (
      await c.query<{ scope_id: string }>('SELECT scope_id FROM entity_role_permissions WHERE role_id = $1', [input.id])
    ).rows.map((r) => r.scope_id);
    const sameSet = had.length === scopeIds.length && had.every((s) => scopeIds.includes(s));
    const changed = current.name !== input.name || clean(current.description) !== clean(input.description) || !sameSet;
    if (!changed) return { changed: false, value: { before, after: before } };
    await c.query(
      'UPDATE entity_roles SET name = $2, description = $3, version = version + 1, updated_at = now(), updated_by = $4 WHERE id = $1',
      [input.id, input.name, clean(input.description), actor],
    );
    if (!sameSet) {
      await c.query('DELETE FROM entity_role_permissions WHERE role_id = $1', [input.id]);
      if (scopeIds.length)
        await c.query('INSERT INTO entity_role_permissions (role_id, scope_id) SELECT $1, unnest($2::uuid[])', [input.id, scopeIds]);
    }
    return { changed: true, value: { before, after: (await readRole(c, input.id))! } };
  });
}

export async function deleteRole(c: pg.Client, input: { id: string; name: string }) {
  return mutate(c, async () => {
    const current = (await c.query<RoleRow>('SELECT * FROM entity_roles WHERE id = $1 FOR UPDATE', [input.id])).rows[0];
    if (!current) throw new ContractError('NOT_FOUND', `Role ${input.id} is not defined (deleted meanwhile?). Reload the page.`);
    if (current.name !== input.name)
      throw new ContractError(
        'VALIDATION',
        `Role ${input.id} is "${current.name}", not "${input.name}". Reload the page and confirm again.`,
      );
    const before = (await readRole(c, input.id))!;
    await c.query('DELETE FROM entity_roles WHERE id = $1', [input.id]);
    return { changed: true, value: { before } };
  });
}
