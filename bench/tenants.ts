// Tenant lifecycle figures: provisioning time (median/p95, concurrency 1 and 8), reconcile
// time and API calls for 1,000 / 5,000 registry entries, registry bytes per tenant.
// Needs a running harness (`npm run cluster:up`). Usage: npx tsx bench/tenants.ts [tenants=20]
import fs from 'node:fs';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL } from '../src-main/adapters/kube';
import { DEFAULT_SHARDS, REGISTRY_LABEL_KEY, encodeEntry, shardIndex, shardName } from '../src-main/engine/tenants/registry';
import { mapLimit } from '../src-main/engine/core/limit';
import { buildTenantEngine, harnessOrReason, harnessPg, operatorNamespace, tempDataDir, uniqueSlug } from '../test/integration/tenants-env';

const h = harnessOrReason();
if ('reason' in h) {
  console.error(h.reason);
  process.exit(1);
}
const { state } = h;
const count = Number(process.argv[2] ?? 20);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const rows: { figure: string; value: string }[] = [];
const json: Record<string, unknown> = { at: new Date().toISOString(), tenants: count };

const ns = await operatorNamespace(state, 'gh-bench-tenants');
const eng = buildTenantEngine({
  kubeconfig: state.kubeconfigs.operator,
  namespace: ns.namespace,
  pg: harnessPg(state),
  dataDir: tempDataDir(),
  consoleId: 'bench',
});
try {
  for (const concurrency of [1, 8]) {
    const times: number[] = [];
    const slugs = Array.from({ length: count }, () => uniqueSlug('b'));
    const t0 = performance.now();
    await mapLimit(slugs, concurrency, async (slug) => {
      const t = performance.now();
      await eng.service.create(eng.runtime, { slug, name: `Bench ${slug}`, tier: 'PRO' });
      times.push(performance.now() - t);
    });
    const wall = performance.now() - t0;
    rows.push({
      figure: `provision ×${count} @${concurrency}: median / p95 per tenant`,
      value: `${pct(times, 50).toFixed(0)} ms / ${pct(times, 95).toFixed(0)} ms`,
    });
    rows.push({
      figure: `provision ×${count} @${concurrency}: wall time`,
      value: `${(wall / 1000).toFixed(1)} s (${((count / wall) * 1000).toFixed(2)} tenants/s)`,
    });
    json[`provision_c${concurrency}`] = { medianMs: pct(times, 50), p95Ms: pct(times, 95), wallMs: wall };
    await mapLimit(slugs, 4, (slug) => eng.service.delete(eng.runtime, slug, false));
  }

  // Registry at scale: entries written straight into the shards (16 writes), then reconciled.
  const admin = new KubeConfig();
  admin.loadFromFile(state.kubeconfigs.admin);
  const core = admin.makeApiClient(CoreV1Api);
  for (const n of [1000, 5000]) {
    const shards: Record<string, string>[] = Array.from({ length: DEFAULT_SHARDS }, () => ({}));
    let entryBytes = 0;
    for (let i = 0; i < n; i++) {
      const slug = `scale-${String(i).padStart(5, '0')}-customer`;
      const raw = encodeEntry({
        name: `Customer ${i} International Holdings`,
        tier: 'PRO',
        status: 'active',
        created: new Date().toISOString(),
        schema: 3,
        users: 2500,
      });
      entryBytes += Buffer.byteLength(slug) + Buffer.byteLength(raw);
      shards[shardIndex(slug, DEFAULT_SHARDS)]![slug] = raw;
    }
    for (const [i, data] of shards.entries()) {
      const body = { metadata: { name: shardName(i), labels: { ...MANAGED_BY_LABEL, [REGISTRY_LABEL_KEY]: 'tenants' } }, data };
      await core
        .replaceNamespacedConfigMap({ name: shardName(i), namespace: ns.namespace, body })
        .catch(() => core.createNamespacedConfigMap({ namespace: ns.namespace, body }));
    }
    const biggest = Math.max(
      ...(await core.listNamespacedConfigMap({ namespace: ns.namespace, labelSelector: `${REGISTRY_LABEL_KEY}=tenants` })).items.map((c) =>
        Buffer.byteLength(JSON.stringify(c)),
      ),
    );
    const t = performance.now();
    const out = await eng.service.reconcile(eng.runtime);
    const ms = performance.now() - t;
    rows.push({ figure: `reconcile ${n} tenants: time / API calls`, value: `${ms.toFixed(0)} ms / ${out.apiCalls} (4 LIST + 1 SQL)` });
    rows.push({
      figure: `registry ${n} tenants: bytes per tenant / largest shard`,
      value: `${(entryBytes / n).toFixed(0)} B / ${(biggest / 1024).toFixed(0)} KiB of 1024 KiB`,
    });
    json[`reconcile_${n}`] = { ms, apiCalls: out.apiCalls, bytesPerTenant: entryBytes / n, largestShardBytes: biggest };
  }
} finally {
  await eng.close();
  await ns.remove();
}

const w = Math.max(...rows.map((r) => r.figure.length));
console.log(`\n${'figure'.padEnd(w)}  value\n${'-'.repeat(w)}  ${'-'.repeat(30)}`);
for (const r of rows) console.log(`${r.figure.padEnd(w)}  ${r.value}`);
const outDir = path.join(path.dirname(new URL(import.meta.url).pathname), 'results');
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'tenants.json'), JSON.stringify(json, null, 2) + '\n');
