// License management against the real Kubernetes API server of the harness (least-privilege
// operator identity) and a real HTTP server on loopback for online renewal.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isContractError } from '../../src-shared/contract';
import { EventBus } from '../../src-main/engine/core/events';
import { licenseMigrations } from '../../src-main/engine/license/cache';
import { kubeLicenseCluster, LICENSE_SECRET } from '../../src-main/engine/license/kube-targets';
import { MemorySecretStore } from '../../src-main/engine/license/ports';
import { LicenseService } from '../../src-main/engine/license/service';
import { issueLicense } from '../../src-main/engine/license/issue';
import { generateEd25519 } from '../../src-main/engine/license/issue';
import { badInputs, makeLicense, nowS, testIssuerCert, testRoots } from '../fixtures/license/helpers';
import { decode, harnessAvailable, licenseNamespace, snapshot, tenantSecret } from './license-kube';

const available = harnessAvailable();
if (!available)
  console.warn(
    'license integration tests skipped: no harness is running (harness.json missing; run `npm run cluster:up` or the integration project).',
  );
const TENANTS = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ACCEPTED';
  } catch (error) {
    if (isContractError(error)) return String(error.details?.reason ?? error.code);
    throw error;
  }
}

describe.skipIf(!available)('license on a real cluster', () => {
  let ns: Awaited<ReturnType<typeof licenseNamespace>>;
  let service: LicenseService;
  let clusterUid: string;
  let server: http.Server;
  let serverUrl = '';
  let serve: () => Promise<string> = async () => '';

  beforeAll(async () => {
    ns = await licenseNamespace();
    for (const slug of TENANTS) await ns.adminCore.createNamespacedSecret({ namespace: ns.namespace, body: tenantSecret(slug) });
    // a Secret that is not a tenant must never be touched
    await ns.adminCore.createNamespacedSecret({
      namespace: ns.namespace,
      body: { metadata: { name: 'unrelated' }, stringData: { A: 'b' } },
    });
    clusterUid = (await ns.adminCore.readNamespace({ name: 'kube-system' })).metadata!.uid!;
    const db = new Database(':memory:');
    for (const m of licenseMigrations) db.exec(m.sql);
    const cluster = kubeLicenseCluster(ns.operator);
    service = new LicenseService({
      db,
      bus: new EventBus(),
      roots: testRoots(),
      developmentMode: true,
      cluster: async () => cluster,
      secrets: new MemorySecretStore(),
      concurrency: 3,
    });
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', async () => {
        if (!body.includes('.')) {
          res.writeHead(400).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/jose' }).end(await serve());
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/renew`;
  });

  afterAll(async () => {
    server?.close();
    await ns?.cleanup();
  });

  it("recognises the harness as the development cluster and takes the API server's Date as a time witness", async () => {
    const cluster = kubeLicenseCluster(ns.operator);
    const facts = await cluster.store.facts();
    // the harness labels kube-system (test/harness/platform.ts devHarnessMarker) and serves on loopback
    expect(facts).toMatchObject({ uid: clusterUid, devHarness: true });
    expect(typeof facts.serverTime).toBe('number');
    const status = await service.status();
    expect(status).toMatchObject({ developmentMode: true, trustsTestKeys: true });
    expect(service.time.witness()?.source).toContain('Kubernetes API server');
  });

  it('refuses every bad input before writing: no license Secret, every tenant untouched', async () => {
    const { cases, revocations } = await badInputs(clusterUid);
    const before = await snapshot(ns.adminCore, ns.namespace);
    const seen: Record<string, string> = {};
    for (const c of cases.filter((c) => c.reason !== 'REVOKED')) {
      const input =
        typeof c.input === 'string'
          ? { content: c.input, encoding: 'text' as const }
          : { content: Buffer.from(c.input).toString('base64'), encoding: 'base64' as const };
      seen[c.name] = await reason(service.activate(input, 'it'));
    }
    expect(seen).toEqual(Object.fromEntries(cases.filter((c) => c.reason !== 'REVOKED').map((c) => [c.name, c.reason])));
    expect(await snapshot(ns.adminCore, ns.namespace)).toEqual(before);
    expect(before[LICENSE_SECRET]).toBeUndefined();

    // with a license active and the revocation list imported, the bad inputs still change nothing
    const good = await makeLicense({ cluster_uid: clusterUid, limits: { tenants: 10, users: 500 } });
    await service.activate({ content: good.jws, encoding: 'text' }, 'it');
    await service.importRevocations({ content: revocations, encoding: 'text' }, 'it');
    const active = await snapshot(ns.adminCore, ns.namespace);
    for (const c of cases) {
      const input =
        typeof c.input === 'string'
          ? { content: c.input, encoding: 'text' as const }
          : { content: Buffer.from(c.input).toString('base64'), encoding: 'base64' as const };
      expect(await reason(service.activate(input, 'it')), c.name).toBe(c.reason);
    }
    expect(await snapshot(ns.adminCore, ns.namespace)).toEqual(active);
  });

  it('activates a cluster-bound license and fans it out to every tenant Secret, keeping their other keys', async () => {
    const { jws } = await makeLicense({ cluster_uid: clusterUid, limits: { tenants: 10, users: 1000 }, iat: nowS() + 1 });
    const { status, fanout } = await service.activate({ content: jws, encoding: 'text', allocations: { alpha: 600 } }, 'it');
    expect(fanout).toMatchObject({ status: 'done', total: TENANTS.length, failed: [] });
    expect(status).toMatchObject({ state: 'valid', clusterUid, tenants: { total: TENANTS.length, lagging: [] } });
    const secrets = await ns.adminCore.listNamespacedSecret({ namespace: ns.namespace, labelSelector: 'gatehouse.io/tenant' });
    for (const s of secrets.items) {
      expect(decode(s, 'LICENSE_JWS')).toBe(jws);
      expect(decode(s, 'LICENSE_USER_CAP')).toBe(s.metadata?.name === 'tenant-alpha' ? '600' : '100');
      expect(decode(s, 'DATABASE_URL')).toMatch(/^postgres:/);
    }
    const license = await ns.adminCore.readNamespacedSecret({ name: LICENSE_SECRET, namespace: ns.namespace });
    expect(decode(license, 'LICENSE_JWS')).toBe(jws);
    expect(license.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('gatehouse');
    expect(JSON.parse(decode(license, 'HISTORY')!).at(-1)).toMatchObject({ action: 'activate' });
  });

  it('journals a partial fan-out, shows the lagging tenant, and resumes it', async () => {
    // an immutable Secret cannot be patched: a real failure from the API server
    await ns.adminCore.deleteNamespacedSecret({ name: 'tenant-delta', namespace: ns.namespace });
    await ns.adminCore.createNamespacedSecret({ namespace: ns.namespace, body: tenantSecret('delta', { immutable: true }) });
    const { jws } = await makeLicense({ cluster_uid: clusterUid, limits: { tenants: 10, users: 1000 }, iat: nowS() + 2 });
    const first = await service.activate({ content: jws, encoding: 'text' }, 'it');
    expect(first.fanout.status).toBe('partial');
    expect(first.fanout.failed.map((f) => f.slug)).toEqual(['delta']);
    expect(first.status.tenants.lagging.map((l) => l.slug)).toEqual(['delta']);
    await ns.adminCore.deleteNamespacedSecret({ name: 'tenant-delta', namespace: ns.namespace });
    await ns.adminCore.createNamespacedSecret({ namespace: ns.namespace, body: tenantSecret('delta') });
    const resumed = await service.resume('it');
    expect(resumed).toMatchObject({ operationId: first.fanout.operationId, status: 'done', written: 1 });
    expect((await service.status()).tenants.lagging).toEqual([]);
  });

  it('renews online from a loopback server, refusing forged and older answers', async () => {
    const current = await makeLicense({
      cluster_uid: clusterUid,
      renewal_url: serverUrl,
      limits: { tenants: 10, users: 1000 },
      iat: nowS() + 3,
    });
    await service.activate({ content: current.jws, encoding: 'text' }, 'it');
    const before = await snapshot(ns.adminCore, ns.namespace);

    const attacker = await generateEd25519('gh-issuer');
    const forgedClaims = { ...current.claims, lid: 'lic-forged', iat: nowS() + 10, exp: current.claims.exp + 86400 * 365 };
    serve = async () =>
      issueLicense(
        { ...attacker.privateJwk, kid: JSON.parse(Buffer.from(current.jws.split('.')[0]!, 'base64url').toString()).kid },
        await testIssuerCert(),
        forgedClaims,
      );
    expect(await reason(service.renewOnline('it'))).toBe('SIGNATURE_INVALID');
    const older = await makeLicense({ customer: current.claims.customer, cluster_uid: clusterUid, iat: nowS() - 3600, nbf: nowS() - 3600 });
    serve = async () => older.jws;
    expect(await reason(service.renewOnline('it'))).toBe('OLDER_THAN_CURRENT');
    expect(await snapshot(ns.adminCore, ns.namespace)).toEqual(before);

    const renewed = await makeLicense({
      customer: current.claims.customer,
      cluster_uid: clusterUid,
      renewal_url: serverUrl,
      limits: { tenants: 10, users: 2000 },
      iat: nowS() + 20,
      exp: current.claims.exp + 86400 * 365,
    });
    serve = async () => renewed.jws;
    const { status, fanout } = await service.renewOnline('it');
    expect(status.license?.lid).toBe(renewed.claims.lid);
    expect(fanout.status).toBe('done');
    expect((await service.history())[0]).toMatchObject({ action: 'renew-online', lid: renewed.claims.lid });
  });

  it('clears the license: every tenant reverts to the free tier', async () => {
    const customer = (await service.status()).license!.customer;
    const { status, fanout } = await service.clear(customer, 'it');
    expect(fanout).toMatchObject({ status: 'done', failed: [] });
    expect(status).toMatchObject({ state: 'none', effective: { tier: 'FREE' }, tenants: { lagging: [] } });
    const secrets = await ns.adminCore.listNamespacedSecret({ namespace: ns.namespace, labelSelector: 'gatehouse.io/tenant' });
    for (const s of secrets.items) {
      expect(decode(s, 'LICENSE_JWS')).toBeUndefined();
      expect(decode(s, 'LICENSE_USER_CAP')).toBe('50');
      expect(decode(s, 'CP_TOKEN')).toMatch(/^cp-/);
    }
    const license = await ns.adminCore.readNamespacedSecret({ name: LICENSE_SECRET, namespace: ns.namespace });
    expect(decode(license, 'LICENSE_JWS')).toBeUndefined();
  });
});
