import type { CacheMigration } from '../../adapters/sqlite';

/** Audit local schema (ids 600–649): the outbox and trust anchors are durable state, the review copy is cache. */
export const auditMigrations: CacheMigration[] = [
  {
    id: 600,
    name: 'audit outbox',
    store: 'state',
    sql: `
      CREATE TABLE audit_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL, created_at TEXT NOT NULL);
      CREATE TABLE audit_outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  },
  {
    id: 601,
    name: 'audit review copy with full-text search',
    store: 'cache',
    sql: `
      CREATE TABLE audit_entries (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        tenant TEXT,
        outcome TEXT NOT NULL,
        hash TEXT NOT NULL,
        entry TEXT NOT NULL,
        UNIQUE (source, seq)
      );
      CREATE INDEX audit_entries_source ON audit_entries (source, id);
      CREATE INDEX audit_entries_at ON audit_entries (source, at);
      CREATE INDEX audit_entries_actor ON audit_entries (source, actor, id);
      CREATE INDEX audit_entries_action ON audit_entries (source, action, id);
      CREATE INDEX audit_entries_outcome ON audit_entries (source, outcome, id);
      CREATE INDEX audit_entries_tenant ON audit_entries (source, tenant, id);
      CREATE INDEX audit_entries_target ON audit_entries (source, target, id);
      CREATE VIRTUAL TABLE audit_fts USING fts5(body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
      CREATE TABLE audit_local_checkpoints (source TEXT NOT NULL, size INTEGER NOT NULL, note TEXT NOT NULL, PRIMARY KEY (source, size, note));
      CREATE TABLE audit_sources (source TEXT PRIMARY KEY, info TEXT NOT NULL);`,
  },
  {
    id: 602,
    name: 'audit trust anchors and witness state',
    store: 'state',
    sql: `
      CREATE TABLE audit_trusted_signers (name TEXT PRIMARY KEY, vkey TEXT NOT NULL, since TEXT NOT NULL, own INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE audit_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  },
];
