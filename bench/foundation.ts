// Contract round trip (in-process and over WebSocket), browser-mode cold start to a rendered UI, cache open time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { chromium } from 'playwright-core';
import { createEngine, localMigrations } from '../src-main/engine';
import { openLocalStore } from '../src-main/adapters/sqlite';
import { createRouter } from '../src-main/ipc/router';
import { startServer } from '../src-main/serve/server';
import { percentile, report, timeIt, type Row } from './lib';

const N = 2000;
const rows: Row[] = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
const engine = createEngine({ mode: 'browser', dataDir: dir, identity: 'os-user' });
const router = createRouter(engine);

// in-process
const inproc: number[] = [];
for (let i = 0; i < N; i++) inproc.push(await timeIt(() => router.invoke('bench', 'system.settings.get', {})));
inproc.sort((a, b) => a - b);
rows.push(
  { metric: 'round trip in-process p50', value: percentile(inproc, 50), unit: 'ms' },
  { metric: 'round trip in-process p99', value: percentile(inproc, 99), unit: 'ms' },
);

// over WebSocket
const staticDir = path.resolve(import.meta.dirname, '../out/renderer');
const server = await startServer({ router, staticDir });
const res = await fetch(server.openUrl, { redirect: 'manual' });
const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}ws`, { headers: { cookie, origin: server.origin } });
await new Promise((r) => ws.once('open', r));
const waiting = new Map<number, () => void>();
ws.on('message', (d) => waiting.get(JSON.parse(String(d)).id)?.());
const overWs: number[] = [];
for (let i = 0; i < N; i++) {
  overWs.push(
    await timeIt(
      () =>
        new Promise<void>((resolve) => {
          waiting.set(i, resolve);
          ws.send(JSON.stringify({ type: 'invoke', id: i, command: 'system.settings.get', input: {} }));
        }),
    ),
  );
}
overWs.sort((a, b) => a - b);
rows.push(
  { metric: 'round trip WebSocket p50', value: percentile(overWs, 50), unit: 'ms' },
  { metric: 'round trip WebSocket p99', value: percentile(overWs, 99), unit: 'ms' },
);
ws.close();
await server.close();
await engine.close();

// cache open with 5,000 cached tenants (a generic per-cluster table shaped like the tenant cache)
const cacheFile = path.join(dir, 'big');
{
  const { db } = openLocalStore(cacheFile, localMigrations);
  db.exec('CREATE TABLE IF NOT EXISTS bench_tenants (cluster_id TEXT, slug TEXT, doc TEXT, PRIMARY KEY (cluster_id, slug))');
  const ins = db.prepare('INSERT OR REPLACE INTO bench_tenants VALUES (?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 5000; i++)
      ins.run(
        'prod',
        `tenant-${i}`,
        JSON.stringify({ slug: `tenant-${i}`, name: `Tenant ${i}`, tier: 'PRO', users: i * 3, groups: i % 40, apps: i % 12 }),
      );
  })();
  db.close();
}
const opens: number[] = [];
for (let i = 0; i < 20; i++) {
  opens.push(
    await timeIt(() => {
      const { db } = openLocalStore(cacheFile, localMigrations);
      db.prepare('SELECT doc FROM bench_tenants WHERE cluster_id = ?').all('prod');
      db.close();
    }),
  );
}
opens.sort((a, b) => a - b);
rows.push({ metric: 'cache open + read 5,000 tenants p50', value: percentile(opens, 50), unit: 'ms' });

// browser mode cold start: spawn the server, open Chromium, wait for the first rendered page
if (fs.existsSync(path.join(staticDir, 'index.html')) && fs.existsSync('/usr/bin/chromium')) {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src-main/serve/cli.ts', '--data-dir', path.join(dir, 'cold')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /http:\/\/\S+token=\S+/.exec(out);
      if (m) resolve(m[0]);
    });
  });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForSelector('[data-testid="app"], [data-testid="dashboard"], main', { timeout: 60_000 });
  rows.push({
    metric: 'browser mode cold start to first render',
    value: Number(process.hrtime.bigint() - started) / 1e6,
    unit: 'ms',
    note: 'server spawn + Chromium + UI',
  });
  await browser.close();
  child.kill('SIGTERM');
} else {
  rows.push({
    metric: 'browser mode cold start to first render',
    value: NaN,
    unit: 'ms',
    note: 'skipped: run npm run build:web and install chromium',
  });
}
fs.rmSync(dir, { recursive: true, force: true });
report('foundation', rows);
process.exit(0);
