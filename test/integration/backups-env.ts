// Builds the tenants + backups capabilities for integration tests, as createEngine wires
// them: one journal, one local store, the harness API server (least-privilege operator
// kubeconfig, own namespace) and a real PostgreSQL.
import fs from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import { kubeClients } from '../../src-main/adapters/kube';
import type { PgConnectionConfig } from '../../src-main/adapters/postgres';
import { openLocalStore, type Sqlite } from '../../src-main/adapters/sqlite';
import { ContractError } from '../../src-shared/contract';
import { ClusterScope } from '../../src-main/engine/clusters/scope';
import { EventBus } from '../../src-main/engine/core/events';
import { SagaRunner } from '../../src-main/engine/core/saga';
import { tenantsMigrations } from '../../src-main/engine/tenants';
import { TenantService, type TenantServiceOptions } from '../../src-main/engine/tenants/service';
import {
  backupsMigrations,
  createBackupsCapability,
  type BackupsCapability,
  type BackupsCapabilityOptions,
} from '../../src-main/engine/backups';
import type { AuditRecord } from '../../src-main/engine/audit/recorder';
import { tenantDbName } from '../../src-main/engine/tenants/material';

export interface BackupTestEngine {
  tenants: TenantService;
  backups: BackupsCapability;
  saga: SagaRunner;
  bus: EventBus;
  db: Sqlite;
  runtime: ClusterScope;
  secrets: Map<string, string>;
  audit: AuditRecord[];
  dataDir: string;
  close(): Promise<void>;
}

/** An in-memory stand-in for the OS keychain (our own interface: SecretsLike). */
export const memorySecrets = (map: Map<string, string>) => async () => ({
  get: async (k: string) => map.get(k) ?? null,
  set: async (k: string, v: string) => void map.set(k, v),
  delete: async (k: string) => void map.delete(k),
});

export function buildBackupEngine(opts: {
  kubeconfig: string;
  namespace: string;
  pg: PgConnectionConfig;
  dataDir: string;
  consoleId: string;
  /** The cluster identity (two engines of one cluster share it, like two consoles). */
  clusterId?: string;
  tenants?: Partial<TenantServiceOptions>;
  backups?: Partial<BackupsCapabilityOptions>;
}): BackupTestEngine {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const { db } = openLocalStore(opts.dataDir, [
    { id: 100, name: 'settings', store: 'state' as const, sql: 'CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)' },
    ...tenantsMigrations,
    ...backupsMigrations,
  ]);
  const kc = new KubeConfig();
  kc.loadFromFile(opts.kubeconfig);
  const clusterId = opts.clusterId ?? `test:${opts.namespace}`;
  const runtime = new ClusterScope(clusterId, {
    contextId: clusterId,
    contextName: 'harness',
    kube: kubeClients(kc),
    namespace: opts.namespace,
    pgAdmin: async () => ({ ...opts.pg, ssl: false as const }),
  });
  const bus = new EventBus();
  const saga = new SagaRunner(db, bus, async (uid) => {
    if (uid !== runtime.clusterId) throw new ContractError('UNAVAILABLE', `cluster ${uid} is not reachable from this test engine`);
    return runtime;
  });
  const tenants = new TenantService({ db, bus, saga, consoleId: opts.consoleId, ...opts.tenants });
  const secrets = new Map<string, string>();
  const audit: AuditRecord[] = [];
  const backups = createBackupsCapability({
    db,
    bus,
    saga,
    tenants,
    secrets: memorySecrets(secrets),
    consoleId: opts.consoleId,
    consoleVersion: 'test',
    dataDir: opts.dataDir,
    audit: { record: async (r) => void audit.push(r) },
    schedulerEveryMs: 0,
    jobs: 2,
    ...opts.backups,
  });
  return {
    tenants,
    backups,
    saga,
    bus,
    db,
    runtime,
    secrets,
    audit,
    dataDir: opts.dataDir,
    async close() {
      await backups.close();
      await tenants.close();
      await runtime.close();
      db.close();
    },
  };
}

/** Creates the key, exports it and confirms the check code: what an operator does once per cluster. */
export async function configureKey(eng: BackupTestEngine): Promise<string> {
  const s = eng.backups.service;
  await s.createKey(eng.runtime, 'test');
  const exported = await s.exportKey(eng.runtime);
  const code = /^# check: (\S+)$/m.exec(exported.content)![1]!;
  await s.confirmEscrow(eng.runtime, code);
  return exported.content;
}

/** Fills a tenant with users, groups, memberships and sign-ins (n users). */
export async function seedTenant(pgc: PgConnectionConfig, slug: string, n: number): Promise<void> {
  const c = new pg.Client({ ...pgc, database: tenantDbName(slug) });
  await c.connect();
  try {
    await c.query(`SET ROLE ${tenantDbName(slug)}`);
    await c.query(
      `INSERT INTO users (username, email, display_name, password_hash) SELECT 'user' || g, 'user' || g || '@${slug}.example', 'User ' || g || E' with\\ttab and \\\\ backslash', 'hash-' || md5(g::text) FROM generate_series(1, $1) g`,
      [n],
    );
    await c.query(`INSERT INTO groups (name, description) SELECT 'group' || g, E'line1\\nline2 ünïcødé' FROM generate_series(1, 5) g`);
    await c.query(
      `INSERT INTO memberships (user_id, group_id) SELECT u.id, g.id FROM users u CROSS JOIN LATERAL (SELECT id FROM groups ORDER BY name LIMIT 2) g WHERE u.username <> 'admin'`,
    );
  } finally {
    await c.end();
  }
}

/** Row counts and a content digest per table, read directly (what a restore must reproduce). */
export async function fingerprint(pgc: PgConnectionConfig, database: string): Promise<Record<string, string>> {
  const c = new pg.Client({ ...pgc, database });
  await c.connect();
  try {
    const tables = (
      await c.query<{ t: string }>(
        `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
      )
    ).rows.map((r) => r.t);
    const out: Record<string, string> = {};
    for (const t of tables) {
      const r = await c.query<{ n: string; h: string | null }>(
        `SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS h FROM ${t} x`,
      );
      out[t] = `${r.rows[0]!.n}:${r.rows[0]!.h ?? ''}`;
    }
    return out;
  } finally {
    await c.end();
  }
}
