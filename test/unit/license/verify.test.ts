import { describe, expect, it } from 'vitest';
import { verifyLicense, verifyRevocations } from '../../../src-main/engine/license/verify';
import { LicenseInvalid, jsonDepth } from '../../../src-main/engine/license/jws';
import { loadTrustedRoots } from '../../../src-main/engine/license/trust';
import { badInputs, makeLicense, makeRevocations, nowS, testRoots } from '../../fixtures/license/helpers';

const CLUSTER = '6b1f0c3e-cluster-uid';

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ACCEPTED';
  } catch (error) {
    if (error instanceof LicenseInvalid) {
      expect(error.code).toBe('LICENSE_INVALID');
      expect(error.message.length).toBeGreaterThan(20);
      return error.reason;
    }
    throw error;
  }
}

describe('license verification (offline)', () => {
  it('accepts a genuine license and reports the chain it trusted', async () => {
    const { jws, claims } = await makeLicense({ cluster_uid: CLUSTER });
    const result = await verifyLicense(jws, { roots: testRoots(), clusterUid: CLUSTER });
    expect(result.claims).toEqual(claims);
    expect(result.trust).toBe('test');
    expect(result.issuer.kid).toMatch(/^gh-issuer-/);
  });

  it('accepts the license as file bytes and with a trailing newline', async () => {
    const { jws } = await makeLicense();
    const result = await verifyLicense(new TextEncoder().encode(`${jws}\n`), { roots: testRoots(), clusterUid: null });
    expect(result.jws).toBe(jws);
  });

  it('gives every bad input its own reason', async () => {
    const { cases, revocations } = await badInputs(CLUSTER);
    const revoked = await verifyRevocations(revocations, testRoots());
    const seen: Record<string, string> = {};
    for (const c of cases) {
      seen[c.name] = await reasonOf(verifyLicense(c.input, { roots: testRoots(), clusterUid: CLUSTER, revocations: revoked.claims }));
    }
    expect(seen).toEqual(Object.fromEntries(cases.map((c) => [c.name, c.reason])));
  });

  it('rejects test-signed licenses when only the pinned production roots are trusted', async () => {
    const { jws } = await makeLicense();
    const production = loadTrustedRoots({ developmentMode: false });
    expect(production.includesTestKeys).toBe(false);
    // the console knows the test roots, so it says why it refuses them rather than "unknown key"
    expect(await reasonOf(verifyLicense(jws, { roots: production, clusterUid: null }))).toBe('TEST_KEY_REFUSED');
    const dev = loadTrustedRoots({ developmentMode: true });
    expect(dev.includesTestKeys).toBe(true);
    expect((await verifyLicense(jws, { roots: dev, clusterUid: null })).trust).toBe('test');
  });

  it('allows a small clock skew on nbf and exp', async () => {
    const now = nowS();
    const { jws } = await makeLicense({ iat: now, nbf: now + 60, exp: now + 3600 });
    await expect(verifyLicense(jws, { roots: testRoots(), clusterUid: null, now })).resolves.toBeDefined();
    expect(await reasonOf(verifyLicense(jws, { roots: testRoots(), clusterUid: null, now: now + 3600 + 600 }))).toBe('EXPIRED');
    await expect(
      verifyLicense(jws, { roots: testRoots(), clusterUid: null, now: now + 3600 + 600, allowExpired: true }),
    ).resolves.toBeDefined();
  });

  it('refuses a bound license when the cluster identity is unknown', async () => {
    const { jws } = await makeLicense({ cluster_uid: CLUSTER });
    expect(await reasonOf(verifyLicense(jws, { roots: testRoots(), clusterUid: null }))).toBe('CLUSTER_MISMATCH');
  });

  it('refuses licenses signed by a revoked issuing key', async () => {
    const { jws } = await makeLicense();
    const kid = (await verifyLicense(jws, { roots: testRoots(), clusterUid: null })).issuer.kid;
    const list = await verifyRevocations(await makeRevocations([], 2, [kid]), testRoots());
    expect(await reasonOf(verifyLicense(jws, { roots: testRoots(), clusterUid: null, revocations: list.claims }))).toBe('REVOKED');
  });

  it('verifies revocation lists and refuses altered ones', async () => {
    const list = await makeRevocations(['a', 'b'], 7);
    expect((await verifyRevocations(list, testRoots())).claims.seq).toBe(7);
    const [h, , s] = list.split('.');
    const altered = `${h}.${Buffer.from(JSON.stringify({ iat: 1, seq: 8, revoked_lids: [], revoked_kids: [] })).toString('base64url')}.${s}`;
    expect(await reasonOf(verifyRevocations(altered, testRoots()))).toBe('SIGNATURE_INVALID');
  });

  it('measures nesting without parsing', () => {
    expect(jsonDepth('{"a":"[[[[","b":[1,{"c":2}]}')).toBe(3);
    expect(jsonDepth('[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[')).toBe(17);
  });
});
