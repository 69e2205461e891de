import { ContractError } from '../../../src-shared/contract';
import { FREE_TIER, type LicenseClaims } from './format';

/** Pure rules: license state over time, effective limits, per-tenant caps, usage warnings. */

export type LicenseState = 'none' | 'valid' | 'expiring' | 'grace' | 'expired' | 'invalid';
const DAY = 86400;

export interface StateInfo {
  state: LicenseState;
  /** 30, 7 or 1 when expiring within that many days. */
  expiringWithin: 30 | 7 | 1 | null;
  secondsToExpiry: number | null;
  graceEndsAt: number | null;
  /** True when free-tier limits apply (no license, invalid, cleared, or expired past grace with after_grace free-tier). */
  freeTier: boolean;
  /** Expired past grace with after_grace "freeze": limits stay, nothing may grow. */
  frozen: boolean;
}

export function licenseState(claims: LicenseClaims | null, now: number, invalid = false): StateInfo {
  if (invalid) return { state: 'invalid', expiringWithin: null, secondsToExpiry: null, graceEndsAt: null, freeTier: true, frozen: false };
  if (!claims) return { state: 'none', expiringWithin: null, secondsToExpiry: null, graceEndsAt: null, freeTier: true, frozen: false };
  const left = claims.exp - now;
  const graceEndsAt = claims.exp + claims.grace_days * DAY;
  const base = { secondsToExpiry: left, graceEndsAt, frozen: false, freeTier: false };
  if (left > 30 * DAY) return { ...base, state: 'valid', expiringWithin: null };
  if (left > 0) return { ...base, state: 'expiring', expiringWithin: left <= DAY ? 1 : left <= 7 * DAY ? 7 : 30 };
  if (now < graceEndsAt) return { ...base, state: 'grace', expiringWithin: null };
  const free = claims.expiry_strategy.after_grace === 'free-tier';
  return { ...base, state: 'expired', expiringWithin: null, freeTier: free, frozen: !free };
}

/** Limits in force now. */
export function effectiveLimits(claims: LicenseClaims | null, info: StateInfo) {
  if (info.freeTier || !claims) return { tier: FREE_TIER.tier, limits: FREE_TIER.limits, features: FREE_TIER.features };
  return { tier: claims.tier, limits: claims.limits, features: claims.features };
}

/**
 * Each tenant's LICENSE_USER_CAP. Explicit allocations win; tenants without one share what is
 * left of the license evenly (rounded down) so the sum never exceeds the license.
 */
export function effectiveCaps(slugs: string[], allocations: Record<string, number>, licenseUsers: number | null): Map<string, number> {
  const caps = new Map<string, number>();
  if (licenseUsers === null) {
    for (const slug of slugs) caps.set(slug, FREE_TIER.usersPerTenant);
    return caps;
  }
  const explicit = slugs.filter((s) => allocations[s] !== undefined);
  const shared = slugs.filter((s) => allocations[s] === undefined);
  const used = explicit.reduce((sum, s) => sum + (allocations[s] ?? 0), 0);
  const share = shared.length > 0 ? Math.max(0, Math.floor((licenseUsers - used) / shared.length)) : 0;
  for (const s of explicit) caps.set(s, allocations[s] ?? 0);
  for (const s of shared) caps.set(s, share);
  return caps;
}

/** Refuses allocations whose sum exceeds the license, or that name unknown tenants. */
export function checkAllocations(allocations: Record<string, number>, licenseUsers: number, knownSlugs: Set<string> | null): void {
  if (knownSlugs) {
    const unknown = Object.keys(allocations).filter((s) => !knownSlugs.has(s));
    if (unknown.length > 0) {
      throw new ContractError(
        'VALIDATION',
        `No tenant named ${unknown
          .slice(0, 5)
          .map((s) => `"${s}"`)
          .join(', ')}. Refresh the tenant list and try again.`,
        {
          unknown,
        },
      );
    }
  }
  const sum = Object.values(allocations).reduce((a, b) => a + b, 0);
  if (sum > licenseUsers) {
    throw new ContractError(
      'VALIDATION',
      `The allocations add up to ${sum} users but the license allows ${licenseUsers}. Lower some caps by ${sum - licenseUsers} in total.`,
      { sum, licenseUsers },
    );
  }
}

export type UsageWarning = 80 | 95 | 100 | null;

export function usageWarning(users: number | null, cap: number): UsageWarning {
  if (users === null) return null;
  if (cap <= 0) return users > 0 ? 100 : null;
  const pct = (users / cap) * 100;
  return pct >= 100 ? 100 : pct >= 95 ? 95 : pct >= 80 ? 80 : null;
}
