import type { LicenseStatus } from '../../../src-shared/contract/license';
import type { FanoutOp } from './cache';
import type { DesiredTenant } from './fanout';
import { FREE_TIER } from './format';
import { sha256 } from './kube-targets';
import { effectiveLimits, type StateInfo } from './policy';
import type { LicenseRecord, TenantLicenseState } from './ports';
import type { VerifiedLicense } from './verify';

const iso = (s: number) => new Date(s * 1000).toISOString();

/** Tenants whose Secret does not (yet) carry what they should: the status page lists them. */
export function laggingTenants(tenants: TenantLicenseState[], desired: DesiredTenant[]) {
  const bySlug = new Map(tenants.map((t) => [t.slug, t]));
  const lagging: LicenseStatus['tenants']['lagging'] = [];
  for (const d of desired) {
    const t = bySlug.get(d.slug);
    if (!t) continue;
    const sha = d.jws ? sha256(d.jws) : null;
    if (t.licenseSha !== sha) lagging.push({ slug: d.slug, reason: 'license', expectedCap: d.cap, actualCap: t.userCap });
    else if (t.userCap !== d.cap) lagging.push({ slug: d.slug, reason: 'cap', expectedCap: d.cap, actualCap: t.userCap });
  }
  return lagging;
}

export function buildStatus(input: {
  verified: VerifiedLicense | null;
  info: StateInfo;
  invalid: { reason: string; message: string } | null;
  tenants: TenantLicenseState[] | null;
  desired: DesiredTenant[];
  record: LicenseRecord;
  lastFanout: FanoutOp | null;
  revocations: { seq: number; importedAt: string } | null;
  developmentMode: boolean;
  trustsTestKeys: boolean;
  source: 'cluster' | 'cache';
  syncedAt: string | null;
  clusterUid: string | null;
}): LicenseStatus {
  const { verified, info } = input;
  const c = verified?.claims ?? null;
  const effective = effectiveLimits(c, info);
  const total = input.tenants?.length ?? null;
  return {
    state: info.state,
    expiringWithin: info.expiringWithin,
    secondsToExpiry: info.secondsToExpiry,
    license:
      c && verified
        ? {
            lid: c.lid,
            customer: c.customer,
            tier: c.tier,
            issuedAt: iso(c.iat),
            notBefore: iso(c.nbf),
            expiresAt: iso(c.exp),
            graceDays: c.grace_days,
            graceEndsAt: iso(c.exp + c.grace_days * 86400),
            expiryStrategy: { afterGrace: c.expiry_strategy.after_grace, stops: c.expiry_strategy.stops, keeps: c.expiry_strategy.keeps },
            limits: c.limits,
            features: c.features,
            renewalUrl: c.renewal_url ?? null,
            clusterUid: c.cluster_uid ?? null,
            issuerKid: verified.issuer.kid,
            trust: verified.trust,
          }
        : null,
    invalid: input.invalid,
    effective: { ...effective, freeTier: info.freeTier, frozen: info.frozen },
    freeTier: { ...FREE_TIER.limits, usersPerTenant: FREE_TIER.usersPerTenant },
    tenants: {
      total,
      overLimit: total !== null && total > effective.limits.tenants,
      lagging: input.tenants ? laggingTenants(input.tenants, input.desired) : [],
    },
    lastFanout: input.lastFanout
      ? {
          operationId: input.lastFanout.id,
          kind: input.lastFanout.kind,
          status: input.lastFanout.status,
          total: input.lastFanout.total,
          startedAt: input.lastFanout.startedAt,
          finishedAt: input.lastFanout.finishedAt,
        }
      : null,
    revocations: input.revocations ? { seq: input.revocations.seq, importedAt: input.revocations.importedAt } : null,
    developmentMode: input.developmentMode,
    trustsTestKeys: input.trustsTestKeys,
    source: input.source,
    syncedAt: input.syncedAt,
    clusterUid: input.clusterUid,
  };
}
