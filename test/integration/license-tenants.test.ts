// Licensing follows the tenants (real API server + PostgreSQL, the whole console): a tenant
// created after activation gets the license and its cap inside its create saga, the even
// share of every tenant is recomputed when a tenant comes or goes, and the recreate-Secret
// repair puts the license keys back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src-main/engine';
import { createRouter, type Router } from '../../src-main/ipc/router';
import { makeLicense } from '../fixtures/license/helpers';
import { deleteNamespace, harness, kubeConfig, uniqueNamespace } from './harness-fixture';

const h = harness();
let ns: string;
let root: string;
let engine: Engine;
let router: Router;
let core: CoreV1Api;

async function call<T = unknown>(name: string, input: unknown = {}): Promise<T> {
  const r = await router.invoke('license-tenants', name, input);
  if (!r.ok) throw Object.assign(new Error(`${name}: ${r.error.message}`), r.error);
  return r.value as T;
}

async function licenseKeys(slug: string): Promise<{ jws: string | null; cap: number | null }> {
  const s = await core.readNamespacedSecret({ name: `tenant-${slug}`, namespace: ns });
  const get = (k: string) => (s.data?.[k] ? Buffer.from(s.data[k]!, 'base64').toString('utf8') : null);
  const cap = get('LICENSE_USER_CAP');
  return { jws: get('LICENSE_JWS'), cap: cap === null ? null : Number(cap) };
}

const slug = (p: string) => `${p}-${Math.random().toString(36).slice(2, 7)}`;

beforeAll(async () => {
  ns = await uniqueNamespace('lic-tenants');
  core = kubeConfig('admin').makeApiClient(CoreV1Api);
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-license-tenants-'));
  engine = createEngine({
    mode: 'browser',
    dataDir: path.join(root, 'data'),
    identity: 'os-user',
    developmentMode: true, // test-signed licenses, accepted on the local harness only
    clusters: {
      env: { KUBECONFIG: h.kubeconfigs.operator },
      home: root,
      watch: false,
      autoStart: false,
      secretStore: { keychain: null, prefer: 'encrypted-file', passphrase: 'license tenants passphrase' },
    },
  });
  router = createRouter(engine);
  const ctx = (await call<{ contexts: { id: string }[] }>('clusters.list')).contexts[0]!;
  await call('clusters.select', { clusterId: ctx.id });
  const { host, port, user, password, database } = h.postgres;
  await call('clusters.profile.save', {
    clusterId: ctx.id,
    namespace: ns,
    database: { host, port, user, database, sslMode: 'disable', allowInsecureTls: true, password },
    expectedOffline: false,
  });
});

afterAll(async () => {
  await engine?.close();
  await deleteNamespace(ns).catch(() => undefined);
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the license follows the tenants', () => {
  it('a tenant created after activation gets the license and its cap; shares are recomputed on create and delete', async () => {
    const { jws } = await makeLicense({ limits: { tenants: 10, users: 1000 } });
    await call('license.activate', { license: jws });
    const first = slug('lic-a');
    const out = await call<{ steps: { name: string; status: string }[] }>('tenants.create', { slug: first, name: 'First', tier: 'DEV' });
    expect(out.steps.find((s) => s.name === 'license')?.status).toBe('done');
    expect(await licenseKeys(first)).toEqual({ jws, cap: 1000 });

    const second = slug('lic-b');
    await call('tenants.create', { slug: second, name: 'Second', tier: 'DEV' });
    expect(await licenseKeys(second)).toEqual({ jws, cap: 500 });
    expect((await licenseKeys(first)).cap).toBe(500); // the first tenant's share shrank with a fan-out

    await call('tenants.delete', { slug: second, confirm: second, finalBackup: false });
    expect((await licenseKeys(first)).cap).toBe(1000);

    // the recreate-Secret repair writes the license keys again
    await core.deleteNamespacedSecret({ name: `tenant-${first}`, namespace: ns });
    const repaired = await call<{ done: string }>('tenants.repair', { slug: first, action: 'recreate-secret', confirm: first });
    expect(repaired.done).toMatch(/license reinstalled/);
    expect(await licenseKeys(first)).toEqual({ jws, cap: 1000 });
  });
});
