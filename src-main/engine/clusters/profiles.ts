import type { CacheMigration, Sqlite } from '../../adapters/sqlite';
import { ContractError } from '../../../src-shared/contract';
import type { ClusterProfile, DatabaseConnection } from '../../../src-shared/contract/clusters';
import type { PgAdminConfig } from '../core/cluster-runtime';
import { pgAdminPasswordKey, type SecretStoreManager } from '../secrets-store';

/** Cache ids 300–399 belong to the clusters capability. */
export const clustersMigrations: CacheMigration[] = [
  {
    id: 300,
    name: 'clusters: added kubeconfigs, profiles, last sync',
    store: 'state',
    sql: `
      CREATE TABLE cluster_kubeconfigs (path TEXT PRIMARY KEY, added_at TEXT NOT NULL);
      CREATE TABLE cluster_profiles (
        cluster_id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        database_json TEXT,            -- host/port/user/database/ssl; the password is in the secret store
        has_password INTEGER NOT NULL DEFAULT 0,
        expected_offline INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE cluster_sync (cluster_id TEXT PRIMARY KEY, last_sync_at TEXT NOT NULL);
    `,
  },
  {
    id: 301,
    name: 'clusters: dashboard cache',
    store: 'cache',
    sql: `CREATE TABLE cluster_dashboards (cluster_id TEXT PRIMARY KEY, json TEXT NOT NULL, fetched_at TEXT NOT NULL)`,
  },
];

export const DEFAULT_PLATFORM_NAMESPACE = 'iam-system';

interface ProfileRow {
  cluster_id: string;
  namespace: string;
  database_json: string | null;
  has_password: number;
  expected_offline: number;
  updated_at: string;
}

export interface ProfileInput {
  clusterId: string;
  namespace: string;
  database: (DatabaseConnection & { password?: string | undefined }) | null;
  expectedOffline: boolean;
}

/** Per-cluster settings of this workstation. The database password goes to the secret store, never here. */
export class ProfileStore {
  constructor(
    private readonly db: Sqlite,
    private readonly secrets: SecretStoreManager,
  ) {}

  get(clusterId: string): ClusterProfile {
    const row = this.db.prepare('SELECT * FROM cluster_profiles WHERE cluster_id = ?').get(clusterId) as ProfileRow | undefined;
    if (!row) {
      return {
        clusterId,
        namespace: DEFAULT_PLATFORM_NAMESPACE,
        database: null,
        hasPassword: false,
        expectedOffline: false,
        updatedAt: null,
      };
    }
    return {
      clusterId,
      namespace: row.namespace,
      database: row.database_json ? (JSON.parse(row.database_json) as DatabaseConnection) : null,
      hasPassword: row.has_password === 1,
      expectedOffline: row.expected_offline === 1,
      updatedAt: row.updated_at,
    };
  }

  async save(input: ProfileInput): Promise<ClusterProfile> {
    const before = this.get(input.clusterId);
    const key = pgAdminPasswordKey(input.clusterId);
    let hasPassword = before.hasPassword;
    // The secret store first: when it is locked, nothing changes and the operator is told to unlock.
    if (input.database?.password !== undefined) {
      await (await this.secrets.store()).set(key, input.database.password);
      hasPassword = true;
    } else if (input.database === null && before.hasPassword) {
      await (await this.secrets.store()).delete(key);
      hasPassword = false;
    }
    const database = input.database
      ? {
          host: input.database.host,
          port: input.database.port,
          user: input.database.user,
          database: input.database.database,
          ssl: input.database.ssl,
        }
      : null;
    this.db
      .prepare(
        `INSERT INTO cluster_profiles (cluster_id, namespace, database_json, has_password, expected_offline, updated_at)
         VALUES (@id, @ns, @db, @pw, @off, @at)
         ON CONFLICT(cluster_id) DO UPDATE SET namespace = excluded.namespace, database_json = excluded.database_json,
           has_password = excluded.has_password, expected_offline = excluded.expected_offline, updated_at = excluded.updated_at`,
      )
      .run({
        id: input.clusterId,
        ns: input.namespace,
        db: database ? JSON.stringify(database) : null,
        pw: hasPassword ? 1 : 0,
        off: input.expectedOffline ? 1 : 0,
        at: new Date().toISOString(),
      });
    return this.get(input.clusterId);
  }

  /** The admin connection with its password, for the capabilities that talk to PostgreSQL. */
  async pgAdmin(clusterId: string): Promise<PgAdminConfig | null> {
    const profile = this.get(clusterId);
    if (!profile.database) return null;
    const password = await (await this.secrets.store()).get(pgAdminPasswordKey(clusterId));
    if (password === null) {
      throw new ContractError(
        'VALIDATION',
        `No database admin password is stored for this cluster. Enter it in the cluster profile (Clusters → Profile) and save.`,
        { reason: 'pg-password-missing' },
      );
    }
    return { ...profile.database, password };
  }

  lastSync(clusterId: string): string | null {
    const row = this.db.prepare('SELECT last_sync_at FROM cluster_sync WHERE cluster_id = ?').get(clusterId) as
      { last_sync_at: string } | undefined;
    return row?.last_sync_at ?? null;
  }

  recordSync(clusterId: string, at: string): void {
    this.db
      .prepare(
        'INSERT INTO cluster_sync (cluster_id, last_sync_at) VALUES (?, ?) ON CONFLICT(cluster_id) DO UPDATE SET last_sync_at = excluded.last_sync_at',
      )
      .run(clusterId, at);
  }

  addedKubeconfigs(): string[] {
    return this.db.prepare('SELECT path FROM cluster_kubeconfigs ORDER BY added_at, path').pluck().all() as string[];
  }

  addKubeconfig(path: string): void {
    this.db.prepare('INSERT OR IGNORE INTO cluster_kubeconfigs (path, added_at) VALUES (?, ?)').run(path, new Date().toISOString());
  }

  removeKubeconfig(path: string): boolean {
    return this.db.prepare('DELETE FROM cluster_kubeconfigs WHERE path = ?').run(path).changes > 0;
  }
}
