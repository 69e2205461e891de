// License figures: offline verification time per license, and fan-out time to 100 and 500 tenants
// against the harness API server (skipped with a note when no harness is running).
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { kubeClients } from '../src-main/adapters/kube';
import { EventBus } from '../src-main/engine/core/events';
import { licenseMigrations } from '../src-main/engine/license/cache';
import { kubeLicenseCluster } from '../src-main/engine/license/kube-targets';
import { MemorySecretStore } from '../src-main/engine/license/ports';
import { LicenseService } from '../src-main/engine/license/service';
import { verifyLicense } from '../src-main/engine/license/verify';
import { makeLicense, nowS, testRoots } from '../test/fixtures/license/helpers';
import { readState } from '../test/harness/state';
import { percentile, report, timeIt, type Row } from './lib';
import { ClusterScope } from '../src-main/engine/clusters/scope';

const rows: Row[] = [];
const roots = testRoots();

async function verifyFigures() {
  const { jws } = await makeLicense({ cluster_uid: 'bench-uid' });
  const tampered = jws.slice(0, -4) + (jws.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  const cases: [string, string][] = [
    ['verify valid license', jws],
    ['verify forged signature (rejected)', tampered],
    [
      'verify alg none (rejected early)',
      `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'gatehouse-license+jwt' })).toString('base64url')}.${jws.split('.')[1]}.`,
    ],
  ];
  for (const [name, input] of cases) {
    for (let i = 0; i < 50; i++) await verifyLicense(input, { roots, clusterUid: 'bench-uid' }).catch(() => undefined);
    const times: number[] = [];
    for (let i = 0; i < 1000; i++)
      times.push(await timeIt(() => verifyLicense(input, { roots, clusterUid: 'bench-uid' }).catch(() => undefined)));
    times.sort((a, b) => a - b);
    rows.push(
      { metric: `${name} p50`, value: percentile(times, 50), unit: 'ms' },
      { metric: `${name} p99`, value: percentile(times, 99), unit: 'ms', note: `${jws.length} B license, 1000 runs` },
    );
  }
}

async function fanoutFigures() {
  const state = readState();
  if (!state) {
    console.warn('fan-out figures skipped: no harness running (npm run cluster:up)');
    rows.push({ metric: 'fan-out', value: NaN, unit: 'ms', note: 'skipped: no harness running' });
    return;
  }
  const load = (file: string) => {
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    return kc;
  };
  const admin = load(state.kubeconfigs.admin);
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  for (const n of [100, 500]) {
    const namespace = `license-bench-${randomBytes(3).toString('hex')}`;
    await core.createNamespace({ body: { metadata: { name: namespace, labels: { 'gatehouse.test/harness': 'true' } } } });
    const role = await rbac.readNamespacedRole({ name: 'gatehouse-console', namespace: state.platformNamespace });
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name: 'gatehouse-console' }, rules: role.rules ?? [] } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'gatehouse-console' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'gatehouse-console' },
        subjects: [{ kind: 'ServiceAccount', name: state.operator.serviceAccount, namespace: state.operator.namespace }],
      },
    });
    try {
      const slugs = Array.from({ length: n }, (_, i) => `t${String(i).padStart(4, '0')}`);
      for (let i = 0; i < slugs.length; i += 20) {
        await Promise.all(
          slugs.slice(i, i + 20).map((slug) =>
            core.createNamespacedSecret({
              namespace,
              body: {
                metadata: { name: `tenant-${slug}`, labels: { 'gatehouse.io/tenant': slug } },
                stringData: { DATABASE_URL: `postgres://x/${slug}` },
              },
            }),
          ),
        );
      }
      const db = new Database(':memory:');
      for (const m of licenseMigrations) db.exec(m.sql);
      const cluster = kubeLicenseCluster(
        new ClusterScope(`bench:${namespace}`, {
          contextId: `bench:${namespace}`,
          contextName: 'harness',
          kube: kubeClients(load(state.kubeconfigs.operator)),
          namespace,
          pgAdmin: async () => null,
        }),
      );
      const service = new LicenseService({
        db,
        bus: new EventBus(),
        roots,
        developmentMode: true,
        cluster: async () => cluster,
        secrets: new MemorySecretStore(),
        concurrency: 8,
      });
      const first = await makeLicense({ limits: { tenants: n, users: n * 100 } });
      const t1 = await timeIt(() => service.activate({ content: first.jws, encoding: 'text' }, 'bench'));
      rows.push({
        metric: `fan-out activate ${n} tenants`,
        value: t1,
        unit: 'ms',
        note: `concurrency 8; ${(t1 / n).toFixed(2)} ms/tenant incl. verify + status`,
      });
      const second = await makeLicense({ limits: { tenants: n, users: n * 200 }, iat: nowS() + 5 });
      const t2 = await timeIt(() => service.activate({ content: second.jws, encoding: 'text' }, 'bench'));
      rows.push({ metric: `fan-out replace ${n} tenants`, value: t2, unit: 'ms', note: 'every tenant rewritten' });
      const t3 = await timeIt(() => service.status());
      rows.push({ metric: `status (1 LIST) ${n} tenants`, value: t3, unit: 'ms', note: 'lagging computed from one LIST' });
      const t4 = await timeIt(() => service.resume('bench'));
      rows.push({ metric: `reconcile no-op ${n} tenants`, value: t4, unit: 'ms', note: 'nothing lagging: no writes' });
    } finally {
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    }
  }
}

await verifyFigures();
try {
  await fanoutFigures();
} catch (error) {
  // the shared harness can be restarted by another run mid-bench: keep the verification figures
  const reason = error instanceof Error ? error.message.slice(0, 120) : String(error);
  console.warn(`fan-out figures incomplete: ${reason}`);
  rows.push({ metric: 'fan-out (incomplete)', value: NaN, unit: 'ms', note: reason });
}
report('license', rows);
