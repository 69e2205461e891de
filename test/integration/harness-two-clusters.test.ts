// Proves secondCluster() gives tests a second cluster that shares nothing with
// the main one: own etcd (kube-system UID), own API server and credentials, own
// PostgreSQL, kubeconfig names that merge without clashing. Multi-cluster tests
// (rollback on the right cluster, outbox per cluster) mean nothing without it.
import { ApiException, AppsV1Api, CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { SECOND_CLUSTER_NAME } from '../harness/config';
import { up } from '../harness/harness';
import { readState } from '../harness/state';
import { type HarnessInfo, harness, kubeConfig, pgClient, secondCluster, uniqueDbPrefix, uniqueNamespace } from './harness-fixture';

function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

async function kubeSystemUid(kc: KubeConfig): Promise<string> {
  const uid = (await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'kube-system' })).metadata?.uid;
  if (!uid) throw new Error('kube-system has no uid');
  return uid;
}

describe('two independent clusters', () => {
  let a: HarnessInfo;
  let b: HarnessInfo;

  beforeAll(async () => {
    a = harness();
    b = await secondCluster();
  });

  it('starts cluster B once per run, in a run folder, ports and data of its own', async () => {
    expect(await secondCluster()).toBe(b);
    expect(b.clusterName).toBe(SECOND_CLUSTER_NAME);
    expect(a.clusterName).not.toBe(b.clusterName);
    expect(b.runDir).not.toBe(a.runDir);
    expect(b.apiServerUrl).not.toBe(a.apiServerUrl);
    expect(b.postgres.port).not.toBe(a.postgres.port);
    expect(b.caFile).not.toBe(a.caFile);
    const stateA = readState(a.runDir);
    const stateB = readState(b.runDir);
    expect(stateB?.postgres.dataDir).not.toBe(stateA?.postgres.dataDir);
    expect(stateB?.etcd.dataDir).not.toBe(stateA?.etcd.dataDir);
    expect(stateB?.processes.etcd?.pid).not.toBe(stateA?.processes.etcd?.pid);
    // Another test file (another worker) asking for B gets this one, not a restart.
    const again = await up({ root: b.runDir, clusterName: SECOND_CLUSTER_NAME, workloads: false, log: () => {} });
    expect(again.processes['kube-apiserver']?.pid).toBe(stateB?.processes['kube-apiserver']?.pid);
    expect(again.startedAt).toBe(stateB?.startedAt);
  });

  it('both clusters answer, with the pinned Kubernetes version', async () => {
    for (const h of [a, b]) {
      const version = await kubeConfig('operator', h).makeApiClient(VersionApi).getCode();
      expect(version.gitVersion, h.clusterName).toBe(h.versions.kubernetes);
    }
  });

  it('have different kube-system namespace UIDs', async () => {
    const uidA = await kubeSystemUid(kubeConfig('operator', a));
    const uidB = await kubeSystemUid(kubeConfig('operator', b));
    expect(uidA).not.toBe(uidB);
  });

  it('an object created in A is not visible in B', async () => {
    const ns = await uniqueNamespace('two-clusters', a);
    const coreA = kubeConfig('operator', a).makeApiClient(CoreV1Api);
    await coreA.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'only-in-a' }, data: { cluster: 'a' } } });
    expect((await coreA.readNamespacedConfigMap({ namespace: ns, name: 'only-in-a' })).data).toEqual({ cluster: 'a' });

    const adminB = kubeConfig('admin', b).makeApiClient(CoreV1Api);
    expect(statusOf(await adminB.readNamespace({ name: ns }).catch((e: unknown) => e))).toBe(404);
    expect(statusOf(await adminB.readNamespacedConfigMap({ namespace: ns, name: 'only-in-a' }).catch((e: unknown) => e))).toBe(404);
    // The same name is free in B, and what B holds there is B's own.
    const nsInB = await uniqueNamespace('two-clusters', b);
    const coreB = kubeConfig('operator', b).makeApiClient(CoreV1Api);
    await coreB.createNamespacedConfigMap({ namespace: nsInB, body: { metadata: { name: 'only-in-a' }, data: { cluster: 'b' } } });
    expect((await coreA.readNamespacedConfigMap({ namespace: ns, name: 'only-in-a' })).data).toEqual({ cluster: 'a' });
    const adminA = kubeConfig('admin', a).makeApiClient(CoreV1Api);
    expect(statusOf(await adminA.readNamespace({ name: nsInB }).catch((e: unknown) => e))).toBe(404);
  });

  it("a database created in B's PostgreSQL does not exist in A's", async () => {
    const db = `${uniqueDbPrefix()}only_in_b`;
    const exists = async (h: HarnessInfo) => {
      const c = await pgClient(undefined, h);
      try {
        return (await c.query('select 1 from pg_database where datname = $1', [db])).rowCount === 1;
      } finally {
        await c.end();
      }
    };
    const cB = await pgClient(undefined, b);
    try {
      await cB.query(`create database ${db}`);
    } finally {
      await cB.end();
    }
    expect(await exists(b)).toBe(true);
    expect(await exists(a)).toBe(false);
  });

  it('is seeded like A: platform namespace, platform objects, least-privilege operator', async () => {
    expect(b.platformNamespace).toBe(a.platformNamespace);
    const core = kubeConfig('operator', b).makeApiClient(CoreV1Api);
    await expect(core.listNamespacedSecret({ namespace: b.platformNamespace })).resolves.toBeDefined();
    expect(statusOf(await core.listNamespacedSecret({ namespace: 'kube-system' }).catch((e: unknown) => e))).toBe(403);
    expect(statusOf(await core.listNamespace().catch((e: unknown) => e))).toBe(403);
    const deployments = await kubeConfig('admin', b).makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace: b.platformNamespace });
    expect(deployments.items.map((d) => d.metadata?.name).sort()).toEqual([
      'agent-pool-default',
      'backend',
      'frontend',
      'login-worker-shared',
    ]);
    // API objects only: no kwok, no controllers, so no nodes and nothing rolls out (documented in docs/testing.md).
    expect(b.components.sort()).toEqual(['etcd', 'kube-apiserver', 'postgres']);
    expect((await core.listNode()).items).toHaveLength(0);
  });

  it("refuses one cluster's credentials on the other", async () => {
    // A's operator token, presented to B's API server (trusting B's CA): B's ServiceAccount keys did not sign it.
    const kc = new KubeConfig();
    kc.loadFromFile(a.kubeconfigs.operator);
    const token = kc.getCurrentUser()?.token;
    expect(token).toBeTruthy();
    const forged = new KubeConfig();
    forged.loadFromOptions({
      clusters: [{ name: 'b', server: b.apiServerUrl, caFile: b.caFile }],
      users: [{ name: 'a-operator', token }],
      contexts: [{ name: 'a-on-b', cluster: 'b', user: 'a-operator' }],
      currentContext: 'a-on-b',
    });
    expect(
      statusOf(
        await forged
          .makeApiClient(CoreV1Api)
          .readNamespace({ name: 'kube-system' })
          .catch((e: unknown) => e),
      ),
    ).toBe(401);
    // Same admin role name on both servers, different passwords.
    const wrong = new pg.Client({ ...b.postgres, password: a.postgres.password, connectionTimeoutMillis: 3000 });
    await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('merged kubeconfigs (KUBECONFIG=a:b) keep both clusters apart', async () => {
    const merged = new KubeConfig();
    merged.loadFromFile(a.kubeconfigs.operator);
    const kcB = new KubeConfig();
    kcB.loadFromFile(b.kubeconfigs.operator);
    // client-node throws on a duplicate cluster, user or context name, as kubectl would silently keep the first.
    merged.mergeConfig(kcB);
    expect(
      merged
        .getContexts()
        .map((c) => c.name)
        .sort(),
    ).toEqual([`gatehouse@${a.clusterName}`, `gatehouse@${b.clusterName}`]);
    const uidVia = async (context: string) => {
      merged.setCurrentContext(context);
      return kubeSystemUid(merged);
    };
    expect(await uidVia(`gatehouse@${a.clusterName}`)).toBe(await kubeSystemUid(kubeConfig('operator', a)));
    expect(await uidVia(`gatehouse@${b.clusterName}`)).toBe(await kubeSystemUid(kubeConfig('operator', b)));
  });
});
