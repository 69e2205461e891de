// Scoped roles in the pipeline (ipc/tenant-scope.ts): an operator scoped to acme and globex acts on
// those tenants only, sees only them in fleet lists and events, and every refusal is audited.
import { describe, expect, it } from 'vitest';
import { commands, type OperatorIdentity } from '../../../src-shared/contract';
import { memoryRecorder, type AuditRecord } from '../../../src-main/engine/audit/recorder';
import { createPipeline, type Handlers } from '../../../src-main/ipc/pipeline';
import { authorizeCommand, roleOnTenant, scopeEvent, tenantsNamedBy } from '../../../src-main/ipc/tenant-scope';
import { grantsFromGroups, roleFromGroups } from '../../../src-main/engine/operators/oidc';
import { clusterDeps } from '../helpers/pipeline-deps';

const scoped: OperatorIdentity = {
  id: 'member:sam',
  displayName: 'Sam',
  role: 'viewer',
  via: 'member',
  globalRole: false,
  grants: [{ role: 'operator', tenants: ['acme', 'globex'] }],
  member: { cluster: 'uid-a', username: 'sam', version: 1 },
};
const viewerPlus: OperatorIdentity = {
  id: 'member:vera',
  displayName: 'Vera',
  role: 'viewer',
  via: 'member',
  grants: [{ role: 'admin', tenants: ['acme'] }],
};

const tenantRow = (slug: string) => ({
  slug,
  name: slug,
  tier: 'DEV',
  status: 'active',
  created: null,
  schemaVersion: 1,
  licenseUsers: null,
  backendVersion: null,
  hasSecret: true,
  hasDatabase: true,
  inRegistry: true,
  stats: null,
  statsAt: null,
});
const listOutput = {
  clusterId: 'uid-a',
  tenants: ['acme', 'globex', 'initech'].map(tenantRow),
  drift: [{ slug: 'initech', kind: 'registry-without-secret', message: 'no Secret', repairs: [] }],
  refreshedAt: null,
  fromCache: true,
  apiCalls: 0,
};

function pipeline(operator: OperatorIdentity) {
  const records: AuditRecord[] = [];
  const ran: string[] = [];
  const table: Record<string, (input: unknown) => unknown> = {};
  for (const name of Object.keys(commands)) {
    table[name] = (input) => {
      ran.push(name);
      if (name === 'tenants.list') return listOutput;
      if (name === 'tenants.suspend') return { slug: (input as { slug: string }).slug, status: 'suspended', scaled: [] };
      return {};
    };
  }
  const p = createPipeline({
    handlers: table as unknown as Handlers,
    identify: () => operator,
    audit: memoryRecorder(records),
    ...clusterDeps({ online: true, lastSyncAt: null }),
    consoleVersion: 'test',
    logError: () => undefined,
  });
  return { p, records, ran };
}

