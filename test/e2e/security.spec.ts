import http from 'node:http';
import { expect, test } from '@playwright/test';
import { baseUrl, openUrl } from './fixtures';

type Reply = { status: number; headers: http.IncomingHttpHeaders; body: string };

/** Raw Node requests: a browser would not let us forge Host or Origin. */
function request(pathName: string, headers: Record<string, string> = {}): Promise<Reply> {
  const { hostname, port } = new URL(baseUrl());
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port: Number(port), path: pathName, headers: { host: `${hostname}:${port}`, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function upgrade(headers: Record<string, string>): Promise<number> {
  const { hostname, port } = new URL(baseUrl());
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: hostname,
      port: Number(port),
      path: '/ws',
      headers: { host: `${hostname}:${port}`, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 101);
    });
    req.on('response', (res) => resolve(res.statusCode ?? 0));
    req.on('error', reject);
    req.end();
  });
}

async function sessionCookie(): Promise<string> {
  const token = new URL(openUrl()).searchParams.get('token') ?? '';
  const r = await request(`/?token=${encodeURIComponent(token)}`);
  expect(r.status).toBe(303);
  return String(r.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
}

test.describe('browser mode refuses what is not the operator', () => {
  test('a request without the token is refused with 401', async () => {
    const r = await request('/');
    expect(r.status).toBe(401);
    expect(r.body).toContain('URL printed');
  });

  test('a wrong token is refused with 401 and gives no cookie', async () => {
    const r = await request('/?token=not-the-token');
    expect(r.status).toBe(401);
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  test('the real token gives an HttpOnly SameSite=Strict cookie that opens the UI', async () => {
    const cookie = await sessionCookie();
    const r = await request('/', { cookie });
    expect(r.status).toBe(200);
    expect(r.body).toContain('<div id="root">');
    expect(r.headers['content-security-policy']).toContain("default-src 'self'");
  });

  test('a foreign Origin is refused even with a valid cookie', async () => {
    const cookie = await sessionCookie();
    const r = await request('/', { cookie, origin: 'http://evil.example' });
    expect(r.status).toBe(403);
    expect(await upgrade({ cookie, origin: 'http://evil.example' })).toBe(401);
  });

  test('a foreign Host header (DNS rebinding) is refused even with a valid cookie', async () => {
    const cookie = await sessionCookie();
    const { port } = new URL(baseUrl());
    const r = await request('/', { cookie, host: `evil.example:${port}` });
    expect(r.status).toBe(421);
    expect(await upgrade({ cookie, host: `evil.example:${port}` })).toBe(401);
  });

  test('the WebSocket refuses a connection without the session cookie', async () => {
    expect(await upgrade({})).toBe(401);
    const cookie = await sessionCookie();
    expect(await upgrade({ cookie, origin: baseUrl() })).toBe(101);
  });

  test('a browser without the token sees the refusal, not the console', async ({ page }) => {
    const response = await page.goto(baseUrl());
    expect(response?.status()).toBe(401);
    await expect(page.getByTestId('app')).toHaveCount(0);
  });
});
