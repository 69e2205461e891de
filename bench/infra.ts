// The Infrastructure page at scale: 5,000 dedicated login-worker Deployments and 10,000 pods on
// kwok nodes, the console in browser mode (the real engine, as an operator starts it), the page in
// Chromium (Playwright). Figures: time to first paint (cold and warm engine), watch-event-to-screen
// latency under 50 pod updates/s, frame times, engine RSS, renderer heap, the watch's API calls on
// open and per minute, and `kubectl get pods -o json` on the same cluster in the same run.
//
// Runs its own harness in a private folder (never the shared one): GATEHOUSE_HARNESS_DIR defaults to
// <cache>/runs/bench-infra. Usage: npx tsx bench/infra.ts [pods=10000] [deployments=5000] [--keep]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import { chromium, type Page } from '@playwright/test';
import { down, up } from '../test/harness/harness';
import { kubeJson, type KubeConn } from '../test/harness/kubeapi';
import type { HarnessState } from '../test/harness/state';
import { startBrowserMode, stopBrowserMode } from '../test/e2e/serve';
import { percentile, report, type Row } from './lib';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const PODS = Number(args[0] ?? 10_000);
const DEPLOYMENTS = Number(args[1] ?? 5_000);
const KEEP = process.argv.includes('--keep');
const UPDATES_PER_SECOND = 50;
const UPDATE_SECONDS = 30;
const HOT = 40;
const root = path.resolve(import.meta.dirname, '..');
const runRoot = process.env.GATEHOUSE_HARNESS_DIR ?? path.join(os.homedir(), '.cache/gatehouse-harness/runs/bench-infra');
const log = (m: string) => process.stderr.write(`[bench:infra] ${m}\n`);
const rows: Row[] = [];
const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;

log(`harness in ${runRoot}`);
const state: HarnessState = await up({ root: runRoot, log: (m) => log(m) });
const pki = path.join(state.runDir, 'pki');
const admin: KubeConn = {
  server: state.apiServer.url,
  caFile: state.apiServer.caFile,
  certFile: path.join(pki, 'admin.crt'),
  keyFile: path.join(pki, 'admin.key'),
};
const ns = state.platformNamespace;
const nodes = ['kwok-node-0', 'kwok-node-1', 'kwok-node-2'];

async function pool<T>(items: T[], concurrency: number, fn: (x: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const slugOf = (i: number) => `bench${String(i).padStart(5, '0')}`;
const labels = (slug: string) => ({
  'app.kubernetes.io/name': `login-worker-${slug}`,
  'app.kubernetes.io/component': 'login-worker',
  'app.kubernetes.io/part-of': 'justiam',
  'app.kubernetes.io/managed-by': 'gatehouse',
  'gatehouse.io/tenant': slug,
  'app.kubernetes.io/version': '1.8.2',
  'gatehouse.test/bench': 'infra',
});

// ---- populate ------------------------------------------------------------------------------
const existing = await kubeJson<{ items: unknown[] }>(
  admin,
  'GET',
  `/api/v1/namespaces/${ns}/pods?labelSelector=gatehouse.test%2Fbench%3Dinfra&limit=1`,
);
if (existing.items.length === 0) {
  // Deployments are created paused (the controller-manager, at its default 20 requests/s, would need
  // ~10 minutes to make 10,000 pods); the pods are made directly on the kwok nodes, which run them.
  let t = process.hrtime.bigint();
  await pool(
    Array.from({ length: DEPLOYMENTS }, (_, i) => i),
    32,
    async (i) => {
      const slug = slugOf(i);
      await kubeJson(admin, 'POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: `login-worker-${slug}`, labels: labels(slug) },
        spec: {
          replicas: 2,
          paused: true,
          selector: { matchLabels: { 'app.kubernetes.io/name': `login-worker-${slug}` } },
          template: {
            metadata: { labels: labels(slug) },
            spec: { containers: [{ name: 'login-worker', image: 'ghcr.io/justiam/login-worker:1.8.2' }] },
          },
        },
      });
    },
  );
  log(`${DEPLOYMENTS} Deployments in ${Math.round(ms(t))} ms`);
  t = process.hrtime.bigint();
  await pool(
    Array.from({ length: PODS }, (_, i) => i),
    32,
    async (i) => {
      const slug = slugOf(Math.floor(i / 2) % DEPLOYMENTS);
      await kubeJson(admin, 'POST', `/api/v1/namespaces/${ns}/pods`, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `login-worker-${slug}-${i < HOT ? 'hot' : 'p'}${i}`, labels: labels(slug) },
        spec: { nodeName: nodes[i % 3], containers: [{ name: 'login-worker', image: 'ghcr.io/justiam/login-worker:1.8.2' }] },
      });
    },
  );
  rows.push({
    metric: `create ${PODS.toLocaleString('en-US')} pods (32 at a time, admin)`,
    value: ms(t) / 1000,
    unit: 's',
    note: 'set-up, not a console figure',
  });
  log(`${PODS} pods in ${Math.round(ms(t))} ms`);
}
// kwok marks them Running/Ready (its own pace); the figures below are taken once all are ready.
{
  const t = process.hrtime.bigint();
  for (;;) {
    const list = await kubeJson<{ items: { status?: { conditions?: { type: string; status: string }[] } }[] }>(
      admin,
      'GET',
      `/api/v1/namespaces/${ns}/pods?labelSelector=gatehouse.test%2Fbench%3Dinfra`,
    );
    const ready = list.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    log(`kwok: ${ready}/${list.items.length} pods ready`);
    if (ready >= PODS) break;
    await new Promise((r) => setTimeout(r, 5000));
  }
  rows.push({ metric: `kwok: all ${PODS.toLocaleString('en-US')} pods ready after`, value: ms(t) / 1000, unit: 's', note: 'set-up' });
}

