import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
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
  setHash,
  type ActualRows,
  type EntitySet,
} from '../../../src-main/engine/entities/model';
import { planTenant, protectionSpec, type TenantObservation } from '../../../src-main/engine/entities/tenant-sync';
import { DEFAULT_MIGRATIONS_DIR } from '../../../src-main/engine/tenants/schema';

const RS = '00000000-0000-4000-8000-000000000001';
const READ = '00000000-0000-4000-8000-000000000002';
const WRITE = '00000000-0000-4000-8000-000000000003';
const ADMIN = '00000000-0000-4000-8000-000000000004';

function defs(
  over: {
    adminDescription?: string | null | undefined;
    adminPermissions?: string[] | undefined;
    readDescription?: string | null | undefined;
  } = {},
): EntitySet {
  const set = emptySet();
  set.resourceServers.set(RS, normaliseRs({ id: RS, identifier: 'https://api.acme.test', name: 'Acme API' }));
  set.scopes.set(
    READ,
    normaliseScope({
      id: READ,
      resourceServerId: RS,
      value: 'read:data',
      description: 'readDescription' in over ? over.readDescription : 'Read data',
    }),
  );
  set.scopes.set(WRITE, normaliseScope({ id: WRITE, resourceServerId: RS, value: 'write:data' }));
  set.roles.set(
    ADMIN,
    normaliseRole({
      id: ADMIN,
      name: 'Admin',
      description: 'adminDescription' in over ? over.adminDescription : 'Administrator',
      permissions: 'adminPermissions' in over ? over.adminPermissions : [READ, WRITE],
    }),
  );
  return set;
}

/** A tenant that holds exactly `set`, as the sync writes it (hashes and manifest). */
function tenantHolding(set: EntitySet): ActualRows {
  const m = manifestOf(set);
  return {
    set,
    storedHash: {
      'resource-server': new Map(Object.entries(m['resource-server'])),
      scope: new Map(Object.entries(m.scope)),
      role: new Map(Object.entries(m.role)),
    },
    manifest: m,
    rolePermissions: [...set.roles.values()].flatMap((r) => r.permissions.map((p) => [r.id, p, true] as [string, string, boolean])),
  };
}

describe('normalisation: equivalent values are equal (rancher #45517)', () => {
  it('"" / null / absent descriptions and [] / absent / reordered permissions hash the same', () => {
    const base = entityHash('role', normaliseRole({ id: ADMIN, name: 'Admin' }));
    expect(entityHash('role', normaliseRole({ id: ADMIN, name: 'Admin', description: '', permissions: [] }))).toBe(base);
    expect(entityHash('role', normaliseRole({ id: ADMIN, name: 'Admin', description: null, permissions: undefined }))).toBe(base);
    expect(entityHash('role', normaliseRole({ id: ADMIN, name: 'Admin', description: 'x' }))).not.toBe(base);
    expect(normaliseRole({ id: ADMIN, name: 'A', permissions: [WRITE, READ, WRITE] }).permissions).toEqual([READ, WRITE]);
    expect(setHash(defs({ adminPermissions: [WRITE, READ] }))).toBe(setHash(defs()));
    expect(setHash(defs({ readDescription: 'changed' }))).not.toBe(setHash(defs()));
  });

  it('a tenant holding "" where the definition has nothing shows no change', () => {
    const actual = tenantHolding(defs({ adminDescription: '' }));
    expect(diff(defs({ adminDescription: undefined }), actual)).toEqual([]);
    expect(diff(defs({ adminDescription: null }), tenantHolding(defs({ adminDescription: undefined })))).toEqual([]);
  });
});

