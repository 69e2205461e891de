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
  const until = lease.spec?.renewTime
    ? new Date(new Date(lease.spec.renewTime).getTime() + (lease.spec.leaseDurationSeconds ?? LEASE_SECONDS) * 1000).toISOString()
    : 'unknown';
  return new ContractError(
    'CONFLICT',
    `Another operation (${holder}) is working on tenant "${slug}" right now. Wait for it to finish (its lock expires at ${until}) or resume it from the console that started it.`,
    { holder, until },
  );
}

/** Takes or renews the tenant's Lease for holder; CONFLICT when someone else holds it. */
export async function acquireTenantLease(kube: TenantKube, slug: string, holder: string, seconds = LEASE_SECONDS): Promise<void> {
  const name = tenantLeaseName(slug);
  const now = new V1MicroTime();
  const existing = await kube.getLease(name);
  if (!existing) {
    try {
      await kube.createLease({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace: kube.namespace, labels: { ...MANAGED_BY_LABEL, [TENANT_LABEL]: slug } },
        spec: { holderIdentity: holder, leaseDurationSeconds: seconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
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
        leaseDurationSeconds: seconds,
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
  for (let attempt = 0; attempt < 5; attempt++) {
    const lease = await kube.getLease(tenantLeaseName(slug));
    if (!lease || lease.spec?.holderIdentity !== holder) return;
    try {
      await kube.deleteLease(tenantLeaseName(slug), lease.metadata?.resourceVersion);
      return;
    } catch (error) {
      // Renewed in between (our own keeper, or a resumed run of this operation): read again.
      if (!isKubeConflict(error)) throw error;
    }
  }
  throw new ContractError('CONFLICT', `The lock on tenant "${slug}" changed repeatedly while releasing it; it expires by itself.`);
}

/**
 * Keeps an operation's Lease while its saga runs: renews it every third of its
 * duration, and records the loss when anyone else holds it (stolen after an expiry,
 * or deleted). The saga checks `check()` before each step and stops when lost;
 * compensations then undo only what carries this operation's mark.
 */
export class LeaseKeeper {
  lost: ContractError | null = null;
  renewals = 0;
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;

  constructor(
    private readonly kube: TenantKube,
    private readonly slug: string,
    private readonly holder: string,
    private readonly seconds: number = LEASE_SECONDS,
  ) {}

  start(): void {
    if (this.timer || this.lost) return;
    this.timer = setInterval(() => void this.renew(), Math.max(200, (this.seconds * 1000) / 3));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops renewing and waits for a renewal in flight, so a release that follows does not race it. */
  async halt(): Promise<void> {
    this.stop();
    await this.renewing;
  }

  /** Renews now (single flight). A lost Lease stops the keeper; network trouble is retried next tick. */
  renew(): Promise<void> {
    this.renewing ??= renewTenantLease(this.kube, this.slug, this.holder, this.seconds)
      .then(
        () => {
          this.renewals++;
        },
        (error: unknown) => {
          if (error instanceof ContractError && error.code === 'CONFLICT') {
            this.lost = error;
            this.stop();
          }
        },
      )
      .finally(() => {
        this.renewing = null;
      });
    return this.renewing;
  }

  /** Throws when the Lease was lost: the saga must not take another step. */
  check(): void {
    if (this.lost) throw this.lost;
  }
}

/** Renews a Lease this holder holds; CONFLICT when it is gone or someone else holds it now. */
export async function renewTenantLease(kube: TenantKube, slug: string, holder: string, seconds = LEASE_SECONDS): Promise<void> {
  const name = tenantLeaseName(slug);
  for (let attempt = 0; attempt < 5; attempt++) {
    const lease = await kube.getLease(name);
    if (!lease || lease.spec?.holderIdentity !== holder) {
      throw new ContractError(
        'CONFLICT',
        `This operation lost its lock on tenant "${slug}" (${lease ? `now held by ${lease.spec?.holderIdentity ?? 'unknown'}` : 'the Lease was deleted'}). It stopped before its next step; what it created was undone only where it carries this operation's mark.`,
        { holder: lease?.spec?.holderIdentity ?? null },
      );
    }
    try {
      await kube.replaceLease(name, { ...lease, spec: { ...lease.spec, leaseDurationSeconds: seconds, renewTime: new V1MicroTime() } });
      return;
    } catch (error) {
      if (!isKubeConflict(error)) throw error; // written in between: read again
    }
  }
  throw new ContractError('CONFLICT', `The lock on tenant "${slug}" changed repeatedly while renewing it; the operation stops.`);
}
