// The license chain under attack (issue 10, items 11–15): revocation that really ends a key,
// certificates judged at the current time, a clock that cannot be wound back, activation that
// does not silently downgrade, and test keys only on the development harness.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { isContractError } from '../../../src-shared/contract';
import { licenseMigrations } from '../../../src-main/engine/license/cache';
import { TrustedTime } from '../../../src-main/engine/license/clock';
import { MAX_REVOCATION_SEQ_JUMP } from '../../../src-main/engine/license/format';
import {
  defaultClaims,
  generateEd25519,
  issueCert,
  issueLicense,
  issueRevocations,
  publicOf,
} from '../../../src-main/engine/license/issue';
import { isLoopbackServer } from '../../../src-main/engine/license/kube-targets';
import { loadTrustedRoots, pinnedRoots } from '../../../src-main/engine/license/trust';
import { verifyLicense } from '../../../src-main/engine/license/verify';
import {
  makeLicense,
  makeRevocations,
  nowS,
  testIssuerCert,
  testIssuerPrivate,
  testRootPrivate,
  testRoots,
} from '../../fixtures/license/helpers';
import { makeService } from './fakes';

const DAY = 86400;
const YEAR = 365 * DAY;

async function errorOf(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    if (isContractError(e)) return { code: e.code, reason: e.details?.reason, message: e.message, details: e.details };
    throw e;
  }
  throw new Error('expected a refusal');
}

/** A revocation list signed by the test issuing key (the key that signs the test licenses), with its certificate. */
async function issuerSignedRevocations(seq: number, revokedLids: string[], revokedKids: string[] = []) {
  return issueRevocations(
    testIssuerPrivate,
    { iat: nowS(), seq, revoked_lids: revokedLids, revoked_kids: revokedKids },
    await testIssuerCert(),
  );
}

describe('revocation lists (item 11)', () => {
  it('a revocation list signed by a revoked issuing key cannot un-revoke it', async () => {
    const { service, cluster } = makeService();
    cluster.addTenants(1);
    const { jws } = await makeLicense();
    await service.activate({ content: jws, encoding: 'text' }, 'a');
    const kid = String(testIssuerPrivate.kid);
    await service.importRevocations({ content: await makeRevocations([], 2, [kid]), encoding: 'text' }, 'a');
    expect(await service.status()).toMatchObject({ state: 'invalid', invalid: { reason: 'REVOKED' } });

    // the revoked key publishes a newer list that no longer names it
    const unrevoke = await issuerSignedRevocations(3, []);
    expect(await errorOf(service.importRevocations({ content: unrevoke, encoding: 'text' }, 'a'))).toMatchObject({
      code: 'LICENSE_INVALID',
      reason: 'REVOKED',
    });
    expect(await service.status()).toMatchObject({ state: 'invalid', invalid: { reason: 'REVOKED' } });
    expect(service.cache.revocations()?.seq).toBe(2);
  });

  it('a list planted in the cluster Secret by a revoked issuing key does not un-revoke it either', async () => {
    const { service, cluster } = makeService();
    cluster.addTenants(1);
    const { jws } = await makeLicense();
    await service.activate({ content: jws, encoding: 'text' }, 'a');
    await service.importRevocations({ content: await makeRevocations([], 2, [String(testIssuerPrivate.kid)]), encoding: 'text' }, 'a');
    // anyone who can write Secrets in the platform namespace replaces REVOCATIONS
    cluster.record = { ...cluster.record!, revocations: await issuerSignedRevocations(50, []) };
    expect(await service.status()).toMatchObject({ state: 'invalid', invalid: { reason: 'REVOKED' } });
    // and the planted list cannot be re-imported as the next one
    expect(await errorOf(service.activate({ content: (await makeLicense({ iat: nowS() + 1 })).jws, encoding: 'text' }, 'a'))).toMatchObject(
      { reason: 'REVOKED' },
    );
  });

  it("an issuing key's list cannot lift another license's revocation; a root-signed list can", async () => {
    const { service, cluster } = makeService();
    cluster.addTenants(1);
    const victim = await makeLicense({ lid: 'lic-revoked-by-vendor' });
    await service.importRevocations({ content: await makeRevocations([victim.claims.lid], 4), encoding: 'text' }, 'a');
    // a second, valid and unrevoked issuing key (e.g. leaked) tries to lift the revocation
    const other = await generateEd25519('gh-issuer');
    const otherCert = await issueCert(testRootPrivate, other.publicJwk, { nbf: nowS() - DAY, exp: nowS() + YEAR });
    const lifting = await issueRevocations(other.privateJwk, { iat: nowS(), seq: 5, revoked_lids: [], revoked_kids: [] }, otherCert);
    expect(await errorOf(service.importRevocations({ content: lifting, encoding: 'text' }, 'a'))).toMatchObject({
      reason: 'WOULD_UNREVOKE',
    });
    expect(await errorOf(service.activate({ content: victim.jws, encoding: 'text' }, 'a'))).toMatchObject({ reason: 'REVOKED' });
    // adding revocations with an issuing key is fine; lifting one takes the root
    const adding = await issueRevocations(
      other.privateJwk,
      { iat: nowS(), seq: 5, revoked_lids: [victim.claims.lid, 'lic-other'], revoked_kids: [] },
      otherCert,
    );
    expect(await service.importRevocations({ content: adding, encoding: 'text' }, 'a')).toMatchObject({ seq: 5, revokedLicenses: 2 });
    await service.importRevocations({ content: await makeRevocations([], 6), encoding: 'text' }, 'a');
    expect((await service.activate({ content: victim.jws, encoding: 'text' }, 'a')).status.state).toBe('valid');
  });

  it('a revocation list whose seq jumps absurdly far ahead is refused, so later lists still import', async () => {
    const { service } = makeService();
    await service.importRevocations({ content: await makeRevocations([], 5), encoding: 'text' }, 'a');
    const lockout = await makeRevocations([], 5 + MAX_REVOCATION_SEQ_JUMP + 1);
    expect(await errorOf(service.importRevocations({ content: lockout, encoding: 'text' }, 'a'))).toMatchObject({ reason: 'SEQ_TOO_FAR' });
    expect(await service.importRevocations({ content: await makeRevocations(['lic-x'], 6), encoding: 'text' }, 'a')).toMatchObject({
      seq: 6,
    });
    // the first list a console sees is bounded too
    const fresh = makeService().service;
    expect(
      await errorOf(fresh.importRevocations({ content: await makeRevocations([], Number.MAX_SAFE_INTEGER), encoding: 'text' }, 'a')),
    ).toMatchObject({ reason: 'SEQ_TOO_FAR' });
  });
});

