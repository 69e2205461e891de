import type { DashboardOverview } from '../../../src-shared/contract/dashboard';
import type { TenantSummary } from '../../../src-shared/contract/tenants';
import type { AlertSnapshot } from './evaluate';
import type { AlertStore } from './store';

/** What the dashboard keeps of a snapshot (small: counts, not rows). */
export interface SnapshotDigest {
  license: AlertSnapshot['license'];
  backups: { ok: number; failed: number; never: number; unverified: number } | null;
  rollouts: { total: number; healthy: number; progressing: number; degraded: number; stuck: string[] } | null;
  database: AlertSnapshot['database'];
  auditAlarms: number | null;
}

export function digest(s: AlertSnapshot): SnapshotDigest {
  const backups = s.backups ? { ok: 0, failed: 0, never: 0, unverified: 0 } : null;
  for (const r of s.backups?.rows ?? []) if (backups && r.health in backups) backups[r.health as keyof typeof backups]++;
  return {
    license: s.license,
    backups,
    rollouts: s.rollouts
      ? {
          total: s.rollouts.length,
          healthy: s.rollouts.filter((w) => w.health === 'Healthy').length,
          progressing: s.rollouts.filter((w) => w.health === 'Progressing').length,
          degraded: s.rollouts.filter((w) => w.health === 'Degraded').length,
          stuck: s.rollouts.filter((w) => w.stuckUpgrade).map((w) => w.name),
        }
      : null,
    database: s.database,
    auditAlarms: s.audit ? s.audit.length : null,
  };
}

/** One pass over the cached tenant rows plus the stored alerts: no cluster call, so it paints offline and at 5,000 tenants. */
export function dashboardOverview(
  clusterId: string,
  cache: { tenants: TenantSummary[]; refreshedAt: string } | null,
  store: AlertStore,
  now: Date,
  activity: DashboardOverview['activity'] = [],
): DashboardOverview {
  let tenants: DashboardOverview['tenants'] = null;
  if (cache) {
    const byStatus: Record<string, number> = {};
    const byTier: Record<string, number> = {};
    let users = 0;
    for (const t of cache.tenants) {
      byStatus[t.status] = (byStatus[t.status] ?? 0) + 1;
      byTier[t.tier] = (byTier[t.tier] ?? 0) + 1;
      users += t.stats?.users ?? 0;
    }
    tenants = { total: cache.tenants.length, users, byStatus, byTier, refreshedAt: cache.refreshedAt };
  }
  const active = store.list(clusterId, now, false);
  const ev = store.evaluation(clusterId);
  const d = (ev?.snapshot ?? null) as SnapshotDigest | null;
  const lic = d?.license ?? null;
  return {
    clusterId,
    tenants,
    license: lic
      ? {
          state: lic.state,
          licenseId: lic.licenseId,
          daysToExpiry: lic.secondsToExpiry === null ? null : Math.floor(lic.secondsToExpiry / 86_400),
          tenantsLimit: lic.tenantsLimit,
          usersLimit: lic.usersLimit,
        }
      : null,
    alerts: {
      firing: active.filter((a) => a.state === 'firing').length,
      acknowledged: active.filter((a) => a.state === 'acknowledged').length,
      silenced: active.filter((a) => a.state === 'silenced').length,
      top: active.slice(0, 6).map((a) => ({
        fingerprint: a.fingerprint,
        severity: a.severity,
        summary: a.summary,
        link: a.link,
        state: a.state,
        lastFiredAt: a.lastFiredAt,
      })),
    },
    backups: d?.backups ?? null,
    rollouts: d?.rollouts ?? null,
    database: d?.database ?? null,
    auditAlarms: d?.auditAlarms ?? null,
    evaluatedAt: ev?.evaluatedAt ?? null,
    activity,
  };
}
