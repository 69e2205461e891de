// Rotation figures: one full JWT rotation on the harness (the JWKS cache wait excluded: max-age 0),
// with a dedicated workload that kwok really rolls twice and without one; fleet rotation of
// 100 / 500 tenants at concurrency 8; Kubernetes API calls per tenant.
// Needs a running harness (`npm run cluster:up`). Usage: npx tsx bench/rotation.ts [fleet sizes=100,500]
import { initialJwtKeys } from '../src-main/engine/rotation/keyset';
import type { KubeClients } from '../src-main/adapters/kube';
import { mapLimit } from '../src-main/engine/core/limit';
import { harnessOrReason, operatorNamespace, tempDataDir, uniqueSlug } from '../test/integration/tenants-env';
import { apis, buildRotationEngine, createTenantSecret, createWorkload, waitAvailable } from '../test/integration/rotation-env';
import { report, percentile, type Row } from './lib';

const h = harnessOrReason();
if ('reason' in h) {
  console.error(h.reason);
  process.exit(1);
}
const { state } = h;
const sizes = (process.argv[2] ?? '100,500').split(',').map(Number);
const LIFETIMES = JSON.stringify({ accessSeconds: 60, refreshSeconds: 0, offlineIdleSeconds: 0, jwksMaxAgeSeconds: 0 });

/** Counts every request the engine makes: each method call on an API group object is one HTTP request. */
const calls = { count: 0 };
const counting = (kube: KubeClients): KubeClients => {
  const wrap = <T extends object>(api: T): T =>
    new Proxy(api, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          calls.count++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  return { ...kube, core: wrap(kube.core), apps: wrap(kube.apps), coordination: wrap(kube.coordination) };
};

const rows: Row[] = [];
const ns = await operatorNamespace(state, 'gh-bench-rot');
const { core, apps } = apis(state.kubeconfigs.operator);
const eng = buildRotationEngine({
  kubeconfig: state.kubeconfigs.operator,
  namespace: ns.namespace,
  dataDir: tempDataDir(),
  consoleId: 'bench-rot',
  options: { sharedReloadMs: 0, pollMs: 100 },
  wrapKube: counting,
});
try {
  // One tenant, one full rotation, 5 times each way.
  for (const withWorkload of [true, false]) {
    const times: number[] = [];
    const perTenantCalls: number[] = [];
    for (let i = 0; i < 5; i++) {
      const slug = uniqueSlug('bj');
      await createTenantSecret(core, ns.namespace, slug, { TENANT_SLUG: slug, ...initialJwtKeys(), TOKEN_POLICY: LIFETIMES });
      if (withWorkload) {
        await createWorkload(apps, ns.namespace, `login-worker-${slug}`, slug, { replicas: 2 });
        await waitAvailable(apps, ns.namespace, `login-worker-${slug}`);
      }
      const before = calls.count;
      const t = performance.now();
      await eng.service.rotate(eng.runtime, { slug, kind: 'jwt' });
      times.push(performance.now() - t);
      perTenantCalls.push(calls.count - before);
    }
    times.sort((a, b) => a - b);
    const label = withWorkload ? 'with a 2-replica workload (2 rollouts)' : 'no dedicated workload';
    rows.push({
      metric: `jwt rotation, ${label}: median`,
      value: percentile(times, 50),
      unit: 'ms',
      note: 'ES256, JWKS cache wait excluded',
    });
    rows.push({ metric: `jwt rotation, ${label}: p95`, value: percentile(times, 95), unit: 'ms' });
    rows.push({
      metric: `jwt rotation, ${label}: API calls`,
      value: percentile(
        perTenantCalls.sort((a, b) => a - b),
        50,
      ),
      unit: 'calls',
      note: 'median; rollout polls included',
    });
  }

  for (const n of sizes) {
    const slugs = Array.from({ length: n }, (_, i) => `${uniqueSlug('bf')}${i}`);
    await mapLimit(slugs, 8, (slug, i) =>
      createTenantSecret(core, ns.namespace, slug, {
        TENANT_SLUG: slug,
        JWT_CURRENT_KID: `k-legacy-${i}`,
        JWT_CURRENT_SECRET: `s-${i}-${'x'.repeat(60)}`,
        TOKEN_POLICY: LIFETIMES,
      }),
    );
    const before = calls.count;
    const t = performance.now();
    const summary = await eng.service.fleetRotate(eng.runtime, { kind: 'jwt', concurrency: 8, slugs }, 'bench');
    const wall = performance.now() - t;
    rows.push({
      metric: `fleet jwt rotation ×${n} @8: wall`,
      value: wall / 1000,
      unit: 's',
      note: `${summary.done} done, ${summary.failed} failed; ${((n / wall) * 1000).toFixed(1)} tenants/s; no dedicated workloads, shared reload wait 0`,
    });
    rows.push({ metric: `fleet jwt rotation ×${n} @8: API calls per tenant`, value: (calls.count - before) / n, unit: 'calls' });
    // delete the fixtures so the next size starts from the same namespace size
    await mapLimit(slugs, 8, (slug) => core.deleteNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace }));
  }
} finally {
  await eng.close();
  await ns.remove();
}
report('rotation', rows);