describe('issuing-key certificates (item 12)', () => {
  it('a license back-dated into an expired issuing-key certificate is refused', async () => {
    // the vendor retired this issuing key a year ago; whoever still holds it signs a "2-year-old" license
    const retired = await issueCert(testRootPrivate, publicOf(testIssuerPrivate), { nbf: nowS() - 3 * YEAR, exp: nowS() - YEAR });
    const claims = defaultClaims({ customer: 'Acme Corp', iat: nowS() - 2 * YEAR, nbf: nowS() - 2 * YEAR, exp: nowS() + YEAR });
    const backdated = await issueLicense(testIssuerPrivate, retired, claims);
    expect(await errorOf(verifyLicense(backdated, { roots: testRoots(), clusterUid: null }))).toMatchObject({ reason: 'CERT_EXPIRED' });
    const { service, cluster } = makeService();
    cluster.addTenants(1);
    expect(await errorOf(service.activate({ content: backdated, encoding: 'text' }, 'a'))).toMatchObject({ reason: 'CERT_EXPIRED' });
    expect(cluster.record).toBeNull();
  });

  it('a stored license stops being valid when its issuing key certificate ends', async () => {
    let now = nowS();
    const { service, cluster } = makeService({ now: () => now });
    cluster.addTenants(1);
    const shortCert = await issueCert(testRootPrivate, publicOf(testIssuerPrivate), { nbf: now - DAY, exp: now + 60 * DAY });
    const jws = await issueLicense(testIssuerPrivate, shortCert, defaultClaims({ customer: 'Acme Corp', iat: now, exp: now + 365 * DAY }));
    await service.activate({ content: jws, encoding: 'text' }, 'a');
    now += 61 * DAY;
    expect(await service.status()).toMatchObject({ state: 'invalid', invalid: { reason: 'CERT_EXPIRED' } });
  });

  it('a certificate that is not valid yet is refused', async () => {
    const early = await issueCert(testRootPrivate, publicOf(testIssuerPrivate), { nbf: nowS() + 30 * DAY, exp: nowS() + YEAR });
    const jws = await issueLicense(
      testIssuerPrivate,
      early,
      defaultClaims({ customer: 'Acme Corp', iat: nowS() + 30 * DAY, nbf: nowS(), exp: nowS() + YEAR }),
    );
    expect(await errorOf(verifyLicense(jws, { roots: testRoots(), clusterUid: null, now: nowS() + 30 * DAY - 2 * DAY }))).toMatchObject({
      reason: 'CERT_NOT_YET_VALID',
    });
  });
});

