import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../../src-main/engine';
import { createRouter, type Router } from '../../../src-main/ipc/router';
import { memorySecrets, tempDir, auditJournal } from '../audit/helpers';

// Issue 10 items 6 and 8: viewers and operators change nothing global. A real engine in
// sign-in mode, driven through the router as a transport would.
const PW = 'Correct-Horse-42';
const dir = tempDir('gatehouse-least-priv-');
const kubeconfig = path.join(dir, 'kubeconfig');
fs.writeFileSync(
  kubeconfig,
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
    'users: [{name: u, user: {token: t}}]',
    'contexts: [{name: prod, context: {cluster: c, user: u}}]',
  ].join('\n'),
);
const clusterId = `${kubeconfig}#prod`;

function engineOn(dataDir: string): Engine {
  return createEngine({
    mode: 'browser',
    dataDir,
    identity: 'sign-in',
    audit: { secrets: memorySecrets() },
    clusters: {
      autoStart: false,
      watch: false,
      env: { KUBECONFIG: kubeconfig },
      home: dataDir,
      // no keychain here: the passphrase-encrypted file, with cheap argon2 for the test
      secretStore: { prefer: 'encrypted-file', keychain: null, kdf: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
    },
  });
}

let engine = engineOn(dir);
let router: Router = createRouter(engine);
afterAll(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const call = (conn: string, name: string, input: unknown = {}) => router.invoke(conn, name, input);
const errorCode = (r: Awaited<ReturnType<typeof call>>) => (r.ok ? 'OK' : r.error.code);
const outbox = () =>
  auditJournal(engine.db).map(
    (s) =>
      JSON.parse(s) as {
        action: string;
        actor: string;
        outcome: string;
        params: Record<string, unknown>;
        after: Record<string, unknown> | null;
      },
  );

async function signInAll() {
  expect((await call('admin', 'operators.signIn', { username: 'root', password: PW })).ok).toBe(true);
  expect((await call('op', 'operators.signIn', { username: 'olga', password: PW })).ok).toBe(true);
  expect((await call('viewer', 'operators.signIn', { username: 'vera', password: PW })).ok).toBe(true);
}

describe('least privilege: what only an admin may change', () => {
  it('setup: an admin, an operator and a viewer', async () => {
    expect((await call('admin', 'operators.setupFirstAdmin', { username: 'root', password: PW })).ok).toBe(true);
    expect((await call('admin', 'operators.create', { username: 'olga', role: 'operator', password: PW })).ok).toBe(true);
    expect((await call('admin', 'operators.create', { username: 'vera', role: 'viewer', password: PW })).ok).toBe(true);
    await signInAll();
  }, 60_000);

  it('an operator cannot create the secret store and so choose the passphrase of every credential (admin creates it)', async () => {
    expect(await call('op', 'secrets.status')).toMatchObject({ ok: true, value: { kind: 'encrypted-file', initialized: false } });
    const refused = await call('op', 'secrets.unlock', { passphrase: 'operator-chosen-passphrase' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(!refused.ok && refused.error.message).toMatch(/admin/);
    expect(fs.existsSync(path.join(dir, 'secrets.enc.json'))).toBe(false);
    expect(errorCode(await call('viewer', 'secrets.unlock', { passphrase: 'viewer-chosen-passphrase' }))).toBe('FORBIDDEN');
    expect(errorCode(await call('admin', 'secrets.unlock', { passphrase: 'the-admins-passphrase' }))).toBe('OK');
    expect(fs.existsSync(path.join(dir, 'secrets.enc.json'))).toBe(true);
  });

  it('after a restart an operator may unlock the existing store with its passphrase; a viewer may not', async () => {
    await engine.close();
    engine = engineOn(dir);
    router = createRouter(engine);
    await signInAll();
    expect(await call('op', 'secrets.status')).toMatchObject({ ok: true, value: { locked: true, initialized: true } });
    expect(errorCode(await call('viewer', 'secrets.unlock', { passphrase: 'the-admins-passphrase' }))).toBe('FORBIDDEN');
    expect(errorCode(await call('op', 'secrets.unlock', { passphrase: 'wrong-passphrase' }))).toBe('VALIDATION');
    expect(errorCode(await call('op', 'secrets.unlock', { passphrase: 'the-admins-passphrase' }))).toBe('OK');
  }, 60_000);

  it('an operator cannot point the database admin connection (and its password) at another server: profile.save is admin-only', async () => {
    const retarget = {
      clusterId,
      database: { host: 'db.attacker.example', port: 5432, user: 'postgres', database: 'postgres', password: 'x' },
    };
    expect(errorCode(await call('op', 'clusters.profile.save', retarget))).toBe('FORBIDDEN');
    expect(errorCode(await call('viewer', 'clusters.profile.save', retarget))).toBe('FORBIDDEN');
    expect(await call('op', 'clusters.profile.get', { clusterId })).toMatchObject({ ok: true, value: { database: null } });
  });

  it('turning TLS off is refused unless chosen explicitly, and the choice is on the audit record', async () => {
    const database = { host: 'db.internal', port: 5432, user: 'gatehouse_admin', database: 'postgres', password: 'Pg-Secret-1' };
    const silent = await call('admin', 'clusters.profile.save', { clusterId, database: { ...database, sslMode: 'disable' } });
    expect(silent).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION', details: { fields: { 'database.allowInsecureTls': expect.any(String) } } },
    });
    expect(await call('admin', 'clusters.profile.get', { clusterId })).toMatchObject({ ok: true, value: { database: null } });

    const chosen = await call('admin', 'clusters.profile.save', {
      clusterId,
      database: { ...database, sslMode: 'disable', allowInsecureTls: true },
    });
    expect(chosen).toMatchObject({ ok: true, value: { database: { sslMode: 'disable' }, hasPassword: true, passwordDropped: false } });
    const record = outbox()
      .filter((r) => r.action === 'clusters.profile.save' && r.outcome === 'success')
      .at(-1)!;
    expect(record).toMatchObject({
      actor: 'local:root',
      params: { database: { sslMode: 'disable', allowInsecureTls: true } },
      after: { database: { sslMode: 'disable' } },
    });
    expect(JSON.stringify(outbox())).not.toContain('Pg-Secret-1');

    // a profile saved without a TLS mode verifies the server fully
    const fresh = await call('admin', 'clusters.profile.save', { clusterId, database: { ...database, host: 'db2.internal' } });
    expect(fresh).toMatchObject({ ok: true, value: { database: { sslMode: 'verify-full', caPem: null } } });
  });

  it('approving what an added kubeconfig runs is for admins only', async () => {
    expect(errorCode(await call('op', 'clusters.kubeconfig.approve', { approvalId: 'anything' }))).toBe('FORBIDDEN');
    expect(errorCode(await call('admin', 'clusters.kubeconfig.approve', { approvalId: 'anything' }))).toBe('NOT_FOUND');
  });
});
