// Tenant table in real Chromium with 5,000 tenants: time to render, to filter, DOM rows kept, scroll frame times.
// The engine's answers for the cluster and the tenant list are replaced on the WebSocket (page.routeWebSocket)
// so the figure is the UI's own cost; provisioning 5,000 real tenants is bench/tenants.ts's job.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openCannedConsole } from './browser-mode';
import { percentile, report, type Row } from './lib';

const root = path.resolve(import.meta.dirname, '..');
const N = 5000;
const rows: Row[] = [];

if (!fs.existsSync(path.join(root, 'out/renderer/index.html')) || !fs.existsSync('/usr/bin/chromium')) {
  report('tenant-table', [
    { metric: 'render 5,000-row table', value: NaN, unit: 'ms', note: 'skipped: run npm run build:web and install chromium' },
  ]);
  process.exit(0);
}

const tiers = ['DEV', 'PRO', 'Enterprise'];
const statuses = ['active', 'active', 'active', 'suspended'];
const tenants = Array.from({ length: N }, (_, i) => ({
  slug: `tenant-${String(i).padStart(4, '0')}`,
  name: `Customer ${i} GmbH`,
  tier: tiers[i % 3]!,
  status: statuses[i % 4]!,
  created: new Date(Date.UTC(2025, 0, 1) + i * 3_600_000).toISOString(),
  schemaVersion: 3,
  licenseUsers: null,
  backendVersion: '1.8.2',
  hasSecret: true,
  hasDatabase: true,
  inRegistry: true,
  stats: { users: (i * 37) % 5000, groups: i % 40, applications: i % 12 },
}));
const context = {
  id: 'bench',
  contextName: 'bench',
  clusterName: 'bench',
  server: 'https://127.0.0.1:6443',
  userName: 'bench',
  namespace: null,
  sourceFile: '/bench',
  status: 'ok',
  error: null,
  current: true,
  selected: true,
};
const now = new Date().toISOString();
const canned: Record<string, unknown> = {
  'clusters.list': { sources: [], contexts: [context], selectedId: 'bench' },
  'clusters.state': { clusterId: 'bench', state: 'online', lastSyncAt: now, checkedAt: now, error: null },
  'tenants.list': { tenants, drift: [], refreshedAt: now, fromCache: true, apiCalls: 0 },
  'operations.unfinished': { operations: [] },
};

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-ui-'));
const ui = await openCannedConsole(home, path.join(home, 'data'), canned);
const page = ui.page;
try {
  const renderMs = await page.evaluate(async () => {
    const t0 = performance.now();
    location.hash = '/tenants';
    await new Promise<void>((r) => {
      const check = () => (document.querySelector('[data-testid="tenant-row-tenant-0000"]') ? r() : requestAnimationFrame(check));
      check();
    });
    return performance.now() - t0;
  });
  rows.push({
    metric: 'navigate to Tenants → first rows painted',
    value: renderMs,
    unit: 'ms',
    note: `${N} tenants, list answer included`,
  });
  const domRows = await page.locator('[data-testid="tenants-table"] tbody tr[data-testid]').count();
  rows.push({ metric: 'table rows in the DOM', value: domRows, unit: 'rows', note: `of ${N} (virtualized)` });

  const filterTimes: number[] = [];
  for (const q of ['tenant-04', 'customer 12', 'tenant-4999', '']) {
    const t0 = performance.now();
    await page.getByTestId('tenant-search').fill(q);
    const expected = q === '' ? `${N.toLocaleString()} tenants` : null;
    await page.waitForFunction(
      ([e]) => {
        const t = document.querySelector('[data-testid="tenant-count"]')?.textContent ?? '';
        return e ? t === e : / of /.test(t);
      },
      [expected],
    );
    filterTimes.push(performance.now() - t0);
  }
  filterTimes.sort((a, b) => a - b);
  rows.push({
    metric: 'search filter → count updated (median of 4)',
    value: percentile(filterTimes, 50),
    unit: 'ms',
    note: 'includes Playwright round trip',
  });

  const frames = await page.evaluate(async () => {
    const el = document.querySelector<HTMLElement>('[data-testid="tenants-table"]')!;
    const deltas: number[] = [];
    let last = performance.now();
    while (el.scrollTop + el.clientHeight < el.scrollHeight - 2) {
      el.scrollTop += 400;
      await new Promise((r) => requestAnimationFrame(r));
      const t = performance.now();
      deltas.push(t - last);
      last = t;
    }
    return deltas.sort((a, b) => a - b);
  });
  rows.push({
    metric: 'scroll top→bottom: frame time p50',
    value: percentile(frames, 50),
    unit: 'ms',
    note: `${frames.length} frames, 400 px per frame`,
  });
  rows.push({ metric: 'scroll top→bottom: frame time p95', value: percentile(frames, 95), unit: 'ms' });

  const sortMs = await page.evaluate(async () => {
    const th = Array.from(document.querySelectorAll('th')).find((h) => h.textContent?.startsWith('Users'))!;
    const t0 = performance.now();
    th.click();
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return performance.now() - t0;
  });
  rows.push({ metric: 'sort by users → next paint', value: sortMs, unit: 'ms', note: `${N} rows` });
} finally {
  await ui.close();
  fs.rmSync(home, { recursive: true, force: true });
}
report('tenant-table', rows);
