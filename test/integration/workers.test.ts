// Worker configuration against the real API server with kwok nodes (pods are scheduled and
// become Ready, so Deployment rollouts really complete), through the least-privilege operator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError, type OperationProgress } from '../../src-shared/contract';
import { readShards, WORKERS_SELECTOR, workersShardOf } from '../../src-main/engine/workers/config-store';
import { harnessOrReason, operatorNamespace, tempDataDir, uniqueSlug } from './tenants-env';
import { buildWorkersEngine, type WorkersTestEngine } from './workers-env';

const h = harnessOrReason();
const state = 'state' in h ? h.state : (undefined as never);

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ContractError);
  return (err as ContractError).code;
}

const inline = {
  taskMode: 'inline' as const,
  taskPool: null,
  taskConcurrency: 4,
  loginMode: 'inline' as const,
  loginUrl: null,
  loginMaxConcurrent: null,
};

describe('worker configuration (real API server + kwok)', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: WorkersTestEngine;

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-workers');
    eng = await buildWorkersEngine({ state, namespace: ns.namespace, dataDir: tempDataDir() });
  });
  afterAll(async () => {
    await eng?.close();
    await ns?.remove();
  });

  const deployment = (name: string) => eng.admin.apps.readNamespacedDeployment({ name, namespace: ns.namespace }).catch(() => null);
  const service = (name: string) => eng.admin.core.readNamespacedService({ name, namespace: ns.namespace }).catch(() => null);
  const stored = async () =>
    readShards((await eng.admin.core.listNamespacedConfigMap({ namespace: ns.namespace, labelSelector: WORKERS_SELECTOR })).items);

  it('switching to dedicated creates login-worker-<slug> (labelled, owned, tier resources), rolls it out, then stores the mode; switching away removes both', async () => {
    const slug = uniqueSlug('ded');
    await eng.seedTenant(slug, 'PRO');
    const progress: OperationProgress[] = [];
    const off = eng.bus.subscribe('operation.progress', (e) => progress.push(e));
    const out = await eng.service.setConfig(eng.runtime, { ...inline, slug, loginMode: 'dedicated' }, 'local:alice');
    off();
    expect(out.steps.map((s) => `${s.name}:${s.status}`)).toEqual(
      ['reserve', 'provision', 'rollout', 'config', 'retire', 'release'].map((s) => `${s}:done`),
    );
    // The rollout really completed on kwok nodes, and its figures were streamed.
    expect(out.loginWorker).toMatchObject({ name: `login-worker-${slug}`, complete: true, desired: 1, available: 1 });
    expect(progress.some((e) => e.step === 'rollout' && /available/.test(e.message ?? ''))).toBe(true);

    const d = await deployment(`login-worker-${slug}`);
    expect(d?.metadata?.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'gatehouse',
      'gatehouse.io/tenant': slug,
      'app.kubernetes.io/component': 'login-worker',
    });
    expect(d?.metadata?.annotations?.['gatehouse.io/operation-id']).toBe(out.operationId);
    const secret = await eng.admin.core.readNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace });
    expect(d?.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Secret', name: `tenant-${slug}`, uid: secret.metadata?.uid });
    expect(d?.spec?.template?.spec?.containers?.[0]?.resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { cpu: '500m', memory: '512Mi' },
    });
    expect(d?.spec?.template?.spec?.containers?.[0]?.image).toBe('ghcr.io/justiam/login-worker:1.8.2');
    const svc = await service(`login-worker-${slug}`);
    expect(svc?.spec?.ports?.[0]?.port).toBe(8090);
    expect(svc?.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Deployment', uid: d?.metadata?.uid });
    // Where the backend reads it: the shard named by the slug's hash, one entry.
    const shard = await eng.admin.core.readNamespacedConfigMap({ name: workersShardOf(slug), namespace: ns.namespace });
    expect(JSON.parse(shard.data?.[slug] ?? '{}')).toEqual({ task: 'inline', concurrency: 4, login: 'dedicated', op: out.operationId });
    expect((await eng.service.getConfig(eng.runtime, slug)).loginWorker?.complete).toBe(true);

    const back = await eng.service.setConfig(eng.runtime, {
      ...inline,
      slug,
      loginMode: 'shared',
      loginUrl: 'http://login-worker-shared.iam-system.svc:8090/',
      loginMaxConcurrent: 20,
    });
    expect(back.loginWorker).toBeNull();
    expect(await deployment(`login-worker-${slug}`)).toBeNull();
    expect(await service(`login-worker-${slug}`)).toBeNull();
    expect((await stored()).get(slug)?.config.login).toEqual({
      mode: 'shared',
      url: 'http://login-worker-shared.iam-system.svc:8090',
      maxConcurrent: 20,
    });
    // The Lease is released after each change.
    expect(await eng.service.ports(eng.runtime).tenantKube.getLease(`gatehouse-tenant-${slug}`)).toBeNull();
  });

  it('refuses a dedicated worker for a DEV tenant and an unknown pool before changing anything', async () => {
    const slug = uniqueSlug('dev');
    await eng.seedTenant(slug, 'DEV');
    expect(await codeOf(eng.service.setConfig(eng.runtime, { ...inline, slug, loginMode: 'dedicated' }))).toBe('VALIDATION');
    expect(await codeOf(eng.service.setConfig(eng.runtime, { ...inline, slug, taskMode: 'agent', taskPool: 'nope' }))).toBe('NOT_FOUND');
    expect(await codeOf(eng.service.setConfig(eng.runtime, { ...inline, slug, loginMode: 'shared', loginUrl: 'ftp://x' }))).toBe(
      'VALIDATION',
    );
    expect(await deployment(`login-worker-${slug}`)).toBeNull();
    expect((await stored()).has(slug)).toBe(false);
  });

  it('a tier change applies the new tier resources to the dedicated worker and rolls it out; DEV is refused while a dedicated worker runs', async () => {
    const slug = uniqueSlug('tier');
    await eng.seedTenant(slug, 'PRO');
    await eng.service.setConfig(eng.runtime, { ...inline, slug, loginMode: 'dedicated' });
    const up = await eng.service.setProfile(eng.runtime, { slug, name: 'Renamed Corp', tier: 'Enterprise' });
    expect(up).toMatchObject({ name: 'Renamed Corp', tier: 'Enterprise' });
    expect(up.loginWorker).toMatchObject({ complete: true, desired: 2, available: 2 });
    const d = await deployment(`login-worker-${slug}`);
    expect(d?.spec?.replicas).toBe(2);
    expect(d?.spec?.template?.spec?.containers?.[0]?.resources?.limits).toEqual({ cpu: '1', memory: '1Gi' });
    // DEV has no dedicated worker: refused while the tenant uses one, nothing changed.
    expect(await codeOf(eng.service.setProfile(eng.runtime, { slug, tier: 'DEV' }))).toBe('VALIDATION');
    expect((await eng.service.ports(eng.runtime).registry.get(slug))?.tier).toBe('Enterprise');
  });
});

describe('tier changes checked against the license', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: WorkersTestEngine;
  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-workers-lic');
    eng = await buildWorkersEngine({
      state,
      namespace: ns.namespace,
      dataDir: tempDataDir(),
      workers: {
        licenseCheck: async (_c, change) =>
          change.tier === 'Enterprise' ? 'The PRO license of this cluster allows tenants up to PRO.' : null,
      },
    });
  });
  afterAll(async () => {
    await eng?.close();
    await ns?.remove();
  });

  it('refuses a tier above the license with LICENSE_INVALID and leaves the registry entry as it was', async () => {
    const slug = uniqueSlug('lic');
    await eng.seedTenant(slug, 'PRO');
    expect(await codeOf(eng.service.setProfile(eng.runtime, { slug, tier: 'Enterprise' }))).toBe('LICENSE_INVALID');
    expect((await eng.service.ports(eng.runtime).registry.get(slug))?.tier).toBe('PRO');
    const ok = await eng.service.setProfile(eng.runtime, { slug, name: 'Only the name' });
    expect(ok).toMatchObject({ name: 'Only the name', tier: 'PRO' });
  });
});