describe('an operator scoped to acme and globex', () => {
  it('acts on acme and globex', async () => {
    const { p, ran } = pipeline(scoped);
    for (const slug of ['acme', 'globex']) {
      const r = await p.invoke('c', 'tenants.suspend', { slug });
      expect(r, slug).toMatchObject({ ok: true });
    }
    expect(ran).toEqual(['tenants.suspend', 'tenants.suspend']);
  });

  it('is refused on another tenant before the handler runs, with the reason, and the refusal is audited', async () => {
    const { p, records, ran } = pipeline(scoped);
    const r = await p.invoke('c', 'tenants.suspend', { slug: 'initech' });
    expect(r).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', details: { tenants: ['initech'] } } });
    if (!r.ok) expect(r.error.message).toMatch(/"initech".*operator.*Ask an admin/);
    expect(ran).toEqual([]);
    expect(records.at(-1)).toMatchObject({ actor: 'member:sam', action: 'tenants.suspend', outcome: 'denied', errorCode: 'FORBIDDEN' });
  });

  it('needs the role on every tenant a command names', async () => {
    const { p } = pipeline(scoped);
    const r = await p.invoke('c', 'entities.apply', { slugs: ['acme', 'initech'], revision: 1 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.details).toMatchObject({ tenants: ['initech'] });
  });

  it('is refused what its grant does not reach: admin commands on its own tenants, fleet-wide and cluster-wide changes', async () => {
    const { p } = pipeline(scoped);
    for (const [name, input] of [
      ['tenants.delete', { slug: 'acme', confirm: 'acme' }],
      ['rotation.fleet.resume', { fleetId: 'f' }],
      ['members.list', {}],
      ['rotation.fleet.status', {}],
    ] as const) {
      const r = await p.invoke('c', name, input);
      expect(r, name).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    }
  });

  it('sees only its tenants in the tenant list (rows and drift)', async () => {
    const { p } = pipeline(scoped);
    const r = await p.invoke('c', 'tenants.list', {});
    expect(r.ok ? null : r.error).toBeNull();
    if (r.ok) {
      const v = r.value as typeof listOutput;
      expect(v.tenants.map((t) => t.slug)).toEqual(['acme', 'globex']);
      expect(v.drift).toEqual([]);
    }
  });

  it('receives only its tenants in events, and no event about other tenants’ pods', () => {
    const changed = scopeEvent(scoped, 'tenants.changed', {
      clusterId: 'uid-a',
      upserted: [tenantRow('acme'), tenantRow('initech')],
      removed: ['globex', 'initech'],
      drift: [{ slug: 'initech' }],
    }) as { upserted: { slug: string }[]; removed: string[]; drift: unknown[] };
    expect(changed.upserted.map((t) => t.slug)).toEqual(['acme']);
    expect(changed.removed).toEqual(['globex']);
    expect(changed.drift).toEqual([]);
    expect(scopeEvent(scoped, 'infra.changed', { anything: true })).toBeNull();
    expect(scopeEvent(scoped, 'operation.progress', { target: 'initech' })).toBeNull();
    expect(scopeEvent(scoped, 'operation.progress', { target: 'acme' })).toEqual({ target: 'acme' });
    expect(scopeEvent(scoped, 'cluster.state', { state: 'online' })).toEqual({ state: 'online' });
    // a global operator gets everything unchanged
    const all = { upserted: [tenantRow('initech')], removed: [], drift: [] };
    expect(scopeEvent({ ...scoped, globalRole: undefined, grants: undefined, role: 'operator' }, 'tenants.changed', all)).toBe(all);
  });
});

describe('a global viewer with admin on acme', () => {
  it('reads every tenant, deletes acme, and is refused changes elsewhere', async () => {
    const { p } = pipeline(viewerPlus);
    const list = await p.invoke('c', 'tenants.list', {});
    if (list.ok) expect((list.value as typeof listOutput).tenants).toHaveLength(3);
    expect(roleOnTenant(viewerPlus, 'acme')).toBe('admin');
    expect(roleOnTenant(viewerPlus, 'globex')).toBe('viewer');
    expect(() => authorizeCommand(viewerPlus, 'tenants.suspend', commands['tenants.suspend'], { slug: 'globex' })).toThrow(/globex/);
    expect(authorizeCommand(viewerPlus, 'tenants.suspend', commands['tenants.suspend'], { slug: 'acme' })).toBeNull();
  });
});

describe('tenant descriptors', () => {
  it('every command whose input names a tenant slug declares which field (or fleet)', () => {
    const missing: string[] = [];
    for (const [name, def] of Object.entries(commands)) {
      const shape = (def.input as unknown as { shape?: Record<string, unknown>; _def?: { schema?: { shape?: Record<string, unknown> } } })
        .shape;
      const keys = Object.keys(shape ?? {});
      const namesTenant = keys.includes('slug') || keys.includes('slugs') || keys.includes('tenant');
      const d = def as { tenant?: unknown; fleet?: boolean };
      if (namesTenant && d.tenant === undefined && !d.fleet && !name.startsWith('members.') && !name.startsWith('tokens.'))
        missing.push(name);
    }
    expect(missing).toEqual([]);
  });

  it('reads the slug, the list of slugs, or every tenant when an optional slug is left out', () => {
    expect(tenantsNamedBy('tenants.get', { slug: 'acme' })).toEqual(['acme']);
    expect(tenantsNamedBy('entities.apply', { slugs: ['a', 'b', 'a'] })).toEqual(['a', 'b']);
    expect(tenantsNamedBy('tenants.list', {})).toBe('fleet');
    expect(tenantsNamedBy('backups.take', {})).toBe('fleet');
    expect(tenantsNamedBy('system.info', {})).toBeNull();
  });
});

describe('OIDC group mappings', () => {
  const mapping = {
    admin: ['platform-admins'],
    operator: [],
    viewer: ['everyone'],
    tenants: [
      { group: 'team-acme', role: 'operator' as const, tenants: ['acme'] },
      { group: 'team-globex', role: 'operator' as const, tenants: ['globex'] },
      { group: 'acme-leads', role: 'admin' as const, tenants: ['acme'] },
    ],
  };
  it('grant scoped roles, merged per role', () => {
    expect(roleFromGroups(['team-acme', 'team-globex'], mapping)).toBeNull();
    expect(grantsFromGroups(['team-acme', 'team-globex', 'acme-leads'], mapping)).toEqual([
      { role: 'operator', tenants: ['acme', 'globex'] },
      { role: 'admin', tenants: ['acme'] },
    ]);
    expect(grantsFromGroups(['everyone'], mapping)).toEqual([]);
  });
});

describe('a member changed or removed on another console', () => {
  function withRefresh(next: OperatorIdentity | null) {
    const records: AuditRecord[] = [];
    const table: Record<string, () => unknown> = {};
    for (const name of Object.keys(commands)) table[name] = () => ({ slug: 'acme', status: 'suspended', scaled: [] });
    const p = createPipeline({
      handlers: table as unknown as Handlers,
      identify: () => scoped,
      refreshIdentity: async () => next,
      audit: memoryRecorder(records),
      ...clusterDeps({ online: true, lastSyncAt: null }),
      consoleVersion: 'test',
      logError: () => undefined,
    });
    return { p, records };
  }

  it('acts with the re-read identity: a grant taken away applies at the next command', async () => {
    const { p, records } = withRefresh({
      ...scoped,
      grants: [{ role: 'operator', tenants: ['globex'] }],
      member: { cluster: 'uid-a', username: 'sam', version: 2 },
    });
    const r = await p.invoke('c', 'tenants.suspend', { slug: 'acme' });
    expect(r).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(records.at(-1)).toMatchObject({ outcome: 'denied' });
  });

  it('is signed out once removed, with the reason', async () => {
    const { p } = withRefresh(null);
    const r = await p.invoke('c', 'tenants.get', { slug: 'acme' });
    expect(r).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    if (!r.ok) expect(r.error.message).toMatch(/no longer a member/);
  });
});
