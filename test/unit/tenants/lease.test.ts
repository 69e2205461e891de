import type { V1Lease } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { LeaseKeeper, acquireTenantLease, releaseTenantLease, tenantLeaseName } from '../../../src-main/engine/tenants/lease';
import type { TenantKube } from '../../../src-main/engine/tenants/kube-ports';

/** One Lease with resourceVersion preconditions, as the API server enforces them. */
function leaseStore() {
  let lease: V1Lease | null = null;
  let version = 1;
  const conflict = () => Object.assign(new Error('the ResourceVersion in the precondition does not match'), { kubeStatus: 409 });
  const copy = (l: V1Lease | null) => (l ? (JSON.parse(JSON.stringify(l)) as V1Lease) : null);
  const store = {
    /** Runs once just before the next delete reaches the store (a renewal landing in between). */
    beforeDelete: null as null | (() => Promise<void>),
    kube: {
      namespace: 'iam-system',
      getLease: async () => copy(lease),
      createLease: async (body: V1Lease) => {
        if (lease) throw conflict();
        lease = { ...copy(body)!, metadata: { ...body.metadata, resourceVersion: String(++version) } };
        return copy(lease)!;
      },
      replaceLease: async (_name: string, body: V1Lease) => {
        if (!lease || body.metadata?.resourceVersion !== lease.metadata?.resourceVersion) throw conflict();
        lease = { ...copy(body)!, metadata: { ...body.metadata, resourceVersion: String(++version) } };
        return copy(lease)!;
      },
      deleteLease: async (_name: string, resourceVersion?: string) => {
        const hook = store.beforeDelete;
        store.beforeDelete = null;
        if (hook) await hook();
        if (!lease) return;
        if (resourceVersion && resourceVersion !== lease.metadata?.resourceVersion) throw conflict();
        lease = null;
      },
    } as unknown as TenantKube,
    current: () => lease,
  };
  return store;
}

describe('tenant Lease release', () => {
  it('a renewal that lands between the read and the delete does not fail the release', async () => {
    const store = leaseStore();
    await acquireTenantLease(store.kube, 'acme', 'console-a/op-1', 30);
    const keeper = new LeaseKeeper(store.kube, 'acme', 'console-a/op-1', 30);
    store.beforeDelete = () => keeper.renew();
    await releaseTenantLease(store.kube, 'acme', 'console-a/op-1');
    expect(keeper.renewals).toBe(1);
    expect(store.current()).toBeNull();
  });

  it('halt() waits for a renewal in flight, and no renewal follows', async () => {
    const store = leaseStore();
    await acquireTenantLease(store.kube, 'acme', 'console-a/op-1', 30);
    const keeper = new LeaseKeeper(store.kube, 'acme', 'console-a/op-1', 30);
    keeper.start();
    const inFlight = keeper.renew();
    await keeper.halt();
    await inFlight;
    expect(keeper.renewals).toBe(1);
    await releaseTenantLease(store.kube, 'acme', 'console-a/op-1');
    expect(store.current()).toBeNull();
  });

  it("someone else's Lease is left alone", async () => {
    const store = leaseStore();
    await acquireTenantLease(store.kube, 'acme', 'console-b/op-7', 30);
    await releaseTenantLease(store.kube, 'acme', 'console-a/op-1');
    expect(store.current()?.spec?.holderIdentity).toBe('console-b/op-7');
    expect(store.current()?.metadata?.name).toBe(tenantLeaseName('acme'));
  });
});
