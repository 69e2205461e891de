import { TIER_LIMITS, type TenantTier } from '../../../src-shared/contract/tenants';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import type { SagaRunner } from '../core/saga';
import { tierRank } from './config-saga';
import { WorkersService, type WorkersServiceOptions } from './service';

export { WorkersService } from './service';
export { WORKERS_SELECTOR, decodeWorkerConfig } from './config-store';

/** What the license check needs: the cluster's effective license tier, and a tenant's users (null: unknown). */
export interface LicenseView {
  effectiveTier(cluster: ClusterRuntime): Promise<{ tier: string; freeTier: boolean }>;
  users(cluster: ClusterRuntime, slug: string): Promise<number | null>;
}

/**
 * A tenant's tier may not rank above the license's (the free tier counts as DEV), and a tenant
 * may not move to a tier whose user limit is below the users it has now.
 */
export function licenseTierCheck(view: LicenseView): NonNullable<WorkersServiceOptions['licenseCheck']> {
  return async (cluster, { slug, tier }) => {
    const effective = await view.effectiveTier(cluster);
    const ceiling = effective.tier === 'FREE' ? 'DEV' : effective.tier;
    if (tierRank(tier) > tierRank(ceiling)) {
      return `The ${effective.freeTier ? 'free tier' : `${effective.tier} license`} of this cluster allows tenants up to ${ceiling}; "${slug}" cannot become ${tier}. Activate a license of a higher tier first.`;
    }
    const limit = TIER_LIMITS[tier as TenantTier]?.users ?? null;
    if (limit !== null) {
      const users = await view.users(cluster, slug);
      if (users !== null && users > limit) {
        return `"${slug}" has ${users.toLocaleString('en-US')} users; tier ${tier} allows ${limit.toLocaleString('en-US')}. Remove users or choose a larger tier.`;
      }
    }
    return null;
  };
}

export function createWorkersCapability(deps: {
  saga: SagaRunner;
  bus: EventBus;
  consoleId: string;
  license: LicenseView;
  options?: Partial<WorkersServiceOptions>;
}) {
  return new WorkersService({
    saga: deps.saga,
    bus: deps.bus,
    consoleId: deps.consoleId,
    licenseCheck: licenseTierCheck(deps.license),
    ...deps.options,
  });
}
