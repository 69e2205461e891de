import { describe, expect, it } from 'vitest';
import { isContractError } from '../../../src-shared/contract';
import type { OperationProgress } from '../../../src-shared/contract';
import { makeLicense, makeRevocations, nowS } from '../../fixtures/license/helpers';
import { makeService } from './fakes';

const DAY = 86400;

async function errorOf(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    if (isContractError(e)) return { code: e.code, reason: e.details?.reason, message: e.message };
    throw e;
  }
  throw new Error('expected a failure');
}

describe('license service', () => {
  it('activates, stores the license in the cluster and fans it out with caps and progress', async () => {
    const { service, cluster, bus } = makeService();
    cluster.addTenants(5);
    const events: OperationProgress[] = [];
    bus.subscribe('operation.progress', (e) => events.push(e));
    const { jws } = await makeLicense({ limits: { tenants: 10, users: 1000 } });
    const { status, fanout } = await service.activate({ content: jws, encoding: 'text', allocations: { t0: 400 } }, 'alice');
    expect(fanout).toMatchObject({ status: 'done', total: 5, written: 5, failed: [] });
    expect(status.state).toBe('valid');
    expect(status.tenants.lagging).toEqual([]);
    expect(cluster.record?.jws).toBe(jws);
    expect(cluster.tenants.get('t0')).toEqual({ jws, cap: 400 });
    expect(cluster.tenants.get('t1')).toEqual({ jws, cap: 150 });
    expect(
      events
        .filter((e) => e.status === 'done' && e.target !== '*')
        .map((e) => e.target)
        .sort(),
    ).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(cluster.record?.history.at(-1)).toMatchObject({ action: 'activate', actor: 'alice' });
    const cached = service.cache.get('fake-cluster');
    expect(cached?.jws).toBe(jws);
  });

  it('accepts file bytes (base64) and refuses non-UTF-8 bytes before writing anything', async () => {
    const { service, cluster } = makeService();
    cluster.addTenants(2);
    const { jws } = await makeLicense();
    await service.activate({ content: Buffer.from(jws + '\n').toString('base64'), encoding: 'base64' }, 'a');
    const before = structuredClone(cluster.record);
    const bad = await errorOf(service.activate({ content: Buffer.from([0xff, 0xfe, 0x00]).toString('base64'), encoding: 'base64' }, 'a'));
    expect(bad).toMatchObject({ code: 'LICENSE_INVALID', reason: 'NOT_UTF8' });
    expect(cluster.record).toEqual(before);
  });

  it('records a partial failure, shows lagging tenants and resumes only what is not done', async () => {
    const { service, cluster } = makeService();
    cluster.addTenants(6);
    cluster.failing = new Set(['t2', 't4']);
    const { jws } = await makeLicense();
    const first = await service.activate({ content: jws, encoding: 'text' }, 'a');
    expect(first.fanout.status).toBe('partial');
    expect(first.fanout.failed.map((f) => f.slug).sort()).toEqual(['t2', 't4']);
    expect(first.status.tenants.lagging.map((l) => l.slug).sort()).toEqual(['t2', 't4']);
    expect(first.status.lastFanout?.status).toBe('partial');
    cluster.failing.clear();
    const writesBefore = cluster.writes;
    const resumed = await service.resume('a');
    expect(resumed.operationId).toBe(first.fanout.operationId);
    expect(resumed).toMatchObject({ status: 'done', written: 2, total: 6 });
    expect(cluster.writes - writesBefore).toBe(2);
    const status = await service.status();
    expect(status.tenants.lagging).toEqual([]);
    expect(status.lastFanout?.status).toBe('done');
  });

  it('reconciles tenants added after activation', async () => {
    const { service, cluster } = makeService();
    cluster.addTenants(2);
    await service.activate({ content: (await makeLicense()).jws, encoding: 'text' }, 'a');
    cluster.addTenants(1, 'new');
    expect((await service.status()).tenants.lagging.map((l) => l.slug)).toContain('new0');
    const r = await service.resume('a');
    expect(r.kind).toBe('reconcile');
    expect((await service.status()).tenants.lagging).toEqual([]);
  });

  it('keeps allocations within the license and warns at 80/95/100 %', async () => {
    const usage: Record<string, number> = { t0: 85, t1: 96, t2: 120, t3: 10 };
    const { service, cluster } = makeService({ usage: async (slug) => usage[slug] ?? null });
    cluster.addTenants(4);
    await service.activate({ content: (await makeLicense({ limits: { tenants: 5, users: 400 } })).jws, encoding: 'text' }, 'a');
    const tooMuch = await errorOf(service.setAllocations({ t0: 300, t1: 101 }, 'a'));
    expect(tooMuch.code).toBe('VALIDATION');
    expect((await errorOf(service.setAllocations({ ghost: 1 }, 'a'))).code).toBe('VALIDATION');
    const { allocations, fanout } = await service.setAllocations({ t0: 100, t1: 100, t2: 100 }, 'a');
    expect(fanout.status).toBe('done');
    expect(allocations.allocated).toBeLessThanOrEqual(400);
    const bySlug = Object.fromEntries(allocations.tenants.map((t) => [t.slug, t]));
    expect(bySlug.t0).toMatchObject({ cap: 100, warning: 80 });
    expect(bySlug.t1).toMatchObject({ warning: 95 });
    expect(bySlug.t2).toMatchObject({ warning: 100 });
    expect(bySlug.t3).toMatchObject({ cap: null, effectiveCap: 100, warning: null });
    expect(cluster.tenants.get('t3')?.cap).toBe(100);
    // null returns a tenant to the shared remainder
    await service.setAllocations({ t2: null }, 'a');
    expect(cluster.tenants.get('t2')?.cap).toBe(100);
  });

  it('reports expiring (30/7/1), grace, expired and free tier over time', async () => {
    let now = nowS();
    const { service, cluster } = makeService({ now: () => now });
    cluster.addTenants(1);
    const { claims, jws } = await makeLicense({ exp: now + 40 * DAY, grace_days: 10 });
    await service.activate({ content: jws, encoding: 'text' }, 'a');
    expect((await service.status()).state).toBe('valid');
    const at = async (t: number) => {
      now = t;
      const s = await service.status();
      return [s.state, s.expiringWithin, s.effective.tier];
    };
    expect(await at(claims.exp - 20 * DAY)).toEqual(['expiring', 30, 'PRO']);
    expect(await at(claims.exp - 5 * DAY)).toEqual(['expiring', 7, 'PRO']);
    expect(await at(claims.exp - 3600)).toEqual(['expiring', 1, 'PRO']);
    expect(await at(claims.exp + DAY)).toEqual(['grace', null, 'PRO']);
    expect(await at(claims.exp + 11 * DAY)).toEqual(['expired', null, 'FREE']);
    // past grace the tenants lag until reverted to the free tier
    expect((await service.status()).tenants.lagging).toHaveLength(1);
    await service.resume('a');
    expect(cluster.tenants.get('t0')).toEqual({ jws: null, cap: 50 });
  });

  it('clears to the free tier only with the customer name', async () => {
    const { service, cluster } = makeService();
    cluster.addTenants(3);
    await service.activate({ content: (await makeLicense({ customer: 'Acme Corp' })).jws, encoding: 'text' }, 'a');
    expect((await errorOf(service.clear('Acme', 'a'))).code).toBe('CONFIRMATION_REQUIRED');
    const { status, fanout } = await service.clear('Acme Corp', 'a');
    expect(fanout.written).toBe(3);
    expect(status.state).toBe('none');
    expect(status.effective).toMatchObject({ tier: 'FREE', freeTier: true });
    expect([...cluster.tenants.values()].every((t) => t.jws === null && t.cap === 50)).toBe(true);
    expect((await service.history())[0]).toMatchObject({ action: 'clear' });
    expect((await errorOf(service.clear('Acme Corp', 'a'))).code).toBe('NOT_FOUND');
  });

  it('imports revocation lists (newer only) and then reports the revoked license as invalid', async () => {
    const { service, cluster } = makeService();
    cluster.addTenants(1);
    const { jws, claims } = await makeLicense();
    await service.activate({ content: jws, encoding: 'text' }, 'a');
    const r = await service.importRevocations({ content: await makeRevocations([claims.lid], 5), encoding: 'text' }, 'a');
    expect(r).toMatchObject({ seq: 5, currentLicenseRevoked: true });
    const status = await service.status();
    expect(status).toMatchObject({ state: 'invalid', invalid: { reason: 'REVOKED' }, effective: { tier: 'FREE' } });
    expect(await errorOf(service.importRevocations({ content: await makeRevocations([], 4), encoding: 'text' }, 'a'))).toMatchObject({
      reason: 'OLDER_THAN_CURRENT',
    });
    expect(await errorOf(service.activate({ content: jws, encoding: 'text' }, 'a'))).toMatchObject({ reason: 'REVOKED' });
  });

  it('exports a signed renewal request and imports only a newer answer for the same customer', async () => {
    const { service, cluster, secrets } = makeService({ usage: async () => 7 });
    cluster.addTenants(2);
    const now = nowS();
    const current = await makeLicense({ customer: 'Acme Corp', iat: now - 100, nbf: now - 100 });
    await service.activate({ content: current.jws, encoding: 'text' }, 'a');
    const req = await service.exportRenewalRequest();
    const [h, p] = req.content.split('.');
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString());
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'gatehouse-renewal-request+jwt' });
    expect(payload).toMatchObject({ lid: current.claims.lid, nonce: req.nonce, usage: { tenants: 2, users: 14 } });
    expect(payload.cluster_fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await secrets.get('license.installation-key')).toContain('"d"');
    const { compactVerify, importJWK } = await import('jose');
    await compactVerify(req.content, await importJWK(header.jwk, 'EdDSA'));

    const older = await makeLicense({ customer: 'Acme Corp', iat: now - 1000, nbf: now - 1000 });
    expect(await errorOf(service.importAnswer({ content: older.jws, encoding: 'text' }, 'a'))).toMatchObject({
      reason: 'OLDER_THAN_CURRENT',
    });
    const otherCustomer = await makeLicense({ customer: 'Evil Inc', exp: now + 800 * DAY });
    expect(await errorOf(service.importAnswer({ content: otherCustomer.jws, encoding: 'text' }, 'a'))).toMatchObject({
      reason: 'OTHER_CUSTOMER',
    });
    const wrongNonce = await makeLicense({ customer: 'Acme Corp', exp: now + 800 * DAY, renewal_nonce: 'not-ours' });
    expect(await errorOf(service.importAnswer({ content: wrongNonce.jws, encoding: 'text' }, 'a'))).toMatchObject({
      reason: 'NONCE_MISMATCH',
    });
    const answer = await makeLicense({ customer: 'Acme Corp', exp: now + 800 * DAY, renewal_nonce: req.nonce });
    const done = await service.importAnswer({ content: answer.jws, encoding: 'text' }, 'a');
    expect(done.status.license?.lid).toBe(answer.claims.lid);
    expect(cluster.tenants.get('t0')?.jws).toBe(answer.jws);
  });

  it('answers status from the cache when the cluster is unreachable', async () => {
    let reachable = true;
    const { service, cluster } = makeService();
    cluster.addTenants(1);
    const realRead = cluster.store.read;
    cluster.store.read = async () => {
      if (!reachable)
        throw Object.assign(
          new (await import('../../../src-shared/contract')).ContractError('UNAVAILABLE', 'Cannot reach the Kubernetes API server.'),
        );
      return realRead();
    };
    await service.activate({ content: (await makeLicense()).jws, encoding: 'text' }, 'a');
    reachable = false;
    const status = await service.status();
    expect(status).toMatchObject({ source: 'cache', state: 'valid', tenants: { total: null } });
  });
});
