import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { events } from '../../../src-shared/contract';
import { createEngine } from '../../../src-main/engine';
import { createRouter, mayReceive, type Router } from '../../../src-main/ipc/router';
import { startServer, type RunningServer, type ServeOptions } from '../../../src-main/serve/server';
import { tempEngine } from './helpers';
import { client, linkPath, openSocket, request, setCookieOf, signInWith } from './serve-client';

const LIMITS = { idleMs: 60_000, lifetimeMs: 300_000, tokenLifetimeMs: 30_000, tokenFailures: 10, tokenFailureWindowMs: 20_000 };

describe('browser mode: single-use links, throttling, session limits, per-instance cookie, Origin', () => {
  const env = tempEngine();
  let staticDir = '';
  let clock = 1_000_000;
  const servers: RunningServer[] = [];
  const start = async (extra: Partial<ServeOptions> = {}) => {
    const s = await startServer({ router: createRouter(env.engine), staticDir, sessionLimits: LIMITS, now: () => clock, ...extra });
    servers.push(s);
    return s;
  };
  const base = (s: RunningServer) => new URL(s.url).pathname;

  beforeAll(() => {
    staticDir = path.join(env.dir, 'ui');
    fs.mkdirSync(staticDir);
    fs.writeFileSync(path.join(staticDir, 'index.html'), '<html>ui</html>');
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  afterAll(() => env.cleanup());

  it('a sign-in link works once: replaying it gets 401 and no cookie', async () => {
    const s = await start();
    const link = s.newOpenUrl();
    const first = await request(s.port, linkPath(link));
    expect(first.status).toBe(303);
    expect(setCookieOf(first)).toMatch(new RegExp(`^${s.cookieName}=`));
    const replay = await request(s.port, linkPath(link));
    expect(replay.status).toBe(401);
    expect(replay.headers['set-cookie']).toBeUndefined();
    expect(replay.body).toMatch(/used already/);
  });

  it('a link opened in a browser that is signed in already is spent and the session kept', async () => {
    const s = await start();
    const cookie = await signInWith(s);
    const link = s.newOpenUrl();
    const again = await request(s.port, linkPath(link), { cookie });
    expect(again.status).toBe(303);
    expect(again.headers['set-cookie']).toBeUndefined();
    expect((await request(s.port, base(s), { cookie })).status).toBe(200);
    expect((await request(s.port, linkPath(link))).status).toBe(401);
  });

  it('an unused link expires', async () => {
    const s = await start();
    const link = s.newOpenUrl();
    clock += LIMITS.tokenLifetimeMs;
    expect((await request(s.port, linkPath(link))).status).toBe(401);
  });

  it('guessing links is throttled: after 10 wrong ones even the right one waits (429) until the window passes', async () => {
    const s = await start();
    const link = s.newOpenUrl();
    for (let i = 0; i < LIMITS.tokenFailures; i++) expect((await request(s.port, `${base(s)}?token=guess-${i}`)).status).toBe(401);
    const throttled = await request(s.port, linkPath(link));
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    expect(throttled.headers['set-cookie']).toBeUndefined();
    // the refused attempt did not spend the link: once the window has passed it works
    clock += LIMITS.tokenFailureWindowMs;
    expect((await request(s.port, linkPath(link))).status).toBe(303);
  });

  it('a session ends after the idle timeout; activity keeps it open', async () => {
    const s = await start();
    const cookie = await signInWith(s);
    clock += LIMITS.idleMs - 1000;
    expect((await request(s.port, base(s), { cookie })).status).toBe(200);
    clock += LIMITS.idleMs - 1000;
    expect((await request(s.port, base(s), { cookie })).status).toBe(200);
    clock += LIMITS.idleMs;
    expect((await request(s.port, base(s), { cookie })).status).toBe(401);
    // ended for good: coming back does not revive it
    clock -= LIMITS.idleMs;
    expect((await request(s.port, base(s), { cookie })).status).toBe(401);
  });

  it('a session ends at its absolute lifetime even while in use', async () => {
    const s = await start();
    const cookie = await signInWith(s);
    let elapsed = 0;
    while (elapsed + LIMITS.idleMs / 2 < LIMITS.lifetimeMs) {
      clock += LIMITS.idleMs / 2;
      elapsed += LIMITS.idleMs / 2;
      expect((await request(s.port, base(s), { cookie })).status).toBe(200);
    }
    clock += LIMITS.lifetimeMs - elapsed;
    expect((await request(s.port, base(s), { cookie })).status).toBe(401);
  });

  it('an ended session closes its open WebSocket (4401) and no command runs on it afterwards', async () => {
    const s = await start({ sweepIntervalMs: 5 });
    const cookie = await signInWith(s);
    const ws = await openSocket(s, { cookie, origin: s.origin });
    const c = client(ws);
    expect((await c.call('system.info')).ok).toBe(true);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    clock += LIMITS.idleMs;
    expect(await closed).toBe(4401);
    await expect(openSocket(s, { cookie, origin: s.origin })).rejects.toThrow(/401/);
  });

  it('the cookie has a per-instance name and path: another instance neither accepts nor shares it', async () => {
    const a = await start();
    const b = await start();
    expect(a.cookieName).not.toBe(b.cookieName);
    expect(base(a)).not.toBe(base(b));
    const set = await request(a.port, linkPath(a.newOpenUrl()));
    const header = String(set.headers['set-cookie']?.[0]);
    expect(header).toMatch(/^gatehouse_[0-9a-f]{12}=/);
    // scoped to this instance's secret path: a browser sends it to no other path on 127.0.0.1, whatever the port
    expect(header).toContain(`Path=${base(a).replace(/\/$/, '')};`);
    const cookie = setCookieOf(set);
    const value = cookie.split('=')[1] ?? '';
    // a's cookie at b (under either name) is no session there
    expect((await request(b.port, base(b), { cookie })).status).toBe(401);
    expect((await request(b.port, base(b), { cookie: `${b.cookieName}=${value}` })).status).toBe(401);
    // a cookie planted under the old fixed name is ignored
    expect((await request(a.port, base(a), { cookie: `gatehouse_session=${value}` })).status).toBe(401);
    // outside the instance path nothing is served, even with the cookie
    expect((await request(a.port, '/', { cookie })).status).toBe(401);
    expect((await request(a.port, base(a), { cookie })).status).toBe(200);
  });

  it('the WebSocket upgrade needs a matching Origin (none, "null" and foreign ones are refused)', async () => {
    const s = await start();
    const cookie = await signInWith(s);
    await expect(openSocket(s, { cookie })).rejects.toThrow(/403/);
    await expect(openSocket(s, { cookie, origin: 'null' })).rejects.toThrow(/403/);
    await expect(openSocket(s, { cookie, origin: 'http://evil.example' })).rejects.toThrow(/403/);
    await expect(openSocket(s, { cookie, origin: `http://127.0.0.1:${s.port + 1}` })).rejects.toThrow(/403/);
    const ok = await openSocket(s, { cookie, origin: s.origin });
    ok.close();
  });

  it('the connectionId is stable per cookie session (across sockets), differs between sessions, and is not the cookie', async () => {
    const real = createRouter(env.engine);
    const seen: string[] = [];
    const spy: Router = { ...real, invoke: (id, name, input) => (seen.push(id), real.invoke(id, name, input)) };
    const s = await start({ router: spy });
    const cookieA = await signInWith(s);
    const cookieB = await signInWith(s);
    const sockets: WebSocket[] = [];
    for (const cookie of [cookieA, cookieA, cookieB]) {
      const ws = await openSocket(s, { cookie, origin: s.origin });
      sockets.push(ws);
      await client(ws).call('system.info');
    }
    expect(seen[0]).toMatch(/^browser:[\w-]{20,}$/);
    expect(seen[1]).toBe(seen[0]);
    expect(seen[2]).not.toBe(seen[0]);
    for (const id of seen) for (const cookie of [cookieA, cookieB]) expect(id).not.toContain(cookie.split('=')[1]?.slice(0, 12));
    for (const ws of sockets) ws.close();
  });
});

describe('browser mode: events need a signed-in operator with the event role', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-test-'));
  const engine = createEngine({ mode: 'browser', dataDir: dir, identity: 'sign-in' });
  let server: RunningServer;
  let clock = 1_000_000;
  const ended: string[] = [];

  beforeAll(async () => {
    const real = createRouter(engine);
    const router: Router = { ...real, endConnection: (id) => (ended.push(id), real.endConnection(id)) };
    fs.mkdirSync(path.join(dir, 'ui'));
    fs.writeFileSync(path.join(dir, 'ui', 'index.html'), '<html>ui</html>');
    server = await startServer({ router, staticDir: path.join(dir, 'ui'), sessionLimits: LIMITS, now: () => clock, sweepIntervalMs: 5 });
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const marker = (n: number) => ({ pendingOutbox: 4240 + n, localCopyCount: 0 });
  const markersReceived = (c: ReturnType<typeof client>) =>
    c.received
      .filter((m) => m.type === 'event' && m.event === 'audit.changed')
      .map((m) => (m.payload as { pendingOutbox: number }).pendingOutbox)
      .filter((n) => n >= 4240);

  it('a socket nobody signed in on receives no event; after sign-in it does; after sign-out it stops; an ended session signs its operator out', async () => {
    const cookie = await signInWith(server);
    const ws = await openSocket(server, { cookie, origin: server.origin });
    const c = client(ws);
    c.send({ type: 'subscribe', event: 'audit.changed' });
    // the socket's messages arrive in order: a reply after the publish proves the event was not sent before it
    expect((await c.call('system.info')).ok).toBe(true);
    engine.bus.publish('audit.changed', marker(1));
    expect(((await c.call('operators.status')).value as { operator: unknown }).operator).toBeNull();
    expect(markersReceived(c)).toEqual([]);

    const setup = await c.call('operators.setupFirstAdmin', { username: 'alice', password: 'Correct-Horse-Battery-9' });
    expect(setup.ok).toBe(true);
    engine.bus.publish('audit.changed', marker(2));
    await c.call('system.info');
    expect(markersReceived(c)).toEqual([4242]);

    expect((await c.call('operators.signOut')).ok).toBe(true);
    engine.bus.publish('audit.changed', marker(3));
    await c.call('system.info');
    expect(markersReceived(c)).toEqual([4242]);

    // signed in again, then the browser session times out: its operator session ends with it
    expect((await c.call('operators.signIn', { username: 'alice', password: 'Correct-Horse-Battery-9' })).ok).toBe(true);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    clock += LIMITS.idleMs;
    expect(await closed).toBe(4401);
    await expect.poll(() => ended.length).toBe(1);
    expect(ended[0]).toMatch(/^browser:/);
    expect(engine.sessions.identify(ended[0] as string)).toBeNull();
  }, 60_000);

  it('every contract event declares the minimum role that receives it, and a lower role does not', () => {
    for (const def of Object.values(events)) expect(['viewer', 'operator', 'admin']).toContain(def.role);
    const viewer = { id: 'local:v', displayName: 'v', role: 'viewer' as const, via: 'local-account' as const };
    const admin = { ...viewer, id: 'local:a', role: 'admin' as const };
    expect(mayReceive(null, { role: 'viewer' })).toBe(false);
    expect(mayReceive(viewer, { role: 'viewer' })).toBe(true);
    expect(mayReceive(viewer, { role: 'operator' })).toBe(false);
    expect(mayReceive(admin, { role: 'operator' })).toBe(true);
  });
});
