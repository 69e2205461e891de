import type { KubeClients } from '../../../src-main/adapters/kube';
import type { PostgresAdmin } from '../../../src-main/adapters/postgres';
import { ClusterScope } from '../../../src-main/engine/clusters/scope';
import type { TenantSummary } from '../../../src-shared/contract/tenants';

/**
 * A cluster whose every Kubernetes call and every PostgreSQL pool request is counted
 * (and fails): what a code path costs in API calls and database connections, with no server.
 */
export function countingScope(uid = 'uid-bench') {
  const counts = { kubeCalls: 0, pgConnections: 0 };
  const refuse = (what: string) => {
    throw new Error(`unexpected ${what}`);
  };
  const api = () =>
    new Proxy(
      {},
      {
        get: (_t, method) => () => {
          counts.kubeCalls++;
          return Promise.reject(new Error(`unexpected Kubernetes call ${String(method)}`));
        },
      },
    );
  const kube = {
    config: {},
    core: api(),
    apps: api(),
    coordination: api(),
    authorization: api(),
    version: api(),
  } as unknown as KubeClients;
  const scope = new ClusterScope(uid, {
    contextId: `ctx-${uid}`,
    contextName: 'bench',
    kube,
    namespace: 'iam-system',
    pgAdmin: async () => ({ host: 'h', port: 1, user: 'u', password: 'p', database: 'd', ssl: false }),
  });
  scope.postgres = async () => {
    counts.pgConnections++;
    return refuse('PostgreSQL connection') as unknown as PostgresAdmin;
  };
  return { scope, counts };
}

export function fakeTenants(n: number): TenantSummary[] {
  return Array.from({ length: n }, (_, i) => ({
    slug: `tenant-${String(i).padStart(5, '0')}`,
    name: `Customer ${i} International`,
    tier: i % 3 ? 'PRO' : 'Enterprise',
    status: 'active',
    created: '2026-01-01T00:00:00.000Z',
    schemaVersion: 3,
    licenseUsers: 2000,
    backendVersion: '1.8.2',
    hasSecret: true,
    hasDatabase: true,
    inRegistry: true,
    stats: { users: i * 3, groups: i % 40, applications: i % 12 },
    statsAt: '2026-12-01T00:00:00.000Z',
  }));
}
