// The tenant list kept current by WATCH: changes made behind the console's back (admin
// kubeconfig, like another tool or a colleague would) reach the SQLite cache and the
// `tenants.changed` event without a reconcile, and without any per-tenant GET.
import { AppsV1Api, KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantsChanged } from '../../src-shared/contract/tenants';
import type { KubeClients } from '../../src-main/adapters/kube';
import { createEngine, type Engine } from '../../src-main/engine';
import { ClusterScope } from '../../src-main/engine/clusters/scope';
import { shardIndex, shardName } from '../../src-main/engine/tenants/registry';
import { TenantWatcher } from '../../src-main/engine/tenants/watch';
import {
  buildTenantEngine,
  harnessOrReason,
  harnessPg,
  operatorNamespace,
  tempDataDir,
  uniqueSlug,
  type TenantTestEngine,
} from './tenants-env';

const h = harnessOrReason();
if ('reason' in h) console.warn(h.reason);
const describeH = 'state' in h ? describe : describe.skip;

/** Every method called on the API clients, by name: the proof that no per-tenant GET happens. */
function countingKube(kube: KubeClients, calls: string[]): KubeClients {
  const wrap = <T extends object>(api: T, group: string): T =>
    new Proxy(api, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(`${group}.${String(prop)}`);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  return { ...kube, core: wrap(kube.core, 'core'), apps: wrap(kube.apps, 'apps'), coordination: wrap(kube.coordination, 'coordination') };
}

async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeH('tenant list refreshed by WATCH (real API server + PostgreSQL)', () => {
  const state = 'state' in h ? h.state : (undefined as never);
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: TenantTestEngine;
  let core: CoreV1Api;
  let watcher: TenantWatcher;
  const calls: string[] = [];
  const events: TenantsChanged[] = [];
  const slug = uniqueSlug('watch');
  const orphan = uniqueSlug('orphan');

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-twatch');
    eng = buildTenantEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: harnessPg(state),
      dataDir: tempDataDir(),
      consoleId: 'console-w',
    });
    const admin = new KubeConfig();
    admin.loadFromFile(state.kubeconfigs.admin);
    core = admin.makeApiClient(CoreV1Api);
    await eng.service.create(eng.runtime, { slug, name: 'Watch Corp', tier: 'DEV' });
    await eng.service.reconcile(eng.runtime);
    const runtime = new ClusterScope(eng.runtime.clusterId, {
      contextId: eng.runtime.contextId,
      contextName: eng.runtime.contextName,
      kube: countingKube(eng.runtime.kube, calls),
      namespace: eng.runtime.namespace,
      pgAdmin: () => eng.runtime.pgAdmin(),
    });
    watcher = new TenantWatcher({
      cluster: runtime,
      ports: () => eng.service.ports(eng.runtime),
      cache: eng.service.cache,
      bus: eng.bus,
      debounceMs: 100,
    });
    eng.bus.subscribe('tenants.changed', (e) => events.push(e));
  });
  afterAll(async () => {
    watcher?.stop();
    await eng?.service.delete(eng.runtime, slug, false).catch(() => undefined);
    await eng?.close();
    await ns?.remove();
  });

  const cached = (s: string) => eng.service.cache.load(eng.runtime.clusterId)?.tenants.find((t) => t.slug === s);

  it('starts with a constant number of LISTs and opens one WATCH per stream', async () => {
    await watcher.ensure();
    expect(watcher.watching()).toMatchObject({ clusterId: eng.runtime.clusterId, namespace: ns.namespace, ready: true });
    // Secrets, registry ConfigMaps, Leases, backend Deployments: whatever the number of tenants.
    expect([...calls].sort()).toEqual([
      'apps.listNamespacedDeployment',
      'coordination.listNamespacedLease',
      'core.listNamespacedConfigMap',
      'core.listNamespacedSecret',
    ]);
    expect(watcher.stats.lists).toBe(4);
    expect(watcher.stats.watches).toBe(4);
    expect(cached(slug)).toMatchObject({ name: 'Watch Corp', hasSecret: true, hasDatabase: true, inRegistry: true, status: 'active' });
  });

  it('sees a Secret created behind its back: cache and event, no reconcile', async () => {
    calls.length = 0;
    events.length = 0;
    const before = eng.service.cache.load(eng.runtime.clusterId)!.refreshedAt;
    await core.createNamespacedSecret({
      namespace: ns.namespace,
      body: {
        metadata: { name: `tenant-${orphan}`, labels: { 'app.kubernetes.io/managed-by': 'gatehouse', 'gatehouse.io/tenant': orphan } },
        stringData: { TENANT_SLUG: orphan },
      },
    });
    const ev = await waitFor('tenants.changed for the new Secret', () => events.find((e) => e.upserted.some((t) => t.slug === orphan)));
    expect(ev.clusterId).toBe(eng.runtime.clusterId);
    expect(ev.upserted.find((t) => t.slug === orphan)).toMatchObject({
      hasSecret: true,
      hasDatabase: false,
      inRegistry: false,
      status: 'unregistered',
    });
    expect(ev.drift).toContainEqual(expect.objectContaining({ slug: orphan, kind: 'secret-without-database' }));
    // Only what changed travels: the untouched tenant is not in the delta.
    expect(ev.upserted.map((t) => t.slug)).not.toContain(slug);
    expect(cached(orphan)).toMatchObject({ hasSecret: true });
    expect(eng.service.cache.load(eng.runtime.clusterId)!.refreshedAt > before).toBe(true);
  });

  it('sees a registry entry changed by another writer', async () => {
    events.length = 0;
    const name = shardName(shardIndex(slug, 16));
    const cm = await core.readNamespacedConfigMap({ name, namespace: ns.namespace });
    const entry = JSON.parse(cm.data![slug]!) as Record<string, unknown>;
    await core.replaceNamespacedConfigMap({
      name,
      namespace: ns.namespace,
      body: { ...cm, data: { ...cm.data, [slug]: JSON.stringify({ ...entry, name: 'Renamed Corp', status: 'suspended' }) } },
    });
    const ev = await waitFor('tenants.changed for the registry edit', () => events.find((e) => e.upserted.some((t) => t.slug === slug)));
    expect(ev.upserted.find((t) => t.slug === slug)).toMatchObject({ name: 'Renamed Corp', status: 'suspended', hasDatabase: true });
    expect(cached(slug)).toMatchObject({ name: 'Renamed Corp', status: 'suspended' });
    // tenants.list answers from the cache, already current.
    const listed = await eng.service.list(eng.runtime, { refresh: false, stats: false });
    expect(listed.fromCache).toBe(true);
    expect(listed.tenants.find((t) => t.slug === slug)?.name).toBe('Renamed Corp');
  });

  it('sees a deletion, and never made a per-tenant GET (nor any other request) after the start', async () => {
    events.length = 0;
    await core.deleteNamespacedSecret({ name: `tenant-${orphan}`, namespace: ns.namespace });
    const ev = await waitFor('tenants.changed for the deletion', () => events.find((e) => e.removed.includes(orphan)));
    expect(ev.drift.some((d) => d.slug === orphan)).toBe(false);
    expect(cached(orphan)).toBeUndefined();
    // Three changes were served by the open WATCH streams: no GET, no LIST, no reconcile.
    expect(calls).toEqual([]);
    expect(watcher.stats.lists).toBe(4);
    expect(watcher.stats.watches).toBe(4);
    expect(watcher.stats.refreshes).toBeGreaterThanOrEqual(3);
    // Each refresh costs exactly one SQL query (databases cannot be watched).
    expect(watcher.stats.sqlQueries).toBe(watcher.stats.refreshes);
  });

  it('follows an upgrade live: the version label of the backend Deployment reaches every row without a LIST', async () => {
    events.length = 0;
    const admin = new KubeConfig();
    admin.loadFromFile(state.kubeconfigs.admin);
    const apps = admin.makeApiClient(AppsV1Api);
    const labels = { 'app.kubernetes.io/component': 'backend', 'app.kubernetes.io/version': '9.9.1' };
    await apps.createNamespacedDeployment({
      namespace: ns.namespace,
      body: {
        metadata: { name: 'backend-watch', labels },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: 'backend-watch' } },
          template: {
            metadata: { labels: { app: 'backend-watch' } },
            spec: { containers: [{ name: 'b', image: 'example/backend:9.9.1' }] },
          },
        },
      },
    });
    const ev = await waitFor('tenants.changed with the new version', () =>
      events.find((e) => e.upserted.some((t) => t.slug === slug && t.backendVersion === '9.9.1')),
    );
    expect(ev.clusterId).toBe(eng.runtime.clusterId);
    await apps.patchNamespacedDeployment({
      name: 'backend-watch',
      namespace: ns.namespace,
      body: [{ op: 'replace', path: '/metadata/labels/app.kubernetes.io~1version', value: '9.10.0' }],
    });
    await waitFor('the upgraded version in the cache', () => cached(slug)?.backendVersion === '9.10.0');
    expect(watcher.stats.lists).toBe(4);
    await apps.deleteNamespacedDeployment({ name: 'backend-watch', namespace: ns.namespace });
  });

  it('stops on an outage of its cluster and publishes nothing more', async () => {
    watcher.onState({ state: 'offline' });
    // the service keeps its own watcher of this cluster (started by reconcile): the outage stops it too
    eng.service.onClusterState(eng.runtime, { state: 'offline' });
    expect(eng.service.watcher(eng.runtime).watching()).toBeNull();
    expect(watcher.watching()).toBeNull();
    events.length = 0;
    await core.createNamespacedSecret({
      namespace: ns.namespace,
      body: {
        metadata: {
          name: `tenant-${orphan}x`,
          labels: { 'app.kubernetes.io/managed-by': 'gatehouse', 'gatehouse.io/tenant': `${orphan}x` },
        },
      },
    });
    // A canary: a second watcher (fresh LIST) sees the Secret, so the first one had its chance too.
    const canary = new TenantWatcher({
      cluster: eng.runtime,
      ports: () => eng.service.ports(eng.runtime),
      cache: eng.service.cache,
      bus: null,
      debounceMs: 50,
    });
    await canary.ensure();
    canary.stop();
    await new Promise((r) => setTimeout(r, 400));
    expect(events).toEqual([]);
    expect(cached(`${orphan}x`)).toMatchObject({ hasSecret: true });
    await core.deleteNamespacedSecret({ name: `tenant-${orphan}x`, namespace: ns.namespace });
  });
});

