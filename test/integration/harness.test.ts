// Proves the harness gives tests a real, RBAC-enforcing cluster and database,
// and that fault injection (kill/stop + restart) works. If these fail, every other integration test
// result is meaningless.
import { AppsV1Api, ApiException, CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type PrivateApiServer,
  type PrivatePostgres,
  harness,
  kubeConfig,
  pgClient,
  privateApiServer,
  privatePostgres,
  startApiServer,
  startPostgres,
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
    const list = await kc
      .makeApiClient(AppsV1Api)
      .listNamespacedDeployment({ namespace, labelSelector: 'app.kubernetes.io/part-of=justiam' });
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

  // Fault tests use private instances: the integration project runs files in
  // parallel, and an outage of the shared API server/PostgreSQL would fail
  // whatever the other files are doing. Same machinery as the shared hooks
  // (respawn from the recorded command line and port).
  describe('fault injection', () => {
    let api: PrivateApiServer | undefined;
    let db: PrivatePostgres | undefined;
    afterAll(async () => {
      await api?.dispose();
      await db?.dispose();
    });

    it('shared hooks: start* on a running component is a no-op that waits for readiness', async () => {
      await startApiServer();
      await startPostgres();
      expect(await serverVersion(kubeConfig('admin'))).toBe(harness().versions.kubernetes);
    });

    it('kills and restarts an API server (identical args and port)', async () => {
      api = await privateApiServer();
      const kc = new KubeConfig();
      kc.loadFromFile(api.kubeconfigs.operator);
      expect(await serverVersion(kc)).toBe(harness().versions.kubernetes);
      await api.kill();
      await expect(serverVersion(kc)).rejects.toThrow();
      await api.start();
      expect(await eventually(() => serverVersion(kc))).toBe(harness().versions.kubernetes);
      // Data lives in etcd: the platform is there, RBAC still applies.
      const core = kc.makeApiClient(CoreV1Api);
      await expect(core.listNamespacedSecret({ namespace: harness().platformNamespace })).resolves.toBeDefined();
      expect(statusOf(await core.listNamespacedSecret({ namespace: 'kube-system' }).catch((e: unknown) => e))).toBe(403);
    });

    it('stops an API server gracefully and restarts it', async () => {
      api ??= await privateApiServer();
      const kc = new KubeConfig();
      kc.loadFromFile(api.kubeconfigs.admin);
      await api.stop();
      await expect(serverVersion(kc)).rejects.toThrow();
      await api.start();
      const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: harness().platformNamespace, name: 'backend' });
      expect(d.metadata?.name).toBe('backend');
    });

    it('kills PostgreSQL and restarts it without losing committed rows', async () => {
      db = await privatePostgres();
      const connect = async () => {
        const c = new pg.Client(db!.info);
        await c.connect();
        return c;
      };
      const c = await connect();
      c.on('error', () => {}); // the connection is about to die
      await c.query('create table harness_probe (v int)');
      await c.query('insert into harness_probe values (42)');
      await db.kill();
      await expect(c.query('select 1')).rejects.toThrow();
      await db.start();
      const c2 = await connect();
      try {
        const { rows } = await c2.query<{ v: number }>('select v from harness_probe');
        expect(rows.map((r) => r.v)).toEqual([42]);
      } finally {
        await c2.end();
      }
    });

    it('stops PostgreSQL gracefully and restarts it', async () => {
      db ??= await privatePostgres();
      await db.stop();
      await expect(new pg.Client(db.info).connect()).rejects.toThrow();
      await db.start();
      const c = new pg.Client(db.info);
      await c.connect();
      await c.end();
    });
  });
});
