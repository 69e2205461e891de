// Tenant lifecycle against the real API server (operator kubeconfig, least privilege)
// and the real PostgreSQL of the harness.
import fs from 'node:fs';
import path from 'node:path';
import { KubeConfig, AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import pg from 'pg';
import argon2 from 'argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationProgress } from '../../src-shared/contract';
import { ContractError } from '../../src-shared/contract';
import { PostgresAdmin } from '../../src-main/adapters/postgres';
import { DEFAULT_MIGRATIONS_DIR } from '../../src-main/engine/tenants/schema';
import { TenantService } from '../../src-main/engine/tenants/service';
import { SagaRunner } from '../../src-main/engine/core/saga';
import {
  buildTenantEngine,
  harnessOrReason,
  harnessPg,
  operatorNamespace,
  tempDataDir,
  uniqueSlug,
  type TenantTestEngine,
} from './tenants-env';

const h = harnessOrReason();
if ('reason' in h) console.warn(h.reason);
const describeH = 'state' in h ? describe : describe.skip;

async function expectCode(p: Promise<unknown>, code: string): Promise<ContractError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ContractError);
  expect((err as ContractError).code).toBe(code);
  return err as ContractError;
}

describeH('tenants (real API server + PostgreSQL)', () => {
  const state = 'state' in h ? h.state : (undefined as never);
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: TenantTestEngine;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  const dataDir = tempDataDir();

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-tenants');
    eng = buildTenantEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: harnessPg(state),
      dataDir,
      consoleId: 'console-a',
    });
    const admin = new KubeConfig();
    admin.loadFromFile(state.kubeconfigs.admin);
    core = admin.makeApiClient(CoreV1Api);
    apps = admin.makeApiClient(AppsV1Api);
  });
  afterAll(async () => {
    await eng?.close();
    await ns?.remove();
  });

  it('creates a tenant: database owned by its role, schema, admin user, Secret, registry entry, Lease released', async () => {
    const slug = uniqueSlug('acme');
    const events: OperationProgress[] = [];
    const off = eng.bus.subscribe('operation.progress', (e) => events.push(e));
    const out = await eng.service.create(eng.runtime, { slug, name: 'Acme Corp', tier: 'PRO', adminEmail: 'ops@acme.test' });
    off();
    expect(out.steps.map((s) => `${s.name}:${s.status}`)).toEqual(
      ['reserve', 'database', 'schema', 'admin-user', 'secret', 'registry', 'license', 'release'].map((s) => `${s}:done`),
    );
    expect(events.filter((e) => e.status === 'done').map((e) => e.step)).toContain('secret');

    const secret = await core.readNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace });
    expect(secret.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'gatehouse', 'gatehouse.io/tenant': slug });
    const data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    for (const key of [
      'DATABASE_URL',
      'JWT_KEYS',
      'JWKS',
      'LOGIN_WORKER_TOKEN',
      'LOGIN_WORKER_TOKENS',
      'PROXY_TOKEN',
      'PROXY_TOKENS',
      'CP_TOKEN',
      'CP_TOKENS',
      'BOOTSTRAP_TOKEN_HASH',
    ]) {
      expect(data[key], key).toBeTruthy();
    }
    // One current ES256 signing key, published (public part only) in the JWKS (docs/secrets.md).
    const keys = JSON.parse(data.JWT_KEYS!) as { keys: { kid: string; alg: string; state: string }[] };
    expect(keys.keys.map((k) => [k.alg, k.state])).toEqual([['ES256', 'current']]);
    expect((JSON.parse(data.JWKS!) as { keys: { kid: string; d?: string }[] }).keys.map((k) => [k.kid, k.d])).toEqual([
      [keys.keys[0]!.kid, undefined],
    ]);
    expect(data.INITIAL_ADMIN_PASSWORD).toBe(out.adminPassword);

    // The backend's own credentials work and see the admin user with an argon2id hash of the returned password.
    const client = new pg.Client({ connectionString: data.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ password_hash: string; is_admin: boolean }>('SELECT password_hash, is_admin FROM users');
      expect(rows).toHaveLength(1);
      expect(rows[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=65536,(p=1,)?t=3[,$]/);
      expect(await argon2.verify(rows[0]!.password_hash, out.adminPassword)).toBe(true);
      const mig = await client.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(mig.rows.map((r) => r.version)).toEqual(eng.service.migrations.map((m) => m.version));
      const owner = await client.query(`SELECT tableowner FROM pg_tables WHERE tablename = 'users'`);
      expect(owner.rows[0].tableowner).toBe(`tenant_${slug}`);
    } finally {
      await client.end();
    }
    const shards = await core.listNamespacedConfigMap({ namespace: ns.namespace, labelSelector: 'gatehouse.io/registry=tenants' });
    const entry = shards.items.map((c) => c.data?.[slug]).find(Boolean);
    expect(JSON.parse(entry!)).toMatchObject({ name: 'Acme Corp', tier: 'PRO', status: 'active', schema: eng.service.migrations.length });
    expect(await eng.service.leftovers(eng.runtime, slug)).toEqual(
      expect.not.arrayContaining([{ kind: 'lease', name: `gatehouse-tenant-${slug}` }]),
    );
    expect((await eng.service.maintenance.revealAdminPassword(eng.runtime, slug)).password).toBe(out.adminPassword);
    const detail = await eng.service.get(eng.runtime, slug);
    expect(detail.tenant.stats).toEqual({ users: 1, groups: 0, applications: 0 });
    expect(detail.database).toMatchObject({ database: `tenant_${slug}`, user: `tenant_${slug}` });
    expect(detail.schema?.pending).toEqual([]);
  });

  it('shows license users and backend version from one source in the list and the detail', async () => {
    const slug = uniqueSlug('caps');
    await eng.service.create(eng.runtime, { slug, name: 'Caps', tier: 'PRO' });
    // what the license fan-out writes (docs/license.md): the cap the backend enforces
    const secret = await core.readNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace });
    await core.replaceNamespacedSecret({
      name: `tenant-${slug}`,
      namespace: ns.namespace,
      body: { ...secret, data: { ...secret.data, LICENSE_USER_CAP: Buffer.from('2000').toString('base64') } },
    });
    const row = (await eng.service.reconcile(eng.runtime)).tenants.find((t) => t.slug === slug)!;
    const detail = (await eng.service.get(eng.runtime, slug)).tenant;
    expect(row.licenseUsers).toBe(2000);
    expect(detail.licenseUsers).toBe(2000);
    expect(detail.backendVersion).toBe(row.backendVersion);
  });

  it('refuses a duplicate slug with CONFLICT and leaves the existing tenant alone', async () => {
    const slug = uniqueSlug('dup');
    await eng.service.create(eng.runtime, { slug, name: 'First', tier: 'DEV' });
    const err = await expectCode(eng.service.create(eng.runtime, { slug, name: 'Second', tier: 'DEV' }), 'CONFLICT');
    expect(err.message).toMatch(/already exists/);
    expect((await eng.service.get(eng.runtime, slug)).tenant.name).toBe('First');
    expect((await eng.service.leftovers(eng.runtime, slug)).map((l) => l.kind)).not.toContain('lease');
  });

  it('lets exactly one of two racing consoles create the same slug', async () => {
    const other = buildTenantEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: harnessPg(state),
      dataDir: tempDataDir(),
      consoleId: 'console-b',
    });
    try {
      const slug = uniqueSlug('race');
      const results = await Promise.allSettled([
        eng.service.create(eng.runtime, { slug, name: 'A', tier: 'DEV' }),
        other.service.create(other.runtime, { slug, name: 'B', tier: 'DEV' }),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect((loser.reason as ContractError).code).toBe('CONFLICT');
      const kinds = (await eng.service.leftovers(eng.runtime, slug)).map((l) => l.kind).sort();
      expect(kinds).toEqual(['database', 'registry-entry', 'role', 'secret']);
    } finally {
      await other.close();
    }
  });

  it('names the verb and resource of a 403 and rolls back what was done', async () => {
    const limited = await operatorNamespace(state, 'gh-tenants-403', { deny: ['create secrets'] });
    const e2 = buildTenantEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: limited.namespace,
      pg: harnessPg(state),
      dataDir: tempDataDir(),
      consoleId: 'console-c',
    });
    try {
      const slug = uniqueSlug('rbac');
      const err = await expectCode(e2.service.create(e2.runtime, { slug, name: 'No rights', tier: 'DEV' }), 'FORBIDDEN');
      expect(err.message).toContain('step "secret"');
      expect(err.message).toContain('`create secrets`');
      expect(err.details).toMatchObject({ verb: 'create', resource: 'secrets', status: 'rolled-back' });
      expect(await e2.service.leftovers(e2.runtime, slug)).toEqual([]);
    } finally {
      await e2.close();
      await limited.remove();
    }
  });

  it('rebuilds the list with a constant number of calls and shows drift with repairs', async () => {
    const a = uniqueSlug('drift');
    await eng.service.create(eng.runtime, { slug: a, name: 'Drifting', tier: 'DEV' });
    const first = await eng.service.reconcile(eng.runtime);
    // a Secret disappears behind the console's back
    await core.deleteNamespacedSecret({ name: `tenant-${a}`, namespace: ns.namespace });
    // and someone created a tenant database by hand
    const orphan = uniqueSlug('orphan');
    const admin = new PostgresAdmin(harnessPg(state));
    await admin.ensureLoginRole(`tenant_${orphan}`);
    await admin.ensureDatabase(`tenant_${orphan}`, `tenant_${orphan}`);
    const second = await eng.service.reconcile(eng.runtime);
    expect(second.apiCalls).toBe(first.apiCalls);
    expect(second.apiCalls).toBeLessThanOrEqual(5);
    expect(second.drift).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ slug: a, kind: 'registry-without-secret', repairs: ['recreate-secret', 'drop-orphan'] }),
        expect.objectContaining({ slug: orphan, kind: 'database-without-registry', repairs: ['drop-orphan'] }),
      ]),
    );
    expect((await eng.service.list(eng.runtime, { refresh: false, stats: false })).fromCache).toBe(true);
    await eng.service.maintenance.repair(eng.runtime, a, 'recreate-secret');
    const del = await eng.service.delete(eng.runtime, orphan, false);
    expect(del.leftovers).toEqual([]);
    const third = await eng.service.reconcile(eng.runtime);
    expect(third.drift.filter((d) => d.slug === a || d.slug === orphan)).toEqual([]);
    // the recreated Secret really works
    const { password } = await eng.service.maintenance.revealAdminPassword(eng.runtime, a);
    expect(password.length).toBeGreaterThan(10);
    await admin.close();
  });

  it('applies pending migrations to every tenant; one failure does not stop the others', async () => {
    const good = uniqueSlug('mig');
    const bad = uniqueSlug('mig');
    await eng.service.create(eng.runtime, { slug: good, name: 'Good', tier: 'DEV' });
    await eng.service.create(eng.runtime, { slug: bad, name: 'Bad', tier: 'DEV' });
    // A newer console version ships the next migration; the bad tenant already has a conflicting table.
    const dir = fs.mkdtempSync(path.join(tempDataDir(), 'mig-'));
    const shipped = fs.readdirSync(DEFAULT_MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).length;
    const next = `${String(shipped + 1).padStart(4, '0')}_audit_trail`;
    for (const f of fs.readdirSync(DEFAULT_MIGRATIONS_DIR)) fs.copyFileSync(path.join(DEFAULT_MIGRATIONS_DIR, f), path.join(dir, f));
    fs.writeFileSync(
      path.join(dir, `${next}.sql`),
      'CREATE TABLE tenant_audit (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());',
    );
    const admin = new PostgresAdmin(harnessPg(state));
    await admin.withDatabase(`tenant_${bad}`, (c) => c.query(`SET ROLE tenant_${bad}; CREATE TABLE tenant_audit (x int)`));
    await admin.close();
    const newer = new TenantService({
      db: eng.db,
      bus: eng.bus,
      saga: new SagaRunner(eng.db, eng.bus, async () => eng.runtime),
      consoleId: 'console-a',
      migrationsDir: dir,
    });
    try {
      const status = await newer.maintenance.schemaStatus(eng.runtime, [good, bad]);
      expect(status.latest).toBe(shipped + 1);
      expect(status.tenants.map((t) => t.pending)).toEqual([[next], [next]]);
      const events: OperationProgress[] = [];
      const off = eng.bus.subscribe('operation.progress', (e) => e.kind === 'tenant.schema' && events.push(e));
      const out = await newer.maintenance.schemaApply(eng.runtime, [bad, good], 2);
      off();
      expect(out.summary).toEqual({ ok: 1, failed: 1, upToDate: 0 });
      expect(out.results.find((r) => r.slug === bad)?.error).toMatch(new RegExp(next));
      expect(out.results.find((r) => r.slug === good)?.applied).toEqual([next]);
      expect(
        events
          .filter((e) => e.status !== 'running')
          .map((e) => `${e.target}:${e.status}`)
          .sort(),
      ).toEqual([`${bad}:failed`, `${good}:done`].sort());
      const again = await newer.maintenance.schemaApply(eng.runtime, [good], 1);
      expect(again.summary).toEqual({ ok: 0, failed: 0, upToDate: 1 });
    } finally {
      await newer.close();
    }
  });

  it('reports an already-applied migration whose file was edited, and refuses to apply further migrations', async () => {
    const slug = uniqueSlug('edited');
    await eng.service.create(eng.runtime, { slug, name: 'Edited', tier: 'DEV' });
    const dir = fs.mkdtempSync(path.join(tempDataDir(), 'mig-edit-'));
    const files = fs
      .readdirSync(DEFAULT_MIGRATIONS_DIR)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    for (const f of files) fs.copyFileSync(path.join(DEFAULT_MIGRATIONS_DIR, f), path.join(dir, f));
    // someone "fixed" an applied migration in place, and a new one is pending
    const second = files[1]!;
    fs.appendFileSync(path.join(dir, second), '\n-- edited after release\n');
    const next = String(files.length + 1).padStart(4, '0');
    fs.writeFileSync(path.join(dir, `${next}_later.sql`), 'CREATE TABLE later_thing (id int);');
    const edited = new TenantService({
      db: eng.db,
      bus: eng.bus,
      saga: new SagaRunner(eng.db, eng.bus, async () => eng.runtime),
      consoleId: 'console-a',
      migrationsDir: dir,
    });
    try {
      const status = await edited.maintenance.schemaStatus(eng.runtime, [slug]);
      expect(status.tenants[0]).toMatchObject({ modified: [second.replace(/\.sql$/, '')], pending: [`${next}_later`] });
      expect(status.tenants[0]?.error).toMatch(/differ from the shipped files/);
      const out = await edited.maintenance.schemaApply(eng.runtime, [slug], 1);
      expect(out.summary).toEqual({ ok: 0, failed: 1, upToDate: 0 });
      expect(out.results[0]?.error).toMatch(new RegExp(`${second.replace(/\.sql$/, '')} was applied as .* but the file now reads`));
      const admin = new PostgresAdmin(harnessPg(state));
      const tables = await admin.withDatabase(`tenant_${slug.replace(/-/g, '_')}`, (c) =>
        c.query("SELECT to_regclass('public.later_thing') AS t"),
      );
      await admin.close();
      expect(tables.rows[0]?.t).toBeNull(); // nothing further was applied
    } finally {
      await edited.close();
    }
  });

  it('suspends (scales dedicated workloads to zero) and resumes to the previous size', async () => {
    const slug = uniqueSlug('sus');
    await eng.service.create(eng.runtime, { slug, name: 'Sleepy', tier: 'Enterprise' });
    await apps.createNamespacedDeployment({
      namespace: ns.namespace,
      body: {
        metadata: { name: `login-worker-${slug}`, labels: { 'gatehouse.io/tenant': slug } },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: `lw-${slug}` } },
          template: {
            metadata: { labels: { app: `lw-${slug}` } },
            spec: { containers: [{ name: 'w', image: 'ghcr.io/justiam/login-worker:1.8.2' }] },
          },
        },
      },
    });
    const s = await eng.service.maintenance.suspend(eng.runtime, slug);
    expect(s.result.scaled).toEqual([{ name: `login-worker-${slug}`, replicas: 0 }]);
    expect(s.before).toEqual({ status: 'active' }); // read, not assumed
    expect((await apps.readNamespacedDeployment({ name: `login-worker-${slug}`, namespace: ns.namespace })).spec?.replicas).toBe(0);
    expect((await eng.service.get(eng.runtime, slug)).tenant.status).toBe('suspended');
    const r = await eng.service.maintenance.resume(eng.runtime, slug);
    expect(r.result.scaled).toEqual([{ name: `login-worker-${slug}`, replicas: 2 }]);
    expect(r.before).toEqual({ status: 'suspended' });
    expect((await apps.readNamespacedDeployment({ name: `login-worker-${slug}`, namespace: ns.namespace })).spec?.replicas).toBe(2);
    expect((await eng.service.get(eng.runtime, slug)).tenant.status).toBe('active');
    // a workload that was at 0 when suspended comes back at 0, not 1
    const d = await apps.readNamespacedDeployment({ name: `login-worker-${slug}`, namespace: ns.namespace });
    await apps.replaceNamespacedDeployment({
      name: `login-worker-${slug}`,
      namespace: ns.namespace,
      body: { ...d, spec: { ...d.spec!, replicas: 0 } },
    });
    await eng.service.maintenance.suspend(eng.runtime, slug);
    expect((await eng.service.maintenance.resume(eng.runtime, slug)).result.scaled).toEqual([
      { name: `login-worker-${slug}`, replicas: 0 },
    ]);
    expect((await apps.readNamespacedDeployment({ name: `login-worker-${slug}`, namespace: ns.namespace })).spec?.replicas).toBe(0);
    // delete takes the dedicated workload with it and reports nothing left
    const del = await eng.service.delete(eng.runtime, slug, true);
    expect(del.leftovers).toEqual([]);
    await expectCode(eng.service.delete(eng.runtime, slug, true), 'NOT_FOUND');
  });

  it('resets the admin password: the new one verifies and is what reveal shows', async () => {
    const slug = uniqueSlug('pw');
    const created = await eng.service.create(eng.runtime, { slug, name: 'Pw', tier: 'DEV' });
    const reset = await eng.service.maintenance.resetAdminPassword(eng.runtime, slug);
    expect(reset.password).not.toBe(created.adminPassword);
    expect((await eng.service.maintenance.revealAdminPassword(eng.runtime, slug)).password).toBe(reset.password);
    const admin = new PostgresAdmin(harnessPg(state));
    const hash = await admin.withDatabase(
      `tenant_${slug}`,
      async (c) => (await c.query(`SELECT password_hash FROM users WHERE username = 'admin'`)).rows[0].password_hash as string,
    );
    await admin.close();
    expect(await argon2.verify(hash, reset.password)).toBe(true);
  });

  it('a reset whose Secret write fails after the database took the new hash never locks the admin out', async () => {
    const slug = uniqueSlug('pwfail');
    await eng.service.create(eng.runtime, { slug, name: 'Pw fail', tier: 'DEV' });
    const maintenance = eng.service.maintenance;
    maintenance.beforeConfirm = async () => {
      throw new ContractError('UNAVAILABLE', 'the API server went away (simulated) between the database write and the Secret');
    };
    try {
      await expectCode(maintenance.resetAdminPassword(eng.runtime, slug), 'UNAVAILABLE');
    } finally {
      maintenance.beforeConfirm = null;
    }
    // The database has the new hash; the Secret still says the old password is current but holds the new one as pending.
    const shown = (await maintenance.revealAdminPassword(eng.runtime, slug)).password;
    const admin = new PostgresAdmin(harnessPg(state));
    const hash = await admin.withDatabase(
      `tenant_${slug.replace(/-/g, '_')}`,
      async (c) => (await c.query(`SELECT password_hash FROM users WHERE username = 'admin'`)).rows[0].password_hash as string,
    );
    await admin.close();
    expect(await argon2.verify(hash, shown)).toBe(true); // what the console shows logs in
    const secret = await core.readNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace });
    expect(Object.keys(secret.data ?? {})).not.toContain('INITIAL_ADMIN_PASSWORD_PENDING'); // settled
  });
});
