// JWT signing-key rotation against the real API server: the Deployment controller and kwok
// really roll the tenant's pods between phases. A token signed with the old key (with jose,
// from the Secret, as the backend would) verifies against the published key set at every
// phase until the key is retired, and fails after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { initialJwtKeys } from '../../src-main/engine/rotation/keyset';
import { REVISION_ANNOTATION } from '../../src-main/engine/rotation/rollout';
import { tenantKube } from '../../src-main/engine/tenants/kube-ports';
import { ContractError } from '../../src-shared/contract';
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

interface Seen {
  step: string;
  oldVerifies: boolean;
  newVerifies: boolean;
  signer: string;
  workload: { annotation: string | null; updated: number; available: number; replicas: number; complete: boolean } | null;
}

describe('JWT key rotation, rollout-aware, on cluster A', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: RotationTestEngine;
  let onStep: (kind: string, step: string, slug: string) => Promise<void> = async () => undefined;
  let core: CoreV1Api;
  let apps: ReturnType<typeof apis>['apps'];

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-rot-jwt');
    ({ core, apps } = apis(state.kubeconfigs.operator));
    eng = buildRotationEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      dataDir: tempDataDir(),
      consoleId: 'rot-console',
      options: { beforeStep: (kind, step, slug) => onStep(kind, step, slug), rolloutTimeoutMs: 60_000 },
    });
  });
  afterAll(async () => {
    await eng?.close();
    await ns?.remove();
  });

  const workloadNow = async (name: string) => {
    const d = await apps.readNamespacedDeployment({ name, namespace: ns.namespace });
    const s = d.status ?? {};
    const want = d.spec?.replicas ?? 1;
    return {
      annotation: d.spec?.template?.metadata?.annotations?.[REVISION_ANNOTATION] ?? null,
      updated: s.updatedReplicas ?? 0,
      available: s.availableReplicas ?? 0,
      replicas: s.replicas ?? 0,
      complete:
        (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        (s.updatedReplicas ?? 0) >= want &&
        (s.availableReplicas ?? 0) >= want &&
        (s.replicas ?? 0) <= want,
    };
  };

  it('ES256 tenant with a 2-replica workload: old token valid at every phase, each phase waits for the rollout, retire refused before the window, token rejected after', async () => {
    const slug = uniqueSlug('rj');
    const worker = `login-worker-${slug}`;
    await createTenantSecret(core, ns.namespace, slug, {
      TENANT_SLUG: slug,
      ...initialJwtKeys(),
      LOGIN_WORKER_TOKEN: 'lw',
      PROXY_TOKEN: 'px',
      CP_TOKEN: 'cp',
      TOKEN_POLICY: JSON.stringify(TEST_LIFETIMES),
    });
    await createWorkload(apps, ns.namespace, worker, slug, { replicas: 2 });
    await waitAvailable(apps, ns.namespace, worker);
    const before = await readSecretData(core, ns.namespace, slug);
    const oldToken = await signLikeBackend(before, 'alice');

    const seen: Seen[] = [];
    onStep = async (_kind, step, s) => {
      if (s !== slug) return;
      const data = await readSecretData(core, ns.namespace, slug);
      const fresh = await signLikeBackend(data, 'bob');
      seen.push({
        step,
        oldVerifies: await verifyLikeBackend(data, oldToken),
        newVerifies: await verifyLikeBackend(data, fresh),
        signer: (JSON.parse(data.JWT_KEYS!) as { keys: { kid: string; state: string }[] }).keys.find((k) => k.state === 'current')!.kid,
        workload: await workloadNow(worker),
      });
    };
    const out = await eng.service.rotate(eng.runtime, { slug, kind: 'jwt' });
    onStep = async () => undefined;
    expect(out.status).toBe('done');
    expect(out.steps.map((s) => s.name)).toEqual([
      'reserve',
      'stage',
      'roll-staged',
      'caches',
      'promote',
      'roll-promoted',
      'window',
      'release',
    ]);
    const oldKid = (JSON.parse(before.JWT_KEYS!) as { keys: { kid: string }[] }).keys[0]!.kid;

    // Old tokens verify and fresh tokens verify at every phase.
    expect(seen.map((s) => [s.step, s.oldVerifies, s.newVerifies])).toEqual(out.steps.map((s) => [s.name, true, true]));
    // Signing switches only at promotion, after the staged key reached every pod.
    expect(seen.filter((s) => s.signer === oldKid).map((s) => s.step)).toEqual(['reserve', 'stage', 'roll-staged', 'caches', 'promote']);
    const atPromote = seen.find((s) => s.step === 'promote')!.workload!;
    expect(atPromote).toMatchObject({ complete: true, updated: 2, available: 2, replicas: 2 });
    expect(atPromote.annotation).not.toBeNull();
    const atWindow = seen.find((s) => s.step === 'window')!.workload!;
    expect(atWindow.complete).toBe(true);
    expect(atWindow.annotation).not.toBe(atPromote.annotation);

    const after = await readSecretData(core, ns.namespace, slug);
    const keys = (JSON.parse(after.JWT_KEYS!) as { keys: { kid: string; state: string; retireAfter: string | null }[] }).keys;
    expect(keys.map((k) => [k.kid, k.state])).toEqual([
      [oldKid, 'previous'],
      [out.id, 'current'],
    ]);
    const window = 60 + 1 + 60;
    const retireAfter = new Date(out.retireAfter!).getTime();
    // The window runs from after the promotion rolled out: never earlier than demotion + window.
    const demoted = (JSON.parse(after.JWT_KEYS!) as { keys: { kid: string; demoted: string }[] }).keys.find(
      (k) => k.kid === oldKid,
    )!.demoted;
    expect(retireAfter).toBeGreaterThanOrEqual(new Date(demoted).getTime() + window * 1000);
    expect(keys.find((k) => k.kid === oldKid)!.retireAfter).toBe(out.retireAfter);
    // The pods carry the revision of the final key set.
    expect((await eng.service.status(eng.runtime, slug)).workloads).toEqual([
      expect.objectContaining({ name: worker, desired: 2, updated: 2, available: 2, upToDate: true, complete: true }),
    ]);
    expect(await verifyLikeBackend(after, oldToken)).toBe(true);

    // Retire before the window ends: refused, naming when it ends; nothing changed.
    const refused = await eng.service.retire(eng.runtime, { slug, kind: 'jwt', id: oldKid }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ContractError);
    expect((refused as ContractError).message).toContain(`ends at ${out.retireAfter}`);
    expect(await verifyLikeBackend(await readSecretData(core, ns.namespace, slug), oldToken)).toBe(true);

    // Past the window: retired, the old token fails, tokens of the new key still verify.
    eng.clock.offsetMs = retireAfter - Date.now() + 1000;
    const retired = await eng.service.retire(eng.runtime, { slug, kind: 'jwt', id: oldKid });
    eng.clock.offsetMs = 0;
    expect(retired.status).toBe('done');
    const final = await readSecretData(core, ns.namespace, slug);
    expect(await verifyLikeBackend(final, oldToken)).toBe(false);
    expect(await verifyLikeBackend(final, await signLikeBackend(final, 'carol'))).toBe(true);
    expect((JSON.parse(final.JWKS!) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toEqual([out.id]);
    expect(JSON.parse(final.JWT_KEYS!).keys.find((k: { kid: string }) => k.kid === oldKid)).toMatchObject({ state: 'retired', jwk: null });
    expect((await workloadNow(worker)).complete).toBe(true);
  });

  it('legacy HS256 tenant (JWT_CURRENT_*/JWT_PREVIOUS_*): converted to a key set, an old backend reading only the legacy pair keeps verifying', async () => {
    const slug = uniqueSlug('rl');
    const legacy = {
      JWT_CURRENT_KID: 'k-20250101-0000aaaa',
      JWT_CURRENT_SECRET: 'c'.repeat(64),
      JWT_PREVIOUS_KID: 'k-20250101-0000bbbb',
      JWT_PREVIOUS_SECRET: 'p'.repeat(64),
    };
    await createTenantSecret(core, ns.namespace, slug, {
      TENANT_SLUG: slug,
      ...legacy,
      LOGIN_WORKER_TOKEN: 'lw',
      TOKEN_POLICY: JSON.stringify(TEST_LIFETIMES),
    });
    const { SignJWT, jwtVerify } = await import('jose');
    const oldToken = await new SignJWT({ sub: 'legacy' })
      .setProtectedHeader({ alg: 'HS256', kid: legacy.JWT_CURRENT_KID })
      .sign(new TextEncoder().encode(legacy.JWT_CURRENT_SECRET));
    const status = await eng.service.status(eng.runtime, slug);
    expect(status.kinds.find((k) => k.kind === 'jwt')).toMatchObject({ legacy: true, currentId: legacy.JWT_CURRENT_KID, phase: 'stable' });

    const out = await eng.service.rotate(eng.runtime, { slug, kind: 'jwt' });
    expect(out.status).toBe('done');
    const data = await readSecretData(core, ns.namespace, slug);
    // The key set keeps the algorithm and both legacy keys; the new key is current.
    const keys = (JSON.parse(data.JWT_KEYS!) as { keys: { kid: string; alg: string; state: string }[] }).keys;
    expect(keys.map((k) => [k.kid, k.alg, k.state])).toEqual([
      [legacy.JWT_CURRENT_KID, 'HS256', 'previous'],
      [legacy.JWT_PREVIOUS_KID, 'HS256', 'previous'],
      [out.id, 'HS256', 'current'],
    ]);
    expect(await verifyLikeBackend(data, oldToken)).toBe(true);
    // An old backend reads only the legacy pair: it now signs with the new key and still accepts the old one.
    expect(data.JWT_CURRENT_KID).toBe(out.id);
    expect(data.JWT_PREVIOUS_KID).toBe(legacy.JWT_CURRENT_KID);
    await expect(jwtVerify(oldToken, new TextEncoder().encode(data.JWT_PREVIOUS_SECRET))).resolves.toBeTruthy();
    // Nothing signs with an HS256 key published: HS256 keys are never in the JWKS.
    expect(JSON.parse(data.JWKS!)).toEqual({ keys: [] });
  });

  it('a second rotation while one is unfinished is refused, naming the operation', async () => {
    const slug = uniqueSlug('rc');
    await createTenantSecret(core, ns.namespace, slug, {
      TENANT_SLUG: slug,
      ...initialJwtKeys(),
      TOKEN_POLICY: JSON.stringify(TEST_LIFETIMES),
    });
    let second: unknown = null;
    onStep = async (_k, step, s) => {
      if (s !== slug || step !== 'roll-staged' || second) return;
      second = await eng.service.rotate(eng.runtime, { slug, kind: 'jwt' }).catch((e: unknown) => e);
    };
    const first = await eng.service.rotate(eng.runtime, { slug, kind: 'jwt' });
    onStep = async () => undefined;
    expect(first.status).toBe('done');
    // The tenant Lease refuses it before anything is written.
    expect(second).toBeInstanceOf(ContractError);
    expect((second as ContractError).code).toBe('CONFLICT');
    expect((second as ContractError).message).toContain(first.operationId);
    expect(eng.saga.listUnfinished().filter((o) => o.target === slug)).toEqual([]);
  });

  describe('a rollout kept from completing (the new pods cannot be scheduled)', () => {
    let nodes: CoreV1Api;
    const pin = `gatehouse.test/pin-${Math.random().toString(16).slice(2, 10)}`;
    const setNodeLabel = async (on: boolean) => {
      for (let i = 0; i < 10; i++) {
        const node = await nodes.readNode({ name: 'kwok-node-0' });
        const labels = { ...(node.metadata?.labels ?? {}) };
        if (on) labels[pin] = 'yes';
        else delete labels[pin];
        try {
          await nodes.replaceNode({ name: 'kwok-node-0', body: { ...node, metadata: { ...node.metadata, labels } } });
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100)); // kwok updated the node in between
        }
      }
      throw new Error('could not label kwok-node-0');
    };

    beforeAll(async () => {
      const admin = new KubeConfig();
      admin.loadFromFile(state.kubeconfigs.admin);
      nodes = admin.makeApiClient(CoreV1Api);
    });
    afterAll(async () => {
      await setNodeLabel(false).catch(() => undefined);
    });

    /** A tenant whose workload runs on a labelled node; the label then goes, so new pods stay Pending. */
    async function stuckTenant(): Promise<{ slug: string; worker: string; before: Record<string, string>; template: string | null }> {
      const slug = uniqueSlug('rs');
      const worker = `login-worker-${slug}`;
      await createTenantSecret(core, ns.namespace, slug, {
        TENANT_SLUG: slug,
        ...initialJwtKeys(),
        TOKEN_POLICY: JSON.stringify(TEST_LIFETIMES),
      });
      await setNodeLabel(true);
      await createWorkload(apps, ns.namespace, worker, slug, { replicas: 1, nodeSelector: { [pin]: 'yes' } });
      await waitAvailable(apps, ns.namespace, worker);
      await setNodeLabel(false);
      return { slug, worker, before: await readSecretData(core, ns.namespace, slug), template: (await workloadNow(worker)).annotation };
    }

    it('stops at a safe phase naming the pods that are not ready; roll back restores the key set and the old ReplicaSet', async () => {
      const { slug, worker, before } = await stuckTenant();
      const oldToken = await signLikeBackend(before, 'dave');
      const stuckEng = buildRotationEngine({
        kubeconfig: state.kubeconfigs.operator,
        namespace: ns.namespace,
        dataDir: tempDataDir(),
        consoleId: 'rot-stuck',
        options: { rolloutTimeoutMs: 6_000 },
      });
      try {
        const error = await stuckEng.service.rotate(stuckEng.runtime, { slug, kind: 'jwt' }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ContractError);
        const message = (error as ContractError).message;
        expect(message).toMatch(/failed at step "roll-staged"/);
        expect(message).toContain(worker);
        expect(message).toMatch(/Pods not ready: login-worker-\S+ \(Pending, Unschedulable: 0\/\d+ nodes are available/);
        expect(message).toMatch(/stopped at a safe phase/);
        // Held, not undone: the staged key is accepted, the old one still signs; the Lease is free.
        const [op] = stuckEng.saga.listUnfinished().filter((o) => o.target === slug);
        expect(op).toMatchObject({ kind: 'rotation.jwt', status: 'failed', failedStep: 'roll-staged', canRollback: true });
        const held = await readSecretData(core, ns.namespace, slug);
        expect((JSON.parse(held.JWT_KEYS!) as { keys: { state: string }[] }).keys.map((k) => k.state)).toEqual(['current', 'next']);
        expect(await verifyLikeBackend(held, oldToken)).toBe(true);
        await expect(core.readNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace })).resolves.toBeTruthy();
        expect(await tenantKube(stuckEng.runtime.kube, ns.namespace).getLease(`gatehouse-tenant-${slug}`)).toBeNull();
        // The old pod kept serving all along (maxUnavailable 0).
        expect((await workloadNow(worker)).available).toBe(1);

        const rolled = await stuckEng.saga.rollback(op!.id);
        expect(rolled.error).toBeNull();
        expect(rolled.operation.status).toBe('rolled-back');
        const after = await readSecretData(core, ns.namespace, slug);
        expect(after.JWT_KEYS).toBe(before.JWT_KEYS);
        expect(after.JWKS).toBe(before.JWKS);
        const w = await workloadNow(worker);
        // Back on the template it had: the old ReplicaSet, complete, without a third rollout.
        expect(w).toMatchObject({ annotation: null, complete: true });
        expect(await verifyLikeBackend(after, oldToken)).toBe(true);
      } finally {
        await stuckEng.close();
      }
    });

    it('resume after the cause is fixed completes the rotation', async () => {
      const { slug, worker } = await stuckTenant();
      const dataDir = tempDataDir();
      const stuckEng = buildRotationEngine({
        kubeconfig: state.kubeconfigs.operator,
        namespace: ns.namespace,
        dataDir,
        consoleId: 'rot-stuck2',
        options: { rolloutTimeoutMs: 6_000 },
      });
      let opId: string;
      try {
        await expect(stuckEng.service.rotate(stuckEng.runtime, { slug, kind: 'jwt' })).rejects.toThrow(/safe phase/);
        opId = stuckEng.saga.listUnfinished().find((o) => o.target === slug)!.id;
      } finally {
        await stuckEng.close();
      }
      // The operator fixes the cause; the same console (journal) resumes with its usual patience.
      await setNodeLabel(true);
      const again = buildRotationEngine({
        kubeconfig: state.kubeconfigs.operator,
        namespace: ns.namespace,
        dataDir,
        consoleId: 'rot-stuck2',
      });
      try {
        const resumed = await again.saga.resume(opId);
        expect(resumed.error).toBeNull();
        expect(resumed.operation.status).toBe('done');
        const data = await readSecretData(core, ns.namespace, slug);
        expect((JSON.parse(data.JWT_KEYS!) as { keys: { state: string }[] }).keys.map((k) => k.state)).toEqual(['previous', 'current']);
        expect((await workloadNow(worker)).complete).toBe(true);
      } finally {
        await setNodeLabel(false);
        await again.close();
      }
    });
  });
});
