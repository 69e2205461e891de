// One console, two independent clusters (A: the harness, B: secondCluster()). What belongs to a
// cluster stays with it: an operation interrupted on A is rolled back on A while the session looks
// at B, B's tenant of the same name is untouched (checked with direct queries), and a context that
// starts leading to another cluster is a different cluster: A's work never runs there.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src-main/engine';
import { createRouter, type Router } from '../../src-main/ipc/router';
import type { OperationSummary } from '../../src-shared/contract/tenants';
import { deleteNamespace, harness, kubeConfig, secondCluster, uniqueNamespace, type HarnessInfo } from './harness-fixture';

const here = path.dirname(fileURLToPath(import.meta.url));
const PASSPHRASE = 'two clusters passphrase';
const slugOf = (p: string) => `${p}-${Math.random().toString(36).slice(2, 8)}`;

let a: HarnessInfo;
let b: HarnessInfo;
let nsA: string;
let nsB: string;
let root: string;
let dataDir: string;
/** A's operator kubeconfig, copied so the test can re-point it at B (same file, same context name). */
let contextFileA: string;
let kubeconfigEnv: string;
let engine: Engine;
let router: Router;
let idA: string;
let idB: string;

function openConsole(): void {
  engine = createEngine({
    mode: 'browser',
    dataDir,
    identity: 'os-user',
    clusters: {
      env: { KUBECONFIG: kubeconfigEnv },
      home: root,
      watch: false,
      autoStart: false,
      secretStore: { keychain: null, prefer: 'encrypted-file', passphrase: PASSPHRASE },
    },
  });
  router = createRouter(engine);
}

async function call<T = unknown>(session: string, name: string, input: unknown = {}): Promise<T> {
  const r = await router.invoke(session, name, input);
  if (!r.ok) throw Object.assign(new Error(`${name}: ${r.error.message}`), r.error);
  return r.value as T;
}

async function pgExists(h: HarnessInfo, kind: 'database' | 'role', name: string): Promise<boolean> {
  const c = new pg.Client({ ...h.postgres });
  await c.connect();
  try {
    const sql = kind === 'database' ? 'SELECT 1 FROM pg_database WHERE datname = $1' : 'SELECT 1 FROM pg_roles WHERE rolname = $1';
    return (await c.query(sql, [name])).rowCount === 1;
  } finally {
    await c.end();
  }
}

async function secretExists(kc: KubeConfig, namespace: string, name: string): Promise<boolean> {
  return kc
    .makeApiClient(CoreV1Api)
    .readNamespacedSecret({ name, namespace })
    .then(
      () => true,
      () => false,
    );
}

async function registryHas(kc: KubeConfig, namespace: string, slug: string): Promise<boolean> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace, labelSelector: 'gatehouse.io/registry=tenants' });
  return list.items.some((c) => c.data?.[slug] !== undefined);
}

/** Runs a console in a child process that creates `slug` on `contextId` and is SIGKILLed at `crash`. */
function interruptedCreate(contextId: string, slug: string, crash: string): void {
  const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'two-clusters-child.ts')], {
    env: {
      ...process.env,
      GATEHOUSE_SAGA_CRASH: crash,
      TWO_CLUSTERS_CHILD: JSON.stringify({ dataDir, home: root, kubeconfig: kubeconfigEnv, contextId, slug }),
    },
    encoding: 'utf8',
    timeout: 90_000,
  });
  expect(child.signal, `the child should die by SIGKILL at ${crash}; stdout: ${child.stdout}; stderr: ${child.stderr}`).toBe('SIGKILL');
}

/** A kubeconfig with A's file name and context name whose cluster and credentials are B's. */
function repointAtB(): void {
  const docA = YAML.parse(fs.readFileSync(a.kubeconfigs.operator, 'utf8')) as {
    clusters: { cluster: Record<string, unknown> }[];
    users: { user: Record<string, unknown> }[];
  };
  const docB = YAML.parse(fs.readFileSync(b.kubeconfigs.operator, 'utf8')) as typeof docA;
  docA.clusters[0]!.cluster = docB.clusters[0]!.cluster;
  docA.users[0]!.user = docB.users[0]!.user;
  fs.writeFileSync(contextFileA, YAML.stringify(docA));
}

