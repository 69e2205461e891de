import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAdmin, type PgSsl } from '../../src-main/adapters/postgres';
import { startPrivatePostgres, type PrivatePostgres } from '../harness/faults';
import { makeCa, makeServerCert } from '../unit/clusters/tls-certs';
import { harness } from './harness-fixture';

// Issue 10 items 8 and 10 against a real PostgreSQL of our own (it is reconfigured: logging of
// every statement, then TLS), so the shared harness database is left alone.

let server: PrivatePostgres;
let logFile: string;
let superuser: pg.Client;
const pki = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-pg-tls-'));

async function su(): Promise<pg.Client> {
  const c = new pg.Client({ ...server.info, database: 'postgres' });
  await c.connect();
  return c;
}

beforeAll(async () => {
  server = await startPrivatePostgres();
  logFile = path.join(harness().logsDir, `postgres-private-${server.info.port}.log`);
  superuser = await su();
}, 120_000);

afterAll(async () => {
  await superuser?.end();
  await server?.dispose();
  fs.rmSync(pki, { recursive: true, force: true });
});

const admin = (ssl: PgSsl = false) => new PostgresAdmin({ ...server.info, database: 'postgres', ssl });

describe('tenant role passwords reach PostgreSQL only as SCRAM-SHA-256 verifiers', () => {
  it('the cleartext is in no statement the server logs, failed or not, and the role still logs in with it', async () => {
    await superuser.query(`ALTER SYSTEM SET log_statement = 'all'`);
    await superuser.query(`ALTER SYSTEM SET log_min_error_statement = 'error'`);
    await superuser.query('SELECT pg_reload_conf()');
    const probe = `probe_${Date.now()}`;
    for (let i = 0; i < 50 && !fs.readFileSync(logFile, 'utf8').includes(probe); i++) {
      await superuser.query(`SELECT '${probe}'`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(fs.readFileSync(logFile, 'utf8')).toContain(probe); // every statement is logged from here on

    const pgAdmin = admin();
    const role = 'tenant_scram_probe';
    const password = 'Tenant-Role-Cleartext-7Qx2';
    const failed = 'Another-Cleartext-For-A-Missing-Role-9Kz';
    try {
      await pgAdmin.ensureLoginRole(role);
      await pgAdmin.setRolePassword(role, password);
      // a statement that fails is logged with its text (log_min_error_statement)
      await expect(pgAdmin.setRolePassword('tenant_does_not_exist', failed)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      await pgAdmin.close();
    }
    const log = fs.readFileSync(logFile, 'utf8');
    expect(log).toMatch(/ALTER ROLE "tenant_scram_probe" WITH LOGIN PASSWORD 'SCRAM-SHA-256\$4096:/);
    expect(log).toMatch(/STATEMENT:\s+ALTER ROLE "tenant_does_not_exist" WITH LOGIN PASSWORD 'SCRAM-SHA-256\$4096:/);
    expect(log).not.toContain(password);
    expect(log).not.toContain(failed);

    const { rows } = await superuser.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]);
    expect(rows[0]?.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    const asRole = new pg.Client({ host: server.info.host, port: server.info.port, user: role, password, database: 'postgres' });
    await asRole.connect();
    expect((await asRole.query<{ me: string }>('SELECT current_user AS me')).rows[0]?.me).toBe(role);
    await asRole.end();
    const wrong = new pg.Client({ host: server.info.host, port: server.info.port, user: role, password: 'not-it', database: 'postgres' });
    await expect(wrong.connect()).rejects.toMatchObject({ code: '28P01' });
    await superuser.query(`ALTER SYSTEM RESET log_statement`);
    await superuser.query('SELECT pg_reload_conf()');
  });
});

describe('the admin connection honours the profile TLS mode against a PostgreSQL with ssl=on', () => {
  const ca = makeCa(pki, 'ca');
  const otherCa = makeCa(pki, 'other-ca');
  let dataDir: string;

  /** Serves `cert` from the data directory (the server's user must own the key) and reloads. */
  async function serve(cert: { cert: string; key: string }, name: string): Promise<void> {
    const owner = fs.statSync(dataDir);
    for (const [from, to] of [
      [cert.cert, `${name}.crt`],
      [cert.key, `${name}.key`],
    ] as const) {
      const dest = path.join(dataDir, to);
      fs.copyFileSync(from, dest);
      fs.chmodSync(dest, 0o600);
      if (process.getuid?.() === 0) fs.chownSync(dest, owner.uid, owner.gid);
    }
    await superuser.query(`ALTER SYSTEM SET ssl_cert_file = '${name}.crt'`);
    await superuser.query(`ALTER SYSTEM SET ssl_key_file = '${name}.key'`);
    await superuser.query(`ALTER SYSTEM SET ssl = on`);
    await superuser.query('SELECT pg_reload_conf()');
  }

  async function tlsOf(ssl: PgSsl): Promise<boolean> {
    const a = admin(ssl);
    try {
      const rows = await a.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      return rows[0]!.ssl;
    } finally {
      await a.close();
    }
  }

  async function until(what: () => Promise<boolean>, label: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (await what().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${label}`);
  }

  it('verify-full connects with the profile CA, and refuses a server whose certificate the CA did not sign', async () => {
    dataDir = (await superuser.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
    await serve(makeServerCert(pki, ca, 'db-ip', 'IP:127.0.0.1'), 'db-ip');
    await until(() => tlsOf({ mode: 'verify-full', ca: ca.pem }), 'the server to serve TLS');
    expect(await tlsOf({ mode: 'verify-full', ca: ca.pem })).toBe(true);
    await expect(tlsOf({ mode: 'verify-full', ca: otherCa.pem })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/does not chain to the profile's CA/),
    });
    // no CA in the profile: the system's roots, which know nothing of this private CA
    await expect(tlsOf({ mode: 'verify-full' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await tlsOf(false)).toBe(false); // disable: really no TLS
  });

  it('verify-full refuses a certificate for another host name; require (explicitly chosen) still encrypts', async () => {
    await serve(makeServerCert(pki, ca, 'db-name', 'DNS:db.elsewhere.example'), 'db-name');
    await until(
      async () =>
        (await tlsOf({ mode: 'verify-full', ca: ca.pem }).then(
          () => 'ok',
          (e: { details?: { tls?: string } }) => e.details?.tls,
        )) === 'ERR_TLS_CERT_ALTNAME_INVALID',
      'the server to present the other certificate',
    );
    await expect(tlsOf({ mode: 'verify-full', ca: ca.pem })).rejects.toMatchObject({
      message: expect.stringMatching(/certificate for another host name/),
    });
    expect(await tlsOf({ mode: 'require' })).toBe(true);
  });
});
