// The infrastructure watch against the real API server with kwok nodes: pods really get
// scheduled and become Ready; the view is kept by LIST + WATCH alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfraChanged } from '../../src-shared/contract/infra';
import { InfraService } from '../../src-main/engine/infra/service';
import { harnessOrReason, operatorNamespace, tempDataDir, uniqueSlug } from './tenants-env';
import { buildWorkersEngine, type WorkersTestEngine } from './workers-env';

const h = harnessOrReason();
const state = 'state' in h ? h.state : (undefined as never);
const inline = {
  taskMode: 'inline' as const,
  taskPool: null,
  taskConcurrency: 4,
  loginMode: 'inline' as const,
  loginUrl: null,
  loginMaxConcurrent: null,
};

async function until<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('infrastructure view (real API server + kwok)', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: WorkersTestEngine;
  let infra: InfraService;
  const batches: InfraChanged[] = [];

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-infra');
    eng = await buildWorkersEngine({ state, namespace: ns.namespace, dataDir: tempDataDir() });
    infra = new InfraService({ bus: eng.bus, batchMs: 100 });
    eng.bus.subscribe('infra.changed', (e) => batches.push(e));
    const backend = await eng.admin.apps.readNamespacedDeployment({ name: 'backend', namespace: state.platformNamespace });
    await eng.admin.apps.createNamespacedDeployment({
      namespace: ns.namespace,
      body: { metadata: { name: 'backend', labels: backend.metadata?.labels ?? {} }, spec: backend.spec! },
    });
  });
  afterAll(async () => {
    infra?.close();
    await eng?.close();
    await ns?.remove();
  });

  it('groups workloads and pods with health, versions, readiness and nodes; names what is missing; opens with one LIST per stream', async () => {
    let snap = await infra.snapshot(eng.runtime);
    expect(snap.stats.lists).toBe(3);
    expect(snap.stats.watches).toBe(3);
    snap = await until('pods ready', () => {
      const s = infra.watcher(eng.runtime).snapshot();
      return s.pods.filter((p) => p.ready).length >= 3 && s.workloads.every((w) => w.health === 'Healthy') ? s : null;
    });
    expect(snap.workloads.map((w) => `${w.name}:${w.group}:${w.version}:${w.health}`)).toEqual([
      'backend:backend:1.8.2:Healthy',
      'login-worker-shared:login-shared:1.8.2:Healthy',
    ]);
    const backendPods = snap.pods.filter((p) => p.workload === 'backend');
    expect(backendPods).toHaveLength(2);
    for (const p of backendPods)
      expect(p).toMatchObject({
        group: 'backend',
        ready: true,
        phase: 'Running',
        restarts: 0,
        version: '1.8.2',
        node: expect.stringMatching(/^kwok-node-/),
      });
    expect(snap.missing.map((m) => `${m.name}:${m.health}`)).toEqual(['frontend:Missing']);
  });

  it('a dedicated login worker appears through WATCH batches (no new LIST, no GET), and a tenant configured dedicated without one is Missing', async () => {
    const w = infra.watcher(eng.runtime);
    const listsBefore = w.counters.lists;
    const slug = uniqueSlug('inf');
    await eng.seedTenant(slug, 'PRO');
    batches.length = 0;
    await eng.service.setConfig(eng.runtime, { ...inline, slug, loginMode: 'dedicated' });
    const seen = await until('the dedicated worker in a batch, healthy', () =>
      batches.flatMap((b) => b.workloads).find((x) => x.name === `login-worker-${slug}` && x.health === 'Healthy'),
    );
    expect(seen).toMatchObject({ group: 'login-dedicated', tenant: slug, desired: 1, available: 1 });
    await until('its pod ready in a batch', () => batches.flatMap((b) => b.pods).find((p) => p.tenant === slug && p.ready));
    expect((await infra.tenant(eng.runtime, slug)).workloads.map((x) => x.name)).toEqual([`login-worker-${slug}`]);
    // Removed behind the console's back: the tenant's configuration still says dedicated.
    await eng.admin.apps.deleteNamespacedDeployment({ name: `login-worker-${slug}`, namespace: ns.namespace });
    await until('Missing', () => w.snapshot().missing.find((m) => m.name === `login-worker-${slug}`));
    expect(w.counters.lists).toBe(listsBefore);
    expect(w.counters.batches).toBeGreaterThan(0);
    // Far fewer events published than seen: changes are batched.
    expect(batches.length).toBeLessThan(w.counters.events);
  });
});
