// Entity sync against real tenant databases (a private PostgreSQL: its gatehouse_control and
// its 20 tenants are this file's alone) and the harness API server (tenant Leases).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError } from '../../src-shared/contract';
import type { FleetPlan } from '../../src-shared/contract/entities';
import { PostgresAdmin } from '../../src-main/adapters/postgres';
import { entityHash, normaliseRole, normaliseRs, normaliseScope } from '../../src-main/engine/entities/model';
import { SYNC_ROLE } from '../../src-main/engine/entities';
import { tenantKube } from '../../src-main/engine/tenants/kube-ports';
import { tenantLeaseName } from '../../src-main/engine/tenants/lease';
import { adminClient, buildEntitiesEngine, createTenantDatabase, tenantClient, type EntitiesTestEngine } from './entities-env';
import { harnessOrReason, operatorNamespace, privatePostgres, tempDataDir, uniqueSlug } from './tenants-env';

const h = harnessOrReason();
const describeH = 'state' in h ? describe : describe.skip;
const here = path.dirname(fileURLToPath(import.meta.url));
const PASSWORD = 'tenant-role-password-for-tests';

async function expectCode(p: Promise<unknown>, code: string): Promise<ContractError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ContractError);
  expect((err as ContractError).code).toBe(code);
  return err as ContractError;
}

