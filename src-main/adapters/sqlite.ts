import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

export type Sqlite = Database.Database;

/** A versioned schema step for the local cache. Capabilities append theirs; ids never change once shipped. */
export interface CacheMigration {
  id: number;
  name: string;
  sql: string;
}

export interface OpenCacheResult {
  db: Sqlite;
  /** Set when an unreadable file was moved aside and a new one created. */
  warning: string | null;
}

function applyMigrations(db: Sqlite, migrations: CacheMigration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS cache_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const applied = new Set(db.prepare('SELECT id FROM cache_migrations').pluck().all() as number[]);
  const ordered = [...migrations].sort((a, b) => a.id - b.id);
  for (const m of ordered) {
    if (applied.has(m.id)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO cache_migrations (id, name, applied_at) VALUES (?, ?, ?)').run(m.id, m.name, new Date().toISOString());
    })();
  }
}

function openAndCheck(file: string, migrations: CacheMigration[]): Sqlite {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
    applyMigrations(db, migrations);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Opens the local cache. The cache is never the truth, so an unreadable or corrupt
 * file is moved aside (kept for inspection) and rebuilt instead of refusing to start.
 */
export function openCache(file: string, migrations: CacheMigration[]): OpenCacheResult {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  try {
    return { db: openAndCheck(file, migrations), warning: null };
  } catch (error) {
    const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    for (const suffix of ['', '-wal', '-shm']) {
      if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, aside + suffix);
    }
    const db = openAndCheck(file, migrations);
    const reason = error instanceof Error ? error.message : String(error);
    return {
      db,
      warning: `The local cache ${file} could not be read (${reason}); it was moved to ${aside} and rebuilt from the cluster.`,
    };
  }
}
