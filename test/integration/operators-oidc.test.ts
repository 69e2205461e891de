import net from 'node:net';
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEngine, type Engine } from '../../src-main/engine';
import { OidcSignIn } from '../../src-main/engine/operators/oidc';
import { createRouter, type Router } from '../../src-main/ipc/router';
import { memorySecrets, tempDir, auditJournal } from '../unit/audit/helpers';
import { CHROMIUM, GROUPS, PW, signInInBrowser, startProvider } from './oidc-provider';

let provider: Awaited<ReturnType<typeof startProvider>>;
let browser: Browser | null = null;
let engine: Engine;
let router: Router;
let secrets: ReturnType<typeof memorySecrets>;
const dir = tempDir('gatehouse-oidc-');
const skip = !fs.existsSync(CHROMIUM);
if (skip) console.warn(`operators-oidc: skipped, no Chromium at ${CHROMIUM} (set GATEHOUSE_CHROMIUM)`);

beforeAll(async () => {
  if (skip) return;
  provider = await startProvider();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  secrets = memorySecrets();
  engine = createEngine({
    mode: 'browser',
    dataDir: dir,
    identity: 'sign-in',
    audit: { secrets },
    clusters: { autoStart: false, env: {}, home: dir },
  });
  router = createRouter(engine);
  expect((await router.invoke('admin', 'operators.setupFirstAdmin', { username: 'root', password: PW })).ok).toBe(true);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await engine?.close();
  await provider?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const mapping = { admin: ['platform-admins'], operator: ['ops'], viewer: ['staff'] };
const scopes = ['openid', 'profile', 'groups', 'offline_access'];

describe.skipIf(skip)('OIDC sign-in against a real oidc-provider on loopback', () => {
  it('an admin configures the provider; a wrong issuer is refused and nothing is stored', async () => {
    const wrong = await startProvider('localhost'); // answers as http://localhost:port when asked at 127.0.0.1
    const bad = await router.invoke('admin', 'operators.oidc.configure', {
      issuer: wrong.url,
      clientId: 'gatehouse',
      scopes,
      roleMapping: mapping,
    });
    await wrong.close();
    expect(bad).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    expect(!bad.ok && bad.error.message).toMatch(/issuer/);
    expect(await router.invoke('admin', 'operators.oidc.get', {})).toMatchObject({ ok: true, value: { profiles: [] } });

    const ok = await router.invoke('admin', 'operators.oidc.configure', {
      issuer: provider.issuer,
      clientId: 'gatehouse',
      scopes,
      roleMapping: mapping,
    });
    expect(ok).toMatchObject({ ok: true, value: { profile: 'default', hasClientSecret: false } });
  });

  it('signs in with code + PKCE through the loopback redirect; the role comes from the groups claim; refresh and sign-out work', async () => {
    const begin = await router.invoke('w1', 'operators.oidc.begin', {});
    expect(begin.ok).toBe(true);
    const { flowId, authorizationUrl, redirectUri } = (
      begin as { value: { flowId: string; authorizationUrl: string; redirectUri: string } }
    ).value;
    expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const url = new URL(authorizationUrl);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('state')).toBeTruthy();
    expect(url.searchParams.get('nonce')).toBeTruthy();
    // Another local process throws a request line that is not a URL at the callback port: 400, and the flow goes on.
    const port = Number(new URL(redirectUri).port);
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => sock.write('GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
      let data = '';
      sock.on('data', (d) => (data += d.toString()));
      sock.on('close', () => resolve(data));
      sock.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);

    const [page, done] = await Promise.all([
      signInInBrowser(browser!, authorizationUrl, 'alice'),
      router.invoke('w1', 'operators.oidc.complete', { flowId, timeoutMs: 60_000 }),
    ]);
    expect(page).toContain('signed in as ALICE (operator)');
    expect(done).toMatchObject({ ok: true, value: { operator: { role: 'operator', via: 'oidc', displayName: 'ALICE' } } });
    expect((await router.invoke('w1', 'operators.status', {})) as unknown).toMatchObject({ value: { operator: { role: 'operator' } } });
    // tokens went to the secret store, not SQLite
    const tokenKeys = [...secrets.map.keys()].filter((k) => k.startsWith('oidc-tokens:'));
    expect(tokenKeys).toHaveLength(1);
    // the audit journal: the outbox (cluster actions) and the workstation log (sign-in has no cluster)
    const cache = [
      engine.db.prepare("SELECT group_concat(record, '') FROM audit_outbox").pluck().get(),
      engine.db.prepare("SELECT group_concat(canonical, '') FROM audit_kept").pluck().get(),
    ].join('');
    expect(cache).toContain('operators.oidc');
    expect(cache).not.toContain(JSON.parse(secrets.map.get(tokenKeys[0]!)!).accessToken);

    // operator role: allowed to refresh, refused an admin command
    expect(await router.invoke('w1', 'operators.oidc.refresh', {})).toMatchObject({ ok: true, value: { operator: { role: 'operator' } } });
    expect(await router.invoke('w1', 'operators.create', { username: 'x1', role: 'admin', password: PW })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });

    expect((await router.invoke('w1', 'operators.signOut', {})).ok).toBe(true);
    expect([...secrets.map.keys()].filter((k) => k.startsWith('oidc-tokens:'))).toHaveLength(0);
    expect(await router.invoke('w1', 'audit.query', {})).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
  });

  async function tamperedFlow(conn: string, edit: (u: URL) => void, login = 'alice') {
    const begin = (await router.invoke(conn, 'operators.oidc.begin', {})) as { value: { flowId: string; authorizationUrl: string } };
    const url = new URL(begin.value.authorizationUrl);
    edit(url);
    const [, done] = await Promise.all([
      signInInBrowser(browser!, url.href, login),
      router.invoke(conn, 'operators.oidc.complete', { flowId: begin.value.flowId, timeoutMs: 60_000 }),
    ]);
    expect(engine.sessions.session(conn)).toBeNull();
    return done;
  }

  it('refuses a response with a bad state', async () => {
    const done = await tamperedFlow('w2', (u) => u.searchParams.set('state', 'forged-state'));
    expect(done).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    expect(!done.ok && done.error.message).toMatch(/state/);
  });

  it('refuses an ID token with a bad nonce', async () => {
    const done = await tamperedFlow('w3', (u) => u.searchParams.set('nonce', 'forged-nonce'));
    expect(done).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    expect(!done.ok && done.error.message).toMatch(/nonce/);
  });

  it('refuses a user whose groups map to no role', async () => {
    const done = await tamperedFlow('w4', () => undefined, 'bob');
    expect(done).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(!done.ok && done.error.message).toMatch(/contractors/);
  });

  it('refuses an expired ID token', async () => {
    // A console whose clock is two hours ahead sees the provider's 1-hour ID token as expired.
    const late = new OidcSignIn({ clockSkewSeconds: 2 * 3600 });
    const cfg = { profile: 'default', issuer: provider.issuer, clientId: 'gatehouse', scopes, groupsClaim: 'groups', roleMapping: mapping };
    const begin = await late.begin('w5', cfg, null);
    const [, result] = await Promise.all([
      signInInBrowser(browser!, begin.authorizationUrl, 'alice'),
      late.complete('w5', begin.flowId, 60_000).then(
        () => null,
        (e: Error) => e,
      ),
    ]);
    late.close();
    expect(result?.message).toMatch(/expired/);
  });

  async function signedIn(conn: string, login = 'alice') {
    const begin = (await router.invoke(conn, 'operators.oidc.begin', {})) as { value: { flowId: string; authorizationUrl: string } };
    const [, done] = await Promise.all([
      signInInBrowser(browser!, begin.value.authorizationUrl, login),
      router.invoke(conn, 'operators.oidc.complete', { flowId: begin.value.flowId, timeoutMs: 60_000 }),
    ]);
    expect(done.ok).toBe(true);
    return done as { ok: true; value: { operator: { id: string; role: string }; expiresAt: string } };
  }
  const outbox = () =>
    auditJournal(engine.db).map(
      (r) => JSON.parse(r) as { action: string; actor: string; outcome: string; before: unknown; after: unknown },
    );

  it("an OIDC session ends at the ID token expiry (not the access token's) unless refreshed", async () => {
    const done = await signedIn('w6');
    const key = [...secrets.map.keys()].find((k) => k.startsWith('oidc-tokens:') && k.endsWith(done.value.operator.id))!;
    const idToken = (JSON.parse(secrets.map.get(key)!) as { idToken: string }).idToken;
    const exp = (JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
    expect(done.value.expiresAt).toBe(new Date(exp * 1000).toISOString());
    expect(await router.invoke('w6', 'operators.status', {})).toMatchObject({
      value: { sessionExpiresAt: new Date(exp * 1000).toISOString() },
    });
    expect(await router.invoke('w6', 'audit.query', {})).toMatchObject({ ok: true });
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(exp * 1000 + 1000);
      expect(await router.invoke('w6', 'audit.query', {})).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
      expect(await router.invoke('w6', 'operators.oidc.refresh', {})).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    } finally {
      vi.useRealTimers();
    }
    await new Promise((r) => setTimeout(r, 50)); // the ended session's tokens are deleted in the background
    expect(secrets.map.has(key)).toBe(false);
  });

  it('a refresh that changes the role (new groups at the provider) is audited, old and new role', async () => {
    const done = await signedIn('w7');
    expect(done.value.operator.role).toBe('operator');
    const before = GROUPS.alice;
    GROUPS.alice = ['platform-admins'];
    try {
      expect(await router.invoke('w7', 'operators.oidc.refresh', {})).toMatchObject({ ok: true, value: { operator: { role: 'admin' } } });
    } finally {
      GROUPS.alice = before!;
    }
    expect(
      outbox()
        .filter((r) => r.action === 'operators.oidc.refresh')
        .at(-1),
    ).toMatchObject({
      actor: done.value.operator.id,
      outcome: 'success',
      before: { role: 'operator' },
      after: { role: 'admin', roleChanged: true },
    });
    expect((await router.invoke('w7', 'operators.signOut', {})).ok).toBe(true);
  });

  it('changing the OIDC role mapping ends the sessions it had granted', async () => {
    await signedIn('w8');
    expect(await router.invoke('w8', 'audit.query', {})).toMatchObject({ ok: true });
    const narrower = { admin: ['platform-admins'], operator: [], viewer: ['staff'] };
    expect(
      (
        await router.invoke('admin', 'operators.oidc.configure', {
          issuer: provider.issuer,
          clientId: 'gatehouse',
          scopes,
          roleMapping: narrower,
        })
      ).ok,
    ).toBe(true);
    expect(await router.invoke('w8', 'audit.query', {})).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    expect(
      outbox()
        .filter((r) => r.action === 'operators.oidc.configure')
        .at(-1)?.after,
    ).toMatchObject({ endedSessions: 1 });
    // signing in again gives the role of the new mapping
    expect((await signedIn('w8')).value.operator.role).toBe('viewer');
    expect(
      (
        await router.invoke('admin', 'operators.oidc.configure', {
          issuer: provider.issuer,
          clientId: 'gatehouse',
          scopes,
          roleMapping: mapping,
        })
      ).ok,
    ).toBe(true);
  });
});
