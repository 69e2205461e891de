import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { pgSslOptions } from '../../adapters/postgres';
import type { PgAdminConfig } from '../core/cluster-runtime';
import { ChainVerifier, chainEntry, GENESIS_HASH } from './chain';
import type { StoredEntry, StoredRow } from './local-copy';
import type { AuditRecord } from './recorder';
import { CONTROL_DATABASE } from '../core/control-database';

export { CONTROL_DATABASE };
/** The role the console writes the log as: SELECT + INSERT only. */
export const CONSOLE_ROLE = 'gatehouse_console';
/** One lock for all consoles: appends are serialized so the chain never forks. */
const APPEND_LOCK_KEY = 7_263_915_002;

export interface PendingRecord {
  /** `<outbox epoch>:<outbox id>`: lets a retried flush skip what already landed. */
  ref: string;
  record: AuditRecord;
}

/** Every table of the log; each is append-only (a trigger refuses UPDATE, DELETE and TRUNCATE, even to the owner). */
export const LOG_TABLES = [
  'audit_meta',
  'audit_log',
  'audit_checkpoints',
  'audit_signers',
  'audit_endorsements',
  'audit_ddl_events',
] as const;

const REFUSE_BODY = `
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END `;

/**
 * Objects whose schema changes are written to audit_ddl_events by an event trigger: disabling
 * an append-only trigger (ALTER TABLE … DISABLE TRIGGER), dropping or replacing one, dropping a table.
 */
const WATCHED = `ARRAY['%audit\\_log%', '%audit\\_meta%', '%audit\\_checkpoints%', '%audit\\_signers%', '%audit\\_endorsements%', '%audit\\_ddl\\_events%', '%audit\\_refuse\\_change%', '%audit\\_note\\_%']`;

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
CREATE TABLE IF NOT EXISTS audit_endorsements (
  vkey text NOT NULL,
  endorser text NOT NULL,
  note text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (vkey, endorser)
);
CREATE TABLE IF NOT EXISTS audit_ddl_events (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  role text NOT NULL DEFAULT session_user,
  tag text NOT NULL,
  object text
);
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$${REFUSE_BODY}$$;
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY[${LOG_TABLES.map((t) => `'${t}'`).join(', ')}] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = t || '_append_only') THEN
      EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()', t || '_append_only', t);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = t || '_no_truncate') THEN
      EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()', t || '_no_truncate', t);
    END IF;
  END LOOP;
END $$;
REVOKE ALL ON ${LOG_TABLES.join(', ')} FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON ${LOG_TABLES.join(', ')} FROM ${CONSOLE_ROLE};
GRANT SELECT ON audit_meta, audit_ddl_events TO ${CONSOLE_ROLE};
GRANT SELECT, INSERT ON audit_log, audit_checkpoints, audit_signers, audit_endorsements TO ${CONSOLE_ROLE};
`;

/** Event triggers need a superuser; without one the log still works and verify says the DDL trace is absent. */
const DDL_TRACE = `
CREATE OR REPLACE FUNCTION audit_note_ddl() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    IF r.object_identity LIKE ANY (${WATCHED}) THEN
      INSERT INTO audit_ddl_events (tag, object, role) VALUES (r.command_tag, r.object_identity, session_user);
    END IF;
  END LOOP;
END $$;
CREATE OR REPLACE FUNCTION audit_note_drop() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
    IF r.object_identity LIKE ANY (${WATCHED}) THEN
      INSERT INTO audit_ddl_events (tag, object, role) VALUES ('DROP ' || upper(r.object_type), r.object_identity, session_user);
    END IF;
  END LOOP;
END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'gatehouse_audit_ddl') THEN
    CREATE EVENT TRIGGER gatehouse_audit_ddl ON ddl_command_end EXECUTE FUNCTION audit_note_ddl();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'gatehouse_audit_drop') THEN
    CREATE EVENT TRIGGER gatehouse_audit_drop ON sql_drop EXECUTE FUNCTION audit_note_drop();
  END IF;
