import type { CacheMigration } from '../../adapters/sqlite';

/**
 * Audit local schema (ids 600–649). Durable state: the outbox, the workstation log, the
 * witness (what this console saw of each log), enrolled signers, alarms and the copies
 * kept as evidence. Cache: the review copy of each shared log and of imported bundles.
 */
export const auditMigrations: CacheMigration[] = [
  {
    id: 600,
    name: 'audit outbox, one queue per cluster',
    store: 'state',
    sql: `
      CREATE TABLE audit_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        -- the cluster the record belongs to (kube-system namespace UID); flushed only into that cluster's log
        cluster TEXT NOT NULL,
        record TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX audit_outbox_cluster ON audit_outbox (cluster, id);
      CREATE TABLE audit_outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  },
  {
    id: 601,
    name: 'audit review copy with full-text search',
    store: 'cache',
    sql: `
      -- each source (a cluster's log, the workstation log, kept evidence, a bundle) has its own tables,
      -- audit_e_<tag> (entries by seq, with the canonical text exactly as hashed) and audit_f_<tag> (FTS5),
      -- created when the source first gets entries (local-copy.ts)
      -- fts_through: null when the full-text index is complete; else the seq it is built through
      -- (an imported bundle's index is built in the background after the import returned)
      CREATE TABLE audit_copy_sources (source TEXT PRIMARY KEY, tag TEXT NOT NULL UNIQUE, indexed INTEGER NOT NULL DEFAULT 1, fts_through INTEGER,
        -- 1 while every entry's time is at or after the previous one's (then a time range is a seq range found by two index seeks)
        at_sorted INTEGER NOT NULL DEFAULT 1);
      CREATE TABLE audit_local_checkpoints (source TEXT NOT NULL, size INTEGER NOT NULL, note TEXT NOT NULL, PRIMARY KEY (source, size, note));
      CREATE TABLE audit_sources (source TEXT PRIMARY KEY, info TEXT NOT NULL);`,
  },
  {
    id: 602,
    name: 'audit enrolled signers and settings',
    store: 'state',
    sql: `
      CREATE TABLE audit_signers (
        name TEXT PRIMARY KEY,
        vkey TEXT NOT NULL UNIQUE,
        fingerprint TEXT NOT NULL,
        -- 1: this installation's own key
        own INTEGER NOT NULL DEFAULT 0,
        enrolled_by TEXT NOT NULL,
        enrolled_at TEXT NOT NULL,
        -- this console's signed endorsement of the key, published to every shared log it reaches
        endorsement TEXT
      );
      CREATE TABLE audit_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  },
  {
    id: 603,
    name: 'audit witness, alarms and kept evidence',
    store: 'state',
    sql: `
      -- per log id: the newest head and the newest trusted checkpoint this console has seen
      CREATE TABLE audit_witness (
        log_id TEXT PRIMARY KEY,
        cluster TEXT NOT NULL,
        origin TEXT NOT NULL,
        seq INTEGER NOT NULL,
        head TEXT NOT NULL,
        checkpoint_size INTEGER,
        checkpoint_note TEXT,
        ddl_events INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
      );
      -- which log a cluster's database holds; another log_id later is an alarm, never a reset
      CREATE TABLE audit_cluster_logs (cluster TEXT PRIMARY KEY, log_id TEXT NOT NULL, bound_at TEXT NOT NULL);
      CREATE TABLE audit_alarms (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        cluster TEXT,
        log_id TEXT,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        seq INTEGER,
        details TEXT NOT NULL,
        raised_at TEXT NOT NULL,
        resolved_at TEXT,
        resolved_by TEXT,
        resolution TEXT
      );
      -- entries whose only copy is here: the workstation log, and evidence kept when a log changed under us
      CREATE TABLE audit_kept (
        source TEXT NOT NULL,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,
        canonical TEXT NOT NULL,
        PRIMARY KEY (source, seq)
      ) WITHOUT ROWID;
      CREATE TABLE audit_kept_sources (source TEXT PRIMARY KEY, info TEXT NOT NULL);`,
  },
  {
    id: 604,
    name: 'audit records of intent (fail-closed mutations)',
    store: 'state',
    sql: `
      -- written before a mutation runs and replaced by its outcome record in one transaction;
      -- a row still here at start-up is an action the console was running when it stopped
      CREATE TABLE audit_intents (
        id TEXT PRIMARY KEY,
        cluster TEXT,
        record TEXT NOT NULL,
        created_at TEXT NOT NULL
      );`,
  },
];
