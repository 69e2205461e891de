import { V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { ContractError } from '../../../src-shared/contract';
import { MANAGED_BY_LABEL } from '../../adapters/kube';
import { isKubeConflict, type TenantKube } from './kube-ports';

/**
 * A coordination.k8s.io Lease per tenant so two consoles never provision or delete
 * the same tenant at once. The holder is `<console id>/<operation id>`: a resumed
 * or rolled-back operation recognises its own Lease, any other operation (even from
 * this console) sees a CONFLICT until the Lease is released or expires.
 */
export const TENANT_LABEL = 'gatehouse.io/tenant';
export const LEASE_SECONDS = 600;
export const tenantLeaseName = (slug: string): string => `gatehouse-tenant-${slug}`;

function expired(lease: V1Lease, now = Date.now()): boolean {
  const renew = lease.spec?.renewTime ?? lease.spec?.acquireTime;
  const seconds = lease.spec?.leaseDurationSeconds ?? LEASE_SECONDS;
  return !renew || new Date(renew).getTime() + seconds * 1000 < now;
}

function busy(slug: string, lease: V1Lease): ContractError {
  const holder = lease.spec?.holderIdentity ?? 'unknown';
  const until = lease.spec?.renewTime ? new Date(new Date(lease.spec.renewTime).getTime() + (lease.spec.leaseDurationSeconds ?? LEASE_SECONDS) * 1000).toISOString() : 'unknown';
  return new ContractError(
    'CONFLICT',
    `Another operation (${holder}) is working on tenant "${slug}" right now. Wait for it to finish (its lock expires at ${until}) or resume it from the console that started it.`,
    { holder, until },
  );
}

/** Takes or renews the tenant's Lease for holder; CONFLICT when someone else holds it. */
export async function acquireTenantLease(kube: TenantKube, slug: string, holder: string): Promise<void> {
  const name = tenantLeaseName(slug);
  const now = new V1MicroTime();
  const existing = await kube.getLease(name);
  if (!existing) {
    try {
      await kube.createLease({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace: kube.namespace, labels: { ...MANAGED_BY_LABEL, [TENANT_LABEL]: slug } },
        spec: { holderIdentity: holder, leaseDurationSeconds: LEASE_SECONDS, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      });
      return;
    } catch (error) {
      if (!isKubeConflict(error)) throw error;
      // Lost the race to another console between our GET and CREATE.
      const winner = await kube.getLease(name);
      if (winner && winner.spec?.holderIdentity !== holder) throw busy(slug, winner);
      if (!winner) throw new ContractError('CONFLICT', `Tenant "${slug}" was locked and unlocked while we looked; retry.`);
      return;
    }
  }
  const mine = existing.spec?.holderIdentity === holder;
  if (!mine && !expired(existing)) throw busy(slug, existing);
  try {
    await kube.replaceLease(name, {
      ...existing,
      spec: {
        ...existing.spec,
        holderIdentity: holder,
        leaseDurationSeconds: LEASE_SECONDS,
        renewTime: now,
        ...(mine ? {} : { acquireTime: now, leaseTransitions: (existing.spec?.leaseTransitions ?? 0) + 1 }),
      },
    });
  } catch (error) {
    if (isKubeConflict(error)) throw busy(slug, (await kube.getLease(name)) ?? existing);
    throw error;
  }
}

/** Releases the Lease if holder still holds it; someone else's Lease is left alone. */
export async function releaseTenantLease(kube: TenantKube, slug: string, holder: string): Promise<void> {
  const lease = await kube.getLease(tenantLeaseName(slug));
  if (!lease || lease.spec?.holderIdentity !== holder) return;
  await kube.deleteLease(tenantLeaseName(slug), lease.metadata?.resourceVersion);
}