beforeAll(async () => {
  a = harness();
  b = await secondCluster();
  [nsA, nsB] = await Promise.all([uniqueNamespace('two-a', a), uniqueNamespace('two-b', b)]);
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-two-clusters-'));
  dataDir = path.join(root, 'data');
  contextFileA = path.join(root, 'a.kubeconfig');
  fs.copyFileSync(a.kubeconfigs.operator, contextFileA);
  kubeconfigEnv = [contextFileA, a.kubeconfigs.admin, b.kubeconfigs.operator].join(path.delimiter);
  openConsole();
  const contexts = (await call<{ contexts: { id: string; sourceFile: string }[] }>('setup', 'clusters.list')).contexts;
  idA = contexts.find((c) => c.sourceFile === contextFileA)!.id;
  idB = contexts.find((c) => c.sourceFile === b.kubeconfigs.operator)!.id;
  for (const [id, h, namespace] of [
    [idA, a, nsA],
    [idB, b, nsB],
  ] as const) {
    const { host, port, user, password, database } = h.postgres;
    await call('setup', 'clusters.profile.save', {
      clusterId: id,
      namespace,
      database: { host, port, user, database, sslMode: 'disable', allowInsecureTls: true, password },
      expectedOffline: false,
    });
  }
});

afterAll(async () => {
  await engine?.close();
  await Promise.all([deleteNamespace(nsA, a).catch(() => undefined), deleteNamespace(nsB, b).catch(() => undefined)]);
  fs.rmSync(root, { recursive: true, force: true });
});

