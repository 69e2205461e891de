// Tenant database password rotation on the real PostgreSQL: a second login role takes over,
// the old password keeps working until no backend session uses it (pg_stat_activity), then it
// is removed. Passwords reach PostgreSQL only as SCRAM-SHA-256 verifiers.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent, quoteLiteral } from '../../src-main/adapters/postgres';
import { initialJwtKeys } from '../../src-main/engine/rotation/keyset';
import { ContractError } from '../../src-shared/contract';
import { buildTenantEngine, harnessOrReason, harnessPg, operatorNamespace, tempDataDir, uniqueSlug } from './tenants-env';
import {
  apis,
  buildRotationEngine,
  createTenantSecret,
  createWorkload,
  localBytes,
  readSecretData,
  waitAvailable,
  type RotationTestEngine,
} from './rotation-env';

const h = harnessOrReason();
const state = 'state' in h ? h.state : (undefined as never);

describe('tenant database password rotation', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: RotationTestEngine;
  let admin: pg.Client;
  let core: ReturnType<typeof apis>['core'];
  let apps: ReturnType<typeof apis>['apps'];
  const dataDir = tempDataDir();

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-rot-db');
    ({ core, apps } = apis(state.kubeconfigs.operator));
    eng = buildRotationEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: harnessPg(state),
      dataDir,
      consoleId: 'rot-db',
      options: { drainTimeoutMs: 3_000 },
    });
    admin = new pg.Client(harnessPg(state));
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await eng?.close();
    await ns?.remove();
  });

  /** A tenant as the create saga leaves it: owner role with a password, its database, the DSN in the Secret. */
  async function tenant(): Promise<{ slug: string; role: string; db: string; dsn: string }> {
    const slug = uniqueSlug('rd');
    const role = `tenant_${slug}`;
    await admin.query(`CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD ${quoteLiteral('initial-password-1')}`);
    await admin.query(`CREATE DATABASE ${quoteIdent(role)} OWNER ${quoteIdent(role)}`);
    await admin.query(`REVOKE ALL ON DATABASE ${quoteIdent(role)} FROM PUBLIC`);
    const p = harnessPg(state);
    const dsn = `postgresql://${role}:initial-password-1@${p.host}:${p.port}/${role}`;
    await createTenantSecret(core, ns.namespace, slug, { TENANT_SLUG: slug, ...initialJwtKeys(), DATABASE_URL: dsn });
    return { slug, role, db: role, dsn };
  }

  const connect = async (dsn: string, applicationName = 'test') => {
    const c = new pg.Client({ connectionString: dsn, application_name: applicationName });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  const canLogin = async (dsn: string) => {
    try {
      await (await connect(dsn)).end();
      return true;
    } catch {
      return false;
    }
  };

  it('moves to a second login, keeps the old one until its sessions end, then removes its password', async () => {
    const t = await tenant();
    const worker = `login-worker-${t.slug}`;
    await createWorkload(apps, ns.namespace, worker, t.slug);
    await waitAvailable(apps, ns.namespace, worker);
    // An old backend pod holds a session with the old credential and does not restart.
    const oldPod = await connect(t.dsn, 'backend-old-pod');
    const error = await eng.service.rotate(eng.runtime, { slug: t.slug, kind: 'database' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractError);
    const message = (error as ContractError).message;
    expect(message).toMatch(/failed at step "verify"/);
    expect(message).toContain(`1 session(s) of the old login ${t.role} are still open on ${t.db}`);
    expect(message).toContain('"backend-old-pod"');

    // Held: both credentials work, the Secret has the new one, the old one is kept as previous.
    const held = await readSecretData(core, ns.namespace, t.slug);
    expect(new URL(held.DATABASE_URL!).username).toBe(`${t.role}__a`);
    expect(held.DATABASE_URL_PREVIOUS).toBe(t.dsn);
    expect(held.DATABASE_URL_NEXT).toBeUndefined();
    expect(await canLogin(t.dsn)).toBe(true);
    const fresh = await connect(held.DATABASE_URL!, 'backend-new-pod');
    // The new login acts as the tenant role: what it creates is owned as before.
    expect((await fresh.query('SELECT current_user AS c, session_user AS s')).rows[0]).toEqual({ c: t.role, s: `${t.role}__a` });
    await fresh.query('CREATE TABLE made_after_rotation (id int)');
    expect((await fresh.query(`SELECT tableowner FROM pg_tables WHERE tablename = 'made_after_rotation'`)).rows[0].tableowner).toBe(t.role);
    // The workload was rolled to the new Secret before the check.
    expect((await eng.service.status(eng.runtime, t.slug)).workloads[0]).toMatchObject({ upToDate: true, complete: true });
    // Only a SCRAM verifier is stored for the new login.
    const stored = (await admin.query<{ p: string }>('SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1', [`${t.role}__a`]))
      .rows[0]!.p;
    expect(stored).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(stored).not.toContain(new URL(held.DATABASE_URL!).password);
    expect(localBytes(dataDir)).not.toContain(new URL(held.DATABASE_URL!).password);

    // The old pod goes away: resume verifies (new sessions only) and expires the old password.
    await oldPod.end();
    const [op] = eng.saga.listUnfinished().filter((o) => o.target === t.slug);
    const resumed = await eng.saga.resume(op!.id);
    expect(resumed.error).toBeNull();
    expect(resumed.operation.status).toBe('done');
    expect(await canLogin(t.dsn)).toBe(false);
    const done = await readSecretData(core, ns.namespace, t.slug);
    expect(await canLogin(done.DATABASE_URL!)).toBe(true);
    expect(done.DATABASE_URL_PREVIOUS).toBeUndefined();
    expect(JSON.parse(done.DATABASE_CREDENTIAL!)).toMatchObject({ user: `${t.role}__a`, next: null, previous: null });
    expect((await admin.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [t.role])).rows[0].rolpassword).toBeNull();
    await fresh.end();

    // The next rotation alternates to __b and retires __a.
    const again = await eng.service.rotate(eng.runtime, { slug: t.slug, kind: 'database' });
    expect(again.status).toBe('done');
    const b = await readSecretData(core, ns.namespace, t.slug);
    expect(new URL(b.DATABASE_URL!).username).toBe(`${t.role}__b`);
    expect(await canLogin(b.DATABASE_URL!)).toBe(true);
    expect(await canLogin(done.DATABASE_URL!)).toBe(false);
    const status = (await eng.service.status(eng.runtime, t.slug)).kinds.find((k) => k.kind === 'database')!;
    expect(status).toMatchObject({ currentId: again.id, databaseUser: `${t.role}__b`, phase: 'stable' });
  });

  it('roll back of a held rotation restores the old DSN and drops the login it created', async () => {
    const t = await tenant();
    const oldPod = await connect(t.dsn, 'stubborn-pod');
    await expect(eng.service.rotate(eng.runtime, { slug: t.slug, kind: 'database' })).rejects.toThrow(/stubborn-pod/);
    const [op] = eng.saga.listUnfinished().filter((o) => o.target === t.slug);
    const rolled = await eng.saga.rollback(op!.id);
    expect(rolled.error).toBeNull();
    const data = await readSecretData(core, ns.namespace, t.slug);
    expect(data.DATABASE_URL).toBe(t.dsn);
    expect(data.DATABASE_URL_NEXT).toBeUndefined();
    expect(data.DATABASE_URL_PREVIOUS).toBeUndefined();
    expect((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [`${t.role}__a`])).rows).toHaveLength(0);
    // The old session was never disturbed and the old password still works.
    expect((await oldPod.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    expect(await canLogin(t.dsn)).toBe(true);
    await oldPod.end();
  });

  it('a tenant created by the console rotates its password, and deleting the tenant drops the rotation logins too', async () => {
    const tenants = buildTenantEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: harnessPg(state),
      dataDir: tempDataDir(),
      consoleId: 'rot-db-tenants',
    });
    try {
      const slug = uniqueSlug('rx');
      await tenants.service.create(tenants.runtime, { slug, name: 'Rotation', tier: 'DEV' });
      await eng.service.rotate(eng.runtime, { slug, kind: 'database' });
      await eng.service.rotate(eng.runtime, { slug, kind: 'database' });
      const logins = [`tenant_${slug}__a`, `tenant_${slug}__b`];
      expect(
        (await admin.query('SELECT rolname FROM pg_roles WHERE rolname = ANY($1) ORDER BY 1', [logins])).rows.map((r) => r.rolname),
      ).toEqual(logins);
      // The backend's DSN works and sees the tenant's data.
      const c = await connect((await readSecretData(core, ns.namespace, slug)).DATABASE_URL!);
      expect((await c.query('SELECT username FROM users')).rows.map((r) => r.username)).toEqual(['admin']);
      await c.end();
      await tenants.service.delete(tenants.runtime, slug, false);
      expect((await admin.query('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [[...logins, `tenant_${slug}`]])).rows).toEqual([]);
    } finally {
      await tenants.close();
    }
  });
});
