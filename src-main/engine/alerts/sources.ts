import type { AuditAlarm } from '../../../src-shared/contract/audit';
import type { DatabaseStatus, InfraSnapshot } from '../../../src-shared/contract/infra';
import type { LicenseStatus } from '../../../src-shared/contract/license';
import type { Drift, TenantSummary } from '../../../src-shared/contract/tenants';
import type { UpgradeStatus } from '../../../src-shared/contract/workers';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { AlertSnapshot } from './evaluate';

/**
 * The read APIs and caches of the other capabilities the rules look at, injected by the
 * composition root (engine/index.ts). Every one is a constant number of calls per cycle:
 * tenants, users and drift come from the tenant cache (kept by the WATCH), key ages from one
 * LIST of tenant Secrets, rollouts from the infrastructure WATCH.
 */
export interface AlertReaders {
  license(cluster: ClusterRuntime): Promise<LicenseStatus>;
  tenants(cluster: ClusterRuntime): { tenants: TenantSummary[]; drift: Drift[] } | null;
  backups(cluster: ClusterRuntime): Promise<{
    rows: {
      tenant: string;
      health: string;
      lastBackup: { createdAt: string } | null;
      lastVerify: { state: string; at: string | null } | null;
    }[];
    schedules: { scope: string; enabled: boolean; everyHours: number | null }[];
  }>;
  keyAges(cluster: ClusterRuntime): Promise<{ slug: string; kind: string; ageSeconds: number; maxAgeDays: number }[]>;
  infra(cluster: ClusterRuntime): Promise<InfraSnapshot>;
  upgrade(cluster: ClusterRuntime): UpgradeStatus | null;
  database(cluster: ClusterRuntime): Promise<DatabaseStatus>;
  auditAlarms(cluster: ClusterRuntime): Promise<AuditAlarm[]>;
}

const text = (e: unknown) => (e instanceof Error ? e.message : String(e)).slice(0, 300);

/** Reads every source in parallel; an unreadable one is null with its error (its rules keep their alerts). */
export async function gatherSnapshot(
  r: AlertReaders,
  cluster: ClusterRuntime,
  now: Date,
): Promise<{ snapshot: AlertSnapshot; errors: { source: string; message: string }[] }> {
  const errors: { source: string; message: string }[] = [];
  const guard = async <T>(source: string, fn: () => Promise<T> | T): Promise<T | null> => {
    try {
      return await fn();
    } catch (error) {
      errors.push({ source, message: text(error) });
      return null;
    }
  };
  const [license, tenantCache, backups, keys, infra, upgrade, database, audit] = await Promise.all([
    guard('license', () => r.license(cluster)),
    guard('tenants', () => {
      const c = r.tenants(cluster);
      if (!c) throw new Error('the tenant list has not been read yet (no cache for this cluster)');
      return c;
    }),
    guard('backups', () => r.backups(cluster)),
    guard('keys', () => r.keyAges(cluster)),
    guard('infrastructure', () => r.infra(cluster)),
    guard('upgrades', () => r.upgrade(cluster)),
    guard('database', async () => {
      const d = await r.database(cluster);
      if (!d.reachable) throw new Error(d.error ?? 'PostgreSQL is unreachable');
      return d;
    }),
    guard('audit', () => r.auditAlarms(cluster)),
  ]);
  const stuckTargets = new Map<string, string>();
  if (upgrade && upgrade.state === 'stuck')
    for (const t of upgrade.targets) if (t.state === 'stuck') stuckTargets.set(t.deployment, upgrade.operationId);
  const snapshot: AlertSnapshot = {
    at: now,
    license: license
      ? {
          state: license.state,
          secondsToExpiry: license.license ? license.secondsToExpiry : null,
          licenseId: license.license?.lid ?? null,
          tenantsLimit: license.effective.freeTier && !license.license ? null : license.effective.limits.tenants,
          usersLimit: license.effective.freeTier && !license.license ? null : license.effective.limits.users,
        }
      : null,
    tenants: tenantCache
      ? {
          total: tenantCache.tenants.length,
          users: tenantCache.tenants.reduce((n, t) => n + (t.stats?.users ?? 0), 0),
          caps: tenantCache.tenants.map((t) => ({ slug: t.slug, users: t.stats?.users ?? null, cap: t.licenseUsers })),
          drift: tenantCache.drift.map((d) => ({ slug: d.slug, kind: d.kind, message: d.message })),
        }
      : null,
    backups: backups
      ? {
          rows: backups.rows.map((b) => ({
            tenant: b.tenant,
            health: b.health,
            lastBackupAt: b.lastBackup?.createdAt ?? null,
            lastVerifyState: b.lastVerify?.state ?? null,
            lastVerifyAt: b.lastVerify?.at ?? null,
          })),
          scheduled: backups.schedules.filter((s) => s.enabled).map((s) => ({ scope: s.scope, everyHours: s.everyHours })),
        }
      : null,
    keys: keys
      ? keys.map((k) => ({ slug: k.slug, kind: k.kind, ageDays: Math.floor(k.ageSeconds / 86_400), maxAgeDays: k.maxAgeDays }))
      : null,
    rollouts: infra
      ? [
          ...infra.workloads.map((w) => ({
            name: w.name,
            health: w.health,
            message: w.message,
            stuckUpgrade: stuckTargets.get(w.name) ?? null,
          })),
          ...[...stuckTargets]
            .filter(([name]) => !infra.workloads.some((w) => w.name === name))
            .map(([name, op]) => ({ name, health: 'Unknown', message: null, stuckUpgrade: op })),
        ]
      : null,
    database: database?.connections ?? null,
    audit: audit ? audit.filter((a) => !a.resolvedAt).map((a) => ({ id: a.id, kind: a.kind, message: a.message })) : null,
  };
  return { snapshot, errors };
}
