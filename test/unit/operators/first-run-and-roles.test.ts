import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../src-main/engine';
import { createRouter } from '../../../src-main/ipc/router';
import { memorySecrets, tempDir } from '../audit/helpers';

const dir = tempDir('gatehouse-ops-');
const engine = createEngine({
  mode: 'browser',
  dataDir: dir,
  identity: 'sign-in',
  audit: { secrets: memorySecrets() },
  clusters: { autoStart: false, env: {}, home: dir },
});
const router = createRouter(engine);
afterAll(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const PW = 'Correct-Horse-42';
const call = async (conn: string, name: string, input: unknown = {}) => router.invoke(conn, name, input);
const errorCode = (r: Awaited<ReturnType<typeof call>>) => (r.ok ? 'OK' : r.error.code);

describe('sign-in mode: first run, sign-in and roles enforced by the engine', () => {
  it('a fresh install is in first-run mode: nothing but public commands until the first admin exists', async () => {
    const status = await call('c1', 'operators.status');
    expect(status).toMatchObject({ ok: true, value: { firstRun: true, operator: null, identityMode: 'sign-in' } });
    expect(errorCode(await call('c1', 'system.settings.set', { theme: 'dark' }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await call('c1', 'audit.query', {}))).toBe('UNAUTHENTICATED');
    // OIDC configuration needs a signed-in admin, even in first run (see docs/operators.md); reading it too
    expect(errorCode(await call('c1', 'operators.oidc.configure', { issuer: 'http://127.0.0.1:1/', clientId: 'x', roleMapping: {} }))).toBe(
      'UNAUTHENTICATED',
    );
    expect(errorCode(await call('c1', 'operators.oidc.get', {}))).toBe('UNAUTHENTICATED');
    expect(errorCode(await call('c1', 'operators.setupFirstAdmin', { username: 'root', password: 'weak' }))).toBe('VALIDATION');
    const setup = await call('c1', 'operators.setupFirstAdmin', { username: 'root', password: PW });
    expect(setup).toMatchObject({ ok: true, value: { operator: { id: 'local:root', role: 'admin', via: 'local-account' } } });
    expect(errorCode(await call('c2', 'operators.setupFirstAdmin', { username: 'evil', password: PW }))).toBe('CONFLICT');
    expect((await call('c1', 'operators.status')).ok && (await call('c1', 'operators.status'))).toMatchObject({
      value: { firstRun: false },
    });
  });

  it('a viewer calling a mutating command directly is refused FORBIDDEN, and it is audited', async () => {
    expect(errorCode(await call('c1', 'operators.create', { username: 'vera', role: 'viewer', password: PW }))).toBe('OK');
    expect(errorCode(await call('c3', 'operators.signIn', { username: 'vera', password: 'Wrong-Password-1' }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await call('c3', 'operators.signIn', { username: 'vera', password: PW }))).toBe('OK');
    const refused = await call('c3', 'operators.create', { username: 'mallory', role: 'admin', password: PW });
    expect(refused).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', details: { required: 'admin', actual: 'viewer' } } });
    expect(errorCode(await call('c3', 'operators.oidc.remove', { profile: 'default', confirm: 'default' }))).toBe('FORBIDDEN');
    // viewers still read
    expect(errorCode(await call('c3', 'audit.query', {}))).toBe('OK');
    // no cluster here: these are workstation actions, kept in the workstation log (docs/audit.md)
    const journal = engine.auditLog
      .query({ source: 'workstation', limit: 1000, order: 'oldest', withTotal: false })
      .entries.map((e) =>
        JSON.stringify({ action: e.action, actor: e.actor, outcome: e.outcome, errorCode: e.error_code, params: e.params }),
      );
    const records = journal.map(
      (s) => JSON.parse(s) as { action: string; actor: string; outcome: string; errorCode: string | null; params: unknown },
    );
    expect(records).toContainEqual(
      expect.objectContaining({ action: 'operators.create', actor: 'local:vera', outcome: 'denied', errorCode: 'FORBIDDEN' }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({ action: 'operators.signIn', outcome: 'failure', errorCode: 'UNAUTHENTICATED' }),
    );
    // passwords never reach the audit journal
    expect(journal.join('\n')).not.toContain(PW);
  });

  it('destructive commands need the typed confirmation', async () => {
    expect(errorCode(await call('c1', 'operators.delete', { username: 'vera', confirm: 'ver' }))).toBe('CONFIRMATION_REQUIRED');
    expect(errorCode(await call('c1', 'operators.delete', { username: 'vera', confirm: 'vera' }))).toBe('OK');
    // the deleted account's open session ended with it
    expect(errorCode(await call('c3', 'audit.query', {}))).toBe('UNAUTHENTICATED');
  });

  it('sign-out ends the session of that connection only', async () => {
    expect(errorCode(await call('c1', 'operators.signOut'))).toBe('OK');
    expect(errorCode(await call('c1', 'audit.query', {}))).toBe('UNAUTHENTICATED');
  });

  it('os-user mode (tests, sandbox) keeps the OS user as admin without sign-in', async () => {
    const d = tempDir('gatehouse-osuser-');
    const e = createEngine({
      mode: 'browser',
      dataDir: d,
      identity: 'os-user',
      audit: { secrets: memorySecrets() },
      clusters: { autoStart: false, env: {}, home: d },
    });
    const r = await createRouter(e).invoke('x', 'system.settings.set', { theme: 'dark' });
    expect(r.ok).toBe(true);
    await e.close();
  });
});
