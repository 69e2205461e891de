// The clusters capability against the real harness: a Kubernetes API server built
// from source with kwok nodes. Kubeconfigs are real files; nothing is faked.
import { AppsV1Api, type KubeConfig } from '@kubernetes/client-node';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src-main/engine';
import { engineClusterDeps } from '../../src-main/ipc/router';
import { createHandlers } from '../../src-main/ipc/handlers';
import { createPipeline } from '../../src-main/ipc/pipeline';
import { deleteNamespace, harness, kubeConfig, startApiServer, stopApiServer, uniqueNamespace, type HarnessInfo } from './harness-fixture';
import type { EventPayload } from '../../src-shared/contract';
import { memoryRecorder, type AuditRecord } from '../../src-main/engine/audit/recorder';
import { expiredClientCert, Relay, restrictedServiceAccount, suffix, writeKubeconfig } from './clusters-helpers';

let state: HarnessInfo;
let admin: KubeConfig;
let dir: string;
let engine: Engine;
let extraFile: string;
const cleanups: (() => Promise<void> | void)[] = [];

const idOf = (file: string, context: string) => `${file}#${context}`;

function newEngine(kubeconfigs: string[], dataDir = fs.mkdtempSync(path.join(dir, 'data-'))): Engine {
  return createEngine({
    dataDir,
    mode: 'browser',
    clusters: {
      env: { KUBECONFIG: kubeconfigs.join(path.delimiter) },
      home: dir,
      autoStart: false,
      watch: { debounceMs: 50, pollMs: 200 },
      requestTimeoutMs: 5000,
      secretStore: { keychain: null, prefer: 'encrypted-file', passphrase: 'integration passphrase' },
    },
  });
}

