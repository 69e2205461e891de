import type { CacheMigration, Sqlite } from '../../adapters/sqlite';
import type { Drift, TenantSummary } from '../../../src-shared/contract/tenants';
import { MANAGED_BY_LABEL } from '../../adapters/kube';
import { TENANT_LABEL } from './lease';
import { slugOfDbName, tenantDbName } from './material';
import type { TenantPorts } from './ports';
import type { RegistryEntry } from './registry';

export const tenantCacheMigrations: CacheMigration[] = [
  {
    id: 401,
    name: 'tenant list cache',
    store: 'cache',
    sql: `CREATE TABLE tenant_cache (cluster_id TEXT NOT NULL, slug TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (cluster_id, slug));
      CREATE TABLE tenant_cache_meta (cluster_id TEXT PRIMARY KEY, refreshed_at TEXT NOT NULL, drift TEXT NOT NULL, api_calls INTEGER NOT NULL);`,
  },
];

export const TENANT_DB_PREFIX = 'tenant_';
const MANAGED = `app.kubernetes.io/managed-by=${MANAGED_BY_LABEL['app.kubernetes.io/managed-by']}`;

export interface Observed {
  registry: Map<string, RegistryEntry>;
  secrets: Set<string>;
  /** User cap the license fan-out wrote into each tenant Secret (LICENSE_USER_CAP): the one source of "license users". */
  licenseCaps: Map<string, number>;
  databases: Set<string>;
  roles: Set<string>;
  leases: Set<string>;
  backendVersion: string | null;
  apiCalls: number;
}

/**
 * Everything the tenant list needs, in a constant number of calls whatever the
 * number of tenants: 4 LISTs (Secrets, registry ConfigMaps, Leases, backend
 * Deployments) and 1 PostgreSQL query. Never one GET per tenant.
 */
export async function observe(ports: TenantPorts): Promise<Observed> {
  const before = ports.kube.calls.count;
  const [registry, secrets, leases, backends, pgObjects] = await Promise.all([
    ports.registry.readAll(),
    ports.kube.listSecrets(`${MANAGED},${TENANT_LABEL}`),
    ports.kube.listLeases(`${MANAGED},${TENANT_LABEL}`),
    ports.kube.listDeployments('app.kubernetes.io/component=backend'),
    ports.pg.listWithPrefix(TENANT_DB_PREFIX),
  ]);
  const label = (o: { metadata?: { labels?: Record<string, string> } }) => o.metadata?.labels?.[TENANT_LABEL] ?? '';
  return {
    registry,
    secrets: new Set(secrets.map(label).filter(Boolean)),
    licenseCaps: licenseCapsOf(secrets),
    leases: new Set(leases.map(label).filter(Boolean)),
    databases: new Set(pgObjects.databases.map(slugOfDbName)),
    roles: new Set(pgObjects.roles.map(slugOfDbName)),
    backendVersion: backends[0]?.metadata?.labels?.['app.kubernetes.io/version'] ?? null,
    apiCalls: ports.kube.calls.count - before + 1,
  };
}

/** LICENSE_USER_CAP of each tenant Secret (written by the license fan-out; the backend reads it there). */
export function licenseCapsOf(
  secrets: { metadata?: { labels?: Record<string, string> }; data?: Record<string, string> }[],
): Map<string, number> {
  const caps = new Map<string, number>();
  for (const s of secrets) {
    const slug = s.metadata?.labels?.[TENANT_LABEL];
    const raw = s.data?.LICENSE_USER_CAP;
    if (!slug || raw === undefined) continue;
    const n = Number(Buffer.from(raw, 'base64').toString('utf8'));
    if (Number.isInteger(n) && n >= 0) caps.set(slug, n);
  }
  return caps;
}