describe('diff: field-level, only what differs', () => {
  it('an empty tenant gets creates of everything, without empty fields listed', () => {
    const changes = diff(defs(), tenantHolding(emptySet()));
    expect(changes.map((c) => `${c.action} ${c.entity} ${c.label}`)).toEqual([
      'create resource-server https://api.acme.test',
      'create scope https://api.acme.test read:data',
      'create scope https://api.acme.test write:data',
      'create role Admin',
    ]);
    expect(changes.find((c) => c.label === 'https://api.acme.test write:data')!.changes).toEqual([
      { field: 'value', from: null, to: 'write:data' },
    ]);
  });

  it('one edited field → one update naming that field; a removed permission → the permission list, by label', () => {
    const actual = tenantHolding(defs());
    expect(diff(defs({ adminDescription: 'Admins' }), actual)).toEqual([
      {
        entity: 'role',
        action: 'update',
        id: ADMIN,
        label: 'Admin',
        drift: false,
        changes: [{ field: 'description', from: 'Administrator', to: 'Admins' }],
      },
    ]);
    expect(diff(defs({ adminPermissions: [READ] }), actual)).toEqual([
      {
        entity: 'role',
        action: 'update',
        id: ADMIN,
        label: 'Admin',
        drift: false,
        changes: [
          {
            field: 'permissions',
            from: ['https://api.acme.test read:data', 'https://api.acme.test write:data'],
            to: ['https://api.acme.test read:data'],
          },
        ],
      },
    ]);
  });

  it('a definition removed is a delete; a row whose fields match but whose stored hash does not gets its hash rewritten', () => {
    const smaller = defs();
    smaller.scopes.delete(WRITE);
    smaller.roles.set(ADMIN, normaliseRole({ id: ADMIN, name: 'Admin', description: 'Administrator', permissions: [READ] }));
    const out = diff(smaller, tenantHolding(defs()));
    expect(out.map((c) => `${c.action} ${c.label}`)).toEqual(['delete https://api.acme.test write:data', 'update Admin']);
    const stale = tenantHolding(defs());
    stale.storedHash.role.set(ADMIN, 'not-the-hash');
    expect(diff(defs(), stale)).toEqual([
      {
        entity: 'role',
        action: 'update',
        id: ADMIN,
        label: 'Admin',
        drift: false,
        changes: [{ field: 'definitionHash', from: 'not-the-hash', to: entityHash('role', defs().roles.get(ADMIN)!) }],
      },
    ]);
  });
});

describe('drift: what differs from what the console last wrote', () => {
  it('finds edited, missing and extra rows', () => {
    const actual = tenantHolding(defs());
    actual.set.roles.set(ADMIN, { ...actual.set.roles.get(ADMIN)!, description: 'edited behind' });
    actual.set.scopes.delete(WRITE);
    const GHOST = '00000000-0000-4000-8000-000000000009';
    actual.set.roles.set(GHOST, normaliseRole({ id: GHOST, name: 'Ghost' }));
    const found = findDrift(actual, labelsOf(defs(), actual.set));
    expect(found.map((d) => `${d.kind} ${d.entity} ${d.label}`).sort()).toEqual([
      'edited role Admin',
      'extra role Ghost',
      'missing scope https://api.acme.test write:data',
    ]);
  });

  it('a never-synced tenant with system rows has them all as extra; a synced one in sync has none', () => {
    const never = { ...tenantHolding(defs()), manifest: null };
    expect(findDrift(never, labelsOf(defs())).every((d) => d.kind === 'extra')).toBe(true);
    expect(findDrift(tenantHolding(defs()), labelsOf(defs()))).toEqual([]);
  });
});

describe('planTenant: status', () => {
  const obs = (actual: ActualRows, over: Partial<TenantObservation> = {}): TenantObservation => ({
    schemaVersion: 4,
    protection: { ok: true, problems: [], tenantInSyncRole: false },
    actual,
    tenantOwned: { resourceServers: [], roles: [] },
    state: { revision: 3, hash: 'h', manifest: actual.manifest! },
    ...over,
  });
  it('in-sync, pending, drift, conflict, schema-behind', () => {
    expect(planTenant('a', defs(), obs(tenantHolding(defs()))).status).toBe('in-sync');
    expect(planTenant('a', defs({ adminDescription: 'new' }), obs(tenantHolding(defs()))).status).toBe('pending');
    expect(
      planTenant(
        'a',
        defs(),
        obs(tenantHolding(defs()), { protection: { ok: false, problems: ['trigger x is disabled'], tenantInSyncRole: false } }),
      ).status,
    ).toBe('drift');
    const conflict = planTenant(
      'a',
      defs(),
      obs(tenantHolding(emptySet()), { tenantOwned: { resourceServers: [], roles: [{ id: 'other', name: 'Admin' }] } }),
    );
    expect(conflict.status).toBe('conflict');
    expect(conflict.conflicts[0]).toMatch(/tenant-owned role "Admin" has the name of the definition "Admin"/);
    const behind = planTenant('a', defs(), obs(tenantHolding(emptySet()), { schemaVersion: 3 }));
    expect(behind.status).toBe('schema-behind');
    expect(behind.error).toMatch(/Apply the tenant schema migrations first/);
  });
});

describe('protection spec', () => {
  it('is read from the shipped migration: both protection functions, hashed as PostgreSQL stores their body', () => {
    const sql = fs.readFileSync(path.join(DEFAULT_MIGRATIONS_DIR, '0004_system_entities.sql'), 'utf8');
    const spec = protectionSpec(sql);
    expect(Object.keys(spec.functionHashes).sort()).toEqual(['gatehouse_protect_system_rows', 'gatehouse_protect_system_truncate']);
    expect(() => protectionSpec('SELECT 1')).toThrow(/does not define the protection functions/);
    // the bypass is a role, never a setting the tenant could set itself
    expect(sql).toMatch(/current_user = 'gatehouse_entity_sync'/);
    expect(sql).not.toMatch(/current_setting/);
  });
});
