import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLocalStore, type Sqlite } from '../../../src-main/adapters/sqlite';
import { EventBus } from '../../../src-main/engine/core/events';
import { settingsMigrations } from '../../../src-main/engine/settings/service';
import { clustersMigrations, ProfileStore } from '../../../src-main/engine/clusters/profiles';
import { ClustersService } from '../../../src-main/engine/clusters/service';
import { SecretStoreManager } from '../../../src-main/engine/secrets-store/manager';
import type { ClustersList, ClusterState } from '../../../src-shared/contract/clusters';
import { kubeconfigDoc } from './fixtures';

let dir: string;
let db: Sqlite;
let service: ClustersService | null = null;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-clusters-'));
  db = openLocalStore(dir, [...settingsMigrations, ...clustersMigrations]).db;
});
afterEach(() => {
  service?.close();
  service = null;
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function build(env: NodeJS.ProcessEnv, options: { poll?: number } = {}) {
  const bus = new EventBus();
  const changes: ClustersList[] = [];
  const states: ClusterState[] = [];
  bus.subscribe('clusters.changed', (l) => changes.push(l));
  bus.subscribe('cluster.state', (s) => states.push(s));
  const secrets = new SecretStoreManager({ dataDir: dir, keychain: null, prefer: 'encrypted-file' });
  const store = new ProfileStore(db, secrets);
  service = new ClustersService({
    store,
    bus,
    log: pino({ level: 'silent' }),
    env,
    home: dir,
    watch: { debounceMs: 50, pollMs: options.poll ?? 100 },
    requestTimeoutMs: 2000,
    monitorIntervalMs: 60_000,
  });
  return { service, changes, states, secrets, store };
}

const cfg = (server: string, contexts: string[]) =>
  kubeconfigDoc({
    clusters: [{ name: 'c', server }],
    users: [{ name: 'u', token: 't' }],
    contexts: contexts.map((name) => ({ name, cluster: 'c', user: 'u' })),
  });

async function until<T>(what: () => T | undefined | false, label: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = what();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A loopback port with nothing listening: a real "connection refused". */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('clusters service', () => {
  it('picks up edits, removed contexts and new files without a restart', async () => {
    const a = path.join(dir, 'a.yaml');
    const b = path.join(dir, 'b.yaml');
    fs.writeFileSync(a, cfg('https://one', ['prod', 'staging']));
    const { service, changes } = build({ KUBECONFIG: [a, b].join(path.delimiter) });
    expect(service.list(null).contexts.map((c) => c.contextName)).toEqual(['prod', 'staging']);
    expect(service.list(null).sources.find((s) => s.path === b)?.error).toMatch(/does not exist/);

    fs.writeFileSync(a, cfg('https://one', ['prod']));
    const afterRemove = await until(() => changes.find((l) => l.contexts.length === 1), 'removed context');
    expect(afterRemove.contexts.map((c) => c.contextName)).toEqual(['prod']);

    fs.writeFileSync(b, cfg('https://two', ['uat']));
    const afterAdd = await until(() => changes.find((l) => l.contexts.some((c) => c.contextName === 'uat')), 'new file');
    expect(afterAdd.contexts.find((c) => c.contextName === 'uat')?.server).toBe('https://two');

    fs.writeFileSync(a, cfg('https://one-moved', ['prod']));
    await until(() => changes.some((l) => l.contexts.some((c) => c.server === 'https://one-moved')), 'server change');
  });

  it('notices a renewed client certificate and builds new clients', async () => {
    const pki = path.join(dir, 'pki');
    fs.mkdirSync(pki);
    fs.writeFileSync(path.join(pki, 'op.crt'), 'old');
    fs.writeFileSync(path.join(pki, 'op.key'), 'old');
    const file = path.join(dir, 'cert.yaml');
    fs.writeFileSync(
      file,
      kubeconfigDoc({
        clusters: [{ name: 'c', server: 'https://x' }],
        users: [{ name: 'u', cert: 'pki/op.crt', key: 'pki/op.key' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      }),
    );
    const { service, changes } = build({ KUBECONFIG: file });
    const before = service.runtimeFor(service.list(null).contexts[0]!.id);
    fs.writeFileSync(path.join(pki, 'op.crt'), 'renewed certificate');
    await until(() => changes.length > 0, 'certificate change');
    expect(service.runtimeFor(service.list(null).contexts[0]!.id)).not.toBe(before); // new clients for the new credentials
  });

  it('adds and removes kubeconfig files, persisted in the cache, and refuses env files', async () => {
    const env = path.join(dir, 'env.yaml');
    const extra = path.join(dir, 'extra.yaml');
    fs.writeFileSync(env, cfg('https://e', ['e']));
    fs.writeFileSync(extra, cfg('https://x', ['x']));
    const { service } = build({ KUBECONFIG: env });
    expect(service.addKubeconfig(extra).contexts.map((c) => c.contextName)).toEqual(['e', 'x']);
    expect(() => service.addKubeconfig(extra)).toThrow(/already in the list/);
    expect(() => service.addKubeconfig(path.join(dir, 'missing.yaml'))).toThrow(/There is no file/);
    expect(() => service.removeKubeconfig(env)).toThrow(/KUBECONFIG variable/);
    service.close();

    const again = build({ KUBECONFIG: env }).service; // a new console on the same cache
    expect(again.list(null).sources.map((s) => [s.path, s.origin])).toEqual([
      [env, 'env'],
      [extra, 'added'],
    ]);
    expect(again.removeKubeconfig(extra).contexts.map((c) => c.contextName)).toEqual(['e']);
    expect(() => again.removeKubeconfig(extra)).toThrow(/not a kubeconfig added/);
  });

  it('reports an unreachable server as offline with a plain message, per context', async () => {
    const port = await closedPort();
    const file = path.join(dir, 'k.yaml');
    fs.writeFileSync(file, cfg(`https://127.0.0.1:${port}`, ['down']));
    const { service, states } = build({ KUBECONFIG: file });
    const id = service.list(null).contexts[0]!.id;
    const monitor = service.monitorFor(id);
    const state = await monitor.reset();
    expect(state).toMatchObject({ clusterId: id, state: 'offline', lastSyncAt: null });
    expect(state.error).toMatch(/refused the connection.*ECONNREFUSED/);
    expect(states.at(-1)).toMatchObject({ clusterId: id, state: 'offline' });
    expect(monitor.pipelineState()).toMatchObject({ clusterId: id, online: false });
    await expect(service.test(id)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/refused the connection/) });

    // expected offline (VPN-only): not an error state, still read-only
    await service.saveProfile({ clusterId: id, namespace: 'iam-system', database: null, expectedOffline: true });
    expect(await monitor.refresh()).toMatchObject({ state: 'expected-offline' });
    expect(monitor.pipelineState().online).toBe(false);
  });

  it('gives up on a server that accepts connections but never answers (VPN black hole)', async () => {
    const silent = net.createServer(() => undefined); // holds the socket, sends nothing
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const file = path.join(dir, 'k.yaml');
      fs.writeFileSync(file, cfg(`https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, ['silent']));
      const { service } = build({ KUBECONFIG: file });
      const state = await service.monitorFor(service.list(null).contexts[0]!.id).reset();
      expect(state).toMatchObject({ state: 'offline', error: expect.stringMatching(/did not answer within 2 s/) });
    } finally {
      silent.close();
    }
  });

  it('reports a context in use that disappeared, and gives no connection for it', async () => {
    const file = path.join(dir, 'k.yaml');
    fs.writeFileSync(file, cfg('https://127.0.0.1:1', ['gone']));
    const { service, changes } = build({ KUBECONFIG: file });
    const id = service.list(null).contexts[0]!.id;
    const monitor = service.monitorFor(id);
    await monitor.reset();
    fs.writeFileSync(file, cfg('https://127.0.0.1:1', ['other']));
    await until(() => changes.length > 0, 'reload');
    expect(() => service.runtimeFor(id)).toThrow(/No kubeconfig context/);
    expect(monitor.state()).toMatchObject({
      clusterId: id,
      state: 'unknown',
      error: expect.stringMatching(/no longer in any kubeconfig/),
    });
    expect(monitor.pipelineState().online).toBe(false);
  });

  it('keeps the profile in SQLite and the password only in the secret store', async () => {
    const file = path.join(dir, 'k.yaml');
    fs.writeFileSync(file, cfg('https://a', ['p']));
    const { service, secrets } = build({ KUBECONFIG: file });
    const id = service.list(null).contexts[0]!.id;
    expect(service.profile(id)).toMatchObject({ namespace: 'iam-system', database: null, hasPassword: false, expectedOffline: false });
    const database = {
      host: 'db.internal',
      port: 5432,
      user: 'gatehouse_admin',
      database: 'postgres',
      sslMode: 'verify-full' as const,
      caPem: null,
    };

    await expect(
      service.saveProfile({
        clusterId: id,
        namespace: 'iam-prod',
        database: { ...database, password: 'Very$ecret' },
        expectedOffline: false,
      }),
    ).rejects.toThrow(/locked/);
    expect(service.profile(id).updatedAt).toBeNull(); // nothing saved while the store is locked

    await secrets.unlock('workstation passphrase');
    const { after } = await service.saveProfile({
      clusterId: id,
      namespace: 'iam-prod',
      database: { ...database, password: 'Very$ecret' },
      expectedOffline: false,
    });
    expect(after).toMatchObject({ namespace: 'iam-prod', database, hasPassword: true });
    expect(JSON.stringify(after)).not.toContain('Very$ecret');
    const dump = JSON.stringify(db.prepare('SELECT * FROM cluster_profiles').all());
    expect(dump).not.toContain('Very$ecret');
    // saving without a password keeps the stored one
    await service.saveProfile({ clusterId: id, namespace: 'iam-prod', database, expectedOffline: false });
    expect(await service.runtimeFor(id).pgAdmin()).toEqual({
      host: 'db.internal',
      port: 5432,
      user: 'gatehouse_admin',
      database: 'postgres',
      ssl: { mode: 'verify-full' },
      password: 'Very$ecret',
    });
    expect(service.runtimeFor(id).namespace).toBe('iam-prod');
    // removing the connection removes the password too
    await service.saveProfile({ clusterId: id, namespace: 'iam-prod', database: null, expectedOffline: false });
    expect(await service.runtimeFor(id).pgAdmin()).toBeNull();
    expect(await (await secrets.store()).get(`pg-admin-password:${id}`)).toBeNull();
  });
});