/** Joins what was observed into rows and findings. Drift is reported, never hidden or auto-fixed. */
export function joinObserved(o: Observed): { tenants: TenantSummary[]; drift: Drift[] } {
  const slugs = new Set([...o.registry.keys(), ...o.secrets, ...o.databases]);
  const tenants: TenantSummary[] = [];
  const drift: Drift[] = [];
  for (const slug of [...slugs].sort()) {
    const entry = o.registry.get(slug) ?? null;
    const hasSecret = o.secrets.has(slug);
    const hasDatabase = o.databases.has(slug);
    const busy = o.leases.has(slug);
    tenants.push({
      slug,
      name: entry?.name ?? slug,
      tier: entry?.tier ?? 'unknown',
      // A Lease means a create/delete is in flight: half-built is expected, not drift.
      status: busy && entry?.status !== 'deleting' ? (entry ? entry.status : 'provisioning') : (entry?.status ?? 'unregistered'),
      created: entry?.created || null,
      schemaVersion: entry?.schema ?? null,
      licenseUsers: o.licenseCaps.get(slug) ?? null,
      backendVersion: o.backendVersion,
      hasSecret,
      hasDatabase,
      inRegistry: entry !== null,
      stats: null,
      statsAt: null,
    });
    if (busy) continue;
    if (hasDatabase && !entry) {
      drift.push({
        slug,
        kind: 'database-without-registry',
        message: `Database ${tenantDbName(slug)} exists but the registry does not list it, so the backend does not serve it.`,
        repairs: hasSecret ? ['register', 'drop-orphan'] : ['drop-orphan'],
      });
    }
    if (entry && !hasSecret && hasDatabase) {
      drift.push({
        slug,
        kind: 'registry-without-secret',
        message: `The registry lists "${slug}" but Secret tenant-${slug} is missing, so the backend cannot start it.`,
        repairs: ['recreate-secret', 'drop-orphan'],
      });
    }
    if (!entry && hasSecret && !hasDatabase) {
      drift.push({
        slug,
        kind: 'secret-without-database',
        message: `Secret tenant-${slug} exists but its database does not.`,
        repairs: ['drop-orphan'],
      });
    }
    if (entry && !hasDatabase) {
      drift.push({
        slug,
        kind: 'registry-without-database',
        message: `The registry lists "${slug}" but its database is missing: restore it from a backup or remove the entry.`,
        repairs: ['remove-registry-entry', 'drop-orphan'],
      });
    }
  }
  return { tenants, drift };
}

/** The per-cluster copy of the last rebuild, shown at once (and offline) while a refresh runs. */
export class TenantCache {
  constructor(private readonly db: Sqlite) {}

  save(clusterId: string, tenants: TenantSummary[], drift: Drift[], apiCalls: number): string {
    const at = new Date().toISOString();
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM tenant_cache WHERE cluster_id = ?').run(clusterId);
      const ins = this.db.prepare('INSERT INTO tenant_cache (cluster_id, slug, data) VALUES (?, ?, ?)');
      for (const t of tenants) ins.run(clusterId, t.slug, JSON.stringify(t));
      this.db
        .prepare(
          'INSERT INTO tenant_cache_meta (cluster_id, refreshed_at, drift, api_calls) VALUES (?, ?, ?, ?) ON CONFLICT(cluster_id) DO UPDATE SET refreshed_at = excluded.refreshed_at, drift = excluded.drift, api_calls = excluded.api_calls',
        )
        .run(clusterId, at, JSON.stringify(drift), apiCalls);
    })();
    return at;
  }

  load(clusterId: string): { tenants: TenantSummary[]; drift: Drift[]; refreshedAt: string; apiCalls: number } | null {
    const meta = this.db.prepare('SELECT refreshed_at, drift, api_calls FROM tenant_cache_meta WHERE cluster_id = ?').get(clusterId) as
      { refreshed_at: string; drift: string; api_calls: number } | undefined;
    if (!meta) return null;
    const rows = this.db.prepare('SELECT data FROM tenant_cache WHERE cluster_id = ? ORDER BY slug').pluck().all(clusterId) as string[];
    return {
      tenants: rows.map((r) => JSON.parse(r) as TenantSummary),
      drift: JSON.parse(meta.drift) as Drift[],
      refreshedAt: meta.refreshed_at,
      apiCalls: meta.api_calls,
    };
  }

  /** Updates one row after a mutation so the list is right before the next rebuild. */
  upsert(clusterId: string, tenant: TenantSummary): void {
    this.db
      .prepare(
        'INSERT INTO tenant_cache (cluster_id, slug, data) VALUES (?, ?, ?) ON CONFLICT(cluster_id, slug) DO UPDATE SET data = excluded.data',
      )
      .run(clusterId, tenant.slug, JSON.stringify(tenant));
  }

  remove(clusterId: string, slug: string): void {
    this.db.prepare('DELETE FROM tenant_cache WHERE cluster_id = ? AND slug = ?').run(clusterId, slug);
  }
}
