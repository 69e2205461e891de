import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { AuditEntry } from '../../../src-shared/contract/audit';
import { pgSslOptions } from '../../adapters/postgres';
import type { PgAdminConfig } from '../core/cluster-runtime';
import { chainEntry, GENESIS_HASH } from './chain';
import type { AuditRecord } from './recorder';

export const CONTROL_DATABASE = 'gatehouse_control';
/** The role the console writes the log as: SELECT + INSERT only. */
export const CONSOLE_ROLE = 'gatehouse_console';
/** One lock for all consoles: appends are serialized so the chain never forks. */
const APPEND_LOCK_KEY = 7_263_915_002;

export interface PendingRecord {
  /** `<outbox epoch>:<outbox id>`: lets a retried flush skip what already landed. */
  ref: string;
  record: AuditRecord;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_meta (
  id int PRIMARY KEY CHECK (id = 1),
  log_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS audit_log (
  seq bigint PRIMARY KEY,
  prev_hash text NOT NULL,
  hash text NOT NULL UNIQUE,
  entry text NOT NULL,
  at timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  target text,
  outcome text NOT NULL,
  origin_ref text NOT NULL UNIQUE,
  appended_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  size bigint NOT NULL,
  signer text NOT NULL,
  note text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (size, signer)
);
CREATE TABLE IF NOT EXISTS audit_signers (
  name text PRIMARY KEY,
  vkey text NOT NULL UNIQUE,
  first_seen timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['audit_log', 'audit_checkpoints', 'audit_signers'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = t || '_append_only') THEN
      EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()', t || '_append_only', t);
      EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()', t || '_no_truncate', t);
    END IF;
  END LOOP;
END $$;
REVOKE ALL ON audit_meta, audit_log, audit_checkpoints, audit_signers FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_meta, audit_log, audit_checkpoints, audit_signers FROM ${CONSOLE_ROLE};
GRANT SELECT ON audit_meta TO ${CONSOLE_ROLE};
GRANT SELECT, INSERT ON audit_log, audit_checkpoints, audit_signers TO ${CONSOLE_ROLE};
`;

function clientConfig(admin: PgAdminConfig, database: string): pg.ClientConfig {
  return {
    host: admin.host,
    port: admin.port,
    user: admin.user,
    password: admin.password,
    database,
    ssl: pgSslOptions(admin.ssl, admin.host),
    connectionTimeoutMillis: 5000,
    // A dead server must fail the flush quickly so the outbox can retry later.
    query_timeout: 30_000,
  };
}

interface LogRow {
  seq: string;
  hash: string;
  entry: string;
}
const rowToEntry = (r: LogRow): AuditEntry => ({ ...(JSON.parse(r.entry) as Omit<AuditEntry, 'hash'>), hash: r.hash });

/**
 * The shared audit log in `gatehouse_control` on the platform's PostgreSQL.
 * Created through the admin connection; every read and append afterwards runs as
 * the restricted console role, which can neither UPDATE, DELETE nor TRUNCATE it.
 */
export class SharedAuditLog {
  private pool: pg.Pool | null = null;
  logId = '';

  constructor(private readonly admin: PgAdminConfig) {}

  get origin(): string {
    return `gatehouse/audit/${this.logId}`;
  }

  async open(): Promise<void> {
    await this.ensureDatabase();
    const setup = new pg.Client(clientConfig(this.admin, CONTROL_DATABASE));
    setup.on('error', () => undefined); // a server dying mid-setup fails the awaited query instead
    await setup.connect();
    try {
      await setup.query('SELECT pg_advisory_lock($1)', [APPEND_LOCK_KEY]);
      await setup.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${CONSOLE_ROLE}') THEN CREATE ROLE ${CONSOLE_ROLE} NOLOGIN; END IF;
      END $$`);
      // The admin must be able to SET ROLE to it (needed on PostgreSQL 16+ for CREATEROLE admins).
      await setup.query(`GRANT ${CONSOLE_ROLE} TO CURRENT_USER`).catch(() => undefined);
      await setup.query(SCHEMA);
      await setup.query('INSERT INTO audit_meta (id, log_id) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [randomUUID()]);
      this.logId = (await setup.query<{ log_id: string }>('SELECT log_id FROM audit_meta WHERE id = 1')).rows[0]!.log_id;
      await setup.query('SELECT pg_advisory_unlock($1)', [APPEND_LOCK_KEY]);
    } finally {
      await setup.end().catch(() => undefined);
    }
    // Every pooled session starts as the restricted role (a startup parameter, so no query can run before it).
    const pool = new pg.Pool({
      ...clientConfig(this.admin, CONTROL_DATABASE),
      options: `-c role=${CONSOLE_ROLE}`,
      max: 3,
      idleTimeoutMillis: 10_000,
    });
    // An idle client losing its server must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    this.pool = pool;
  }

