// Service tokens, emergency revoke, the bootstrap token and token lifetimes, against the
// real API server (kwok rolls the tenant's dedicated workload between phases).
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialJwtKeys } from '../../src-main/engine/rotation/keyset';
import { ContractError } from '../../src-shared/contract';
import { harnessOrReason, operatorNamespace, tempDataDir, uniqueSlug } from './tenants-env';
import {
  TEST_LIFETIMES,
  apis,
  buildRotationEngine,
  createTenantSecret,
  createWorkload,
  localBytes,
  readSecretData,
  signLikeBackend,
  verifyLikeBackend,
  waitAvailable,
  type RotationTestEngine,
} from './rotation-env';

const h = harnessOrReason();
const state = 'state' in h ? h.state : (undefined as never);

interface StoredToken {
  id: string;
  state: string;
  value: string | null;
}
const accepted = (data: Record<string, string>, setKey: string, valueKey: string): string[] => {
  // A backend that knows the set accepts every non-retired value; one that does not knows only the single value.
  if (!data[setKey]) return [data[valueKey]!];
  return (JSON.parse(data[setKey]) as { tokens: StoredToken[] }).tokens.filter((t) => t.state !== 'retired').map((t) => t.value!);
};

describe('service tokens, revoke, bootstrap token', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: RotationTestEngine;
  let onStep: (kind: string, step: string, slug: string) => Promise<void> = async () => undefined;
  let core: ReturnType<typeof apis>['core'];
  let apps: ReturnType<typeof apis>['apps'];
  const dataDir = tempDataDir();

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-rot-tok');
    ({ core, apps } = apis(state.kubeconfigs.operator));
    eng = buildRotationEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      dataDir,
      consoleId: 'rot-tok',
      options: { beforeStep: (k, s, slug) => onStep(k, s, slug) },
    });
  });
  afterAll(async () => {
    await eng?.close();
    await ns?.remove();
  });

  it.each([
    ['login-worker', 'LOGIN_WORKER_TOKENS', 'LOGIN_WORKER_TOKEN'],
    ['proxy', 'PROXY_TOKENS', 'PROXY_TOKEN'],
    ['cp', 'CP_TOKENS', 'CP_TOKEN'],
  ] as const)(
    '%s token: the old value stays accepted until every presenter rolled to the new one, then it goes',
    async (kind, setKey, valueKey) => {
      const slug = uniqueSlug('rt');
      const worker = `login-worker-${slug}`;
      await createTenantSecret(core, ns.namespace, slug, {
        TENANT_SLUG: slug,
        ...initialJwtKeys(),
        LOGIN_WORKER_TOKEN: 'old-lw-value',
        PROXY_TOKEN: 'old-proxy-value',
        CP_TOKEN: 'old-cp-value',
      });
      await createWorkload(apps, ns.namespace, worker, slug, { replicas: 2 });
      await waitAvailable(apps, ns.namespace, worker);
      const old = (await readSecretData(core, ns.namespace, slug))[valueKey]!;
      const seen: { step: string; oldAccepted: boolean; presented: string; rolled: boolean }[] = [];
      onStep = async (_k, step, s) => {
        if (s !== slug) return;
        const data = await readSecretData(core, ns.namespace, slug);
        const d = await apps.readNamespacedDeployment({ name: worker, namespace: ns.namespace });
        const st = d.status ?? {};
        seen.push({
          step,
          oldAccepted: accepted(data, setKey, valueKey).includes(old),
          presented: data[valueKey]!,
          rolled:
            (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
            (st.updatedReplicas ?? 0) === 2 &&
            (st.availableReplicas ?? 0) === 2 &&
            (st.replicas ?? 0) === 2,
        });
      };
      const out = await eng.service.rotate(eng.runtime, { slug, kind });
      onStep = async () => undefined;
      expect(out.steps.map((s) => s.name)).toEqual([
        'reserve',
        'stage',
        'roll-staged',
        'caches',
        'promote',
        'roll-promoted',
        'window',
        'retire-previous',
        'roll-retired',
        'release',
      ]);
      // Old value accepted up to (and including) the moment the new one has reached every presenter.
      expect(seen.map((s) => [s.step, s.oldAccepted])).toEqual(
        out.steps.map((s) => [s.name, !['roll-retired', 'release'].includes(s.name)]),
      );
      expect(seen.find((s) => s.step === 'retire-previous')!.rolled).toBe(true);
      // Presenters switch at promotion only.
      expect(seen.filter((s) => s.presented === old).map((s) => s.step)).toEqual(['reserve', 'stage', 'roll-staged', 'caches', 'promote']);
      const data = await readSecretData(core, ns.namespace, slug);
      const tokens = (JSON.parse(data[setKey]!) as { tokens: StoredToken[] }).tokens;
      expect(tokens.map((t) => [t.state, t.value === null])).toEqual([
        ['retired', true],
        ['current', false],
      ]);
      expect(tokens.find((t) => t.state === 'current')!.id).toBe(out.id);
      expect(data[valueKey]).toBe(tokens.find((t) => t.state === 'current')!.value);
      expect(data[valueKey]).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // The other kinds were not touched.
      for (const other of ['LOGIN_WORKER_TOKEN', 'PROXY_TOKEN', 'CP_TOKEN'].filter((k) => k !== valueKey))
        expect(data[other]).toMatch(/^old-/);
      // Neither value reached the local journal.
      expect(localBytes(dataDir)).not.toContain(data[valueKey]);
      expect(localBytes(dataDir)).not.toContain(old);
    },
  );

  it('emergency revoke of the current JWT key: tokens it signed stop verifying at once, a fresh key signs', async () => {
    const slug = uniqueSlug('rv');
    await createTenantSecret(core, ns.namespace, slug, {
      TENANT_SLUG: slug,
      ...initialJwtKeys(),
      TOKEN_POLICY: JSON.stringify(TEST_LIFETIMES),
    });
    const before = await readSecretData(core, ns.namespace, slug);
    const token = await signLikeBackend(before, 'mallory');
    const kid = (JSON.parse(before.JWT_KEYS!) as { keys: { kid: string }[] }).keys[0]!.kid;
    // Plain retire of the current key is refused.
    await expect(eng.service.retire(eng.runtime, { slug, kind: 'jwt', id: kid })).rejects.toThrow(
      /only a previous jwt entry can be retired/,
    );
    const out = await eng.service.revoke(eng.runtime, { slug, kind: 'jwt', id: kid });
    expect(out.before).toBe('current');
    expect(out.status).toBe('done');
    const after = await readSecretData(core, ns.namespace, slug);
    expect(await verifyLikeBackend(after, token)).toBe(false);
    expect(await verifyLikeBackend(after, await signLikeBackend(after, 'trent'))).toBe(true);
    const keys = (JSON.parse(after.JWT_KEYS!) as { keys: { kid: string; state: string; revoked: boolean; jwk: { d?: string } | null }[] })
      .keys;
    // No private key material in the local journal.
    for (const k of keys) if (k.jwk?.d) expect(localBytes(dataDir)).not.toContain(k.jwk.d);
    expect(keys.find((k) => k.kid === kid)).toMatchObject({ state: 'retired', revoked: true });
    expect(keys.filter((k) => k.state === 'current')).toHaveLength(1);
    // Revoking again: already retired.
    await expect(eng.service.revoke(eng.runtime, { slug, kind: 'jwt', id: kid })).rejects.toThrow(/already retired/);
  });

  it('emergency revoke of a previous key inside its window (a plain retire is refused there)', async () => {
    const slug = uniqueSlug('rw');
    await createTenantSecret(core, ns.namespace, slug, {
      TENANT_SLUG: slug,
      ...initialJwtKeys(),
      TOKEN_POLICY: JSON.stringify(TEST_LIFETIMES),
    });
    const token = await signLikeBackend(await readSecretData(core, ns.namespace, slug), 'oscar');
    await eng.service.rotate(eng.runtime, { slug, kind: 'jwt' });
    const prev = (await eng.service.status(eng.runtime, slug)).kinds
      .find((k) => k.kind === 'jwt')!
      .entries.find((e) => e.state === 'previous')!;
    await expect(eng.service.retire(eng.runtime, { slug, kind: 'jwt', id: prev.id })).rejects.toThrow(/ends at/);
    expect(await verifyLikeBackend(await readSecretData(core, ns.namespace, slug), token)).toBe(true);
    await eng.service.revoke(eng.runtime, { slug, kind: 'jwt', id: prev.id });
    expect(await verifyLikeBackend(await readSecretData(core, ns.namespace, slug), token)).toBe(false);
  });

  it('bootstrap token: shown once, only its SHA-256 stored with an expiry, a new one replaces it, revoke removes it', async () => {
    const slug = uniqueSlug('rb');
    await createTenantSecret(core, ns.namespace, slug, {
      TENANT_SLUG: slug,
      ...initialJwtKeys(),
      BOOTSTRAP_TOKEN_HASH: 'sha256:' + 'a'.repeat(64),
    });
    // The hash written at tenant creation belongs to a token nobody ever saw.
    expect((await eng.service.status(eng.runtime, slug)).bootstrap).toMatchObject({ present: true, legacy: true, expires: null });
    const { result: issued, replaced } = await eng.service.issueBootstrap(eng.runtime, slug, 7, 'local:alice');
    expect(replaced).toMatch(/^legacy-/);
    expect(issued.token).toMatch(/^gbt_[A-Za-z0-9_-]{43}$/);
    const data = await readSecretData(core, ns.namespace, slug);
    expect(data.BOOTSTRAP_TOKEN_HASH).toBe(`sha256:${createHash('sha256').update(issued.token).digest('hex')}`);
    expect(Object.values(data).some((v) => v.includes(issued.token))).toBe(false);
    const status = (await eng.service.status(eng.runtime, slug)).bootstrap;
    expect(status).toMatchObject({
      present: true,
      legacy: false,
      id: issued.id,
      expires: issued.expires,
      createdBy: 'local:alice',
      expired: false,
    });
    expect(new Date(issued.expires).getTime() - new Date(status.created!).getTime()).toBe(7 * 86_400_000);
    // Expiry is reported (the backend refuses it after that time).
    eng.clock.offsetMs = 8 * 86_400_000;
    expect((await eng.service.status(eng.runtime, slug)).bootstrap.expired).toBe(true);
    eng.clock.offsetMs = 0;
    const second = (await eng.service.issueBootstrap(eng.runtime, slug, 30, 'local:alice')).result;
    expect((await readSecretData(core, ns.namespace, slug)).BOOTSTRAP_TOKEN_HASH).toBe(
      `sha256:${createHash('sha256').update(second.token).digest('hex')}`,
    );
    const revoked = await eng.service.revokeBootstrap(eng.runtime, slug);
    expect(revoked.revokedId).toBe(second.id);
    const gone = await readSecretData(core, ns.namespace, slug);
    expect(gone.BOOTSTRAP_TOKEN_HASH).toBeUndefined();
    expect((await eng.service.status(eng.runtime, slug)).bootstrap).toMatchObject({ present: false, revoked: expect.any(String) });
    // Nothing to revoke twice.
    expect((await eng.service.revokeBootstrap(eng.runtime, slug)).revokedId).toBeNull();
    expect(localBytes(dataDir)).not.toContain(issued.token.slice(4));
    expect(localBytes(dataDir)).not.toContain(second.token.slice(4));
  });

  it('token lifetimes in the Secret drive the window; setting them rolls the workloads', async () => {
    const slug = uniqueSlug('rp');
    const worker = `login-worker-${slug}`;
    await createTenantSecret(core, ns.namespace, slug, { TENANT_SLUG: slug, ...initialJwtKeys() });
    await createWorkload(apps, ns.namespace, worker, slug);
    await waitAvailable(apps, ns.namespace, worker);
    const before = await eng.service.status(eng.runtime, slug);
    expect(before.lifetimesSource).toBe('defaults');
    // 30-day refresh tokens by default: the window is a month and more.
    expect(before.window.seconds).toBe(30 * 86_400 + 300 + 86_400);
    const { result } = await eng.service.setLifetimes(eng.runtime, slug, {
      accessSeconds: 900,
      refreshSeconds: 86_400,
      offlineIdleSeconds: 3_600,
      jwksMaxAgeSeconds: 600,
    });
    expect(result.window).toEqual({
      seconds: 86_400 + 600 + 8_700,
      longestLifetimeSeconds: 86_400,
      jwksMaxAgeSeconds: 600,
      marginSeconds: 8_700,
    });
    const after = await eng.service.status(eng.runtime, slug);
    expect(after.lifetimesSource).toBe('secret');
    expect(after.revision).not.toBe(before.revision);
    expect(after.workloads).toEqual([
      { name: worker, desired: 1, updated: 1, available: 1, upToDate: true, revision: after.revision, complete: true },
    ]);
  });

  it('a malformed key set stops that tenant with a message, nothing written', async () => {
    const slug = uniqueSlug('rm');
    await createTenantSecret(core, ns.namespace, slug, { TENANT_SLUG: slug, JWT_KEYS: '{"format":1,"keys":[{"kid":"x","alg":"none"}]}' });
    const error = await eng.service.rotate(eng.runtime, { slug, kind: 'jwt' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractError);
    expect((error as ContractError).code).toBe('VALIDATION');
    expect((error as ContractError).message).toMatch(/JWT_KEYS in Secret tenant-\w+ is malformed.*docs\/secrets.md/);
    expect((await readSecretData(core, ns.namespace, slug)).JWT_KEYS).toBe('{"format":1,"keys":[{"kid":"x","alg":"none"}]}');
  });
});