describeH('entity sync (real tenant databases)', () => {
  const state = 'state' in h ? h.state : (undefined as never);
  let server: Awaited<ReturnType<typeof privatePostgres>>;
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: EntitiesTestEngine;
  let admin: PostgresAdmin;
  const dataDir = tempDataDir();
  const consoleId = 'entities-console';
  const slugs = Array.from({ length: 20 }, (_, i) => `ent${String(i).padStart(2, '0')}-${uniqueSlug('x').slice(1, 5)}`);
  const ids = { api: '', reports: '', admin: '', viewer: '', empty: '' };

  const plan = (s?: string[]) => eng.entities.plan(eng.runtime, s ? { slugs: s } : {});
  const apply = async (s?: string[]) => {
    const { revision } = await eng.entities.list(eng.runtime);
    return eng.entities.apply(eng.runtime, { ...(s ? { slugs: s } : {}), revision, concurrency: 4 }, 'test:operator');
  };
  /** Every tenant's system rows, straight from its database. */
  async function systemRows(slug: string) {
    const c = await adminClient(server.config, slug);
    try {
      const rs = (await c.query('SELECT id, identifier, name, system_hash FROM resource_servers WHERE is_system ORDER BY identifier')).rows;
      const perms = (
        await c.query(
          'SELECT p.id, p.name, p.description, p.system_hash, r.identifier FROM permissions p JOIN resource_servers r ON r.id = p.resource_server_id WHERE p.is_system ORDER BY r.identifier, p.name',
        )
      ).rows;
      const roles = (await c.query('SELECT id, name, description, system_hash FROM roles WHERE is_system ORDER BY name')).rows;
      const rp = (
        await c.query(`SELECT r.name AS role, rs.identifier || ' ' || p.name AS perm FROM role_permissions x JOIN roles r ON r.id = x.role_id
                                   JOIN permissions p ON p.id = x.permission_id JOIN resource_servers rs ON rs.id = p.resource_server_id WHERE x.is_system ORDER BY 1, 2`)
      ).rows;
      return { rs, perms, roles, rp };
    } finally {
      await c.end();
    }
  }
  const onlyStatus = (p: FleetPlan) => [...new Set(p.tenants.map((t) => t.status))];

  beforeAll(async () => {
    server = await privatePostgres();
    ns = await operatorNamespace(state, 'gh-entities');
    admin = new PostgresAdmin(server.config);
    for (const slug of slugs) await createTenantDatabase(admin, slug, PASSWORD);
    eng = buildEntitiesEngine({ kubeconfig: state.kubeconfigs.operator, namespace: ns.namespace, pg: server.config, dataDir, consoleId });
  }, 180_000);
  afterAll(async () => {
    await eng?.close();
    await admin?.close();
    await ns?.remove();
    await server?.destroy();
  });

  it('defines entities and syncs them into 20 tenants as system rows with stable ids and hashes', async () => {
    const api = await eng.entities.createResourceServer(
      eng.runtime,
      {
        identifier: 'https://api.acme.test',
        name: 'Acme API',
        scopes: [
          { value: 'read:data', description: 'Read data' },
          { value: 'write:data', description: 'Write data' },
        ],
      },
      'test:operator',
    );
    const reports = await eng.entities.createResourceServer(
      eng.runtime,
      { identifier: 'urn:reports', name: 'Reports', scopes: [] },
      'test:operator',
    );
    ids.api = api.entity.id;
    ids.reports = reports.entity.id;
    const adminRole = await eng.entities.createRole(
      eng.runtime,
      {
        name: 'Admin',
        description: 'Administrator role',
        permissions: [
          { resourceServer: 'https://api.acme.test', scope: 'read:data' },
          { resourceServer: 'https://api.acme.test', scope: 'write:data' },
        ],
      },
      'test:operator',
    );
    const viewer = await eng.entities.createRole(
      eng.runtime,
      { name: 'Viewer', description: 'Reads', permissions: [{ resourceServer: 'https://api.acme.test', scope: 'read:data' }] },
      'test:operator',
    );
    const empty = await eng.entities.createRole(eng.runtime, { name: 'Empty', description: '', permissions: [] }, 'test:operator');
    ids.admin = adminRole.entity.id;
    ids.viewer = viewer.entity.id;
    ids.empty = empty.entity.id;

    const before = await plan();
    expect(before.tenants.map((t) => t.slug).sort()).toEqual([...slugs].sort());
    expect(before.summary.pending).toBe(20);
    // 2 resource servers, 2 scopes, 3 roles to create in each tenant
    expect(before.tenants[0]!.changes.map((c) => `${c.action} ${c.entity} ${c.label}`).sort()).toEqual([
      'create resource-server https://api.acme.test',
      'create resource-server urn:reports',
      'create role Admin',
      'create role Empty',
      'create role Viewer',
      'create scope https://api.acme.test read:data',
      'create scope https://api.acme.test write:data',
    ]);

    const out = await apply();
    expect(out.status).toBe('done');
    expect(out.summary).toMatchObject({ applied: 20, failed: 0, pending: 0 });

    const defs = await eng.entities.list(eng.runtime);
    const readScope = defs.resourceServers.find((r) => r.id === ids.api)!.scopes.find((s) => s.value === 'read:data')!;
    for (const slug of slugs) {
      const rows = await systemRows(slug);
      expect(rows.rs.map((r) => [r.id, r.identifier])).toEqual([
        [ids.api, 'https://api.acme.test'],
        [ids.reports, 'urn:reports'],
      ]);
      expect(rows.rs[0].system_hash).toBe(
        entityHash('resource-server', normaliseRs({ id: ids.api, identifier: 'https://api.acme.test', name: 'Acme API' })),
      );
      expect(rows.perms.map((p) => `${p.identifier} ${p.name}`)).toEqual([
        'https://api.acme.test read:data',
        'https://api.acme.test write:data',
      ]);
      expect(rows.perms[0].id).toBe(readScope.id);
      expect(rows.perms[0].system_hash).toBe(
        entityHash('scope', normaliseScope({ id: readScope.id, resourceServerId: ids.api, value: 'read:data', description: 'Read data' })),
      );
      expect(rows.roles.map((r) => [r.id, r.name, r.description])).toEqual([
        [ids.admin, 'Admin', 'Administrator role'],
        [ids.empty, 'Empty', null],
        [ids.viewer, 'Viewer', 'Reads'],
      ]);
      expect(rows.roles[1].system_hash).toBe(entityHash('role', normaliseRole({ id: ids.empty, name: 'Empty' })));
      expect(rows.rp).toEqual([
        { role: 'Admin', perm: 'https://api.acme.test read:data' },
        { role: 'Admin', perm: 'https://api.acme.test write:data' },
        { role: 'Viewer', perm: 'https://api.acme.test read:data' },
      ]);
    }
    const after = await plan();
    expect(onlyStatus(after)).toEqual(['in-sync']);
    expect(after.tenants.every((t) => t.changes.length === 0 && t.appliedRevision === defs.revision)).toBe(true);
  });

  it('editing one definition: the plan shows only that change, field by field; apply writes it everywhere', async () => {
    const defs = await eng.entities.list(eng.runtime);
    const viewer = defs.roles.find((r) => r.id === ids.viewer)!;
    const upd = await eng.entities.updateRole(
      eng.runtime,
      {
        id: viewer.id,
        version: viewer.version,
        name: 'Viewer',
        description: 'Reads data only',
        permissions: [{ resourceServer: 'https://api.acme.test', scope: 'read:data' }],
      },
      'test:operator',
    );
    expect(upd.changed).toBe(true);
    expect(upd.revision).toBe(defs.revision + 1);
    const p = await plan();
    expect(p.summary.pending).toBe(20);
    for (const t of p.tenants) {
      expect(t.changes).toEqual([
        {
          entity: 'role',
          action: 'update',
          id: ids.viewer,
          label: 'Viewer',
          drift: false,
          changes: [{ field: 'description', from: 'Reads', to: 'Reads data only' }],
        },
      ]);
    }
    const out = await apply();
    expect(out.summary.applied).toBe(20);
    for (const slug of slugs) expect((await systemRows(slug)).roles.find((r) => r.name === 'Viewer')!.description).toBe('Reads data only');
    expect(onlyStatus(await plan())).toEqual(['in-sync']);
  });

  it('removing a permission removes it from every tenant, and deleting a scope removes its permission row (rancher #43292)', async () => {
    // A tenant-owned role granted the system permission write:data in one tenant: it stays, it only loses that grant.
    const own = await tenantClient(server.config, slugs[3]!, PASSWORD);
    try {
      await own.query(`INSERT INTO roles (name, description) VALUES ('Local editors', 'tenant-owned')`);
      await own.query(
        `INSERT INTO role_permissions (role_id, permission_id) SELECT r.id, p.id FROM roles r, permissions p WHERE r.name = 'Local editors' AND p.name = 'write:data'`,
      );
    } finally {
      await own.end();
    }
    let defs = await eng.entities.list(eng.runtime);
    const adminRole = defs.roles.find((r) => r.id === ids.admin)!;
    await eng.entities.updateRole(
      eng.runtime,
      {
        id: adminRole.id,
        version: adminRole.version,
        name: 'Admin',
        description: 'Administrator role',
        permissions: [{ resourceServer: 'https://api.acme.test', scope: 'read:data' }],
      },
      'test:operator',
    );
    const p = await plan();
    expect(p.tenants[0]!.changes).toEqual([
      {
        entity: 'role',
        action: 'update',
        id: ids.admin,
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
    await apply();
    for (const slug of slugs)
      expect((await systemRows(slug)).rp.filter((r) => r.role === 'Admin')).toEqual([
        { role: 'Admin', perm: 'https://api.acme.test read:data' },
      ]);

    defs = await eng.entities.list(eng.runtime);
    const api = defs.resourceServers.find((r) => r.id === ids.api)!;
    await eng.entities.updateResourceServer(
      eng.runtime,
      {
        id: api.id,
        version: api.version,
        identifier: api.identifier,
        name: api.name,
        scopes: [{ value: 'read:data', description: 'Read data' }],
      },
      'test:operator',
    );
    const p2 = await plan();
    expect(p2.tenants[0]!.changes.map((c) => `${c.action} ${c.entity} ${c.label}`)).toEqual([
      'delete scope https://api.acme.test write:data',
    ]);
    const out = await apply();
    expect(out.summary.applied).toBe(20);
    for (const slug of slugs) expect((await systemRows(slug)).perms.map((x) => x.name)).toEqual(['read:data']);
    const c = await adminClient(server.config, slugs[3]!);
    try {
      expect((await c.query(`SELECT description FROM roles WHERE name = 'Local editors' AND NOT is_system`)).rows).toEqual([
        { description: 'tenant-owned' },
      ]);
      expect((await c.query(`SELECT count(*)::int AS n FROM permissions WHERE name = 'write:data'`)).rows[0].n).toBe(0);
    } finally {
      await c.end();
    }
    expect(onlyStatus(await plan())).toEqual(['in-sync']);
  });

  it('[] and absent are the same value: no revision, no diff, no re-sync (rancher #45517)', async () => {
    const defs = await eng.entities.list(eng.runtime);
    const reports = defs.resourceServers.find((r) => r.id === ids.reports)!;
    const empty = defs.roles.find((r) => r.id === ids.empty)!;
    // Created with scopes: [] and description "", now sent with both absent / null.
    const a = await eng.entities.updateResourceServer(
      eng.runtime,
      { id: reports.id, version: reports.version, identifier: reports.identifier, name: reports.name },
      'test:operator',
    );
    const b = await eng.entities.updateRole(
      eng.runtime,
      { id: empty.id, version: empty.version, name: 'Empty', description: null },
      'test:operator',
    );
    const c = await eng.entities.updateRole(
      eng.runtime,
      { id: empty.id, version: empty.version, name: 'Empty', permissions: [] },
      'test:operator',
    );
    expect([a.changed, b.changed, c.changed]).toEqual([false, false, false]);
    expect((await eng.entities.list(eng.runtime)).revision).toBe(defs.revision);
    const p = await plan();
    expect(p.tenants.flatMap((t) => t.changes)).toEqual([]);
    // and the tenant's NULL description / no role_permissions rows equal the definition's "" / []
    expect(onlyStatus(p)).toEqual(['in-sync']);
    const out = await apply();
    expect(out.summary).toMatchObject({ applied: 0, unchanged: 20 });
  });

  it("the tenant's own role cannot write system rows (clear error), and keeps full control of its own rows", async () => {
    const c = await tenantClient(server.config, slugs[0]!, PASSWORD);
    try {
      const refused = async (sql: string) => {
        const err = (await c.query(sql).then(
          () => null,
          (e: unknown) => e,
        )) as { code?: string; message: string; hint?: string } | null;
        expect(err, sql).not.toBeNull();
        expect(err!.code, sql).toBe('42501');
        return err!;
      };
      const upd = await refused(`UPDATE roles SET description = 'hacked' WHERE name = 'Admin'`);
      expect(upd.message).toBe(
        'role "Admin" is a system entity synced from the Gatehouse control plane and cannot be changed in this tenant (UPDATE refused)',
      );
      expect(upd.hint).toMatch(/change them there/);
      expect((await refused(`DELETE FROM roles WHERE name = 'Viewer'`)).message).toMatch(/role "Viewer" is a system entity/);
      expect((await refused(`UPDATE resource_servers SET name = 'x' WHERE identifier = 'urn:reports'`)).message).toMatch(
        /resource server "Reports" is a system entity/,
      );
      await refused(`DELETE FROM permissions WHERE is_system`);
      await refused(`INSERT INTO roles (name, is_system) VALUES ('Forged', true)`);
      await c.query(`INSERT INTO roles (name, description) VALUES ('Support', 'tenant-owned')`);
      await refused(`UPDATE roles SET is_system = true WHERE name = 'Support'`);
      await refused(`INSERT INTO permissions (resource_server_id, name) VALUES ('${ids.api}', 'sneaky:scope')`);
      await refused(
        `INSERT INTO role_permissions (role_id, permission_id) SELECT '${ids.viewer}', id FROM permissions WHERE is_system LIMIT 1`,
      );
      await refused(`DELETE FROM role_permissions WHERE is_system`);
      await refused(`UPDATE system_entity_state SET revision = 0`);
      await refused(`TRUNCATE roles CASCADE`);
      await refused(`TRUNCATE applications CASCADE`); // cascades into roles through roles.application_id
      // The bypass is a role the tenant cannot become, not a setting it could set.
      await refused(`SET ROLE ${SYNC_ROLE}`);
      // Its own rows: create, edit, grant a system permission, delete.
      await c.query(`UPDATE roles SET description = 'edited' WHERE name = 'Support'`);
      await c.query(
        `INSERT INTO role_permissions (role_id, permission_id) SELECT r.id, p.id FROM roles r, permissions p WHERE r.name = 'Support' AND p.is_system`,
      );
      await c.query(`DELETE FROM roles WHERE name = 'Support'`);
    } finally {
      await c.end();
    }
    expect((await plan([slugs[0]!])).tenants[0]!.status).toBe('in-sync');
  });

  it('drift (edited, missing, extra, protection disabled) is detected and repaired without touching tenant-owned rows', async () => {
    const [edited, missing, extra, disabled] = [slugs[5]!, slugs[6]!, slugs[7]!, slugs[8]!];
    const behind = async (slug: string, sql: string[]) => {
      const c = await adminClient(server.config, slug);
      try {
        // What a DBA restoring rows by hand does: triggers off for this session (superuser only).
        await c.query(`SET session_replication_role = replica`);
        for (const s of sql) await c.query(s);
      } finally {
        await c.end();
      }
    };
    await behind(edited, [`UPDATE roles SET description = 'changed behind the console' WHERE name = 'Admin'`]);
    await behind(missing, [`DELETE FROM role_permissions WHERE role_id = '${ids.viewer}'`, `DELETE FROM roles WHERE name = 'Viewer'`]);
    await behind(extra, [`INSERT INTO roles (name, is_system, system_hash) VALUES ('Ghost', true, 'x')`]);
    // The tenant role owns its tables: it can switch the trigger off (DDL). The plan must see that.
    const own = await tenantClient(server.config, disabled, PASSWORD);
    try {
      await own.query(`INSERT INTO roles (name, description) VALUES ('Mine', 'keep me')`);
      await own.query(`ALTER TABLE roles DISABLE TRIGGER gatehouse_protect_rows`);
      await own.query(`UPDATE roles SET name = 'Admin (renamed by tenant)' WHERE id = '${ids.admin}'`);
    } finally {
      await own.end();
    }

    const p = await plan();
    const by = new Map(p.tenants.map((t) => [t.slug, t]));
    expect(p.summary.drift).toBe(4);
    expect(p.summary['in-sync']).toBe(16);
    expect(by.get(edited)!.drift).toEqual([{ entity: 'role', id: ids.admin, label: 'Admin', kind: 'edited' }]);
    expect(by.get(edited)!.changes).toEqual([
      {
        entity: 'role',
        action: 'update',
        id: ids.admin,
        label: 'Admin',
        drift: true,
        changes: [{ field: 'description', from: 'changed behind the console', to: 'Administrator role' }],
      },
    ]);
    expect(by.get(missing)!.drift).toEqual([{ entity: 'role', id: ids.viewer, label: 'Viewer', kind: 'missing' }]);
    expect(by.get(missing)!.changes.map((c) => `${c.action} ${c.label} ${c.drift}`)).toEqual(['create Viewer true']);
    expect(by.get(extra)!.drift.map((d) => `${d.kind} ${d.label}`)).toEqual(['extra Ghost']);
    expect(by.get(extra)!.changes.map((c) => `${c.action} ${c.label}`)).toEqual(['delete Ghost']);
    expect(by.get(disabled)!.protection).toEqual({ ok: false, problems: ['trigger gatehouse_protect_rows on roles is disabled'] });
    expect(by.get(disabled)!.drift.map((d) => `${d.kind} ${d.label}`)).toEqual(['edited Admin (renamed by tenant)']);

    const out = await apply([edited, missing, extra, disabled]);
    expect(out.summary).toMatchObject({ applied: 4, failed: 0 });
    expect(onlyStatus(await plan())).toEqual(['in-sync']);
    expect((await systemRows(edited)).roles.find((r) => r.name === 'Admin')!.description).toBe('Administrator role');
    expect((await systemRows(missing)).rp.filter((r) => r.role === 'Viewer')).toEqual([
      { role: 'Viewer', perm: 'https://api.acme.test read:data' },
    ]);
    expect((await systemRows(extra)).roles.map((r) => r.name)).toEqual(['Admin', 'Empty', 'Viewer']);
    const again = await tenantClient(server.config, disabled, PASSWORD);
    try {
      // protection restored: the same UPDATE is refused again; the tenant's own row is untouched
      expect(
        await again.query(`UPDATE roles SET name = 'x' WHERE id = '${ids.admin}'`).then(
          () => null,
          (e: { code?: string }) => e.code,
        ),
      ).toBe('42501');
      expect((await again.query(`SELECT description FROM roles WHERE name = 'Mine'`)).rows).toEqual([{ description: 'keep me' }]);
    } finally {
      await again.end();
    }
  });

  it('a tenant-owned row with the same name blocks only its tenant; the others apply, and a resume finishes once it is renamed', async () => {
    const blocked = slugs[10]!;
    const own = await tenantClient(server.config, blocked, PASSWORD);
    try {
      await own.query(`INSERT INTO roles (name, description) VALUES ('Auditor', 'the tenant''s own auditor')`);
    } finally {
      await own.end();
    }
    await eng.entities.createRole(
      eng.runtime,
      { name: 'Auditor', permissions: [{ resourceServer: 'https://api.acme.test', scope: 'read:data' }] },
      'test:operator',
    );
    const p = await plan();
    expect(p.summary).toMatchObject({ pending: 19, conflict: 1 });
    expect(p.tenants.find((t) => t.slug === blocked)!.conflicts[0]).toMatch(
      /tenant-owned role "Auditor" has the name of the definition "Auditor"/,
    );
    const out = await apply();
    expect(out.status).toBe('partial');
    expect(out.summary).toMatchObject({ applied: 19, failed: 1 });
    expect(out.results.find((r) => r.slug === blocked)!.message).toMatch(/was not changed: tenant-owned role "Auditor"/);
    const c = await adminClient(server.config, blocked);
    try {
      expect((await c.query(`SELECT description, is_system FROM roles WHERE name = 'Auditor'`)).rows).toEqual([
        { description: "the tenant's own auditor", is_system: false },
      ]);
    } finally {
      await c.end();
    }
    const unfinished = eng.saga.listUnfinished().filter((o) => o.id === out.operationId);
    expect(unfinished.map((o) => o.status)).toEqual(['failed']);
    await expectCode(eng.tenants.resumeOperation(out.operationId), 'CONFLICT');

    const fix = await tenantClient(server.config, blocked, PASSWORD);
    try {
      await fix.query(`UPDATE roles SET name = 'Tenant auditor' WHERE name = 'Auditor'`);
    } finally {
      await fix.end();
    }
    const resumed = await eng.tenants.resumeOperation(out.operationId);
    expect(resumed.status).toBe('done');
    expect(eng.entities.result(out.operationId).summary).toMatchObject({ applied: 20, failed: 0 });
    expect(onlyStatus(await plan())).toEqual(['in-sync']);
  });

  it('an apply at a revision older than the definitions is refused before anything is journaled', async () => {
    const { revision } = await eng.entities.list(eng.runtime);
    const before = eng.saga.listUnfinished().length;
    const err = await expectCode(eng.entities.apply(eng.runtime, { revision: revision - 1, concurrency: 4 }), 'CONFLICT');
    expect(err.message).toMatch(/changed since this plan/);
    expect(eng.saga.listUnfinished().length).toBe(before);
  });

  it('a new tenant receives the current definitions in its create saga', async () => {
    const slug = uniqueSlug('entnew');
    const out = await eng.tenants.create(eng.runtime, { slug, name: 'New tenant', tier: 'DEV' });
    const names = out.steps.map((s) => s.name);
    expect(names[names.indexOf('schema') + 1]).toBe('system-entities');
    expect(out.steps.every((s) => s.status === 'done')).toBe(true);
    const rows = await systemRows(slug);
    expect(rows.roles.map((r) => r.id)).toEqual(expect.arrayContaining([ids.admin, ids.viewer, ids.empty]));
    expect((await plan([slug])).tenants[0]!.status).toBe('in-sync');
    await eng.tenants.delete(eng.runtime, slug, false);
  }, 60_000);

  it('SIGKILL in the middle of the fan-out → the operation is interrupted, a resume finishes every tenant', async () => {
    const defs = await eng.entities.list(eng.runtime);
    const reports = defs.resourceServers.find((r) => r.id === ids.reports)!;
    await eng.entities.updateResourceServer(
      eng.runtime,
      { id: reports.id, version: reports.version, identifier: reports.identifier, name: 'Reports v2', scopes: [{ value: 'export' }] },
      'test:operator',
    );
    const { revision } = await eng.entities.list(eng.runtime);
    await eng.close();
    const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'entities-crash-child.ts')], {
      env: {
        ...process.env,
        GATEHOUSE_ENTITIES_CRASH_AFTER: '7',
        ENTITIES_CRASH_CHILD: JSON.stringify({
          kubeconfig: state.kubeconfigs.operator,
          namespace: ns.namespace,
          pg: server.config,
          dataDir,
          consoleId,
          revision,
          slugs,
        }),
      },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(child.signal, `the child must die by SIGKILL mid-fan-out; stderr: ${child.stderr}`).toBe('SIGKILL');
    eng = buildEntitiesEngine({ kubeconfig: state.kubeconfigs.operator, namespace: ns.namespace, pg: server.config, dataDir, consoleId });
    const [op] = eng.saga.listUnfinished().filter((o) => o.kind === 'entities.sync');
    expect(op?.status).toBe('interrupted');
    const mid = eng.entities.result(op!.id);
    expect(mid.status).toBe('interrupted');
    // 7 tenants committed; the journal may not have recorded the last few (killed between commit and journal)
    expect(mid.summary.applied).toBeGreaterThan(0);
    expect(mid.summary.applied).toBeLessThan(7);
    expect(mid.summary.pending).toBeGreaterThan(0);
    const midPlan = await plan();
    expect(midPlan.summary.pending).toBeGreaterThan(0);
    expect(midPlan.summary['in-sync']).toBeGreaterThanOrEqual(7);

    const resumed = await eng.tenants.resumeOperation(op!.id);
    expect(resumed.status).toBe('done');
    const final = eng.entities.result(op!.id);
    expect(final.summary).toMatchObject({ failed: 0, pending: 0 });
    expect(final.summary.applied + final.summary.unchanged).toBe(20);
    expect(onlyStatus(await plan())).toEqual(['in-sync']);
    // no Lease is left behind, not even one the killed run held for a tenant in flight
    const kube = tenantKube(eng.runtime.kube, ns.namespace);
    for (const slug of slugs) expect(await kube.getLease(tenantLeaseName(slug)), slug).toBeNull();
    for (const slug of slugs) {
      const rows = await systemRows(slug);
      expect(rows.rs.find((r) => r.id === ids.reports)!.name).toBe('Reports v2');
      expect(rows.perms.filter((p) => p.identifier === 'urn:reports').map((p) => p.name)).toEqual(['export']);
    }
  }, 180_000);
});

// What a production profile has: an admin with CREATEROLE and CREATEDB, not a superuser.
describeH('entity sync with a non-superuser admin (CREATEROLE, CREATEDB)', () => {
  const state = 'state' in h ? h.state : (undefined as never);
  let server: Awaited<ReturnType<typeof privatePostgres>>;
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: EntitiesTestEngine;
  let admin: PostgresAdmin;
  const slugs = ['lim-a', 'lim-b'];
  let limited: typeof server.config;

  beforeAll(async () => {
    server = await privatePostgres();
    const root = new PostgresAdmin(server.config);
    await root.query(`CREATE ROLE gh_limited LOGIN CREATEROLE CREATEDB NOSUPERUSER PASSWORD 'limited-admin-password'`);
    await root.close();
    limited = { ...server.config, user: 'gh_limited', password: 'limited-admin-password' };
    admin = new PostgresAdmin(limited);
    expect((await admin.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user'))[0]!.rolsuper).toBe(
      false,
    );
    for (const slug of slugs) await createTenantDatabase(admin, slug, PASSWORD);
    ns = await operatorNamespace(state, 'gh-entities-lim');
    eng = buildEntitiesEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: limited,
      dataDir: tempDataDir(),
      consoleId: 'entities-limited',
    });
  }, 120_000);
  afterAll(async () => {
    await eng?.close();
    await admin?.close();
    await ns?.remove();
    await server?.destroy();
  });

  it('defines, applies, protects and repairs exactly as with a superuser', async () => {
    await eng.entities.createResourceServer(
      eng.runtime,
      { identifier: 'urn:billing', name: 'Billing', scopes: [{ value: 'pay' }] },
      'test:operator',
    );
    await eng.entities.createRole(
      eng.runtime,
      { name: 'Payer', permissions: [{ resourceServer: 'urn:billing', scope: 'pay' }] },
      'test:operator',
    );
    const { revision } = await eng.entities.list(eng.runtime);
    expect((await eng.entities.apply(eng.runtime, { revision, concurrency: 2 })).summary).toMatchObject({ applied: 2, failed: 0 });
    const c = await tenantClient(server.config, slugs[0]!, PASSWORD);
    try {
      expect(
        await c.query(`UPDATE roles SET description = 'x' WHERE name = 'Payer'`).then(
          () => null,
          (e: { code?: string }) => e.code,
        ),
      ).toBe('42501');
      await c.query(`ALTER TABLE role_permissions DISABLE TRIGGER gatehouse_protect_rows`);
    } finally {
      await c.end();
    }
    const drifted = await eng.entities.plan(eng.runtime, {});
    expect(drifted.tenants.map((t) => t.status)).toEqual(['drift', 'in-sync']);
    expect((await eng.entities.apply(eng.runtime, { revision, concurrency: 2, slugs: [slugs[0]!] })).summary).toMatchObject({ applied: 1 });
    expect((await eng.entities.plan(eng.runtime, {})).tenants.map((t) => t.status)).toEqual(['in-sync', 'in-sync']);
  });
});
