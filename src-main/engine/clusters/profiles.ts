import { X509Certificate } from 'node:crypto';
import type { CacheMigration, Sqlite } from '../../adapters/sqlite';
import { ContractError } from '../../../src-shared/contract';
import type { ClusterProfile, DatabaseConnection } from '../../../src-shared/contract/clusters';
import type { PgAdminConfig } from '../core/cluster-runtime';
import { pgAdminPasswordKey, type SecretStoreManager } from '../secrets-store';
import type { KubeconfigTrust, TrustRequest } from './kubeconfig';

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
        database_json TEXT,            -- host/port/user/database/sslMode/caPem; the password is in the secret store
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
  {
    // 302 is the cluster directory's (directory.ts)
    id: 310,
    name: 'clusters: admin approvals of what added kubeconfigs run or read',
    store: 'state',
    sql: `
      CREATE TABLE cluster_kubeconfig_approvals (
        source_file TEXT NOT NULL,
        context_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        fingerprint TEXT NOT NULL,      -- of the exact command/path, context and cluster entry approved
        detail TEXT NOT NULL,           -- what the admin was shown
        approved_by TEXT NOT NULL,
        approved_at TEXT NOT NULL,
        PRIMARY KEY (source_file, context_name, kind)
      );
    `,
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

/** What the contract's defaults fill in; engine callers (tests, tools) may leave TLS out. */
type DatabaseInput = Omit<DatabaseConnection, 'sslMode' | 'caPem'> & Partial<Pick<DatabaseConnection, 'sslMode' | 'caPem'>>;

export interface ProfileInput {
  clusterId: string;
  namespace: string;
  database: (DatabaseInput & { password?: string | undefined; allowInsecureTls?: boolean | undefined }) | null;
  expectedOffline: boolean;
}

/** Profiles saved before TLS modes existed said only `ssl: true | false`. */
function readDatabase(json: string): DatabaseConnection {
  const stored = JSON.parse(json) as Partial<DatabaseConnection> & { ssl?: boolean };
  const { ssl, ...rest } = stored;
  return {
    host: rest.host ?? '',
    port: rest.port ?? 5432,
    user: rest.user ?? '',
    database: rest.database ?? '',
    sslMode: rest.sslMode ?? (ssl ? 'verify-full' : 'disable'),
    caPem: rest.caPem ?? null,
  };
}

/** Where the admin password goes and how the server is checked: any change means the password must be given again. */
const TARGET_FIELDS = ['host', 'port', 'user', 'database', 'sslMode', 'caPem'] as const;

function checkCa(pem: string | null): string | null {
  if (pem === null || pem.trim() === '') return null;
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const invalid = (reason: string) =>
    new ContractError(
      'VALIDATION',
      `The CA certificate is not usable: ${reason}. Paste the PEM of the CA that signed the database server's certificate.`,
      {
        fields: { 'database.caPem': reason },
      },
    );
  if (blocks.length === 0) throw invalid('no PEM certificate found');
  for (const block of blocks) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch {
      throw invalid('a certificate block does not parse');
    }
    if (!cert.ca) throw invalid(`"${cert.subject.replace(/\n/g, ', ')}" is not a CA certificate (basicConstraints CA:FALSE)`);
  }
  return blocks.join('\n') + '\n';
}

