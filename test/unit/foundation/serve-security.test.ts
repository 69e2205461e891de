import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { createRouter } from '../../../src-main/ipc/router';
import { startServer, type RunningServer } from '../../../src-main/serve/server';
import { tempEngine } from './helpers';

type Reply = { status: number; headers: http.IncomingHttpHeaders; body: string };
function request(port: number, pathName: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathName, headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('browser mode server', () => {
  const env = tempEngine();
  let server: RunningServer;
  let cookie = '';
  let base = '';
  const host = () => ({ host: `127.0.0.1:${server.port}` });
  const linkPath = (url: string) => {
    const u = new URL(url);
    return `${u.pathname}${u.search}`;
  };

  beforeAll(async () => {
    const staticDir = path.join(env.dir, 'ui');
    fs.mkdirSync(staticDir);
    fs.writeFileSync(path.join(staticDir, 'index.html'), '<html>ui</html>');
    server = await startServer({ router: createRouter(env.engine), staticDir });
    base = new URL(server.url).pathname;
    const exchange = await request(server.port, linkPath(server.openUrl), host());
    cookie = String(exchange.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
  });
  afterAll(async () => {
    await server.close();
    await env.cleanup();
  });

  it('listens on loopback only by default and refuses other addresses without the flag', async () => {
    expect(server.host).toBe('127.0.0.1');
    await expect(startServer({ router: createRouter(env.engine), staticDir: env.dir, host: '0.0.0.0' })).rejects.toThrow(/allow-remote/);
  });

  it('exchanges the token for an HttpOnly SameSite=Strict cookie scoped to the instance path', async () => {
    const r = await request(server.port, linkPath(server.newOpenUrl()), host());
    expect(r.status).toBe(303);
    const setCookie = String(r.headers['set-cookie']?.[0]);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toContain(`Path=${base.replace(/\/$/, '')};`);
    expect(r.headers.location).toBe(base);
  });

  it('refuses a request without the token or cookie', async () => {
    for (const p of ['/', base]) {
      const r = await request(server.port, p, host());
      expect(r.status).toBe(401);
      expect(r.body).toMatch(/gatehouse serve/);
    }
  });

  it('refuses a wrong token', async () => {
    const r = await request(server.port, `${base}?token=nope`, host());
    expect(r.status).toBe(401);
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  it('serves the UI with a strict CSP once the cookie is set', async () => {
    const r = await request(server.port, base, { ...host(), cookie });
    expect(r.status).toBe(200);
    expect(r.body).toContain('ui');
    expect(r.headers['content-security-policy']).toMatch(/script-src 'self'/);
  });

  it('refuses a foreign Host header (DNS rebinding) even with a valid cookie', async () => {
    const r = await request(server.port, base, { host: `evil.example:${server.port}`, cookie });
    expect(r.status).toBe(421);
  });

  it('refuses a foreign Origin even with a valid cookie', async () => {
    const r = await request(server.port, base, { ...host(), origin: 'http://evil.example', cookie });
    expect(r.status).toBe(403);
  });

  const openSocket = (headers: Record<string, string>) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}${base}ws`, { headers });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    });

  it('refuses a WebSocket without the cookie or with a foreign Origin', async () => {
    await expect(openSocket({ origin: `http://127.0.0.1:${server.port}` })).rejects.toThrow(/401/);
    await expect(openSocket({ cookie, origin: 'http://evil.example' })).rejects.toThrow(/403/);
  });

  it('carries typed commands over the WebSocket and refuses a wrong shape', async () => {
    const ws = await openSocket({ cookie, origin: `http://127.0.0.1:${server.port}` });
    const call = (id: number, command: string, input: unknown) =>
      new Promise<{ ok: boolean; value?: { mode?: string }; error?: { code: string; message: string } }>((resolve) => {
        ws.on('message', (data) => {
          const msg = JSON.parse(String(data));
          if (msg.id === id) resolve(msg.result);
        });
        ws.send(JSON.stringify({ type: 'invoke', id, command, input }));
      });
    const ok = await call(1, 'system.info', {});
    expect(ok.ok).toBe(true);
    expect(ok.value?.mode).toBe('browser');
    const bad = await call(2, 'system.settings.set', { theme: 'purple' });
    expect(bad.ok).toBe(false);
    expect(bad.error?.code).toBe('VALIDATION');
    expect(bad.error?.message).toMatch(/theme/);
    const unknown = await call(3, 'system.rm-rf', {});
    expect(unknown.error?.code).toBe('NOT_FOUND');
    ws.close();
  });
});
