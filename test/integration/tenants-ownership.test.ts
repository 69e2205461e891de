// Ownership before destruction, and Leases held for real (real API server + PostgreSQL):
// - a compensation removes only what carries its own operation's mark; an object of the same
//   name made by someone else survives the rollback and is reported;
// - a saga that outlives its Lease duration keeps the Lease (renewed while it runs);
// - a stolen Lease stops the saga before its next step, and it undoes only what it owns.
import { CoordinationV1Api, CoreV1Api, KubeConfig, V1MicroTime } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAdmin, ownershipMark } from '../../src-main/adapters/postgres';
import { quoteIdent } from '../../src-main/adapters/postgres';
import { OPERATION_ANNOTATION } from '../../src-main/engine/tenants/material';
import { ContractError } from '../../src-shared/contract';
import {
  buildTenantEngine,
  harnessOrReason,
  harnessPg,
  operatorNamespace,
  tempDataDir,
  uniqueSlug,
  type TenantTestEngine,
} from './tenants-env';

const h = harnessOrReason();
if ('reason' in h) throw new Error(h.reason);
const state = h.state;
const dbOf = (slug: string) => `tenant_${slug.replace(/-/g, '_')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('tenant sagas: ownership marks and Leases', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let core: CoreV1Api;
  let coordination: CoordinationV1Api;
  let admin: PostgresAdmin;
  const hooks = new Map<string, (step: string) => Promise<void>>();
  let eng: TenantTestEngine;
  const LEASE_SECONDS = 3;

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-ownership');
    const kc = new KubeConfig();
    kc.loadFromFile(state.kubeconfigs.admin);
    core = kc.makeApiClient(CoreV1Api);
    coordination = kc.makeApiClient(CoordinationV1Api);
    admin = new PostgresAdmin(harnessPg(state));
    eng = buildTenantEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: harnessPg(state),
      dataDir: tempDataDir(),
      consoleId: 'owner-console',
      tenants: { leaseSeconds: LEASE_SECONDS, beforeStep: async (_kind, step, slug) => hooks.get(slug)?.(step) },
    });
  });
  afterAll(async () => {
    await eng?.close();
    await admin?.close();
    await ns?.remove();
  });

  it('a rollback leaves a database and role marked by another operation in place, and reports them', async () => {
    const slug = uniqueSlug('theirs');
    const db = dbOf(slug);
    // Another console's operation creates the same names while ours is about to (its Lease expired, say).
    hooks.set(slug, async (step) => {
      if (step !== 'database') return;
      await admin.query(`CREATE ROLE ${quoteIdent(db)} LOGIN`);
      await admin.query(`COMMENT ON ROLE ${quoteIdent(db)} IS '${ownershipMark('other-operation')}'`);
      await admin.query(`CREATE DATABASE ${quoteIdent(db)} OWNER ${quoteIdent(db)}`);
      await admin.query(`COMMENT ON DATABASE ${quoteIdent(db)} IS '${ownershipMark('other-operation')}'`);
    });
    const err = await eng.service.create(eng.runtime, { slug, name: 'Theirs', tier: 'DEV' }).then(
      () => null,
      (e: unknown) => e as ContractError,
    );
    expect(err?.code).toBe('CONFLICT');
    expect(err?.message).toMatch(/not created by this operation .*other-operation/);
    const op = eng.saga.get(String(err?.details?.operationId));
    expect(op.status).toBe('rolled-back');
    expect(op.notices.join('\n')).toMatch(new RegExp(`Left database ${db} in place: .*other-operation`));
    expect(op.notices.join('\n')).toMatch(new RegExp(`Left role ${db} in place`));
    expect(await admin.databaseExists(db)).toBe(true);
    expect(await admin.roleExists(db)).toBe(true);
    await admin.dropDatabase(db);
    await admin.dropRole(db);
  });

  it('a rollback leaves a Secret of the same name that it did not create, and reports it', async () => {
    const slug = uniqueSlug('secret');
    hooks.set(slug, async (step) => {
      if (step !== 'secret') return;
      await core.createNamespacedSecret({
        namespace: ns.namespace,
        body: {
          metadata: {
            name: `tenant-${slug}`,
            annotations: { [OPERATION_ANNOTATION]: 'someone-else' },
            labels: { 'gatehouse.io/tenant': slug },
          },
          stringData: { DATABASE_URL: 'postgresql://someone-else' },
        },
      });
    });
    const err = await eng.service.create(eng.runtime, { slug, name: 'Secret twin', tier: 'DEV' }).then(
      () => null,
      (e: unknown) => e as ContractError,
    );
    expect(err?.code).toBe('CONFLICT');
    const op = eng.saga.get(String(err?.details?.operationId));
    expect(op.status).toBe('rolled-back');
    expect(op.notices.join('\n')).toMatch(/Left Secret tenant-.* in place: .*someone-else/);
    const kept = await core.readNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace });
    expect(Buffer.from(kept.data!.DATABASE_URL!, 'base64').toString()).toBe('postgresql://someone-else');
    // what this operation made itself is gone
    expect(await admin.databaseExists(dbOf(slug))).toBe(false);
    expect(await admin.roleExists(dbOf(slug))).toBe(false);
    await core.deleteNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace });
  });

  it('a saga that outlives its Lease duration keeps the Lease: another console is refused meanwhile', async () => {
    const slug = uniqueSlug('long');
    const other = buildTenantEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: harnessPg(state),
      dataDir: tempDataDir(),
      consoleId: 'other-console',
      tenants: { leaseSeconds: LEASE_SECONDS },
    });
    let otherResult: unknown = null;
    hooks.set(slug, async (step) => {
      if (step !== 'schema') return;
      // Twice the Lease duration: without renewals the Lease would have expired and been up for grabs.
      await sleep(LEASE_SECONDS * 2000 + 500);
      otherResult = await other.service.create(other.runtime, { slug, name: 'Usurper', tier: 'DEV' }).then(
        () => 'created',
        (e: unknown) => (e as ContractError).code,
      );
    });
    try {
      const out = await eng.service.create(eng.runtime, { slug, name: 'Long runner', tier: 'DEV' });
      expect(out.steps.every((s) => s.status === 'done')).toBe(true);
      expect(otherResult).toBe('CONFLICT');
      expect((await eng.service.get(eng.runtime, slug)).tenant.name).toBe('Long runner');
    } finally {
      await other.close();
    }
  });

  it('a stolen Lease stops the saga before its next step; it undoes only what it owns', async () => {
    const slug = uniqueSlug('stolen');
    const leaseName = `gatehouse-tenant-${slug}`;
    hooks.set(slug, async (step) => {
      if (step !== 'schema') return;
      // Another console takes the Lease over (as if ours had expired).
      const lease = await coordination.readNamespacedLease({ name: leaseName, namespace: ns.namespace });
      await coordination.replaceNamespacedLease({
        name: leaseName,
        namespace: ns.namespace,
        body: {
          ...lease,
          spec: { ...lease.spec, holderIdentity: 'thief-console/op-9', renewTime: new V1MicroTime(), acquireTime: new V1MicroTime() },
        },
      });
      await sleep(LEASE_SECONDS * 1000); // at least one renewal tick notices
    });
    const err = await eng.service.create(eng.runtime, { slug, name: 'Stolen', tier: 'DEV' }).then(
      () => null,
      (e: unknown) => e as ContractError,
    );
    expect(err?.code).toBe('CONFLICT');
    expect(err?.message).toMatch(/lost its lock .*thief-console\/op-9/);
    const op = eng.saga.get(String(err?.details?.operationId));
    expect(op.status).toBe('rolled-back');
    // it stopped at the step boundary after the theft: the admin user was never created
    expect(['schema', 'admin-user']).toContain(op.failedStep);
    expect(op.steps.find((s) => s.name === 'secret')?.status).toBe('pending');
    // What it created (marked with its operation id) is gone; the thief's Lease is left alone.
    expect(await admin.databaseExists(dbOf(slug))).toBe(false);
    expect(await admin.roleExists(dbOf(slug))).toBe(false);
    const lease = await coordination.readNamespacedLease({ name: leaseName, namespace: ns.namespace });
    expect(lease.spec?.holderIdentity).toBe('thief-console/op-9');
  });
});
