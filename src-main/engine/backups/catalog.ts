import crypto from 'node:crypto';
import pg from 'pg';
import type { BackupSchedule, BackupSummary } from '../../../src-shared/contract/backups';
import { pgError, pgSslOptions } from '../../adapters/postgres';
import type { Sqlite } from '../../adapters/sqlite';
import type { PgAdminConfig } from '../core/cluster-runtime';
import { manifestBytes, type Manifest } from './manifest';
import { CONTROL_DATABASE } from '../core/control-database';

/**
 * The catalog index in the cluster's `gatehouse_control` database: one row per backup
 * (what the manifest says, plus the latest verification), so every console of the
 * cluster sees the same list. The manifests in storage stay the truth (a rescan rebuilds
 * the index from them); the local cache only mirrors the index for offline reading.
 */
/** The cluster's shared database, the one the audit log lives in (engine/audit/shared-log.ts). */
export { CONTROL_DATABASE };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS backup_catalog (
  cluster_id text NOT NULL,
  id text NOT NULL,
  tenant text NOT NULL,
  created_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  reason text NOT NULL,
  actor text NOT NULL,
  note text,
  stored_bytes bigint NOT NULL,
  rows bigint NOT NULL,
  tables int NOT NULL,
  schema_version int NOT NULL,
  postgres_version text NOT NULL,
  manifest_sha256 text NOT NULL,
  imported boolean NOT NULL DEFAULT false,
  verify_state text NOT NULL DEFAULT 'never',
  verify_at timestamptz,
  verify_by text,
  verify_message text,
  verify_ms int,
  indexed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cluster_id, id)
);
CREATE INDEX IF NOT EXISTS backup_catalog_tenant ON backup_catalog (cluster_id, tenant, created_at DESC);
CREATE TABLE IF NOT EXISTS backup_verifications (
  cluster_id text NOT NULL,
  backup_id text NOT NULL,
  at timestamptz NOT NULL,
  outcome text NOT NULL,
  by text NOT NULL,
  message text,
  duration_ms int,
  PRIMARY KEY (cluster_id, backup_id, at)
);
CREATE TABLE IF NOT EXISTS backup_cluster_keys (
  cluster_id text PRIMARY KEY,
  recipient text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL
);
CREATE TABLE IF NOT EXISTS backup_schedules (
  cluster_id text NOT NULL,
  scope text NOT NULL,
  enabled boolean NOT NULL,
  cron text NOT NULL,
  retention jsonb NOT NULL,
  verify boolean NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL,
  last_run_at timestamptz,
  last_outcome text,
  PRIMARY KEY (cluster_id, scope)
);
`;

interface CatalogRow {
  id: string;
  tenant: string;
  cluster_id: string;
  created_at: Date;
  finished_at: Date;
  reason: string;
  actor: string;
  note: string | null;
  stored_bytes: string;
  rows: string;
  tables: number;
  schema_version: number;
  postgres_version: string;
  manifest_sha256: string;
  imported: boolean;
  verify_state: string;
  verify_at: Date | null;
  verify_by: string | null;
  verify_message: string | null;
  verify_ms: number | null;
}

const toSummary = (r: CatalogRow): BackupSummary => ({
  id: r.id,
  tenant: r.tenant,
  clusterId: r.cluster_id,
  createdAt: r.created_at.toISOString(),
  finishedAt: r.finished_at.toISOString(),
  reason: r.reason as BackupSummary['reason'],
  actor: r.actor,
  note: r.note,
  storedBytes: Number(r.stored_bytes),
  rows: Number(r.rows),
  tables: r.tables,
  schemaVersion: r.schema_version,
  postgresVersion: r.postgres_version,
  manifestSha256: r.manifest_sha256,
  imported: r.imported,
  verification: {
    state: r.verify_state as BackupSummary['verification']['state'],
    at: r.verify_at?.toISOString() ?? null,
    by: r.verify_by,
    message: r.verify_message,
    durationMs: r.verify_ms,
  },
});

export const summaryOf = (m: Manifest, imported = false): BackupSummary => ({
  id: m.id,
  tenant: m.tenant.slug,
  clusterId: m.cluster.id,
  createdAt: m.createdAt,
  finishedAt: m.finishedAt,
  reason: m.takenBy.reason,
  actor: m.takenBy.actor,
  note: m.takenBy.note,
  storedBytes: m.totals.storedBytes,
  rows: m.totals.rows,
  tables: m.tables.length,
  schemaVersion: m.schemaVersion,
  postgresVersion: m.postgres.serverVersion,
  imported,
  manifestSha256: crypto.createHash('sha256').update(manifestBytes(m)).digest('hex'),
  verification: { state: 'never', at: null, by: null, message: null, durationMs: null },
});

export interface ScheduleRow extends BackupSchedule {
  updatedAt: string;
  updatedBy: string;
  lastRunAt: string | null;
  lastOutcome: string | null;
}

export const catalogCacheMigration = `
  CREATE TABLE backups_cache (cluster_id TEXT NOT NULL, id TEXT NOT NULL, tenant TEXT NOT NULL, created_at TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (cluster_id, id));
  CREATE INDEX backups_cache_tenant ON backups_cache (cluster_id, tenant, created_at);
  CREATE TABLE backups_cache_sync (cluster_id TEXT PRIMARY KEY, synced_at TEXT NOT NULL);
