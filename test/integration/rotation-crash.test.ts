// Crash safety of a JWT rotation: the saga runs in a child process SIGKILLed at step boundaries
// (before a step, and after it ran but before the journal says so). This process then resumes
// or rolls back the operation: either way the key set is consistent (one current key, every
// accepted key has its material and is published), the old token still verifies, the workload
// carries the final revision with its rollout complete, and the tenant Lease is free.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JWK } from 'jose';
import { initialJwtKeys } from '../../src-main/engine/rotation/keyset';
import { REVISION_ANNOTATION } from '../../src-main/engine/rotation/rollout';
import { tenantKube } from '../../src-main/engine/tenants/kube-ports';
import { harnessOrReason, operatorNamespace, tempDataDir, uniqueSlug } from './tenants-env';
import {
  TEST_LIFETIMES,
  apis,
  buildRotationEngine,
  createTenantSecret,
  createWorkload,
  readSecretData,
  signLikeBackend,
  verifyLikeBackend,
  waitAvailable,
  type RotationTestEngine,
} from './rotation-env';

const h = harnessOrReason();
const state = 'state' in h ? h.state : (undefined as never);
const here = path.dirname(fileURLToPath(import.meta.url));
// reserve 0, stage 1, roll-staged 2, caches 3, promote 4, roll-promoted 5, window 6, release 7
const BOUNDARIES = ['1:after', '2:before', '4:after', '5:after', '6:after'];

interface Key {
  kid: string;
  state: string;
  jwk: JWK | null;
  retireAfter: string | null;
}

describe('JWT rotation survives SIGKILL mid-way', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: RotationTestEngine;
  const dataDir = tempDataDir();
  const consoleId = 'rot-crash-console';
  let core: ReturnType<typeof apis>['core'];
  let apps: ReturnType<typeof apis>['apps'];

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-rot-crash');
    ({ core, apps } = apis(state.kubeconfigs.operator));
    eng = buildRotationEngine({ kubeconfig: state.kubeconfigs.operator, namespace: ns.namespace, dataDir, consoleId });
  });
  afterAll(async () => {
    await eng?.close();
    await ns?.remove();
  });

  async function tenant() {
    const slug = uniqueSlug('rk');
    await createTenantSecret(core, ns.namespace, slug, {
      TENANT_SLUG: slug,
      ...initialJwtKeys(),
      TOKEN_POLICY: JSON.stringify(TEST_LIFETIMES),
    });
    await createWorkload(apps, ns.namespace, `login-worker-${slug}`, slug);
    await waitAvailable(apps, ns.namespace, `login-worker-${slug}`);
    const data = await readSecretData(core, ns.namespace, slug);
    return { slug, data, token: await signLikeBackend(data, 'eve') };
  }

  function killChild(slug: string, boundary: string): void {
    const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'rotation-crash-child.ts')], {
      env: {
        ...process.env,
        GATEHOUSE_SAGA_CRASH: `rotation.jwt:${boundary}`,
        ROTATION_CRASH_CHILD: JSON.stringify({ kubeconfig: state.kubeconfigs.operator, namespace: ns.namespace, dataDir, consoleId, slug }),
      },
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(child.signal, `child should die by SIGKILL at ${boundary}; stderr: ${child.stderr}`).toBe('SIGKILL');
  }

  async function expectConsistent(slug: string, token: string): Promise<Key[]> {
    const data = await readSecretData(core, ns.namespace, slug);
    const keys = (JSON.parse(data.JWT_KEYS!) as { keys: Key[] }).keys;
    expect(keys.filter((k) => k.state === 'current')).toHaveLength(1);
    expect(keys.filter((k) => k.state === 'next')).toHaveLength(0);
    for (const k of keys) expect(k.state === 'retired' ? k.jwk === null : k.jwk !== null, k.kid).toBe(true);
    const published = (JSON.parse(data.JWKS!) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();
    expect(published).toEqual(
      keys
        .filter((k) => k.state !== 'retired')
        .map((k) => k.kid)
        .sort(),
    );
    expect(await verifyLikeBackend(data, token)).toBe(true);
    // The pods run what the Secret says, rollout complete.
    const status = await eng.service.status(eng.runtime, slug);
    expect(status.workloads).toHaveLength(1);
    expect(status.workloads[0]!.complete).toBe(true);
    const d = await apps.readNamespacedDeployment({ name: `login-worker-${slug}`, namespace: ns.namespace });
    const annotation = d.spec?.template?.metadata?.annotations?.[REVISION_ANNOTATION] ?? null;
    expect(annotation === null || annotation === status.revision).toBe(true);
    expect(await tenantKube(eng.runtime.kube, ns.namespace).getLease(`gatehouse-tenant-${slug}`)).toBeNull();
    return keys;
  }

  it.each(BOUNDARIES)('kill at %s → resume completes the rotation', async (boundary) => {
    const t = await tenant();
    const oldKid = (JSON.parse(t.data.JWT_KEYS!) as { keys: Key[] }).keys[0]!.kid;
    killChild(t.slug, boundary);
    const [op] = eng.saga.listUnfinished().filter((o) => o.target === t.slug);
    expect(op?.status).toBe('interrupted');
    const out = await eng.saga.resume(op!.id);
    expect(out.error).toBeNull();
    const keys = await expectConsistent(t.slug, t.token);
    expect(keys.find((k) => k.kid === oldKid)).toMatchObject({ state: 'previous' });
    expect(keys.find((k) => k.kid === oldKid)!.retireAfter).not.toBeNull();
  });

  it.each(BOUNDARIES)('kill at %s → roll back leaves the old key signing', async (boundary) => {
    const t = await tenant();
    const oldKid = (JSON.parse(t.data.JWT_KEYS!) as { keys: Key[] }).keys[0]!.kid;
    killChild(t.slug, boundary);
    const [op] = eng.saga.listUnfinished().filter((o) => o.target === t.slug);
    const out = await eng.saga.rollback(op!.id);
    expect(out.error).toBeNull();
    expect(out.operation.status).toBe('rolled-back');
    const keys = await expectConsistent(t.slug, t.token);
    expect(keys.find((k) => k.state === 'current')!.kid).toBe(oldKid);
    const promoted = Number(boundary.split(':')[0]) >= 4;
    if (!promoted) {
      // Never signed: gone without a trace, the Secret is byte for byte what it was.
      expect((await readSecretData(core, ns.namespace, t.slug)).JWT_KEYS).toBe(t.data.JWT_KEYS);
    } else {
      // It signed while current: kept as previous for a full window, so its tokens keep working.
      const newer = keys.filter((k) => k.kid !== oldKid);
      expect(newer.map((k) => k.state)).toEqual(['previous']);
      expect(newer[0]!.retireAfter).not.toBeNull();
    }
  });
});