/** Per-cluster settings of this workstation. The database password goes to the secret store, never here. */
export class ProfileStore implements KubeconfigTrust {
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
      database: row.database_json ? readDatabase(row.database_json) : null,
      hasPassword: row.has_password === 1,
      expectedOffline: row.expected_offline === 1,
      updatedAt: row.updated_at,
    };
  }

  /**
   * Saves a profile. When the database target or its TLS changes and no password comes with
   * it, the stored password is deleted (`passwordDropped`): a password is only ever sent to
   * the server, and in the way, it was entered for.
   */
  async save(input: ProfileInput): Promise<ClusterProfile & { passwordDropped: boolean }> {
    const before = this.get(input.clusterId);
    const key = pgAdminPasswordKey(input.clusterId);
    const database: DatabaseConnection | null = input.database
      ? {
          host: input.database.host,
          port: input.database.port,
          user: input.database.user,
          database: input.database.database,
          sslMode: input.database.sslMode ?? 'verify-full',
          caPem: checkCa(input.database.caPem ?? null),
        }
      : null;
    if (database && database.sslMode !== 'verify-full' && input.database?.allowInsecureTls !== true) {
      throw new ContractError(
        'VALIDATION',
        `TLS mode "${database.sslMode}" ${database.sslMode === 'disable' ? 'sends the admin password and all data unencrypted' : 'does not verify the database server'}; confirm that choice explicitly (allowInsecureTls), or use verify-full with the server's CA.`,
        { fields: { 'database.allowInsecureTls': 'required for require or disable' } },
      );
    }
    const retargeted = before.database !== null && database !== null && TARGET_FIELDS.some((f) => before.database![f] !== database[f]);
    let hasPassword = before.hasPassword;
    let passwordDropped = false;
    // The secret store first: when it is locked, nothing changes and the operator is told to unlock.
    if (input.database?.password !== undefined) {
      await (await this.secrets.store()).set(key, input.database.password);
      hasPassword = true;
    } else if ((database === null || retargeted) && before.hasPassword) {
      await (await this.secrets.store()).delete(key);
      hasPassword = false;
      passwordDropped = retargeted;
    }
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
    return { ...this.get(input.clusterId), passwordDropped };
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
    const { sslMode, caPem, ...target } = profile.database;
    return { ...target, password, ssl: sslMode === 'disable' ? false : { mode: sslMode, ...(caPem ? { ca: caPem } : {}) } };
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
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM cluster_kubeconfig_approvals WHERE source_file = ?').run(path);
      return this.db.prepare('DELETE FROM cluster_kubeconfigs WHERE path = ?').run(path).changes > 0;
    })();
  }

  /** KubeconfigTrust: exactly this request approved? An approval of the same slot for something else is revoked. */
  approval(request: TrustRequest): { approvedBy: string; approvedAt: string } | null {
    const row = this.db
      .prepare(
        'SELECT fingerprint, approved_by, approved_at FROM cluster_kubeconfig_approvals WHERE source_file = ? AND context_name = ? AND kind = ?',
      )
      .get(request.sourceFile, request.contextName, request.kind) as
      { fingerprint: string; approved_by: string; approved_at: string } | undefined;
    if (!row) return null;
    if (row.fingerprint !== request.id) {
      // What was approved changed (another command, arguments, path or server): the approval ends here.
      this.db
        .prepare('DELETE FROM cluster_kubeconfig_approvals WHERE source_file = ? AND context_name = ? AND kind = ?')
        .run(request.sourceFile, request.contextName, request.kind);
      return null;
    }
    return { approvedBy: row.approved_by, approvedAt: row.approved_at };
  }

  approve(request: TrustRequest, by: string): void {
    this.db
      .prepare(
        `INSERT INTO cluster_kubeconfig_approvals (source_file, context_name, kind, fingerprint, detail, approved_by, approved_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (source_file, context_name, kind) DO UPDATE SET fingerprint = excluded.fingerprint, detail = excluded.detail,
           approved_by = excluded.approved_by, approved_at = excluded.approved_at`,
      )
      .run(request.sourceFile, request.contextName, request.kind, request.id, request.detail, by, new Date().toISOString());
  }

  revoke(request: TrustRequest): boolean {
    return (
      this.db
        .prepare('DELETE FROM cluster_kubeconfig_approvals WHERE source_file = ? AND context_name = ? AND kind = ? AND fingerprint = ?')
        .run(request.sourceFile, request.contextName, request.kind, request.id).changes > 0
    );
  }
}
