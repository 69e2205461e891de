// The sandbox's seeding against the real harness (own namespace, unique slugs so the
// shared PostgreSQL server never sees a clash with `npm run sandbox` or other tests):
// tenants and their demo data exist, a second run is a no-op, an interrupted one is completed.
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_TENANTS, SANDBOX_USER_PASSWORD, seedRows, seedTenants, type SeedTenant } from '../../src-main/engine/tenants/seed';
import { buildTenantEngine, harnessOrReason, harnessPg, operatorNamespace, tempDataDir, type TenantTestEngine } from './tenants-env';

const h = harnessOrReason();
if ('reason' in h) console.warn(h.reason);
const describeH = 'state' in h ? describe : describe.skip;

describeH('sandbox seeding (real API server + PostgreSQL)', () => {
  const state = 'state' in h ? h.state : (undefined as never);
  const suffix = randomBytes(3).toString('hex');
  // Two of the five demo tenants (a PRO and an Enterprise one) keep the run short; the code path is the same.
  const tenants: SeedTenant[] = [SANDBOX_TENANTS[0]!, SANDBOX_TENANTS[1]!].map((t) => ({ ...t, slug: `${t.slug}-${suffix}` }));
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: TenantTestEngine;

  const counts = async (slug: string) => {
    const c = new pg.Client({ ...harnessPg(state), database: `tenant_${slug.replace(/-/g, '_')}` });
    await c.connect();
    try {
      const { rows } = await c.query<Record<string, string>>(
        `SELECT (SELECT count(*) FROM users) users, (SELECT count(*) FROM groups) groups, (SELECT count(*) FROM memberships) memberships,
                (SELECT count(*) FROM applications) apps, (SELECT count(*) FROM roles) roles, (SELECT count(*) FROM role_permissions) role_permissions,
                (SELECT count(*) FROM role_assignments) role_assignments, (SELECT count(*) FROM sign_ins) sign_ins`,
      );
      return Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)]));
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-sandbox');
    eng = buildTenantEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: harnessPg(state),
      dataDir: tempDataDir(),
      consoleId: 'console-sandbox',
    });
  });
  afterAll(async () => {
    for (const t of tenants) await eng?.service.delete(eng.runtime, t.slug, false).catch(() => undefined);
    await eng?.close();
    await ns?.remove();
  });

  it('creates the tenants with users, groups, memberships, applications and roles', async () => {
    const lines: string[] = [];
    const results = await seedTenants(eng.service, eng.runtime, { tenants, log: (l) => lines.push(l) });
    expect(results.map((r) => [r.slug, r.outcome])).toEqual(tenants.map((t) => [t.slug, 'created']));
    expect(lines.some((l) => l.includes('creating tenant'))).toBe(true);

    const list = await eng.service.list(eng.runtime, { refresh: false, stats: false });
    for (const t of tenants) {
      const rows = seedRows(t);
      const row = list.tenants.find((x) => x.slug === t.slug);
      expect(row).toMatchObject({ name: t.name, tier: t.tier, status: 'active', hasSecret: true, hasDatabase: true, inRegistry: true });
      // The cache carries the stats, so the Tenants page shows the counts at once.
      expect(row?.stats).toEqual({ users: rows.users.length + 1, groups: rows.groups.length, applications: rows.apps.length });
      const n = await counts(t.slug);
      expect(n).toMatchObject({
        users: rows.users.length + 1,
        groups: rows.groups.length,
        memberships: rows.memberships.length,
        apps: rows.apps.length,
        roles: rows.roles.length,
        sign_ins: 400,
      });
      expect(n.role_permissions).toBeGreaterThan(0);
      expect(n.role_assignments).toBeGreaterThan(0);
    }
    // (Other test files' databases share the server and show as drift here; ours must not.)
    expect(list.drift.filter((d) => tenants.some((t) => t.slug === d.slug))).toEqual([]);

    // Seeded users really can sign in with the documented demo password (argon2id 64 MiB, t=3).
    const c = new pg.Client({ ...harnessPg(state), database: `tenant_${tenants[0]!.slug.replace(/-/g, '_')}` });
    await c.connect();
    const { rows } = await c.query<{ username: string; email: string; password_hash: string }>(
      `SELECT username, email, password_hash FROM users WHERE NOT is_admin ORDER BY username LIMIT 1`,
    );
    await c.end();
    expect(rows[0]!.email).toMatch(/@acme\.example$/);
    expect(rows[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=65536,(p=1,)?t=3[,$]/);
    expect(await argon2.verify(rows[0]!.password_hash, SANDBOX_USER_PASSWORD)).toBe(true);
  });

  it('a second run is a no-op', async () => {
    const before = await Promise.all(tenants.map((t) => counts(t.slug)));
    const ops = eng.saga.listUnfinished().length;
    let created = 0;
    const results = await seedTenants(eng.service, eng.runtime, {
      tenants,
      create: async () => {
        created++;
      },
    });
    expect(results.map((r) => [r.outcome, r.rowsAdded])).toEqual(tenants.map(() => ['skipped', 0]));
    expect(created).toBe(0);
    expect(await Promise.all(tenants.map((t) => counts(t.slug)))).toEqual(before);
    expect(eng.saga.listUnfinished().length).toBe(ops);
  });

  it('completes a tenant whose seeding was interrupted, without duplicating anything', async () => {
    const t = tenants[0]!;
    const full = await counts(t.slug);
    const c = new pg.Client({ ...harnessPg(state), database: `tenant_${t.slug.replace(/-/g, '_')}` });
    await c.connect();
    await c.query(`DELETE FROM users WHERE username IN (SELECT username FROM users WHERE NOT is_admin ORDER BY username LIMIT 5)`);
    await c.query(`DELETE FROM applications WHERE type = 'machine'`);
    await c.end();
    const results = await seedTenants(eng.service, eng.runtime, { tenants });
    expect(results.find((r) => r.slug === t.slug)).toMatchObject({ outcome: 'completed' });
    expect(results.find((r) => r.slug === tenants[1]!.slug)).toMatchObject({ outcome: 'skipped' });
    const after = await counts(t.slug);
    // Users, apps and memberships are back; sign-in history is not re-added (removed users' rows keep user_id NULL).
    expect(after).toEqual(full);
  });

  it('never completes a tenant of the same slug that it did not create (other display name)', async () => {
    const t = tenants[1]!;
    const c = new pg.Client({ ...harnessPg(state), database: `tenant_${t.slug.replace(/-/g, '_')}` });
    await c.connect();
    await c.query(`DELETE FROM users WHERE username IN (SELECT username FROM users WHERE NOT is_admin ORDER BY username LIMIT 5)`);
    await c.end();
    const before = await counts(t.slug);
    const results = await seedTenants(eng.service, eng.runtime, { tenants: [{ ...t, name: 'Someone Else Ltd' }] });
    expect(results).toEqual([expect.objectContaining({ slug: t.slug, outcome: 'skipped', rowsAdded: 0 })]);
    expect(await counts(t.slug)).toEqual(before);
  });
});