beforeAll(() => {
  state = harness();
  admin = kubeConfig('admin');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-clusters-it-'));
  extraFile = path.join(dir, 'broken.kubeconfig');
  fs.writeFileSync(extraFile, 'apiVersion: v1\nkind: Config\nclusters: [ {name: x, cluster: {server: "https://x"} }\ncontexts: oops: :\n');
  engine = newEngine([state.kubeconfigs.admin, state.kubeconfigs.operator, extraFile]);
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await engine?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** What clusters.select does for a session: its choice, and a fresh check of that context. */
const selectAs = (e: Engine, contextId: string) => {
  e.selections.set('test-session', contextId);
  return e.clusters.monitorFor(contextId).reset();
};

describe('clusters against the harness', () => {
  it('lists the harness contexts and reports a malformed kubeconfig beside them', () => {
    const list = engine.clusters.list(null);
    const operator = list.contexts.find((c) => c.sourceFile === state.kubeconfigs.operator);
    const adminCtx = list.contexts.find((c) => c.sourceFile === state.kubeconfigs.admin);
    expect(operator).toMatchObject({ status: 'ok', server: state.apiServerUrl, current: true });
    expect(adminCtx).toMatchObject({ status: 'ok', server: state.apiServerUrl });
    expect(operator?.contextName).not.toBe(operator?.clusterName); // "gatehouse@gatehouse-harness" vs "gatehouse-harness"
    const broken = list.sources.find((s) => s.path === extraFile);
    expect(broken?.error).toMatch(/is not valid YAML/);
    expect(broken?.contextCount).toBe(0);
  });

  it('tests the least-privilege operator kubeconfig: version, and every permission granted', async () => {
    const operatorId = engine.clusters.list(null).contexts.find((c) => c.sourceFile === state.kubeconfigs.operator)!.id;
    const result = await engine.clusters.test(operatorId);
    expect(result.serverVersion.gitVersion).toBe(state.versions.kubernetes);
    expect(result.namespace).toBe('iam-system');
    expect(result.permissionsChecked).toBe(38);
    expect(result.missing).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('names the permissions a restricted ServiceAccount lacks', async () => {
    const namespace = `gh-clusters-${suffix()}`;
    const sa = await restrictedServiceAccount(admin, namespace);
    cleanups.push(sa.cleanup);
    const file = writeKubeconfig(path.join(dir, 'restricted.kubeconfig'), state, { name: 'restricted', token: sa.token });
    engine.clusters.addKubeconfig(file);
    const id = idOf(file, 'restricted');
    await engine.clusters.saveProfile({ clusterId: id, namespace, database: null, expectedOffline: false });
    const result = await engine.clusters.test(id);
    expect(result.ok).toBe(false);
    const texts = result.missing.map((m) => m.text);
    expect(texts).toContain(`cannot \`delete secrets\` in \`${namespace}\``);
    expect(texts).toContain(`cannot \`create leases\` in \`${namespace}\``);
    expect(texts).toContain(`cannot \`update deployments/scale\` in \`${namespace}\``);
    expect(texts).toContain('cannot `list nodes` cluster-wide');
    expect(texts).not.toContain(`cannot \`get secrets\` in \`${namespace}\``);
    expect(texts).not.toContain(`cannot \`list secrets\` in \`${namespace}\``);
    expect(result.missing).toHaveLength(38 - 2);
  });

  it('gives a clear UNAVAILABLE error for a garbage token and for an expired client certificate', async () => {
    const garbage = writeKubeconfig(path.join(dir, 'garbage.kubeconfig'), state, { name: 'garbage', token: 'not-a-real-token' });
    const { certFile, keyFile } = expiredClientCert(state, dir);
    const expired = writeKubeconfig(path.join(dir, 'expired.kubeconfig'), state, { name: 'expired', certFile, keyFile });
    engine.clusters.addKubeconfig(garbage);
    engine.clusters.addKubeconfig(expired);
    // files named by a kubeconfig added in the console are read once an admin approved them (docs/clusters.md)
    const waiting = engine.clusters.list(null).approvals.filter((a) => a.sourceFile === expired);
    expect(waiting.map((a) => a.kind)).toEqual(['client-certificate', 'client-key']);
    for (const a of waiting) engine.clusters.approveKubeconfig(a.id, 'it-admin');
    for (const id of [idOf(garbage, 'garbage'), idOf(expired, 'expired')]) {
      const error = await engine.clusters.test(id).then(
        () => null,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(error?.code).toBe('UNAVAILABLE');
      expect(error?.message).toMatch(/refused the credentials.*401.*expired or revoked/);
    }
  });

  it('shows the platform deployments and the three nodes on the dashboard', async () => {
    const operatorId = engine.clusters.list(null).contexts.find((c) => c.sourceFile === state.kubeconfigs.operator)!.id;
    await selectAs(engine, operatorId);
    const d = await engine.dashboard.get(operatorId);
    expect(d).toMatchObject({
      clusterId: operatorId,
      namespace: 'iam-system',
      serverVersion: state.versions.kubernetes,
      offline: false,
      error: null,
    });
    expect(d.nodes).toEqual({ total: 3, ready: 3 });
    const names = d.deployments.map((x) => x.name);
    expect(names).toEqual(expect.arrayContaining(['backend', 'frontend', 'login-worker-shared', 'agent-pool-default']));
    const backend = d.deployments.find((x) => x.name === 'backend')!;
    expect(backend.desired).toBeGreaterThan(0);
    expect(backend.images[0]?.tag).toBeTruthy();
  });

  it('publishes workloads.changed from the deployments WATCH (least-privilege operator)', async () => {
    const namespace = await uniqueNamespace('clusters-watch');
    cleanups.push(() => deleteNamespace(namespace).catch(() => undefined));
    const apps = admin.makeApiClient(AppsV1Api);
    const operatorId = engine.clusters.list(null).contexts.find((c) => c.sourceFile === state.kubeconfigs.operator)!.id;
    await engine.clusters.saveProfile({ clusterId: operatorId, namespace, database: null, expectedOffline: false });
    const seen: EventPayload<'workloads.changed'>[] = [];
    const off = engine.bus.subscribe('workloads.changed', (e) => seen.push(e));
    try {
      expect((await selectAs(engine, operatorId)).state).toBe('online'); // online starts the watch
      expect(await engine.dashboard.watchReady(operatorId)).toBe(true);
      await apps.createNamespacedDeployment({
        namespace,
        body: {
          metadata: { name: 'watched' },
          spec: {
            replicas: 0,
            selector: { matchLabels: { app: 'watched' } },
            template: {
              metadata: { labels: { app: 'watched' } },
              spec: { containers: [{ name: 'c', image: 'registry.local/watched:7.1' }] },
            },
          },
        },
      });
      const deadline = Date.now() + 30_000;
      while (!seen.some((e) => e.deployment.name === 'watched') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const event = seen.find((e) => e.deployment.name === 'watched');
      expect(event).toMatchObject({
        clusterId: operatorId,
        namespace,
        change: 'added',
        deployment: { images: [{ tag: '7.1' }], condition: 'scaled-down' },
      });
    } finally {
      off();
      engine.dashboard.stopWatch();
      await engine.clusters.saveProfile({ clusterId: operatorId, namespace: 'iam-system', database: null, expectedOffline: false });
    }
  });
});

describe('offline mode', () => {
  it('turns read-only when the API server goes away, keeping last sync and the cached dashboard', async () => {
    const relay = new Relay({ host: '127.0.0.1', port: Number(new URL(state.apiServerUrl).port) });
    await relay.open();
    cleanups.push(() => relay.close());
    // the operator's token, reached through the relay
    const operatorToken = (fs.readFileSync(state.kubeconfigs.operator, 'utf8').match(/token: (\S+)/) ?? [])[1]!;
    const file = writeKubeconfig(path.join(dir, 'relayed.kubeconfig'), state, {
      name: 'relayed',
      token: operatorToken,
      server: `https://127.0.0.1:${relay.port}`,
    });
    const offlineEngine = newEngine([file]);
    cleanups.push(() => offlineEngine.close());
    const id = idOf(file, 'relayed');
    const handlers = createHandlers(offlineEngine);
    const records: AuditRecord[] = [];
    const pipeline = createPipeline({
      handlers,
      identify: () => ({ id: 'it-admin', displayName: 'IT', role: 'admin', via: 'local-account' }),
      audit: memoryRecorder(records),
      ...engineClusterDeps(offlineEngine),
      consoleVersion: 'test',
      logError: () => undefined,
    });
    const invoke = async (name: string, input: unknown) => {
      const r = await pipeline.invoke('conn', name, input);
      if (!r.ok) throw Object.assign(new Error(r.error.message), r.error);
      return r.value as never;
    };

    const selected: { state: string } = await invoke('clusters.select', { clusterId: id });
    expect(selected.state).toBe('online');
    const live: { offline: boolean; lastSyncAt: string; deployments: unknown[] } = await invoke('dashboard.get', {});
    expect(live.offline).toBe(false);
    const online = offlineEngine.clusterState(id);
    expect(online).toMatchObject({ clusterId: id, online: true });

    await relay.close(); // the API server is gone
    const down: { state: string; error: string; lastSyncAt: string } = await invoke('clusters.state', { refresh: true });
    expect(down.state).toBe('offline');
    expect(down.error).toMatch(/refused the connection/);
    expect(down.lastSyncAt).toBe(online.lastSyncAt);
    expect(offlineEngine.clusterState(id)).toMatchObject({ clusterId: id, online: false, lastSyncAt: online.lastSyncAt });

    const cached: { offline: boolean; lastSyncAt: string; deployments: unknown[]; error: string } = await invoke('dashboard.get', {});
    // the WATCH may have refreshed the cached copy since: same deployments, same or newer time
    expect(cached.offline).toBe(true);
    expect(cached.lastSyncAt >= live.lastSyncAt).toBe(true);
    expect(cached.deployments.map((d) => (d as { name: string }).name)).toEqual(live.deployments.map((d) => (d as { name: string }).name));
    expect(cached.error).toMatch(/refused the connection/);

    // local commands still work offline, and are audited
    const profile: { expectedOffline: boolean } = await invoke('clusters.profile.save', {
      clusterId: id,
      database: null,
      expectedOffline: true,
    });
    expect(profile.expectedOffline).toBe(true);
    const withPassword: { hasPassword: boolean } = await invoke('clusters.profile.save', {
      clusterId: id,
      database: {
        host: '127.0.0.1',
        port: 5432,
        user: 'gatehouse_admin',
        database: 'postgres',
        sslMode: 'disable',
        allowInsecureTls: true,
        password: 'Pg-Admin-Secret-1',
      },
      expectedOffline: true,
    });
    expect(withPassword).toMatchObject({ hasPassword: true });
    expect(JSON.stringify(withPassword)).not.toContain('Pg-Admin-Secret-1');
    await invoke('secrets.unlock', { passphrase: 'integration passphrase' });
    expect(records.map((r) => [r.action, r.target, r.outcome])).toEqual([
      ['clusters.select', `cluster:${id}`, 'success'],
      ['clusters.profile.save', `cluster:${id}`, 'success'],
      ['clusters.profile.save', `cluster:${id}`, 'success'],
      ['secrets.unlock', 'secret-store', 'success'],
    ]);
    expect(JSON.stringify(records)).not.toMatch(/Pg-Admin-Secret-1|integration passphrase/);
    expect(((await invoke('clusters.state', { refresh: true })) as { state: string }).state).toBe('expected-offline');

    await relay.open(); // same port: the server is back
    expect(((await invoke('clusters.state', { refresh: true })) as { state: string }).state).toBe('online');
    expect(offlineEngine.clusterState(id).online).toBe(true);
  });

  it('reports a stopped API server as offline with last sync and the cached dashboard, and recovers', async () => {
    const dataDir = fs.mkdtempSync(path.join(dir, 'data-'));
    const first = newEngine([state.kubeconfigs.operator], dataDir);
    const id = first.clusters.list(null).contexts[0]!.id;
    expect((await selectAs(first, id)).state).toBe('online');
    const live = await first.dashboard.get(id);
    const lastSyncAt = first.clusterState(id).lastSyncAt;
    expect(lastSyncAt).not.toBeNull();
    await first.close();

    await stopApiServer();
    // a console started while the cluster is down: last sync and dashboard come from the cache
    const second = newEngine([state.kubeconfigs.operator], dataDir);
    cleanups.push(() => second.close());
    try {
      const down = await second.clusters.monitorFor(id).refresh();
      expect(down).toMatchObject({ clusterId: id, state: 'offline', lastSyncAt });
      expect(down.error).toMatch(/refused the connection/);
      expect(second.clusterState(id)).toEqual({ clusterId: id, online: false, lastSyncAt });
      const cached = await second.dashboard.get(id);
      expect(cached).toMatchObject({ offline: true, nodes: live.nodes });
      expect(cached.lastSyncAt >= live.lastSyncAt).toBe(true);
      expect(cached.deployments.map((d) => d.name)).toEqual(live.deployments.map((d) => d.name));
      await expect(second.clusters.test(id)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      await startApiServer();
    }
    expect((await second.clusters.monitorFor(id).refresh()).state).toBe('online');
    expect(second.clusterState(id).online).toBe(true);
  });
});