  private async ensureDatabase(): Promise<void> {
    const c = new pg.Client(clientConfig(this.admin, this.admin.database));
    c.on('error', () => undefined);
    await c.connect();
    try {
      const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [CONTROL_DATABASE]);
      if (!rowCount) {
        await c.query(`CREATE DATABASE ${CONTROL_DATABASE}`).catch((e: { code?: string }) => {
          if (e.code !== '42P04') throw e; // another console created it meanwhile
        });
      }
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  private get db(): pg.Pool {
    if (!this.pool) throw new Error('shared audit log not opened');
    return this.pool;
  }

  /** Appends in order under the cross-console lock; records already present (by ref) are skipped. */
  async append(batch: PendingRecord[]): Promise<{ appended: AuditEntry[]; headSeq: number; headHash: string }> {
    const client = await this.db.connect();
    try {
      await client.query('BEGIN');
      // The outbox deletes a record once COMMIT returns: the commit must be durable by then,
      // even on a server running with synchronous_commit=off (a crash would lose acknowledged entries).
      await client.query('SET LOCAL synchronous_commit = on');
      await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK_KEY]);
      const head = await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
      let seq = head.rows[0] ? Number(head.rows[0].seq) : 0;
      let prev = head.rows[0]?.hash ?? GENESIS_HASH;
      const done = await client.query<{ origin_ref: string }>('SELECT origin_ref FROM audit_log WHERE origin_ref = ANY($1)', [
        batch.map((b) => b.ref),
      ]);
      const already = new Set(done.rows.map((r) => r.origin_ref));
      const appended: AuditEntry[] = [];
      const cols: (string | number | null)[][] = [[], [], [], [], [], [], [], [], [], []];
      for (const { ref, record } of batch) {
        if (already.has(ref)) continue;
        seq += 1;
        const { entry, canonical } = chainEntry(record, seq, prev);
        prev = entry.hash;
        appended.push(entry);
        const values = [seq, entry.prev_hash, entry.hash, canonical, entry.at, entry.actor, entry.action, entry.target, entry.outcome, ref];
        values.forEach((v, i) => cols[i]!.push(v));
      }
      if (appended.length) {
        await client.query(
          `INSERT INTO audit_log (seq, prev_hash, hash, entry, at, actor, action, target, outcome, origin_ref)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])`,
          cols,
        );
      }
      await client.query('COMMIT');
      return { appended, headSeq: seq, headHash: prev };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async head(): Promise<{ seq: number; hash: string }> {
    const r = await this.db.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    return r.rows[0] ? { seq: Number(r.rows[0].seq), hash: r.rows[0].hash } : { seq: 0, hash: GENESIS_HASH };
  }

  /** Entries with seq > afterSeq in seq order (keyset paging, so a million rows stream in batches). */
  async readAfter(afterSeq: number, limit: number): Promise<{ entries: AuditEntry[]; lastSeq: number }> {
    const r = await this.db.query<LogRow>('SELECT seq, hash, entry FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2', [afterSeq, limit]);
    // Page on the column, not on the entry's own seq: a tampered entry must not derail the walk.
    return { entries: r.rows.map(rowToEntry), lastSeq: r.rows.length ? Number(r.rows[r.rows.length - 1]!.seq) : afterSeq };
  }

  async addCheckpoint(size: number, signer: string, note: string): Promise<void> {
    await this.db.query('INSERT INTO audit_checkpoints (size, signer, note) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
      size,
      signer,
      note,
    ]);
  }

  async checkpoints(): Promise<{ size: number; note: string }[]> {
    const r = await this.db.query<{ size: string; note: string }>('SELECT size, note FROM audit_checkpoints ORDER BY size');
    return r.rows.map((row) => ({ size: Number(row.size), note: row.note }));
  }

  async lastCheckpointSize(): Promise<number> {
    const r = await this.db.query<{ m: string | null }>('SELECT max(size) AS m FROM audit_checkpoints');
    return Number(r.rows[0]?.m ?? 0);
  }

  async registerSigner(name: string, vkey: string): Promise<void> {
    await this.db.query('INSERT INTO audit_signers (name, vkey) VALUES ($1, $2) ON CONFLICT DO NOTHING', [name, vkey]);
  }

  async signers(): Promise<{ name: string; vkey: string }[]> {
    return (await this.db.query<{ name: string; vkey: string }>('SELECT name, vkey FROM audit_signers ORDER BY first_seen')).rows;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.end().catch(() => undefined);
  }
}
