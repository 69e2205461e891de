import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { _electron as electron, expect, test, type ElectronApplication } from '@playwright/test';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * The Electron binary without triggering require('electron')'s download:
 * ELECTRON_OVERRIDE_DIST_PATH, else node_modules/electron/path.txt + dist/.
 */
function electronBinary(): { path: string | null; reason: string } {
  const pkg = path.join(root, 'node_modules/electron');
  const pathTxt = path.join(pkg, 'path.txt');
  const rel = fs.existsSync(pathTxt) ? fs.readFileSync(pathTxt, 'utf8').trim() : 'electron';
  if (process.env.ELECTRON_OVERRIDE_DIST_PATH) {
    const p = path.join(process.env.ELECTRON_OVERRIDE_DIST_PATH, rel);
    return fs.existsSync(p)
      ? { path: p, reason: '' }
      : { path: null, reason: `ELECTRON_OVERRIDE_DIST_PATH is set but ${p} does not exist` };
  }
  if (!fs.existsSync(pkg)) return { path: null, reason: 'the electron package is not installed (npm install)' };
  if (!fs.existsSync(pathTxt))
    return {
      path: null,
      reason:
        'the Electron binary was never downloaded (node_modules/electron/path.txt is missing; run `npx install-electron` where the network allows, or set ELECTRON_OVERRIDE_DIST_PATH)',
    };
  const p = path.join(pkg, 'dist', rel);
  return fs.existsSync(p) ? { path: p, reason: '' } : { path: null, reason: `the Electron binary ${p} is missing` };
}

const binary = electronBinary();
if (!binary.path) console.log(`Electron smoke test skipped: ${binary.reason}`);

test.describe('desktop shell (Electron)', () => {
  test.skip(!binary.path, binary.reason);
  let app: ElectronApplication;
  let home: string;

  test.beforeAll(async () => {
    // the smoke test runs the built app: build it when this checkout has not
    if (!fs.existsSync(path.join(root, 'out/main/index.js')) || !fs.existsSync(path.join(root, 'out/preload/index.cjs'))) {
      const r = spawnSync('npx', ['electron-vite', 'build'], { cwd: root, stdio: 'inherit' });
      if (r.status !== 0) throw new Error('electron-vite build failed');
    }
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-electron-'));
    app = await electron.launch({
      executablePath: binary.path!,
      args: [path.join(root, 'out/main/index.js'), ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])],
      env: {
        ...process.env,
        GATEHOUSE_HOME: path.join(home, 'data'),
        HOME: home,
        GATEHOUSE_IDENTITY: 'os-user',
        ELECTRON_ENABLE_LOGGING: '1',
      },
      timeout: 60_000,
    });
  });
  test.afterAll(async () => {
    await app?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  test('opens one window with the console, isolated from Node', async () => {
    const win = await app.firstWindow();
    await expect(win.getByTestId('app')).toBeVisible({ timeout: 30_000 });
    await expect(win.getByTestId('statusbar')).toContainText('Desktop');
    // our page comes from its own origin, app://gatehouse, not file://
    expect(win.url()).toMatch(/^app:\/\/gatehouse\/index\.html(#.*)?$/);
    expect(await win.evaluate(() => location.origin)).toBe('app://gatehouse');
    const isolation = await win.evaluate(() => ({
      bridge: typeof (window as unknown as { gatehouse?: { invoke?: unknown } }).gatehouse?.invoke,
      require: typeof (window as unknown as { require?: unknown }).require,
      process: typeof (window as unknown as { process?: unknown }).process,
    }));
    expect(isolation).toEqual({ bridge: 'function', require: 'undefined', process: 'undefined' });
    expect(await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(1);
    fs.mkdirSync(path.join(root, 'test-results/screenshots'), { recursive: true });
    await win.screenshot({ path: path.join(root, 'test-results/screenshots/electron-window.png') });
  });

  test('window.open and navigation away are denied', async () => {
    const win = await app.firstWindow();
    const opened = await win.evaluate(() => window.open('https://example.com') === null);
    expect(opened).toBe(true);
    expect(app.windows()).toHaveLength(1);
    await win.evaluate(() => {
      location.href = 'https://example.com/';
    });
    await win.waitForTimeout(500);
    expect(win.url()).not.toContain('example.com');
    expect(win.url()).toMatch(/^app:\/\/gatehouse\//);
  });
});
