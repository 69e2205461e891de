import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ENTRY_URL, createAppProtocolHandler, isAppPageUrl, resolveAppAsset } from '../../../src-main/ipc/desktop-bridge/app-protocol';

const root = path.resolve('/srv/gatehouse/out/renderer');

describe('app:// path resolution', () => {
  it.each([
    ['app://gatehouse/', 'index.html'],
    ['app://gatehouse', 'index.html'],
    [APP_ENTRY_URL, 'index.html'],
    ['app://gatehouse/index.html#/tenants', 'index.html'],
    ['app://gatehouse/index.html?x=1', 'index.html'],
    ['app://gatehouse/assets/index-Bx9.js', 'assets/index-Bx9.js'],
    ['app://gatehouse/assets/font%20name.woff2', 'assets/font name.woff2'],
  ])('serves %s as %s', (url, file) => {
    expect(resolveAppAsset(root, url)).toBe(path.join(root, file));
  });

  it.each([
    'app://gatehouse/../../etc/passwd',
    'app://gatehouse/assets/../../../etc/passwd',
    'app://gatehouse/%2e%2e/%2e%2e/etc/passwd',
    'app://gatehouse/%2E%2E/secret',
    'app://gatehouse/.%2e/secret',
    'app://gatehouse/..%2f..%2fetc%2fpasswd',
    'app://gatehouse/assets%2f..%2f..%2fsecret',
    'app://gatehouse/..\\..\\etc\\passwd',
    'app://gatehouse/assets%5c..%5c..%5csecret',
    'app://gatehouse/index.html%00.png',
    'app://gatehouse/index.html\0',
    'app://gatehouse/C:%5cWindows%5cwin.ini',
    'app://gatehouse/index.html:stream',
    'app://gatehouse//etc/passwd',
    'app://gatehouse/./index.html',
    'app://gatehouse/assets/',
    'app://gatehouse/%E0%A4%A',
    'app://other/index.html',
    'app://gatehouse.evil/index.html',
    'app://gatehouse@evil/index.html',
    'app://gatehouse:443/index.html',
    'file:///etc/passwd',
    'https://gatehouse/index.html',
  ])('refuses %j', (url) => {
    expect(resolveAppAsset(root, url)).toBeNull();
  });

  it('recognises exactly our origin, parsed, not by prefix', () => {
    expect(isAppPageUrl('app://gatehouse/index.html#/audit')).toBe(true);
    for (const url of [
      'app://gatehouse.evil/',
      'app://gatehouse@x/',
      'app://gatehousex/',
      'app://x/?app://gatehouse/',
      'file:///app://gatehouse/',
      undefined,
      42,
    ]) {
      expect(isAppPageUrl(url), String(url)).toBe(false);
    }
  });
});

describe('app:// handler', () => {
  let dir: string;
  let served: string;
  let handle: (request: Request) => Promise<Response>;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-app-protocol-'));
    served = path.join(dir, 'renderer');
    fs.mkdirSync(path.join(served, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(served, 'index.html'), '<!doctype html><title>Gatehouse</title>');
    fs.writeFileSync(path.join(served, 'assets', 'app.js'), 'export {};');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'not for the page');
    fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(served, 'assets', 'leak.txt'));
    handle = createAppProtocolHandler(served, "default-src 'self'");
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('serves the page with our CSP and no-store, scripts as JavaScript', async () => {
    const page = await handle(new Request(APP_ENTRY_URL));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe("default-src 'self'");
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(await page.text()).toContain('<title>Gatehouse</title>');
    const script = await handle(new Request('app://gatehouse/assets/app.js'));
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await script.text()).toBe('export {};');
  });

  it('refuses traversal, a symlink leading out, and methods other than GET/HEAD; 404 for what is not there', async () => {
    // Request normalises dot segments itself; the raw forms are covered by resolveAppAsset above
    expect((await handle(new Request('app://gatehouse/assets/leak.txt'))).status).toBe(403);
    expect((await handle(new Request('app://gatehouse/..%5csecret.txt'))).status).toBe(403);
    expect((await handle(new Request('app://gatehouse.evil/index.html'))).status).toBe(403);
    expect((await handle(new Request(APP_ENTRY_URL, { method: 'POST', body: 'x' }))).status).toBe(405);
    expect((await handle(new Request('app://gatehouse/missing.js'))).status).toBe(404);
    expect((await handle(new Request('app://gatehouse/assets'))).status).toBe(404);
    const body = await (await handle(new Request('app://gatehouse/assets/leak.txt'))).text();
    expect(body).not.toContain('not for the page');
  });
});