// ---- kubectl on the same cluster -------------------------------------------------------------
const kubectlRuns: { wall: number; rssKiB: number; bytes: number }[] = [];
for (let i = 0; i < 3; i++) {
  const t = process.hrtime.bigint();
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', '%M', 'kubectl', '--kubeconfig', state.kubeconfigs.operator, 'get', 'pods', '-n', ns, '-o', 'json'],
    { maxBuffer: 1 << 30 },
  );
  const wall = ms(t);
  const rss = Number(r.stderr.toString().trim().split('\n').pop());
  kubectlRuns.push({ wall, rssKiB: rss, bytes: r.stdout.length });
}
kubectlRuns.sort((a, b) => a.wall - b.wall);
const kubectl = kubectlRuns[1]!;
log(
  `kubectl get pods -o json: ${Math.round(kubectl.wall)} ms, ${Math.round(kubectl.rssKiB / 1024)} MiB peak, ${(kubectl.bytes / 1e6).toFixed(1)} MB`,
);

// ---- the console ------------------------------------------------------------------------------
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-infra-'));
const { child, url } = await startBrowserMode({
  dataDir: path.join(home, 'data'),
  home,
  kubeconfig: state.kubeconfigs.operator,
  identity: 'os-user',
  logName: 'bench-infra-server.log',
});

/** RSS of the engine: the largest process under the browser-mode child (tsx runs node below it). */
function engineRssMiB(): number {
  const kids = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const ppid = Number(/PPid:\s+(\d+)/.exec(fs.readFileSync(`/proc/${d}/status`, 'utf8'))?.[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  let best = 0;
  const walk = (pid: number) => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      best = Math.max(best, kb);
    } catch {
      // gone
    }
    for (const k of kids.get(pid) ?? []) walk(k);
  };
  walk(child.pid!);
  return best / 1024;
}