describe('clock rollback (item 13)', () => {
  it('winding the clock back does not revive an expired license, even after a restart', async () => {
    const start = nowS();
    let now = start;
    const { service, cluster, db } = makeService({ now: () => now });
    cluster.addTenants(1);
    const { jws, claims } = await makeLicense({ iat: start - 100, nbf: start - 100, exp: start + 30 * DAY, grace_days: 0 });
    await service.activate({ content: jws, encoding: 'text' }, 'a');
    // a month and a half later the API server (and the clock) say the license is over
    now = start + 45 * DAY;
    cluster.serverTime = now;
    expect((await service.status()).state).toBe('expired');
    // someone winds the workstation clock back to a day when the license was still valid
    now = claims.exp - 10 * DAY;
    cluster.serverTime = null;
    const status = await service.status();
    expect(status).toMatchObject({ state: 'invalid', invalid: { reason: 'CLOCK_ROLLBACK' }, effective: { tier: 'FREE' } });
    expect(status.invalid?.message).toMatch(
      /^The system clock reads \S+ but this console has already seen \S+ \(the Kubernetes API server's Date header.*\); fix the clock/,
    );
    expect(status.tenants.lagging).toEqual([]);
    // nothing follows from a wrong clock: no fan-out that would strip (or grant) tenants
    expect(await errorOf(service.resume('a'))).toMatchObject({ reason: 'CLOCK_ROLLBACK' });
    expect(
      await errorOf(service.activate({ content: (await makeLicense({ iat: now - 100, nbf: now - 100 })).jws, encoding: 'text' }, 'a')),
    ).toMatchObject({ reason: 'CLOCK_ROLLBACK' });
    expect(cluster.tenants.get('t0')?.jws).toBe(jws);

    // the witness is durable state: a restarted console on the same data still refuses
    const restarted = makeService({ db, now: () => now });
    restarted.cluster.record = cluster.record;
    expect(await restarted.service.status()).toMatchObject({ state: 'invalid', invalid: { reason: 'CLOCK_ROLLBACK' } });
    // with the clock fixed, the truth is back
    now = start + 45 * DAY;
    expect((await restarted.service.status()).state).toBe('expired');
  });

  it('a clock behind the issue time of the active license is caught without any witness', async () => {
    let now = nowS();
    const { service, cluster, db } = makeService({ now: () => now });
    cluster.addTenants(1);
    const { jws } = await makeLicense({ iat: now, nbf: now - 10 * DAY, exp: now + 90 * DAY });
    await service.activate({ content: jws, encoding: 'text' }, 'a');
    db.prepare('DELETE FROM license_time_witness').run();
    now -= 5 * DAY;
    expect(await service.status()).toMatchObject({ state: 'invalid', invalid: { reason: 'CLOCK_ROLLBACK' } });
    // nor can it slip an older license in without the downgrade confirmation
    const older = await makeLicense({ iat: now - DAY, nbf: now - DAY, exp: now + 30 * DAY });
    db.prepare('DELETE FROM license_time_witness').run();
    expect(await errorOf(service.activate({ content: older.jws, encoding: 'text' }, 'a'))).toMatchObject({ reason: 'CLOCK_ROLLBACK' });
    expect(cluster.record?.jws).toBe(jws);
  });

  it("a server Date from the future cannot lock the console out; the renewal server's Date is a witness", async () => {
    const db = new Database(':memory:');
    for (const m of licenseMigrations) db.exec(m.sql);
    let now = 1_800_000_000;
    const time = new TrustedTime(db, () => now);
    expect(time.observe(now + 10 * YEAR, 'a server with a wrong clock')).toBe(false);
    expect(time.now()).toBe(now);
    expect(time.observe(now - 50, 'the renewal server')).toBe(true);
    expect(time.observe(now - 500, 'an older answer')).toBe(false);
    expect(time.witness()).toEqual({ seenAt: now - 50, source: 'the renewal server' });
    now -= 2 * DAY;
    expect(() => time.now()).toThrow(/system clock reads .* has already seen/);

    // online renewal records the server's Date header
    let clock = nowS();
    const { service, cluster } = makeService({
      now: () => clock,
      fetch: (async () =>
        new Response(renewed.jws, { status: 200, headers: { date: new Date((clock - 30) * 1000).toUTCString() } })) as typeof fetch,
    });
    cluster.addTenants(1);
    const current = await makeLicense({ renewal_url: 'https://vendor.example/renew', iat: clock - 1000, nbf: clock - 1000 });
    const renewed = await makeLicense({
      renewal_url: 'https://vendor.example/renew',
      iat: clock - 500,
      nbf: clock - 500,
      exp: current.claims.exp + DAY,
    });
    await service.activate({ content: current.jws, encoding: 'text' }, 'a');
    await service.renewOnline('a');
    expect(service.time.witness()).toMatchObject({ seenAt: clock - 30, source: expect.stringContaining('renewal server') });
    clock -= 3 * DAY;
    expect(await service.status()).toMatchObject({ state: 'invalid', invalid: { reason: 'CLOCK_ROLLBACK' } });
  });

  it("the Kubernetes API server's Date header is a witness", async () => {
    let now = nowS();
    const { service, cluster } = makeService({ now: () => now });
    cluster.serverTime = now - 5;
    await service.status();
    expect(service.time.witness()).toMatchObject({ seenAt: now - 5, source: expect.stringContaining('Kubernetes API server') });
    now -= 7 * DAY;
    cluster.serverTime = null;
    await service.activate({ content: (await makeLicense({ iat: now - 3600, nbf: now - 3600 })).jws, encoding: 'text' }, 'a').then(
      () => expect.unreachable('activated with a wound-back clock'),
      (e: unknown) => expect(isContractError(e) && e.details?.reason).toBe('CLOCK_ROLLBACK'),
    );
  });
});

describe('activation over a valid license (item 14)', () => {
  it("activating an older license over a newer one needs the admin to type the older license's id", async () => {
    const { service, cluster } = makeService();
    cluster.addTenants(2);
    const now = nowS();
    const newer = await makeLicense({ customer: 'Acme Corp', iat: now - 10, nbf: now - 10, exp: now + 2 * YEAR });
    const older = await makeLicense({
      customer: 'Acme Corp',
      iat: now - 1000,
      nbf: now - 1000,
      exp: now + YEAR,
      limits: { tenants: 1, users: 10 },
    });
    await service.activate({ content: newer.jws, encoding: 'text' }, 'a');
    const before = structuredClone(cluster.record);
    const refused = await errorOf(service.activate({ content: older.jws, encoding: 'text' }, 'a'));
    expect(refused).toMatchObject({
      code: 'CONFIRMATION_REQUIRED',
      details: { field: 'confirmReplace', expected: older.claims.lid, reason: 'OLDER_THAN_CURRENT' },
    });
    expect(refused.message).toContain(`"${older.claims.lid}"`);
    expect(await errorOf(service.activate({ content: older.jws, encoding: 'text', confirmReplace: newer.claims.lid }, 'a'))).toMatchObject({
      code: 'CONFIRMATION_REQUIRED',
    });
    expect(cluster.record).toEqual(before);
    expect(cluster.tenants.get('t0')?.jws).toBe(newer.jws);

    const done = await service.activate({ content: older.jws, encoding: 'text', confirmReplace: older.claims.lid }, 'a');
    expect(done.status.license?.lid).toBe(older.claims.lid);
    expect(cluster.tenants.get('t0')?.jws).toBe(older.jws);
    expect((await service.history())[0]).toMatchObject({ action: 'activate', note: expect.stringContaining('confirmed downgrade') });
  });

  it("activating another customer's license needs its id typed; re-activating the same license does not", async () => {
    const { service, cluster } = makeService();
    cluster.addTenants(1);
    const ours = await makeLicense({ customer: 'Acme Corp' });
    await service.activate({ content: ours.jws, encoding: 'text' }, 'a');
    await service.activate({ content: ours.jws, encoding: 'text' }, 'a');
    const theirs = await makeLicense({ customer: 'Evil Inc', iat: nowS() + 5, exp: nowS() + 3 * YEAR });
    expect(await errorOf(service.activate({ content: theirs.jws, encoding: 'text' }, 'a'))).toMatchObject({
      code: 'CONFIRMATION_REQUIRED',
      details: {
        expected: theirs.claims.lid,
        reason: 'OTHER_CUSTOMER',
        current: { customer: 'Acme Corp' },
        offered: { customer: 'Evil Inc' },
      },
    });
    expect(cluster.record?.jws).toBe(ours.jws);
    await service.activate({ content: theirs.jws, encoding: 'text', confirmReplace: theirs.claims.lid }, 'a');
    expect(cluster.record?.jws).toBe(theirs.jws);
    // a newer license of the same customer is a renewal: no confirmation
    const renewal = await makeLicense({ customer: 'Evil Inc', iat: nowS() + 10, exp: nowS() + 4 * YEAR });
    expect((await service.activate({ content: renewal.jws, encoding: 'text' }, 'a')).status.license?.lid).toBe(renewal.claims.lid);
  });
});

describe('trust anchors and development mode (item 15)', () => {
  const moduleDir = path.dirname(fileURLToPath(new URL('../../../src-main/engine/license/trust.ts', import.meta.url)));
  const planted = path.join(moduleDir, 'resources');
  afterEach(() => fs.rmSync(planted, { recursive: true, force: true }));

  it('a root-keys.json planted in a directory on the way up from the application is not trusted', async () => {
    const attacker = await generateEd25519('gh-root');
    fs.mkdirSync(path.join(planted, 'license'), { recursive: true });
    fs.writeFileSync(path.join(planted, 'license', 'root-keys.json'), JSON.stringify({ keys: [attacker.publicJwk] }));
    const roots = loadTrustedRoots({ developmentMode: false });
    expect([...roots.roots.keys()]).not.toContain(attacker.publicJwk.kid);
    expect([...roots.roots.keys()]).toEqual(pinnedRoots().map((r) => r.kid));
    const pinnedFile = JSON.parse(fs.readFileSync(new URL('../../../resources/license/root-keys.json', import.meta.url), 'utf8')) as {
      keys: { kid: string }[];
    };
    expect([...roots.roots.keys()]).toEqual(pinnedFile.keys.map((k) => k.kid));
  });

  it('a test-signed license is refused in development mode on a cluster that is not the local harness', async () => {
    const { service, cluster } = makeService({ roots: loadTrustedRoots({ developmentMode: true }) });
    cluster.devHarness = false;
    cluster.addTenants(1);
    const { jws } = await makeLicense();
    const refused = await errorOf(service.activate({ content: jws, encoding: 'text' }, 'a'));
    expect(refused).toMatchObject({ code: 'LICENSE_INVALID', reason: 'TEST_KEY_REFUSED' });
    expect(refused.message).toContain('not the local development harness');
    expect(cluster.record).toBeNull();
    expect(await service.status()).toMatchObject({ developmentMode: true, trustsTestKeys: false });
    // the same console, the harness cluster: accepted
    cluster.devHarness = true;
    expect((await service.activate({ content: jws, encoding: 'text' }, 'a')).status).toMatchObject({
      state: 'valid',
      trustsTestKeys: true,
      license: { trust: 'test' },
    });
    // and once the cluster is no longer recognised as the harness, the test license no longer counts
    cluster.devHarness = false;
    expect(await service.status()).toMatchObject({ state: 'invalid', invalid: { reason: 'TEST_KEY_REFUSED' } });
  });

  it('a production console refuses test keys whatever the cluster says', async () => {
    const { service, cluster } = makeService({ roots: loadTrustedRoots({ developmentMode: false }), developmentMode: false });
    cluster.devHarness = true;
    expect(await errorOf(service.activate({ content: (await makeLicense()).jws, encoding: 'text' }, 'a'))).toMatchObject({
      reason: 'TEST_KEY_REFUSED',
    });
  });

  it('recognises the harness API server only on a loopback address', () => {
    expect(isLoopbackServer('https://127.0.0.1:6443')).toBe(true);
    expect(isLoopbackServer('https://[::1]:6443')).toBe(true);
    expect(isLoopbackServer('https://localhost:6443')).toBe(true);
    expect(isLoopbackServer('https://10.0.0.5:6443')).toBe(false);
    expect(isLoopbackServer('https://127.0.0.1.example.com:6443')).toBe(false);
    expect(isLoopbackServer(undefined)).toBe(false);
  });
});
