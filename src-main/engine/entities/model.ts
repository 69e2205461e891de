import { createHash } from 'node:crypto';
import type { DriftFinding, FieldChange, PlanChange } from '../../../src-shared/contract/entities';

/**
 * The one comparable shape of system entities, built the same way from the control-plane
 * definitions (desired) and from a tenant's rows (actual). Everything that compares or
 * hashes goes through `normalise*`, so equivalent values ("" / null / absent, [] / absent,
 * list order) are equal and never show as a change (rancher #45517: re-syncing forever).
 */
export interface RsEntity {
  id: string;
  identifier: string;
  name: string;
}
export interface ScopeEntity {
  id: string;
  resourceServerId: string;
  value: string;
  description: string | null;
}
/** permissions: scope ids, sorted and unique. */
export interface RoleEntity {
  id: string;
  name: string;
  description: string | null;
  permissions: string[];
}

export interface EntitySet {
  resourceServers: Map<string, RsEntity>;
  scopes: Map<string, ScopeEntity>;
  roles: Map<string, RoleEntity>;
}

export type EntityKind = 'resource-server' | 'scope' | 'role';

/** Absent, null and "" mean "no value". */
export const normaliseText = (v: string | null | undefined): string | null => (v === undefined || v === null || v === '' ? null : v);
/** Absent and [] are the same list; order and duplicates do not matter. */
export const normaliseList = (v: readonly string[] | null | undefined): string[] => [...new Set(v ?? [])].sort();

export const normaliseRs = (r: { id: string; identifier: string; name: string }): RsEntity => ({
  id: r.id,
  identifier: r.identifier,
  name: r.name,
});
export const normaliseScope = (s: {
  id: string;
  resourceServerId: string;
  value: string;
  description?: string | null | undefined;
}): ScopeEntity => ({
  id: s.id,
  resourceServerId: s.resourceServerId,
  value: s.value,
  description: normaliseText(s.description),
});
export const normaliseRole = (r: {
  id: string;
  name: string;
  description?: string | null | undefined;
  permissions?: readonly string[] | null | undefined;
}): RoleEntity => ({
  id: r.id,
  name: r.name,
  description: normaliseText(r.description),
  permissions: normaliseList(r.permissions),
});

/** RFC 8785-style canonical JSON for the flat values used here: sorted keys, no spaces. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** The hash stored with each system row: of its normalised definition, so equivalent definitions hash the same. */
export const entityHash = (kind: EntityKind, entity: RsEntity | ScopeEntity | RoleEntity): string =>
  sha256(`${kind}\n${canonicalJson(entity)}`);

export function emptySet(): EntitySet {
  return { resourceServers: new Map(), scopes: new Map(), roles: new Map() };
}

/** { kind: { id: hash } }: what was written into a tenant, to tell drift from a pending change. */
export type Manifest = Record<EntityKind, Record<string, string>>;

export function manifestOf(set: EntitySet): Manifest {
  const m: Manifest = { 'resource-server': {}, scope: {}, role: {} };
  for (const r of set.resourceServers.values()) m['resource-server'][r.id] = entityHash('resource-server', r);
  for (const s of set.scopes.values()) m.scope[s.id] = entityHash('scope', s);
  for (const r of set.roles.values()) m.role[r.id] = entityHash('role', r);
  return m;
}

/** Hash of a whole set (ids and hashes sorted): equal definitions, equal hash. */
export const setHash = (set: EntitySet): string => sha256(canonicalJson(manifestOf(set)));

/** Labels for people: a resource server by identifier, a scope as "<identifier> <scope>", a role by name. */
export interface Labels {
  rs(id: string): string;
  scope(id: string): string;
  role(id: string): string;
}

export function labelsOf(...sets: EntitySet[]): Labels {
  const rs = new Map<string, string>();
  const scope = new Map<string, string>();
  const role = new Map<string, string>();
  for (const set of sets) for (const r of set.resourceServers.values()) if (!rs.has(r.id)) rs.set(r.id, r.identifier);
  for (const set of sets) for (const r of set.roles.values()) if (!role.has(r.id)) role.set(r.id, r.name);
  for (const set of sets) {
    for (const s of set.scopes.values())
      if (!scope.has(s.id)) scope.set(s.id, `${rs.get(s.resourceServerId) ?? s.resourceServerId} ${s.value}`);
  }
  return { rs: (id) => rs.get(id) ?? id, scope: (id) => scope.get(id) ?? id, role: (id) => role.get(id) ?? id };
}

/** Absent, null, "" and [] compare (and show) as "nothing". */
const empty = (v: unknown): unknown => (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0) ? null : v);

function fieldChanges<T extends object>(
  from: T | undefined,
  to: T | undefined,
  fields: (keyof T & string)[],
  render: (field: string, v: unknown) => FieldChange['from'] = (_f, v) => v as FieldChange['from'],
): FieldChange[] {
  const out: FieldChange[] = [];
  for (const f of fields) {
    const a = empty(from ? (from[f] as unknown) : undefined);
    const b = empty(to ? (to[f] as unknown) : undefined);
    if (canonicalJson(a) === canonicalJson(b)) continue;
    out.push({ field: f, from: a === null ? null : render(f, a), to: b === null ? null : render(f, b) });
  }
  return out;
}

/** The actual rows of a tenant, as read: the set plus each row's stored hash. */
export interface ActualRows {
  set: EntitySet;
  /** kind → id → system_hash column (null when missing). */
  storedHash: Record<EntityKind, Map<string, string | null>>;
  /** The manifest of the last sync, null when this tenant was never synced. */
  manifest: Manifest | null;
  /** [role id, permission id, is_system] of system roles and system rows. */
  rolePermissions: [string, string, boolean][];
}

