// Builds the entities capability (with the tenants one, wired as createEngine wires them)
// over a real PostgreSQL and the harness API server, for integration tests and their
// crash child. Each test file uses a private PostgreSQL so its gatehouse_control (one
// per cluster) and its fleet of tenant databases are its own.
import fs from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import { kubeClients } from '../../src-main/adapters/kube';
import { PostgresAdmin, type PgConnectionConfig } from '../../src-main/adapters/postgres';
import { openLocalStore, type Sqlite } from '../../src-main/adapters/sqlite';
import { ContractError } from '../../src-shared/contract';
import { ClusterScope } from '../../src-main/engine/clusters/scope';
import { EventBus } from '../../src-main/engine/core/events';
import { SagaRunner } from '../../src-main/engine/core/saga';
import { tenantsMigrations } from '../../src-main/engine/tenants';
import { TenantService } from '../../src-main/engine/tenants/service';
import { applyPendingMigrations, loadTenantMigrations } from '../../src-main/engine/tenants/schema';
import { tenantDbName, tenantRoleName } from '../../src-main/engine/tenants/material';
import { EntitiesService, entitiesMigrations } from '../../src-main/engine/entities';

export interface EntitiesTestEngine {
  entities: EntitiesService;
  tenants: TenantService;
  saga: SagaRunner;
  bus: EventBus;
  db: Sqlite;
  runtime: ClusterScope;
  close(): Promise<void>;
}

export function buildEntitiesEngine(opts: {
  kubeconfig: string;
  namespace: string;
  pg: PgConnectionConfig;
  dataDir: string;
  consoleId: string;
  clusterId?: string;
}): EntitiesTestEngine {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const { db } = openLocalStore(opts.dataDir, [
    { id: 100, name: 'settings', store: 'state' as const, sql: 'CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)' },
    ...tenantsMigrations,
    ...entitiesMigrations,
  ]);
  const kc = new KubeConfig();
  kc.loadFromFile(opts.kubeconfig);
  const clusterId = opts.clusterId ?? `test:${opts.namespace}`;
  const runtime = new ClusterScope(clusterId, {
    contextId: clusterId,
    contextName: 'harness',
    kube: kubeClients(kc),
    namespace: opts.namespace,
    pgAdmin: async () => ({ ...opts.pg, ssl: false }),
  });
  const bus = new EventBus();
  const saga = new SagaRunner(db, bus, async (uid) => {
    if (uid !== runtime.clusterId) throw new ContractError('UNAVAILABLE', `cluster ${uid} is not reachable from this test engine`);
    return runtime;
  });
  const entities = new EntitiesService({ db, bus, saga, consoleId: opts.consoleId });
  const tenants = new TenantService({
    db,
    bus,
    saga,
    consoleId: opts.consoleId,
    systemEntities: (p, slug, op) => entities.syncNewTenant(p, slug, op),
  });
  return {
    entities,
    tenants,
    saga,
    bus,
    db,
    runtime,
    async close() {
      await tenants.close();
      await runtime.close();
      db.close();
    },
  };
}

/** A tenant database as the create saga leaves it (role, database owned by it, every migration), without the Kubernetes part. */
export async function createTenantDatabase(admin: PostgresAdmin, slug: string, password: string): Promise<void> {
  const role = tenantRoleName(slug);
  await admin.ensureLoginRole(role);
  await admin.setRolePassword(role, password);
  await admin.ensureDatabase(tenantDbName(slug), role);
  await admin.withDatabase(tenantDbName(slug), (c) => applyPendingMigrations(c, role, loadTenantMigrations()));
}

/** A connection as the tenant's own role: what the tenant backend uses. */
export async function tenantClient(cfg: PgConnectionConfig, slug: string, password: string): Promise<pg.Client> {
  const c = new pg.Client({ host: cfg.host, port: cfg.port, user: tenantRoleName(slug), password, database: tenantDbName(slug) });
  await c.connect();
  return c;
}

/** A superuser connection straight into a tenant database (direct SQL checks and "behind the console" edits). */
export async function adminClient(cfg: PgConnectionConfig, slug: string): Promise<pg.Client> {
  const c = new pg.Client({ host: cfg.host, port: cfg.port, user: cfg.user, password: cfg.password, database: tenantDbName(slug) });
  await c.connect();
  return c;
}
