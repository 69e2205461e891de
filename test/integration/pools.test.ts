// Agent pools against the real API server with kwok nodes (pools really roll out).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError } from '../../src-shared/contract';
import { decodeSecretData } from '../../src-main/engine/tenants/material';
import { REGISTRATION_SECRET, agentsConfigMap, decodeAgents, deriveAgentCredential } from '../../src-main/engine/workers/pools';
import { rolloutStatus } from '../../src-main/engine/workers/rollout';
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

describe('agent pools (real API server + kwok)', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: WorkersTestEngine;
  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-pools');
    eng = await buildWorkersEngine({ state, namespace: ns.namespace, dataDir: tempDataDir() });
    const agent = await eng.admin.apps.readNamespacedDeployment({ name: 'agent-pool-default', namespace: state.platformNamespace });
    await eng.admin.apps.createNamespacedDeployment({
      namespace: ns.namespace,
      body: { metadata: { name: 'agent-pool-default', labels: agent.metadata?.labels ?? {} }, spec: agent.spec! },
    });
  });
  afterAll(async () => {
    await eng?.close();
    await ns?.remove();
  });
  const pools = () => eng.service.pools;

  it('creates a pool with labels that rolls out; a tenant assigned to it blocks its delete until reassigned', async () => {
    const created = await pools().create(eng.runtime, { name: 'eu-west', labels: { region: 'eu-west-1', tier: 'gold' }, replicas: 2 });
    expect(created.pool).toMatchObject({
      name: 'eu-west',
      deployment: 'agent-pool-eu-west',
      labels: { region: 'eu-west-1', tier: 'gold' },
      replicas: 2,
      shared: false,
    });
    expect(created.pool.rollout).toMatchObject({ complete: true, available: 2 });
    expect(created.pool.rollout.image).toBe('ghcr.io/justiam/agent:1.8.2');

    const slug = uniqueSlug('pool');
    await eng.seedTenant(slug, 'PRO');
    const assigned = await eng.service.assign(eng.runtime, slug, 'eu-west');
    expect(assigned.config.task).toEqual({ mode: 'agent', pool: 'eu-west', concurrency: 4 });
    expect((await pools().get(eng.runtime, 'eu-west')).tenants).toEqual([slug]);

    expect(await codeOf(pools().delete(eng.runtime, { name: 'eu-west', reassignTo: null }))).toBe('CONFLICT');
    expect(await eng.admin.apps.readNamespacedDeployment({ name: 'agent-pool-eu-west', namespace: ns.namespace })).toBeTruthy();
    expect(await codeOf(pools().delete(eng.runtime, { name: 'eu-west', reassignTo: 'nowhere' }))).toBe('NOT_FOUND');

    const scaled = await pools().scale(eng.runtime, 'eu-west', 3);
    expect(scaled).toMatchObject({ replicas: 3, before: 2 });

    const deleted = await pools().delete(eng.runtime, { name: 'eu-west', reassignTo: 'default' });
    expect(deleted.reassigned).toEqual([slug]);
    expect((await eng.service.getConfig(eng.runtime, slug)).config.task).toEqual({ mode: 'agent', pool: 'default', concurrency: 4 });
    expect(
      await eng.admin.apps.readNamespacedDeployment({ name: 'agent-pool-eu-west', namespace: ns.namespace }).catch(() => null),
    ).toBeNull();
  });

  it('initialises the shared pool with an HMAC key; rotation keeps old and new keys until every agent rolled, then drops the old', async () => {
    const init = await pools().initShared(eng.runtime, { replicas: 2 });
    expect(init.pool).toMatchObject({ name: 'shared', shared: true, previousKeyId: null });
    const firstKey = decodeSecretData(await eng.admin.core.readNamespacedSecret({ name: REGISTRATION_SECRET, namespace: ns.namespace }));
    expect(firstKey.HMAC_KEY_CURRENT_ID).toBe(init.pool.keyId);
    expect(Buffer.from(firstKey.HMAC_KEY_CURRENT!, 'base64url')).toHaveLength(32);

    // Watch the Secret and the Deployment while the rotation runs.
    const seen: { both: boolean; rolled: boolean; current: string | undefined }[] = [];
    let rotating = true;
    const observer = (async () => {
      while (rotating) {
        const [s, d] = await Promise.all([
          eng.admin.core.readNamespacedSecret({ name: REGISTRATION_SECRET, namespace: ns.namespace }),
          eng.admin.apps.readNamespacedDeployment({ name: 'agent-pool-shared', namespace: ns.namespace }),
        ]);
        const k = decodeSecretData(s);
        const newTemplate = d.spec?.template?.metadata?.annotations?.['gatehouse.io/registration-key-id'] === k.HMAC_KEY_CURRENT_ID;
        seen.push({
          both: !!k.HMAC_KEY_PREVIOUS_ID && !!k.HMAC_KEY_CURRENT_ID,
          rolled: newTemplate && rolloutStatus('x', d).complete,
          current: k.HMAC_KEY_CURRENT_ID,
        });
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    const rotated = await pools().rotateKey(eng.runtime);
    rotating = false;
    await observer;
    expect(rotated.steps.map((s) => s.name)).toEqual(['stage', 'roll', 'wait', 'retire']);
    expect(rotated.pool.keyId).not.toBe(init.pool.keyId);
    expect(rotated.pool.previousKeyId).toBeNull();
    // Both keys were accepted while the new one was current; the old one went only once the pool had rolled.
    expect(seen.some((x) => x.both && x.current === rotated.pool.keyId)).toBe(true);
    for (const x of seen) if (x.current === rotated.pool.keyId && !x.both) expect(x.rolled).toBe(true);
    const after = decodeSecretData(await eng.admin.core.readNamespacedSecret({ name: REGISTRATION_SECRET, namespace: ns.namespace }));
    expect(Object.keys(after).sort()).toEqual(['HMAC_KEY_CURRENT', 'HMAC_KEY_CURRENT_ID']);
    const d = await eng.admin.apps.readNamespacedDeployment({ name: 'agent-pool-shared', namespace: ns.namespace });
    expect(d.spec?.template?.metadata?.annotations?.['gatehouse.io/registration-key-id']).toBe(rotated.pool.keyId);
    expect(rolloutStatus('agent-pool-shared', d).complete).toBe(true);
  });

  it('revokes one agent without renaming it; readmitting it moves it to a new credential epoch', async () => {
    const key = decodeSecretData(
      await eng.admin.core.readNamespacedSecret({ name: REGISTRATION_SECRET, namespace: ns.namespace }),
    ).HMAC_KEY_CURRENT!;
    const agent = 'agent-pool-shared-7d9f-abcde';
    const before = deriveAgentCredential(key, 'shared', agent, 0);
    expect(await pools().setAgent(eng.runtime, 'shared', agent, true)).toMatchObject({ epoch: 0, revoked: true });
    const cm = await eng.admin.core.readNamespacedConfigMap({ name: agentsConfigMap('shared'), namespace: ns.namespace });
    expect(decodeAgents(cm).get(agent)).toEqual({ epoch: 0, revoked: true });
    expect((await pools().get(eng.runtime, 'shared')).revokedAgents).toEqual([agent]);
    const back = await pools().setAgent(eng.runtime, 'shared', agent, false);
    expect(back).toMatchObject({ epoch: 1, revoked: false });
    // The credential the backend expects now differs from the revoked one; other agents are untouched.
    expect(deriveAgentCredential(key, 'shared', agent, 1)).not.toBe(before);
    expect((await pools().get(eng.runtime, 'shared')).revokedAgents).toEqual([]);
  });
});
