import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from '@playwright/test';
import { baseUrl, openApp, openUrl } from './fixtures';

type Reply = { status: number; headers: http.IncomingHttpHeaders; body: string };

const server = () => new URL(baseUrl());
/** The instance's base path, e.g. "/gh-…/". */
const base = () => server().pathname;

/** Raw Node requests: a browser would not let us forge Host or Origin. */
function request(pathName: string, headers: Record<string, string> = {}): Promise<Reply> {
  const { hostname, port } = server();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: hostname, port: Number(port), path: pathName, headers: { host: `${hostname}:${port}`, ...headers } },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function upgrade(headers: Record<string, string>): Promise<number> {
  const { hostname, port } = server();
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: hostname,
      port: Number(port),
      path: `${base()}ws`,
      headers: {
        host: `${hostname}:${port}`,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      },
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

const linkPath = (link: string) => {
  const u = new URL(link);
  return `${u.pathname}${u.search}`;
};

async function sessionCookie(): Promise<string> {
  const r = await request(linkPath(await openUrl()));
  expect(r.status).toBe(303);
  return String(r.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
}

test.describe('browser mode refuses what is not the operator', () => {
  test('a request without the token is refused with 401', async () => {
    for (const p of ['/', base()]) {
      const r = await request(p);
      expect(r.status).toBe(401);
      expect(r.body).toContain('sign-in link printed');
    }
  });

  test('a wrong token is refused with 401 and gives no cookie', async () => {
    const r = await request(`${base()}?token=not-the-token`);
    expect(r.status).toBe(401);
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  test('a sign-in link gives an HttpOnly SameSite=Strict cookie scoped to the instance path that opens the UI', async () => {
    const r = await request(linkPath(await openUrl()));
    expect(r.status).toBe(303);
    const setCookie = String(r.headers['set-cookie']?.[0]);
    expect(setCookie).toMatch(/^gatehouse_[0-9a-f]{12}=/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain(`Path=${base().replace(/\/$/, '')};`);
    const page = await request(base(), { cookie: setCookie.split(';')[0] ?? '' });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<div id="root">');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
  });

  test('a sign-in link works once, also in a browser', async ({ page, browser }) => {
    const link = await openUrl();
    await page.goto(link);
    await expect(page.getByTestId('app')).toBeVisible();
    // the address bar no longer carries the token
    expect(page.url()).not.toContain('token=');
    const other = await browser.newContext();
    const replay = await other.newPage();
    const response = await replay.goto(link);
    expect(response?.status()).toBe(401);
    await expect(replay.getByTestId('app')).toHaveCount(0);
    await other.close();
  });

  test('a foreign Origin is refused even with a valid cookie; the WebSocket needs our Origin', async () => {
    const cookie = await sessionCookie();
    const r = await request(base(), { cookie, origin: 'http://evil.example' });
    expect(r.status).toBe(403);
    expect(await upgrade({ cookie, origin: 'http://evil.example' })).toBe(403);
    expect(await upgrade({ cookie })).toBe(403);
    expect(await upgrade({ cookie, origin: server().origin })).toBe(101);
  });

  test('a foreign Host header (DNS rebinding) is refused even with a valid cookie', async () => {
    const cookie = await sessionCookie();
    const { port } = server();
    const r = await request(base(), { cookie, host: `evil.example:${port}` });
    expect(r.status).toBe(421);
    expect(await upgrade({ cookie, host: `evil.example:${port}`, origin: `http://evil.example:${port}` })).toBe(421);
  });

  test('the WebSocket refuses a connection without the session cookie', async () => {
    expect(await upgrade({ origin: server().origin })).toBe(401);
    const cookie = await sessionCookie();
    expect(await upgrade({ cookie, origin: server().origin })).toBe(101);
  });

  test('a browser without the token sees the refusal, not the console', async ({ page }) => {
    const response = await page.goto(baseUrl());
    expect(response?.status()).toBe(401);
    await expect(page.getByTestId('app')).toHaveCount(0);
  });

  test('another server on 127.0.0.1 neither receives the session cookie nor can plant one', async ({ page }) => {
    // cookies are not isolated by port: this stands for any local process that gets the browser to visit it
    const seen: string[] = [];
    const other = http.createServer((req, res) => {
      seen.push(req.headers.cookie ?? '');
      res.writeHead(200, {
        'content-type': 'text/html',
        'set-cookie': ['gatehouse_session=planted; Path=/', 'gatehouse_x=planted; Path=/'],
      });
      res.end('<html><body>another local server</body></html>');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const otherPort = (other.address() as AddressInfo).port;
      await openApp(page);
      const cookies = await page.context().cookies();
      const ours = cookies.find((c) => /^gatehouse_[0-9a-f]{12}$/.test(c.name));
      expect(ours?.httpOnly).toBe(true);
      // a page of that server, at its root and at a guessed path, then a same-site navigation from it
      await page.goto(`http://127.0.0.1:${otherPort}/`);
      await page.goto(`http://127.0.0.1:${otherPort}/gh-guess/`);
      await Promise.all([page.waitForURL(`http://127.0.0.1:${otherPort}/again`), page.evaluate(() => (location.href = '/again'))]);
      await expect.poll(() => seen.length).toBeGreaterThanOrEqual(3);
      for (const header of seen) expect(header).not.toContain(ours?.value ?? 'no cookie of ours');
      // the planted cookies change nothing for the console
      await page.goto(baseUrl());
      await expect(page.getByTestId('app')).toBeVisible();
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });
});
