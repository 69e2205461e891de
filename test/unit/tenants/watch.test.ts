// TenantWatcher wiring around the client's ListWatch: resume from resourceVersion after a
// server-side close, re-LIST after 410 Gone (objects deleted during the gap disappear),
// restart after a failure. Kubernetes is faked at the Watch/list-function boundary only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { TenantsChanged } from '../../../src-shared/contract/tenants';
import type { KubeClients } from '../../../src-main/adapters/kube';
import { openLocalStore, type Sqlite } from '../../../src-main/adapters/sqlite';
import { ClusterScope } from '../../../src-main/engine/clusters/scope';
import { EventBus } from '../../../src-main/engine/core/events';
import type { TenantPorts } from '../../../src-main/engine/tenants/ports';
import { TenantCache, tenantCacheMigrations } from '../../../src-main/engine/tenants/reconcile';
import { TenantWatcher, type WatchLike } from '../../../src-main/engine/tenants/watch';

type Obj = {
  metadata: { name: string; namespace: string; resourceVersion: string; labels?: Record<string, string> };
  data?: Record<string, string>;
};
const secret = (slug: string, rv: string): Obj => ({
  metadata: {
    name: `tenant-${slug}`,
    namespace: 'ns',
    resourceVersion: rv,
    labels: { 'app.kubernetes.io/managed-by': 'gatehouse', 'gatehouse.io/tenant': slug },
  },
});
const list = (items: Obj[], rv: string) => ({ items, metadata: { resourceVersion: rv } });

interface OpenWatch {
  path: string;
  query: Record<string, unknown>;
  emit(type: string, obj: unknown): void;
  done(err: unknown): void;
}

function fakeCluster() {
  const watches: OpenWatch[] = [];
  const state = { secrets: [secret('a', '5'), secret('b', '6')], secretsRv: '10', lists: 0 };
  const watch: WatchLike = {
    watch: async (p, query, cb, done) => {
      watches.push({ path: p, query, emit: (type, obj) => cb(type, obj), done });
      return new AbortController();
    },
  };
  const kube = {
    config: {} as KubeConfig,
    core: {
      listNamespacedSecret: async () => {
        state.lists++;
        return list(state.secrets, state.secretsRv);
      },
      listNamespacedConfigMap: async () => list([], '10'),
    },
    coordination: { listNamespacedLease: async () => list([], '10') },
    apps: { listNamespacedDeployment: async () => list([], '10') },
  } as unknown as KubeClients;
  const runtime = new ClusterScope('c1', {
    contextId: 'ctx-1',
    contextName: 'one',
    kube,
    namespace: 'ns',
    pgAdmin: async () => ({ host: 'h', port: 1, user: 'u', password: 'p', database: 'd', ssl: false }),
  });
  const ports = async () =>
    ({
      pg: { listWithPrefix: async () => ({ databases: ['tenant_a', 'tenant_b'], roles: ['tenant_a', 'tenant_b'] }) },
    }) as unknown as TenantPorts;
  const secretWatches = () => watches.filter((w) => w.path.endsWith('/secrets'));
  return { watch, runtime, ports, state, secretWatches };
}

let db: Sqlite | null = null;
const started: TenantWatcher[] = [];
afterEach(() => {
  for (const w of started.splice(0)) w.stop();
  db?.close();
});

async function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-twatch-'));
  db = openLocalStore(dir, tenantCacheMigrations).db;
  const cluster = fakeCluster();
  const bus = new EventBus();
  const events: TenantsChanged[] = [];
  bus.subscribe('tenants.changed', (e) => events.push(e));
  const cache = new TenantCache(db);
  const watcher = new TenantWatcher({
    cluster: cluster.runtime,
    ports: cluster.ports,
    cache,
    bus,
    debounceMs: 5,
    makeWatch: () => cluster.watch,
  });
  started.push(watcher);
  await watcher.ensure();
  return { cluster, watcher, events, cache };
}

const tick = async (watcher: TenantWatcher) => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 10));
  await watcher.settled();
};

describe('TenantWatcher', () => {
  it('builds the list from the initial LISTs and watches from their resourceVersion', async () => {
    const { cluster, events, cache } = await setup();
    expect(cluster.secretWatches()).toHaveLength(1);
    expect(cluster.secretWatches()[0]!.query).toMatchObject({
      resourceVersion: '10',
      labelSelector: 'app.kubernetes.io/managed-by=gatehouse,gatehouse.io/tenant',
    });
    expect(cache.load('c1')!.tenants.map((t) => t.slug)).toEqual(['a', 'b']);
    expect(events[0]!.upserted.map((t) => t.slug)).toEqual(['a', 'b']);
  });

  it('resumes from the last resourceVersion after the server closes the stream (no LIST)', async () => {
    const { cluster, watcher } = await setup();
    const first = cluster.secretWatches()[0]!;
    first.emit('MODIFIED', secret('a', '12'));
    first.done(null);
    await tick(watcher);
    expect(cluster.state.lists).toBe(1);
    expect(cluster.secretWatches()).toHaveLength(2);
    expect(cluster.secretWatches()[1]!.query.resourceVersion).toBe('12');
  });

  it('re-LISTs on 410 Gone; a tenant deleted during the gap is removed and published', async () => {
    const { cluster, watcher, events, cache } = await setup();
    events.length = 0;
    cluster.state.secrets = [secret('a', '5')];
    cluster.state.secretsRv = '40';
    const first = cluster.secretWatches()[0]!;
    first.emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired', metadata: {} });
    first.done(null);
    await tick(watcher);
    expect(cluster.state.lists).toBe(2);
    expect(cluster.secretWatches().at(-1)!.query.resourceVersion).toBe('40');
    const b = cache.load('c1')!.tenants.find((t) => t.slug === 'b');
    expect(b).toMatchObject({ hasSecret: false, hasDatabase: true });
    expect(events.at(-1)!.upserted.find((t) => t.slug === 'b')).toMatchObject({ hasSecret: false });
    expect(events.at(-1)!.drift).toContainEqual(expect.objectContaining({ slug: 'b', kind: 'database-without-registry' }));
  });

  it('stops on a failure and starts again (fresh LIST) on the next online state', async () => {
    const { cluster, watcher } = await setup();
    cluster.secretWatches()[0]!.done(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(watcher.watching()).toBeNull();
    expect(watcher.stats.errors).toBe(1);
    watcher.onState({ state: 'online' });
    await tick(watcher);
    expect(watcher.watching()).toMatchObject({ clusterId: 'c1', ready: true });
    expect(cluster.state.lists).toBe(2);
  });
});