const browser = await chromium.launch({
  executablePath: process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--enable-precise-memory-info'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 2200 } });
  await page.goto(url);
  await page.getByTestId('app').waitFor();
  const name = page.getByTestId('sb-cluster');
  await page.waitForFunction(() => (document.querySelector('[data-testid="sb-cluster"]')?.textContent ?? '') !== '', null, {
    timeout: 30_000,
  });
  if ((await name.textContent()) === 'no cluster') {
    await page.getByTestId('cluster-switcher').click();
    await page.getByRole('option').first().click();
  }
  await page.waitForTimeout(3000); // the console's own start (connection check, tenant watch) settles
  const rssBefore = engineRssMiB();

  const total = async () => Number(((await page.getByTestId('pods-ready').textContent()) ?? '').split('/')[1]?.replace(/[^0-9]/g, '') ?? 0);
  async function openPods(label: string): Promise<number> {
    await page.evaluate(() => (location.hash = '/dashboard'));
    await page.getByTestId('app').waitFor();
    const t = Date.now();
    await page.evaluate(() => (location.hash = '/infrastructure/pods'));
    await page.waitForFunction(
      (n) => {
        const text = document.querySelector('[data-testid="pods-ready"]')?.textContent ?? '';
        const shown = Number((text.split('/')[1] ?? '').replace(/[^0-9]/g, ''));
        return shown >= n && document.querySelectorAll('[data-testid="infra-pods"] tbody tr').length > 5;
      },
      PODS,
      { timeout: 300_000, polling: 'raf' },
    );
    // one more frame: what was committed is on screen
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
    const took = Date.now() - t;
    log(`${label}: ${took} ms (${await total()} pods)`);
    return took;
  }
  const cold = await openPods('first open (engine starts its watch: paged LIST of every pod)');
  const rssAfterOpen = engineRssMiB();
  const warm: number[] = [];
  for (let i = 0; i < 3; i++) warm.push(await openPods(`open ${i + 2} (engine already watching)`));
  const stats = await page.getByTestId('infra-live').textContent();
  const [listsOnOpen, watchesOnOpen] = [...(stats ?? '').matchAll(/(\d+) (lists|watches)/g)].map((m) => Number(m[1]));
  rows.push(
    {
      metric: `first paint, ${PODS.toLocaleString('en-US')} pods, cold engine`,
      value: cold,
      unit: 'ms',
      note: 'hash change → rows and the full count on screen (includes the paged LIST)',
    },
    {
      metric: `first paint, ${PODS.toLocaleString('en-US')} pods, engine watching (median of 3)`,
      value: percentile(
        warm.sort((a, b) => a - b),
        50,
      ),
      unit: 'ms',
      note: 'snapshot from memory, no API call',
    },
    {
      metric: `kubectl get pods -o json (${(kubectl.bytes / 1e6).toFixed(1)} MB), median of 3`,
      value: kubectl.wall,
      unit: 'ms',
      note: 'same cluster, same run',
    },
    { metric: 'ratio: cold first paint / kubectl get pods -o json', value: cold / kubectl.wall, unit: '×' },
    { metric: 'ratio: warm first paint / kubectl get pods -o json', value: percentile(warm, 50) / kubectl.wall, unit: '×' },
    {
      metric: 'infrastructure watch: LIST requests on open (pages of 500)',
      value: listsOnOpen ?? NaN,
      unit: 'calls',
      note: 'pods, Deployments, worker config; never a GET per object',
    },
    { metric: 'infrastructure watch: WATCH requests on open', value: watchesOnOpen ?? NaN, unit: 'calls' },
  );

  // ---- 50 pod updates per second -------------------------------------------------------------
  await page.getByTestId('infra-filter').fill('-hot');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="infra-pods"] tbody tr').length >= n, HOT, { timeout: 30_000 });
  const hot = (
    await kubeJson<{ items: { metadata: { name: string }; spec: { containers: { image: string }[] } }[] }>(
      admin,
      'GET',
      `/api/v1/namespaces/${ns}/pods?labelSelector=gatehouse.test%2Fbench%3Dinfra`,
    )
  ).items
    .filter((p) => p.metadata.name.includes('-hot'))
    .map((p) => p.metadata.name)
    .sort();
  // The page records when each restarts cell changes and every frame's duration.
  // A string, not a function: tsx's name helpers do not exist in the page.
  await page.evaluate(`(() => {
    window.__seen = [];
    window.__frames = [];
    window.__stop = false;
    const body = document.querySelector('[data-testid="infra-pods"] tbody');
    new MutationObserver(() => {
      const now = Date.now();
      for (const tr of body.querySelectorAll('tr')) {
        const podName = tr.querySelector('td')?.textContent ?? '';
        const restarts = Number(tr.querySelector('[data-testid="pod-restarts"]')?.textContent ?? -1);
        if (restarts > 0) window.__seen.push([podName, restarts, now]);
      }
    }).observe(body, { subtree: true, childList: true, characterData: true });
    let last = performance.now();
    const tick = (t) => {
      window.__frames.push(t - last);
      last = t;
      if (!window.__stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  })()`);
  const adminKc = new KubeConfig();
  adminKc.loadFromFile(state.kubeconfigs.admin);
  const adminCore = adminKc.makeApiClient(CoreV1Api);
  // Baseline, the way `kubectl get pods -w` sees them: a plain WATCH from this process, no console in between.
  const baseline = new Map<string, number>();
  const rv = (
    await kubeJson<{ metadata: { resourceVersion: string } }>(
      admin,
      'GET',
      `/api/v1/namespaces/${ns}/pods?labelSelector=gatehouse.test%2Fbench%3Dinfra&limit=1`,
    )
  ).metadata.resourceVersion;
  const baselineWatch = await new Watch(adminKc).watch(
    `/api/v1/namespaces/${ns}/pods`,
    { labelSelector: 'gatehouse.test/bench=infra', resourceVersion: rv },
    (_type: string, obj: { metadata?: { name?: string }; status?: { containerStatuses?: { restartCount?: number }[] } }) => {
      const key = `${obj.metadata?.name}#${obj.status?.containerStatuses?.[0]?.restartCount}`;
      if (!baseline.has(key)) baseline.set(key, Date.now());
    },
    () => undefined,
  );
  const sent = new Map<string, number>();
  const calls = UPDATES_PER_SECOND * UPDATE_SECONDS;
  const t0 = Date.now();
  const lists0 = listsOnOpen ?? 0;
  const watches0 = watchesOnOpen ?? 0;
  let failures = 0;
  const failureKinds = new Map<string, number>();
  for (let k = 1; k <= calls; k++) {
    const due = t0 + (k * 1000) / UPDATES_PER_SECOND;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const pod = hot[k % hot.length]!;
    sent.set(`${pod}#${k}`, Date.now());
    // Kept-alive connections (client-node) so the load is the updates, not TLS handshakes.
    void adminCore
      .patchNamespacedPodStatus(
        {
          name: pod,
          namespace: ns,
          body: {
            status: {
              containerStatuses: [
                {
                  name: 'login-worker',
                  image: 'ghcr.io/justiam/login-worker:1.8.2',
                  imageID: '',
                  ready: true,
                  restartCount: k,
                  started: true,
                  state: { running: { startedAt: new Date(t0) } },
                },
              ],
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      )
      .catch((e: unknown) => {
        failures++;
        failureKinds.set(
          String((e as { code?: number }).code ?? (e as Error).message).slice(0, 60),
          (failureKinds.get(String((e as { code?: number }).code ?? (e as Error).message).slice(0, 60)) ?? 0) + 1,
        );
      });
  }
  await page.waitForTimeout(5000);
  baselineWatch.abort();
  const { seen, frames } = await page.evaluate(() => {
    const w = window as unknown as { __seen: [string, number, number][]; __frames: number[]; __stop: boolean };
    w.__stop = true;
    return { seen: w.__seen, frames: w.__frames };
  });
  const firstSeen = new Map<string, number>();
  for (const [podName, restarts, at] of seen) {
    const key = `${podName}#${restarts}`;
    if (!firstSeen.has(key)) firstSeen.set(key, at);
  }
  const latencies: number[] = [];
  for (const [key, at] of sent) {
    const s = firstSeen.get(key);
    if (s !== undefined) latencies.push(s - at);
  }
  latencies.sort((a, b) => a - b);
  const base: number[] = [];
  for (const [key, at] of sent) {
    const b = baseline.get(key);
    if (b !== undefined) base.push(b - at);
  }
  base.sort((a, b) => a - b);
  const shownShare = latencies.length / sent.size;
  frames.sort((a, b) => a - b);
  const long = frames.filter((f) => f > 50).length;
  const elapsedMin = (Date.now() - t0) / 60_000;
  const statsAfter = await page.getByTestId('infra-live').textContent();
  const [listsAfter, watchesAfter] = [...(statsAfter ?? '').matchAll(/(\d+) (lists|watches)/g)].map((m) => Number(m[1]));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number; totalSize: number };
  const rssAfterUpdates = engineRssMiB();
  rows.push(
    {
      metric: `watch event → screen, p50 (${UPDATES_PER_SECOND} pod updates/s for ${UPDATE_SECONDS} s)`,
      value: percentile(latencies, 50),
      unit: 'ms',
      note: `API server → engine watch → batch (250 ms) → WebSocket → frame; ${(shownShare * 100).toFixed(0)}% of the updates reached the screen by the end of the run + 5 s`,
    },
    { metric: 'watch event → screen, p95', value: percentile(latencies, 95), unit: 'ms' },
    {
      metric: 'baseline: patch → plain WATCH event (kubectl get pods -w), p50',
      value: percentile(base, 50),
      unit: 'ms',
      note: `${base.length} of ${sent.size} events; the API server's own delay on this machine`,
    },
    { metric: 'baseline: patch → plain WATCH event, p95', value: percentile(base, 95), unit: 'ms' },
    { metric: 'ratio: console screen p50 / plain WATCH p50', value: percentile(latencies, 50) / percentile(base, 50), unit: '×' },
    { metric: 'frame time during updates, p50', value: percentile(frames, 50), unit: 'ms', note: `${frames.length} frames` },
    { metric: 'frame time during updates, p95', value: percentile(frames, 95), unit: 'ms' },
    {
      metric: 'frames over 50 ms during updates',
      value: long,
      unit: 'frames',
      note: `of ${frames.length}; max ${Math.round(frames[frames.length - 1] ?? 0)} ms`,
    },
    {
      metric: 'renderer JS heap used (after GC)',
      value: heap.usedSize / (1 << 20),
      unit: 'MiB',
      note: `${PODS.toLocaleString('en-US')} pods + ${DEPLOYMENTS.toLocaleString('en-US')} workloads held by the page`,
    },
    { metric: 'engine RSS before the page opened', value: rssBefore, unit: 'MiB' },
    {
      metric: 'engine RSS with the view live',
      value: rssAfterOpen,
      unit: 'MiB',
      note: `+${Math.round(rssAfterOpen - rssBefore)} MiB for ${PODS.toLocaleString('en-US')} pods and ${DEPLOYMENTS.toLocaleString('en-US')} Deployments`,
    },
    { metric: 'engine RSS after the update run', value: rssAfterUpdates, unit: 'MiB' },
    { metric: 'kubectl get pods -o json, peak RSS', value: kubectl.rssKiB / 1024, unit: 'MiB' },
    { metric: 'ratio: engine RSS increase / kubectl peak RSS', value: (rssAfterOpen - rssBefore) / (kubectl.rssKiB / 1024), unit: '×' },
    {
      metric: 'infrastructure watch: LIST requests per minute while live',
      value: ((listsAfter ?? 0) - lists0) / elapsedMin,
      unit: '/min',
      note: `${(listsAfter ?? 0) - lists0} over ${elapsedMin.toFixed(1)} min`,
    },
    {
      metric: 'infrastructure watch: WATCH requests per minute while live',
      value: ((watchesAfter ?? 0) - watches0) / elapsedMin,
      unit: '/min',
      note: 'resumed from the last resourceVersion',
    },
    {
      metric: 'pod status patches that failed',
      value: failures,
      unit: 'calls',
      note: [...failureKinds].map(([k, v]) => `${k}: ${v}`).join('; '),
    },
  );
  await page.getByTestId('infra-filter').fill('');
  await page.setViewportSize({ width: 1280, height: 720 });
  const shots = path.join(root, 'test-results/screenshots');
  fs.mkdirSync(shots, { recursive: true });
  await shootBoth(page, path.join(shots, 'infrastructure-10k-pods'));
  await page.evaluate(() => (location.hash = '/infrastructure/workloads'));
  await page.getByTestId('infra-workloads').waitFor();
  await shootBoth(page, path.join(shots, 'infrastructure-10k-workloads'));
} finally {
  await browser.close();
  await stopBrowserMode(child);
  fs.rmSync(home, { recursive: true, force: true });
  if (!KEEP) await down({ root: runRoot, log: (m) => log(m) }).catch(() => undefined);
}
report('infra', rows);

async function shootBoth(page: Page, base: string) {
  for (const theme of ['light', 'dark']) {
    await page.evaluate((t) => (document.documentElement.dataset.theme = t), theme);
    await page.waitForTimeout(100);
    await page.screenshot({ path: `${base}-${theme}.png` });
  }
}