`;

/** One cluster's index: a small pool on its gatehouse_control database (admin connection). */
export class CatalogIndex {
  private pool: pg.Pool | null = null;
  private ready: Promise<void> | null = null;

  constructor(
    private readonly admin: PgAdminConfig,
    readonly clusterId: string,
    private readonly cache: Sqlite,
  ) {}

  private async ensure(): Promise<pg.Pool> {
    this.ready ??= (async () => {
      const bootstrap = new pg.Client({ ...this.conn(this.admin.database) });
      bootstrap.on('error', () => undefined);
      try {
        await bootstrap.connect();
        const exists = await bootstrap.query('SELECT 1 FROM pg_database WHERE datname = $1', [CONTROL_DATABASE]);
        if (exists.rowCount === 0)
          await bootstrap.query(`CREATE DATABASE ${CONTROL_DATABASE}`).catch((e: { code?: string }) => {
            if (e.code !== '42P04' && e.code !== '23505') throw e; // another console created it meanwhile
          });
      } finally {
        await bootstrap.end().catch(() => undefined);
      }
      this.pool = new pg.Pool({ ...this.conn(CONTROL_DATABASE), max: 3, idleTimeoutMillis: 10_000 });
      this.pool.on('error', () => undefined);
      const c = await this.pool.connect();
      try {
        // Serialised: two consoles creating the tables at once would race on CREATE … IF NOT EXISTS.
        await c.query('SELECT pg_advisory_lock(7263915100)');
        await c.query(SCHEMA);
      } finally {
        await c.query('SELECT pg_advisory_unlock(7263915100)').catch(() => undefined);
        c.release();
      }
    })().catch((error: unknown) => {
      this.ready = null;
      throw pgError(error, 'opening the backup catalog in gatehouse_control', { host: this.admin.host, port: this.admin.port });
    });
    await this.ready;
    return this.pool!;
  }

  private conn(database: string): pg.ClientConfig {
    const a = this.admin;
    return {
      host: a.host,
      port: a.port,
      user: a.user,
      password: a.password,
      database,
      ssl: pgSslOptions(a.ssl, a.host),
      connectionTimeoutMillis: 5_000,
      query_timeout: 30_000,
      application_name: 'gatehouse-backups',
    };
  }

  private async q<R extends pg.QueryResultRow>(sql: string, params: unknown[], doing: string): Promise<R[]> {
    const pool = await this.ensure();
    try {
      return (await pool.query<R>(sql, params)).rows;
    } catch (error) {
      throw pgError(error, doing, { host: this.admin.host, port: this.admin.port });
    }
  }

  async add(s: BackupSummary): Promise<void> {
    await this.q(
      `INSERT INTO backup_catalog (cluster_id, id, tenant, created_at, finished_at, reason, actor, note, stored_bytes, rows, tables, schema_version, postgres_version, manifest_sha256, imported)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
       ON CONFLICT (cluster_id, id) DO UPDATE SET manifest_sha256 = EXCLUDED.manifest_sha256, stored_bytes = EXCLUDED.stored_bytes`,
      [
        this.clusterId,
        s.id,
        s.tenant,
        s.createdAt,
        s.finishedAt,
        s.reason,
        s.actor,
        s.note,
        s.storedBytes,
        s.rows,
        s.tables,
        s.schemaVersion,
        s.postgresVersion,
        s.manifestSha256,
        s.imported,
      ],
      'adding a backup to the catalog',
    );
    this.mirror([s]);
  }

  async recordVerification(
    id: string,
    v: { at: string; outcome: 'passed' | 'failed'; by: string; message: string | null; durationMs: number },
  ): Promise<BackupSummary | null> {
    await this.q(
      `INSERT INTO backup_verifications (cluster_id, backup_id, at, outcome, by, message, duration_ms) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING`,
      [this.clusterId, id, v.at, v.outcome, v.by, v.message, v.durationMs],
      'recording a verification',
    );
    const rows = await this.q<CatalogRow>(
      `UPDATE backup_catalog SET verify_state = $3, verify_at = $4, verify_by = $5, verify_message = $6, verify_ms = $7
        WHERE cluster_id = $1 AND id = $2 AND (verify_at IS NULL OR verify_at <= $4) RETURNING *`,
      [this.clusterId, id, v.outcome, v.at, v.by, v.message, v.durationMs],
      'recording a verification',
    );
    const s = rows[0] ? toSummary(rows[0]) : await this.get(id);
    if (s) this.mirror([s]);
    return s;
  }

  async get(id: string): Promise<BackupSummary | null> {
    const rows = await this.q<CatalogRow>(
      'SELECT * FROM backup_catalog WHERE cluster_id = $1 AND id = $2',
      [this.clusterId, id],
      'reading the backup catalog',
    );
    return rows[0] ? toSummary(rows[0]) : null;
  }

  async forTenant(tenant: string): Promise<BackupSummary[]> {
    const rows = await this.q<CatalogRow>(
      'SELECT * FROM backup_catalog WHERE cluster_id = $1 AND tenant = $2 ORDER BY created_at DESC, id DESC',
      [this.clusterId, tenant],
      'reading the backup catalog',
    );
    const list = rows.map(toSummary);
    this.replaceTenantMirror(tenant, list);
    return list;
  }

  async all(): Promise<BackupSummary[]> {
    const rows = await this.q<CatalogRow>(
      'SELECT * FROM backup_catalog WHERE cluster_id = $1 ORDER BY tenant, created_at DESC, id DESC',
      [this.clusterId],
      'reading the backup catalog',
    );
    const list = rows.map(toSummary);
    this.replaceMirror(list);
    return list;
  }

  async remove(id: string): Promise<void> {
    await this.q(
      'DELETE FROM backup_verifications WHERE cluster_id = $1 AND backup_id = $2',
      [this.clusterId, id],
      'removing a backup from the catalog',
    );
    await this.q(
      'DELETE FROM backup_catalog WHERE cluster_id = $1 AND id = $2',
      [this.clusterId, id],
      'removing a backup from the catalog',
    );
    this.cache.prepare('DELETE FROM backups_cache WHERE cluster_id = ? AND id = ?').run(this.clusterId, id);
  }

  // ---- the cluster's published backup recipient (so a second console knows to import the key)

  async publishedRecipient(): Promise<string | null> {
    const rows = await this.q<{ recipient: string }>(
      'SELECT recipient FROM backup_cluster_keys WHERE cluster_id = $1',
      [this.clusterId],
      'reading the cluster backup key',
    );
    return rows[0]?.recipient ?? null;
  }

  /** Publishes the recipient unless another is already there; returns the one that is. */
  async publishRecipient(recipient: string, by: string): Promise<string> {
    await this.q(
      'INSERT INTO backup_cluster_keys (cluster_id, recipient, created_by) VALUES ($1, $2, $3) ON CONFLICT (cluster_id) DO NOTHING',
      [this.clusterId, recipient, by],
      'publishing the cluster backup key',
    );
    return (await this.publishedRecipient())!;
  }

  async replaceRecipient(recipient: string, by: string): Promise<void> {
    await this.q(
      `INSERT INTO backup_cluster_keys (cluster_id, recipient, created_by) VALUES ($1, $2, $3)
       ON CONFLICT (cluster_id) DO UPDATE SET recipient = EXCLUDED.recipient, created_by = EXCLUDED.created_by, created_at = now()`,
      [this.clusterId, recipient, by],
      'replacing the cluster backup key',
    );
  }

  // ---- schedules

  async schedules(): Promise<ScheduleRow[]> {
    const rows = await this.q<{
      scope: string;
      enabled: boolean;
      cron: string;
      retention: BackupSchedule['retention'];
      verify: boolean;
      updated_at: Date;
      updated_by: string;
      last_run_at: Date | null;
      last_outcome: string | null;
    }>('SELECT * FROM backup_schedules WHERE cluster_id = $1 ORDER BY scope', [this.clusterId], 'reading backup schedules');
    return rows.map((r) => ({
      scope: r.scope,
      enabled: r.enabled,
      cron: r.cron,
      retention: r.retention,
      verify: r.verify,
      updatedAt: r.updated_at.toISOString(),
      updatedBy: r.updated_by,
      lastRunAt: r.last_run_at?.toISOString() ?? null,
      lastOutcome: r.last_outcome,
    }));
  }

  async putSchedule(s: BackupSchedule, by: string): Promise<void> {
    await this.q(
      `INSERT INTO backup_schedules (cluster_id, scope, enabled, cron, retention, verify, updated_by) VALUES ($1,$2,$3,$4,$5,$6,$7)
       ON CONFLICT (cluster_id, scope) DO UPDATE SET enabled = EXCLUDED.enabled, cron = EXCLUDED.cron, retention = EXCLUDED.retention, verify = EXCLUDED.verify, updated_by = EXCLUDED.updated_by, updated_at = now()`,
      [this.clusterId, s.scope, s.enabled, s.cron, JSON.stringify(s.retention), s.verify, by],
      'saving a backup schedule',
    );
  }

  async removeSchedule(scope: string): Promise<boolean> {
    const rows = await this.q(
      'DELETE FROM backup_schedules WHERE cluster_id = $1 AND scope = $2 RETURNING scope',
      [this.clusterId, scope],
      'removing a backup schedule',
    );
    return rows.length > 0;
  }

  /**
   * Claims a scheduled run: only one console (or the CronJob) wins a given slot, because
   * the UPDATE is conditioned on the previous run time.
   */
  async claimRun(scope: string, slot: string, previous: string | null): Promise<boolean> {
    const rows = await this.q(
      `UPDATE backup_schedules SET last_run_at = $3, last_outcome = 'running'
        WHERE cluster_id = $1 AND scope = $2 AND (last_run_at IS NULL OR last_run_at < $3) AND last_run_at IS NOT DISTINCT FROM $4 RETURNING scope`,
      [this.clusterId, scope, slot, previous],
      'claiming a scheduled backup',
    );
    return rows.length > 0;
  }

  async finishRun(scope: string, outcome: string): Promise<void> {
    await this.q(
      'UPDATE backup_schedules SET last_outcome = $3 WHERE cluster_id = $1 AND scope = $2',
      [this.clusterId, scope, outcome.slice(0, 500)],
      'recording a scheduled backup',
    );
  }

  // ---- local mirror (cache.sqlite): read when gatehouse_control cannot be reached

  private mirror(list: BackupSummary[]): void {
    const ins = this.cache.prepare(
      'INSERT INTO backups_cache (cluster_id, id, tenant, created_at, json) VALUES (?,?,?,?,?) ON CONFLICT(cluster_id, id) DO UPDATE SET json = excluded.json',
    );
    this.cache.transaction(() => {
      for (const s of list) ins.run(this.clusterId, s.id, s.tenant, s.createdAt, JSON.stringify(s));
    })();
  }

  private replaceTenantMirror(tenant: string, list: BackupSummary[]): void {
    this.cache.transaction(() => {
      this.cache.prepare('DELETE FROM backups_cache WHERE cluster_id = ? AND tenant = ?').run(this.clusterId, tenant);
      this.mirror(list);
    })();
  }

  private replaceMirror(list: BackupSummary[]): void {
    this.cache.transaction(() => {
      this.cache.prepare('DELETE FROM backups_cache WHERE cluster_id = ?').run(this.clusterId);
      this.mirror(list);
      this.cache
        .prepare(
          'INSERT INTO backups_cache_sync (cluster_id, synced_at) VALUES (?, ?) ON CONFLICT(cluster_id) DO UPDATE SET synced_at = excluded.synced_at',
        )
        .run(this.clusterId, new Date().toISOString());
    })();
  }

  cached(tenant?: string): BackupSummary[] {
    const rows = (
      tenant
        ? this.cache
            .prepare('SELECT json FROM backups_cache WHERE cluster_id = ? AND tenant = ? ORDER BY created_at DESC, id DESC')
            .all(this.clusterId, tenant)
        : this.cache
            .prepare('SELECT json FROM backups_cache WHERE cluster_id = ? ORDER BY tenant, created_at DESC, id DESC')
            .all(this.clusterId)
    ) as { json: string }[];
    return rows.map((r) => JSON.parse(r.json) as BackupSummary);
  }

  async close(): Promise<void> {
    await this.pool?.end().catch(() => undefined);
    this.pool = null;
    this.ready = null;
  }
}
