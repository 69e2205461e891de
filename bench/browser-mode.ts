// Shared by the benches that time a page in Chromium: a browser-mode console with no cluster
// (KUBECONFIG points nowhere) and a page whose WebSocket answers some commands from canned
// data (thousands of tenants, alerts) while every other call reaches the real engine.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const root = path.resolve(import.meta.dirname, '..');

export interface CannedConsole {
  page: Page;
  close(): Promise<void>;
}

/** Starts `serve` in `home`, waits for its sign-in link, opens it with `canned` answers. */
export async function openCannedConsole(home: string, dataDir: string, canned: Record<string, unknown>): Promise<CannedConsole> {
  const server: ChildProcess = spawn(
    path.join(root, 'node_modules/.bin/tsx'),
    ['src-main/serve/cli.ts', '--data-dir', dataDir, '--port', '0'],
    {
      cwd: root,
      env: { ...process.env, HOME: home, GATEHOUSE_IDENTITY: 'os-user', KUBECONFIG: path.join(home, 'none') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/(?:[\w-]+\/)?\?token=[\w-]+)/.exec(out); // browser mode has a per-instance base path
      if (m?.[1]) resolve(m[1]);
    });
    server.once('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`browser mode printed no sign-in link in 60 s: ${out}`)), 60_000).unref();
  });
  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // tsx (esbuild keepNames) wraps named functions in __name(); give evaluated code one
    await page.addInitScript('window.__name = (f) => f');
    await page.routeWebSocket('**/ws', (ws) => {
      const upstream = ws.connectToServer();
      ws.onMessage((raw) => {
        const msg = JSON.parse(String(raw)) as { type: string; id: number; command: string };
        if (msg.type === 'invoke' && msg.command in canned)
          ws.send(JSON.stringify({ type: 'result', id: msg.id, result: { ok: true, value: canned[msg.command] } }));
        else upstream.send(raw);
      });
      upstream.onMessage((m) => ws.send(m));
    });
    await page.goto(url);
    await page.getByTestId('app').waitFor();
    const b = browser;
    return {
      page,
      close: async () => {
        await b.close();
        server.kill('SIGTERM');
      },
    };
  } catch (error) {
    await browser?.close();
    server.kill('SIGTERM');
    throw error;
  }
}