END $$;
`;

/** Everything the setup creates is there and intact: then open() runs no DDL at all (no noise in the DDL trace). */
const SET_UP = `
SELECT (SELECT count(*) FROM pg_class WHERE relname = ANY($1) AND relkind = 'r') = ${LOG_TABLES.length}
   AND (SELECT count(*) FROM pg_trigger WHERE tgname = ANY($2)) = ${LOG_TABLES.length * 2}
   AND EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'audit_refuse_change')
   AND has_table_privilege('${CONSOLE_ROLE}', 'audit_endorsements', 'INSERT') AS ready`;

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

const triggerNames = LOG_TABLES.flatMap((t) => [`${t}_append_only`, `${t}_no_truncate`]);

export interface AppendResult {
  /** The entries this batch appended. */
  appended: StoredEntry[];
  /** Entries other consoles appended between the witnessed head and this batch (checked to chain). */
  between: StoredEntry[];
  headSeq: number;
  headHash: string;
  /** Set when the log is not an extension of the witnessed head: nothing was appended. */
  conflict: boolean;
  /** The log id in audit_meta at append time (another than the one opened: nothing was appended). */
  logId: string | null;
}

export interface Protection {
  /** Append-only triggers that are missing or not enabled, as "table: trigger". */
  missingTriggers: string[];
  functionIntact: boolean;
  /** null: the DDL trace does not exist (the admin role could not create event triggers). */
  ddlTrace: { enabled: boolean; events: number; maxId: number } | null;
}

export interface DdlEvent {
  id: number;
  at: string;
  role: string;
  tag: string;
  object: string | null;
}

/**
 * The shared audit log in `gatehouse_control` (or another database name: tests) on the
 * platform's PostgreSQL. Created through the admin connection; every read and append
 * afterwards runs as the restricted console role, which can neither UPDATE, DELETE nor TRUNCATE it.
 */
export class SharedAuditLog {
  private pool: pg.Pool | null = null;
  logId = '';
  readonly database: string;

  constructor(
    private readonly admin: PgAdminConfig,
    options: { database?: string } = {},
  ) {
    this.database = options.database ?? CONTROL_DATABASE;
  }

  get origin(): string {
    return `gatehouse/audit/${this.logId}`;
  }

  /** Where this log lives, for messages ("the shared log on db.example:5432/gatehouse_control"). */
  get where(): string {
    return `database ${this.admin.host}:${this.admin.port}/${this.database}`;
  }

  async open(): Promise<void> {
    await this.ensureDatabase();
    const setup = new pg.Client(clientConfig(this.admin, this.database));
    setup.on('error', () => undefined); // a server dying mid-setup fails the awaited query instead
    await setup.connect();
    try {
      await setup.query('SELECT pg_advisory_lock($1)', [APPEND_LOCK_KEY]);
      const ready = (await setup.query<{ ready: boolean }>(SET_UP, [LOG_TABLES, triggerNames])).rows[0]?.ready === true;
      if (!ready) {
        await setup.query(`DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${CONSOLE_ROLE}') THEN CREATE ROLE ${CONSOLE_ROLE} NOLOGIN; END IF;
        END $$`);
        // The admin must be able to SET ROLE to it (needed on PostgreSQL 16+ for CREATEROLE admins).
        await setup.query(`GRANT ${CONSOLE_ROLE} TO CURRENT_USER`).catch(() => undefined);
        await setup.query('BEGIN');
        await setup.query(SCHEMA);
        await setup.query('COMMIT');
        await setup.query('BEGIN');
        await setup.query(DDL_TRACE).then(
          () => setup.query('COMMIT'),
          () => setup.query('ROLLBACK'), // not a superuser: no DDL trace (verify says so)
        );
      }
      await setup.query('INSERT INTO audit_meta (id, log_id) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [randomUUID()]);
      this.logId = (await setup.query<{ log_id: string }>('SELECT log_id FROM audit_meta WHERE id = 1')).rows[0]!.log_id;
      await setup.query('SELECT pg_advisory_unlock($1)', [APPEND_LOCK_KEY]);
    } finally {
      await setup.end().catch(() => undefined);
    }
    // Every pooled session starts as the restricted role (a startup parameter, so no query can run before it).
    const pool = new pg.Pool({
      ...clientConfig(this.admin, this.database),
      options: `-c role=${CONSOLE_ROLE}`,
      max: 3,
      idleTimeoutMillis: 10_000,
    });
    // A client losing its server (idle in the pool, or checked out between two queries) must not
    // crash the process; the awaited query fails instead and the flush is retried.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    this.pool = pool;
  }

  private async ensureDatabase(): Promise<void> {
    const c = new pg.Client(clientConfig(this.admin, this.admin.database));
    c.on('error', () => undefined);
    await c.connect();
    try {
      const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [this.database]);
      if (!rowCount) {
        await c.query(`CREATE DATABASE ${this.database}`).catch((e: { code?: string }) => {
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

  /**
   * Appends in order under the cross-console lock; records already present (by ref) are
   * skipped. With a witnessed head, the log must still hold it and every entry after it
   * must chain from it, else nothing is appended (`conflict`): this console's records are
   * never chained onto a log that was rewritten or truncated under it.
   */
  async append(batch: PendingRecord[], witnessed: { seq: number; head: string } | null): Promise<AppendResult> {
    const client = await this.db.connect();
    try {
      await client.query('BEGIN');
      // The outbox deletes a record once COMMIT returns: the commit must be durable by then,
      // even on a server running with synchronous_commit=off (a crash would lose acknowledged entries).
      await client.query('SET LOCAL synchronous_commit = on');
      await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK_KEY]);
      const meta = await client.query<{ log_id: string }>('SELECT log_id FROM audit_meta WHERE id = 1');
      const logId = meta.rows[0]?.log_id ?? null;
      const head = await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
      let seq = head.rows[0] ? Number(head.rows[0].seq) : 0;
      let prev = head.rows[0]?.hash ?? GENESIS_HASH;
      const between: StoredEntry[] = [];
      const extendsWitness =
        !witnessed || witnessed.seq === 0 || (seq >= witnessed.seq && (await this.extends(client, witnessed, seq, between)));
      if (logId !== this.logId || !extendsWitness) {
        await client.query('ROLLBACK');
        return { appended: [], between: [], headSeq: seq, headHash: prev, conflict: !extendsWitness, logId };
      }
      const done = await client.query<{ origin_ref: string }>('SELECT origin_ref FROM audit_log WHERE origin_ref = ANY($1)', [
        batch.map((b) => b.ref),
      ]);
      const already = new Set(done.rows.map((r) => r.origin_ref));
      const appended: StoredEntry[] = [];
      const cols: (string | number | null)[][] = [[], [], [], [], [], [], [], [], [], []];
      for (const { ref, record } of batch) {
        if (already.has(ref)) continue;
        seq += 1;
        const { entry, canonical } = chainEntry(record, seq, prev);
        prev = entry.hash;
        const { hash: _h, ...fields } = entry;
        appended.push({ seq, hash: entry.hash, canonical, fields });
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
      return { appended, between, headSeq: seq, headHash: prev, conflict: false, logId };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * The witnessed entry is still there with the witnessed hash, and (when few enough to
   * read inside the lock) every entry after it chains from it; those are returned in `out`.
   */
  private async extends(
    client: pg.PoolClient,
    witnessed: { seq: number; head: string },
    headSeq: number,
    out: StoredEntry[],
  ): Promise<boolean> {
    const at = await client.query<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = $1', [witnessed.seq]);
    if (at.rows[0]?.hash !== witnessed.head) return false;
    if (headSeq - witnessed.seq > 5000) return true; // the next sync walks them; the lock is not held for a long read
    const rows = await client.query<[string, string, string]>({
      text: 'SELECT seq, hash, entry FROM audit_log WHERE seq > $1 ORDER BY seq',
      values: [witnessed.seq],
      rowMode: 'array',
    });
    const v = new ChainVerifier({ seq: witnessed.seq + 1, prevHash: witnessed.head });
    for (const [s, hash, canonical] of rows.rows) {
      if (!v.pushStored(Number(s), hash, canonical)) return false;
      out.push({ seq: Number(s), hash, canonical });
    }
    return v.nextSeq === headSeq + 1;
  }

  /** The log id audit_meta holds now (null: the row is gone). */
  async currentLogId(): Promise<string | null> {
    const r = await this.db.query<{ log_id: string }>('SELECT log_id FROM audit_meta WHERE id = 1');
    return r.rows[0]?.log_id ?? null;
  }

  /** The time written inside an entry (hashed, unlike the `at` column, which is only an index). */
  async entryTime(seq: number): Promise<string | null> {
    const r = await this.db.query<{ entry: string }>('SELECT entry FROM audit_log WHERE seq = $1', [seq]);
    if (!r.rows[0]) return null;
    try {
      return (JSON.parse(r.rows[0].entry) as { at?: string }).at ?? null;
    } catch {
      return null;
    }
  }

  async head(): Promise<{ seq: number; hash: string }> {
    const r = await this.db.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    return r.rows[0] ? { seq: Number(r.rows[0].seq), hash: r.rows[0].hash } : { seq: 0, hash: GENESIS_HASH };
  }

  /** Stored rows with seq > afterSeq in seq order (keyset paging, so a million rows stream in batches). */
  async readAfter(afterSeq: number, limit: number): Promise<{ rows: StoredRow[]; lastSeq: number }> {
    const r = await this.db.query<[string, string, string]>({
      text: 'SELECT seq, hash, entry FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2',
      values: [afterSeq, limit],
      rowMode: 'array',
    });
    const rows = r.rows.map((x): StoredRow => [Number(x[0]), x[1], x[2]]);
    // Page on the column, not on the entry's own seq: a tampered entry must not derail the walk.
    return { rows, lastSeq: rows.length ? rows[rows.length - 1]![0] : afterSeq };
  }

  async *batches(batch = 5000): AsyncGenerator<StoredRow[]> {
    let after = 0;
    for (;;) {
      const { rows, lastSeq } = await this.readAfter(after, batch);
      if (!rows.length) return;
      after = lastSeq;
      yield rows;
    }
  }

  async hashes(from: number, to: number): Promise<Map<number, string>> {
    const r = await this.db.query<[string, string]>({
      text: 'SELECT seq, hash FROM audit_log WHERE seq BETWEEN $1 AND $2',
      values: [from, to],
      rowMode: 'array',
    });
    return new Map(r.rows.map((x) => [Number(x[0]), x[1]]));
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

  async lastCheckpointSize(signer?: string): Promise<number> {
    const r = signer
      ? await this.db.query<{ m: string | null }>('SELECT max(size) AS m FROM audit_checkpoints WHERE signer = $1', [signer])
      : await this.db.query<{ m: string | null }>('SELECT max(size) AS m FROM audit_checkpoints');
    return Number(r.rows[0]?.m ?? 0);
  }

  async registerSigner(name: string, vkey: string): Promise<void> {
    await this.db.query('INSERT INTO audit_signers (name, vkey) VALUES ($1, $2) ON CONFLICT DO NOTHING', [name, vkey]);
  }

  async signers(): Promise<{ name: string; vkey: string }[]> {
    return (await this.db.query<{ name: string; vkey: string }>('SELECT name, vkey FROM audit_signers ORDER BY first_seen')).rows;
  }

  async publishEndorsements(endorser: string, notes: { vkey: string; note: string }[]): Promise<void> {
    for (const n of notes) {
      await this.db.query('INSERT INTO audit_endorsements (vkey, endorser, note) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        n.vkey,
        endorser,
        n.note,
      ]);
    }
  }

  async endorsements(): Promise<string[]> {
    return (await this.db.query<{ note: string }>('SELECT note FROM audit_endorsements ORDER BY created_at')).rows.map((r) => r.note);
  }

  /** The append-only protection as it is now: triggers present and enabled, function intact, DDL trace on. */
  async protection(): Promise<Protection> {
    const triggers = await this.db.query<{ tgname: string; tgenabled: string; relname: string }>(
      `SELECT t.tgname, t.tgenabled, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE c.relname = ANY($1) AND NOT t.tgisinternal`,
      [LOG_TABLES],
    );
    const present = new Map(triggers.rows.map((r) => [r.tgname, r]));
    const missingTriggers = triggerNames
      .filter((n) => present.get(n)?.tgenabled !== 'O')
      .map((n) => `${n.replace(/_(append_only|no_truncate)$/, '')}: ${n}`);
    const fn = await this.db.query<{ prosrc: string }>("SELECT prosrc FROM pg_proc WHERE proname = 'audit_refuse_change'");
    const functionIntact = fn.rows.length === 1 && fn.rows[0]!.prosrc.trim() === REFUSE_BODY.trim();
    const evt = await this.db.query<{ evtname: string; evtenabled: string }>(
      "SELECT evtname, evtenabled FROM pg_event_trigger WHERE evtname IN ('gatehouse_audit_ddl', 'gatehouse_audit_drop')",
    );
    const trace = await this.db.query<{ n: string; m: string | null }>('SELECT count(*) AS n, max(id) AS m FROM audit_ddl_events');
    const events = Number(trace.rows[0]?.n ?? 0);
    return {
      missingTriggers,
      functionIntact,
      ddlTrace:
        evt.rows.length === 0 && events === 0
          ? null
          : { enabled: evt.rows.length === 2 && evt.rows.every((r) => r.evtenabled === 'O'), events, maxId: Number(trace.rows[0]?.m ?? 0) },
    };
  }

  async ddlEvents(afterId: number): Promise<DdlEvent[]> {
    const r = await this.db.query<{ id: string; at: Date; role: string; tag: string; object: string | null }>(
      'SELECT id, at, role, tag, object FROM audit_ddl_events WHERE id > $1 ORDER BY id LIMIT 100',
      [afterId],
    );
    return r.rows.map((x) => ({ id: Number(x.id), at: new Date(x.at).toISOString(), role: x.role, tag: x.tag, object: x.object }));
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.end().catch(() => undefined);
  }
}