/**
 * Drift: rows that differ from what the console last wrote (the manifest): edited (the row's
 * fields no longer hash to what was written), missing, or extra (a system row the console never wrote).
 */
export function findDrift(actual: ActualRows, labels: Labels): DriftFinding[] {
  const out: DriftFinding[] = [];
  const m = actual.manifest ?? { 'resource-server': {}, scope: {}, role: {} };
  const kinds: [EntityKind, Map<string, RsEntity | ScopeEntity | RoleEntity>][] = [
    ['resource-server', actual.set.resourceServers],
    ['scope', actual.set.scopes],
    ['role', actual.set.roles],
  ];
  const label = (kind: EntityKind, id: string, e?: RsEntity | ScopeEntity | RoleEntity) =>
    kind === 'resource-server'
      ? e
        ? (e as RsEntity).identifier
        : labels.rs(id)
      : kind === 'scope'
        ? labels.scope(id)
        : e
          ? (e as RoleEntity).name
          : labels.role(id);
  for (const [kind, rows] of kinds) {
    for (const [id, e] of rows) {
      const written = m[kind][id];
      if (written === undefined) out.push({ entity: kind, id, label: label(kind, id, e), kind: 'extra' });
      else if (entityHash(kind, e) !== written || actual.storedHash[kind].get(id) !== written)
        out.push({ entity: kind, id, label: label(kind, id, e), kind: 'edited' });
    }
    for (const id of Object.keys(m[kind])) if (!rows.has(id)) out.push({ entity: kind, id, label: label(kind, id), kind: 'missing' });
  }
  return out;
}

/**
 * Field-level diff from actual to desired: creates, updates (only the fields that differ
 * after normalisation) and deletes. A row whose fields match but whose stored hash does not
 * is updated too (its hash is rewritten), so the next plan is empty.
 */
export function diff(desired: EntitySet, actual: ActualRows, driftIds: Set<string> = new Set()): PlanChange[] {
  const labels = labelsOf(desired, actual.set);
  const out: PlanChange[] = [];
  const push = (c: Omit<PlanChange, 'drift'>) => out.push({ ...c, drift: driftIds.has(c.id) });
  const hashChange = (kind: EntityKind, id: string, e: RsEntity | ScopeEntity | RoleEntity): FieldChange[] => {
    const stored = actual.storedHash[kind].get(id) ?? null;
    const want = entityHash(kind, e);
    return stored === want ? [] : [{ field: 'definitionHash', from: stored, to: want }];
  };

  for (const [id, want] of desired.resourceServers) {
    const have = actual.set.resourceServers.get(id);
    if (!have)
      push({
        entity: 'resource-server',
        action: 'create',
        id,
        label: want.identifier,
        changes: fieldChanges(undefined, want, ['identifier', 'name']),
      });
    else {
      const changes = fieldChanges(have, want, ['identifier', 'name']);
      const all = changes.length ? changes : hashChange('resource-server', id, want);
      if (all.length) push({ entity: 'resource-server', action: 'update', id, label: want.identifier, changes: all });
    }
  }
  for (const [id, have] of actual.set.resourceServers) {
    if (!desired.resourceServers.has(id))
      push({
        entity: 'resource-server',
        action: 'delete',
        id,
        label: have.identifier,
        changes: fieldChanges(have, undefined, ['identifier', 'name']),
      });
  }

  const scopeFields: (keyof ScopeEntity & string)[] = ['value', 'description'];
  for (const [id, want] of desired.scopes) {
    const have = actual.set.scopes.get(id);
    if (!have)
      push({ entity: 'scope', action: 'create', id, label: labels.scope(id), changes: fieldChanges(undefined, want, scopeFields) });
    else {
      const changes = fieldChanges(have, want, [...scopeFields, 'resourceServerId'], (f, v) =>
        f === 'resourceServerId' ? labels.rs(v as string) : (v as string | null),
      );
      const all = changes.length ? changes : hashChange('scope', id, want);
      if (all.length) push({ entity: 'scope', action: 'update', id, label: labels.scope(id), changes: all });
    }
  }
  for (const [id, have] of actual.set.scopes) {
    if (!desired.scopes.has(id))
      push({ entity: 'scope', action: 'delete', id, label: labels.scope(id), changes: fieldChanges(have, undefined, scopeFields) });
  }

  const roleFields: (keyof RoleEntity & string)[] = ['name', 'description', 'permissions'];
  const renderRole = (f: string, v: unknown): FieldChange['from'] =>
    f === 'permissions' ? (v as string[]).map((s) => labels.scope(s)).sort() : (v as string | null);
  for (const [id, want] of desired.roles) {
    const have = actual.set.roles.get(id);
    if (!have)
      push({ entity: 'role', action: 'create', id, label: want.name, changes: fieldChanges(undefined, want, roleFields, renderRole) });
    else {
      const changes = fieldChanges(have, want, roleFields, renderRole);
      const all = changes.length ? changes : hashChange('role', id, want);
      if (all.length) push({ entity: 'role', action: 'update', id, label: want.name, changes: all });
    }
  }
  for (const [id, have] of actual.set.roles) {
    if (!desired.roles.has(id))
      push({ entity: 'role', action: 'delete', id, label: have.name, changes: fieldChanges(have, undefined, roleFields, renderRole) });
  }
  return out;
}