describeH('tenant WATCH wired into the engine (createEngine, cluster.state)', () => {
  const state = 'state' in h ? h.state : (undefined as never);
  let ns: { namespace: string; remove(): Promise<void> };
  let other: { namespace: string; remove(): Promise<void> };
  let engine: Engine;
  let core: CoreV1Api;
  const slug = uniqueSlug('wired');

  beforeAll(async () => {
    [ns, other] = await Promise.all([operatorNamespace(state, 'gh-twire'), operatorNamespace(state, 'gh-twire2')]);
    const admin = new KubeConfig();
    admin.loadFromFile(state.kubeconfigs.admin);
    core = admin.makeApiClient(CoreV1Api);
    engine = createEngine({
      mode: 'browser',
      dataDir: tempDataDir(),
      identity: 'os-user',
      clusters: {
        env: { KUBECONFIG: state.kubeconfigs.operator },
        home: tempDataDir(),
        watch: false,
        monitorIntervalMs: 60_000,
        secretStore: { keychain: null, prefer: 'encrypted-file', passphrase: 'integration passphrase' },
      },
    });
  });
  afterAll(async () => {
    await engine?.close();
    await Promise.all([ns?.remove(), other?.remove()]);
  });

  const labelled = (s: string) => ({
    metadata: { name: `tenant-${s}`, labels: { 'app.kubernetes.io/managed-by': 'gatehouse', 'gatehouse.io/tenant': s } },
  });

  it('starts when a cluster in use is online, follows a namespace switch, stops on close', async () => {
    const id = engine.clusters.list(null).contexts.find((c) => c.sourceFile === state.kubeconfigs.operator)!.id;
    const pg = harnessPg(state);
    await engine.clusters.saveProfile({
      clusterId: id,
      namespace: ns.namespace,
      database: { ...pg, sslMode: 'disable', allowInsecureTls: true },
      expectedOffline: false,
    });
    const cluster = await engine.directory.forContext(id);
    // The first "online" check of the context starts the watch of its cluster.
    await engine.clusters.monitorFor(id).refresh();
    const watcher = engine.tenants.watcher(cluster);
    await waitFor('the watch to start', () => watcher.watching()?.ready);
    expect(watcher.watching()).toMatchObject({ clusterId: cluster.clusterId, namespace: ns.namespace });

    const events: TenantsChanged[] = [];
    engine.bus.subscribe('tenants.changed', (e) => events.push(e));
    await core.createNamespacedSecret({ namespace: ns.namespace, body: labelled(slug) });
    await waitFor('tenants.changed from the engine', () => events.find((e) => e.upserted.some((t) => t.slug === slug)));
    expect((await engine.tenants.list(cluster, { refresh: false, stats: false })).tenants.map((t) => t.slug)).toContain(slug);

    // Another namespace in the profile is another tenant list: the old streams stop, new ones start.
    await engine.clusters.saveProfile({
      clusterId: id,
      namespace: other.namespace,
      database: { ...pg, sslMode: 'disable', allowInsecureTls: true },
      expectedOffline: false,
    });
    await engine.clusters.monitorFor(id).refresh();
    await waitFor(
      'the watch to follow the namespace',
      () => watcher.watching()?.namespace === other.namespace && watcher.watching()?.ready,
    );

    await engine.tenants.close();
    expect(watcher.watching()).toBeNull();
  });
});