describe('one console, two clusters', () => {
  it('identifies clusters by kube-system UID: two contexts of A are one cluster, B is another', async () => {
    const adminA = (await call<{ contexts: { id: string; sourceFile: string }[] }>('s', 'clusters.list')).contexts.find(
      (c) => c.sourceFile === a.kubeconfigs.admin,
    )!.id;
    const [scopeA, scopeAdmin, scopeB] = await Promise.all([
      engine.directory.forContext(idA),
      engine.directory.forContext(adminA),
      engine.directory.forContext(idB),
    ]);
    expect(scopeA.clusterId).toMatch(/^[0-9a-f-]{36}$/);
    expect(scopeAdmin).toBe(scopeA);
    expect(scopeB.clusterId).not.toBe(scopeA.clusterId);
    const listed = (await call<{ contexts: { id: string; clusterUid: string | null }[] }>('s', 'clusters.list')).contexts;
    expect(listed.find((c) => c.id === idA)?.clusterUid).toBe(scopeA.clusterId);
    expect(listed.find((c) => c.id === idB)?.clusterUid).toBe(scopeB.clusterId);
  });

  it('two sessions look at different clusters at once; each sees its own tenants', async () => {
    await call('s-a', 'clusters.select', { clusterId: idA });
    await call('s-b', 'clusters.select', { clusterId: idB });
    const slug = slugOf('only-b');
    await call('s-b', 'tenants.create', { slug, name: 'Only on B', tier: 'DEV' });
    const onB = await call<{ clusterId: string; tenants: { slug: string }[] }>('s-b', 'tenants.list', { refresh: true });
    const onA = await call<{ clusterId: string; tenants: { slug: string }[] }>('s-a', 'tenants.list', { refresh: true });
    expect(onB.tenants.map((t) => t.slug)).toContain(slug);
    expect(onA.tenants.map((t) => t.slug)).not.toContain(slug);
    expect(onA.clusterId).not.toBe(onB.clusterId);
    expect(await pgExists(b, 'database', `tenant_${slug.replace(/-/g, '_')}`)).toBe(true);
    expect(await pgExists(a, 'database', `tenant_${slug.replace(/-/g, '_')}`)).toBe(false);
  });

  it('a create interrupted on A and rolled back while B is selected cleans A and leaves B untouched', async () => {
    const slug = slugOf('twin');
    const db = `tenant_${slug.replace(/-/g, '_')}`;
    // B has a complete tenant of the same name: the one a wrong-cluster rollback would drop.
    await call('s-b', 'tenants.create', { slug, name: 'Twin on B', tier: 'DEV' });
    await engine.close();
    interruptedCreate(idA, slug, 'tenant.create:5:before'); // database, schema, system entities and admin user exist on A
    openConsole();
    expect(await pgExists(a, 'database', db)).toBe(true);

    await call('operator', 'clusters.select', { clusterId: idB });
    const { operations } = await call<{ operations: OperationSummary[] }>('operator', 'operations.unfinished');
    const op = operations.find((o) => o.target === slug)!;
    const uidA = (await engine.directory.forContext(idA)).clusterId;
    expect(op).toMatchObject({ kind: 'tenant.create', status: 'interrupted', clusterId: uidA, clusterName: 'gatehouse@gatehouse-harness' });
    expect(op.actor).toMatch(/^os:/);

    const rolled = await call<OperationSummary>('operator', 'operations.rollback', { operationId: op.id });
    expect(rolled.status).toBe('rolled-back');
    // A is clean…
    expect(await pgExists(a, 'database', db)).toBe(false);
    expect(await pgExists(a, 'role', db)).toBe(false);
    expect(await secretExists(kubeConfig('admin', a), nsA, `tenant-${slug}`)).toBe(false);
    // …and B, the selected cluster, still has all of its tenant.
    expect(await pgExists(b, 'database', db)).toBe(true);
    expect(await pgExists(b, 'role', db)).toBe(true);
    expect(await secretExists(kubeConfig('admin', b), nsB, `tenant-${slug}`)).toBe(true);
    expect(await registryHas(kubeConfig('admin', b), nsB, slug)).toBe(true);
  });

  it('a context re-pointed at another cluster is a different cluster: A’s operation waits and B is untouched', async () => {
    const slug = slugOf('moved');
    const db = `tenant_${slug.replace(/-/g, '_')}`;
    await call('s-b', 'tenants.create', { slug, name: 'Moved twin on B', tier: 'DEV' });
    await engine.close();
    // Only the (soon re-pointed) operator context leads to A now: no other way to reach it.
    kubeconfigEnv = [contextFileA, b.kubeconfigs.operator].join(path.delimiter);
    interruptedCreate(idA, slug, 'tenant.create:2:before');
    openConsole();
    const uidA = (await engine.directory.forContext(idA)).clusterId;
    const { operations } = await call<{ operations: OperationSummary[] }>('operator', 'operations.unfinished');
    const op = operations.find((o) => o.target === slug)!;
    expect(op.clusterId).toBe(uidA);

    repointAtB();
    const listed = (
      await call<{ contexts: { id: string; clusterUid: string | null; identityChange: unknown }[] }>('operator', 'clusters.list')
    ).contexts;
    const refused = await router.invoke('operator', 'operations.rollback', { operationId: op.id });
    expect(refused).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    if (!refused.ok) expect(refused.error.message).toMatch(/now leads to another cluster/);
    // The console says so on the cluster list too.
    const after = (
      await call<{ contexts: { id: string; clusterUid: string | null; identityChange: { previousUid: string; uid: string } | null }[] }>(
        'operator',
        'clusters.list',
      )
    ).contexts.find((c) => c.id === idA)!;
    expect(listed.find((c) => c.id === idA)).toBeDefined();
    expect(after.identityChange).toMatchObject({ previousUid: uidA });
    expect(after.clusterUid).not.toBe(uidA);
    // Nothing ran against B: its tenant of the same name is whole.
    expect(await pgExists(b, 'database', db)).toBe(true);
    expect(await secretExists(kubeConfig('admin', b), nsB, `tenant-${slug}`)).toBe(true);
    // A's half-made tenant is still there, waiting for its own cluster.
    expect(await pgExists(a, 'role', db)).toBe(true);

    fs.copyFileSync(a.kubeconfigs.operator, contextFileA);
    await call('operator', 'clusters.list');
    const rolled = await call<OperationSummary>('operator', 'operations.rollback', { operationId: op.id });
    expect(rolled.status).toBe('rolled-back');
    expect(await pgExists(a, 'role', db)).toBe(false);
    expect(await pgExists(a, 'database', db)).toBe(false);
    expect(await pgExists(b, 'database', db)).toBe(true);
  });
});
