// Proves the harness gives tests a real, RBAC-enforcing cluster and database,
// and that the fault hooks work. If these fail, every other integration test
// result is meaningless.
import { AppsV1Api, ApiException, CoreV1Api, type KubeConfig, VersionApi } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  harness,
  killApiServer,
  killPostgres,
  kubeConfig,
  pgClient,
  startApiServer,
  startPostgres,
  stopApiServer,
  stopPostgres,
  uniqueDbPrefix,
  uniqueNamespace,
} from './harness-fixture';

const PLATFORM_DEPLOYMENTS = ['agent-pool-default', 'backend', 'frontend', 'login-worker-shared'];

async function eventually<T>(fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

async function serverVersion(kc: KubeConfig): Promise<string> {
  return (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
}

describe('cluster harness', () => {
  it('exposes the run folder to workers through the environment too', () => {
    expect(process.env.GATEHOUSE_HARNESS_DIR).toBe(harness().runDir);
  });

  it('serves the pinned Kubernetes version', async () => {
    const h = harness();
    expect(await serverVersion(kubeConfig('admin'))).toBe(h.versions.kubernetes);
  });

  it('has three Ready kwok nodes', async () => {
    const nodes = await kubeConfig('admin').makeApiClient(CoreV1Api).listNode();
    const ready = nodes.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    expect(ready.map((n) => n.metadata?.name).sort()).toEqual(['kwok-node-0', 'kwok-node-1', 'kwok-node-2']);
  });

  it('runs the platform Deployments with Running pods', async () => {
    const kc = kubeConfig('admin');
    const namespace = harness().platformNamespace;
    const list = await kc.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace, labelSelector: 'app.kubernetes.io/part-of=justiam' });
    expect(list.items.map((d) => d.metadata?.name).sort()).toEqual(PLATFORM_DEPLOYMENTS);
    for (const d of list.items) {
      expect(d.status?.availableReplicas, d.metadata?.name).toBe(d.spec?.replicas);
      expect(d.spec?.template.spec?.containers[0]?.image).toMatch(/^ghcr\.io\/justiam\/[a-z-]+:\d+\.\d+\.\d+$/);
    }
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace });
    expect(pods.items.length).toBeGreaterThanOrEqual(7);
    for (const p of pods.items) expect(p.status?.phase, p.metadata?.name).toBe('Running');
  });

  it('enforces least privilege for the operator kubeconfig', async () => {
    const core = kubeConfig('operator').makeApiClient(CoreV1Api);
    const ns = harness().platformNamespace;
    await expect(core.listNamespacedSecret({ namespace: ns })).resolves.toBeDefined();
    const denied = await core.listNamespacedSecret({ namespace: 'kube-system' }).catch((e: unknown) => e);
    expect(statusOf(denied)).toBe(403);
    // Cluster-scoped reads the console needs.
    expect((await core.readNamespace({ name: 'kube-system' })).metadata?.uid).toBeTruthy();
    expect((await core.listNode()).items).toHaveLength(3);
    // ...and nothing beyond them.
    expect(statusOf(await core.listNamespace().catch((e: unknown) => e))).toBe(403);
  });

  it('binds the console Role into a unique namespace', async () => {
    const ns = await uniqueNamespace('harness-selftest');
    const core = kubeConfig('operator').makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'probe' }, data: { a: '1' } } });
    expect((await core.readNamespacedConfigMap({ namespace: ns, name: 'probe' })).data).toEqual({ a: '1' });
    expect(statusOf(await core.listNamespacedServiceAccount({ namespace: ns }).catch((e: unknown) => e))).toBe(403);
  });

  it('provides a PostgreSQL admin connection', async () => {
    const db = `${uniqueDbPrefix()}main`;
    const c = await pgClient();
    try {
      const { rows } = await c.query<{ su: boolean }>('select rolsuper as su from pg_roles where rolname = current_user');
      expect(rows[0]?.su).toBe(true);
      await c.query(`create database ${db}`);
      await c.query(`drop database ${db}`);
    } finally {
      await c.end();
    }
  });

  it('survives killing and restarting the API server', async () => {
    const kc = kubeConfig('admin');
    await killApiServer();
    await expect(serverVersion(kc)).rejects.toThrow();
    await startApiServer();
    expect(await eventually(() => serverVersion(kc))).toBe(harness().versions.kubernetes);
    // Data lives in etcd, so the platform is still there.
    const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: harness().platformNamespace, name: 'backend' });
    expect(d.metadata?.name).toBe('backend');
  });

  it('survives a graceful stop and restart of the API server', async () => {
    const kc = kubeConfig('operator');
    await stopApiServer();
    await expect(serverVersion(kc)).rejects.toThrow();
    await startApiServer();
    expect(await eventually(() => serverVersion(kc))).toBe(harness().versions.kubernetes);
  });

  it('survives killing and restarting PostgreSQL', async () => {
    const c = await pgClient();
    await c.query('create table if not exists harness_probe (v int)');
    await c.query('insert into harness_probe values (42)');
    c.on('error', () => {}); // the connection is about to die
    await killPostgres();
    await expect(c.query('select 1')).rejects.toThrow();
    await startPostgres();
    const c2 = await pgClient();
    try {
      const { rows } = await c2.query<{ v: number }>('select v from harness_probe');
      expect(rows.map((r) => r.v)).toContain(42);
    } finally {
      await c2.end();
    }
  });

  it('survives a graceful stop and restart of PostgreSQL', async () => {
    await stopPostgres();
    await expect(pgClient()).rejects.toThrow();
    await startPostgres();
    const c = await pgClient();
    await c.end();
  });
});
