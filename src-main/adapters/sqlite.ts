import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

export type Sqlite = Database.Database;

/**
 * A versioned schema step of local state. `store` says which file it lives in:
 * - 'state': durable (journal, outbox, trust anchors, witness, accounts, settings) — never reset silently;
 * - 'cache': rebuildable from the cluster — deleting it loses nothing.
 * Capabilities append theirs; ids never change once shipped.
 */
export interface CacheMigration {
  id: number;
  name: string;
  store: 'state' | 'cache';
  sql: string;
}
export type LocalMigration = CacheMigration;

export const STATE_FILE = 'state.sqlite';
export const CACHE_FILE = 'cache.sqlite';
/** The automatic copy of the durable state, refreshed at every clean start and close. */
export const STATE_BACKUP_FILE = 'state.sqlite.backup';

export interface OpenLocalResult {
  /** One connection: durable state is `main`, the cache is attached as `cache`; unqualified table names reach both. */
  db: Sqlite;
  /** Things the operator must be told at start (a cache rebuilt, a legacy file moved aside). */
  warnings: string[];
}

/** The durable-state file cannot be used: the console must not start on an empty one. */
export class LocalStateError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
    readonly recovery: string[],
  ) {
    super(
      `The console's durable local state ${file} cannot be read (${reason}). It holds the operation journal, the audit outbox, trusted signers and local accounts, so the console will not start on an empty one.\nTo recover:\n${recovery.map((r) => `  - ${r}`).join('\n')}`,
    );
    this.name = 'LocalStateError';
  }
}

function applyMigrations(db: Sqlite, migrations: CacheMigration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS local_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const applied = new Set(db.prepare('SELECT id FROM local_migrations').pluck().all() as number[]);
  const ordered = [...migrations].sort((a, b) => a.id - b.id);
  for (const m of ordered) {
    if (applied.has(m.id)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO local_migrations (id, name, applied_at) VALUES (?, ?, ?)').run(m.id, m.name, new Date().toISOString());
    })();
  }
}

function pragmas(db: Sqlite): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
}

function openChecked(file: string, migrations: CacheMigration[]): Sqlite {
  const db = new Database(file);
  try {
    pragmas(db);
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
    applyMigrations(db, migrations);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');
const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

function moveAside(file: string, aside: string): void {
  for (const suffix of ['', '-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, aside + suffix);
  }
}

/** Owner-only: the files hold the journal, the outbox and account hashes. */
function restrict(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      fs.chmodSync(file + suffix, 0o600);
    } catch {
      // -wal/-shm exist only while open; SQLite gives them the main file's mode
    }
  }
}

export interface OpenLocalOptions {
  /** Start fresh: the current durable file is moved aside (kept), and a new one created. The caller audits it. */
  resetState?: boolean;
}

/**
 * Opens the two local files. A corrupt cache is moved aside and rebuilt (it is only
 * a cache); a corrupt durable-state file stops the start with LocalStateError, which
 * names the file and the recovery commands.
 */
export function openLocalStore(dataDir: string, migrations: CacheMigration[], options: OpenLocalOptions = {}): OpenLocalResult {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const statePath = path.join(dataDir, STATE_FILE);
  const cachePath = path.join(dataDir, CACHE_FILE);
  const backupPath = path.join(dataDir, STATE_BACKUP_FILE);
  const warnings: string[] = [];

  // 0.1 kept everything in cache.sqlite: never delete it, and say where it went.
  if (!fs.existsSync(statePath) && fs.existsSync(cachePath) && hasTable(cachePath, 'settings')) {
    const aside = `${cachePath}.legacy-0.1`;
    moveAside(cachePath, aside);
    warnings.push(
      `A local file from Gatehouse 0.1 (${cachePath}) held durable state in the cache; it was kept as ${aside}. Nothing was deleted.`,
    );
  }

  if (options.resetState && fs.existsSync(statePath)) {
    const aside = `${statePath}.reset-${stamp()}`;
    moveAside(statePath, aside);
    warnings.push(`--reset-local-state: the durable state was moved to ${aside} and a new one started.`);
  }

  let state: Sqlite;
  try {
    state = openChecked(
      statePath,
      migrations.filter((m) => m.store === 'state'),
    );
  } catch (error) {
    const recovery = [
      fs.existsSync(backupPath)
        ? `restore the automatic copy taken at the last clean start: gatehouse restore-local-state --data-dir ${dataDir}`
        : 'no automatic copy exists yet; restore the file from your workstation backup if you have one',
      `or start with empty durable state (the file is kept, the reset is audited): gatehouse serve --data-dir ${dataDir} --reset-local-state`,
    ];
    throw new LocalStateError(statePath, reasonOf(error), recovery);
  }

  const cacheMigrations = migrations.filter((m) => m.store === 'cache');
  try {
    openChecked(cachePath, cacheMigrations).close();
  } catch (error) {
    const aside = `${cachePath}.corrupt-${stamp()}`;
    moveAside(cachePath, aside);
    openChecked(cachePath, cacheMigrations).close();
    warnings.push(
      `The local cache ${cachePath} could not be read (${reasonOf(error)}); it was moved to ${aside} and rebuilt from the cluster.`,
    );
  }
  state.prepare('ATTACH DATABASE ? AS cache').run(cachePath);
  state.pragma('cache.journal_mode = WAL');
  state.pragma('cache.synchronous = NORMAL');
  restrict(statePath);
  restrict(cachePath);
  backupState(state, backupPath);
  return { db: state, warnings };
}

function hasTable(file: string, table: string): boolean {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
    } finally {
      db.close();
    }
  } catch {
    return false;
  }
}

/** Writes a consistent copy of the durable state next to it (atomic rename), owner-only. */
export function backupState(db: Sqlite, backupPath: string): void {
  const tmp = `${backupPath}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  db.prepare('VACUUM main INTO ?').run(tmp);
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, backupPath);
}

/**
 * `gatehouse restore-local-state`: puts the automatic copy back. The unreadable file
 * is kept beside it; returns where it went.
 */
export function restoreStateFromBackup(dataDir: string): { restoredFrom: string; keptAs: string | null } {
  const statePath = path.join(dataDir, STATE_FILE);
  const backupPath = path.join(dataDir, STATE_BACKUP_FILE);
  if (!fs.existsSync(backupPath)) throw new Error(`There is no automatic copy at ${backupPath}.`);
  const check = new Database(backupPath, { readonly: true, fileMustExist: true });
  try {
    const ok = check.pragma('quick_check', { simple: true });
    if (ok !== 'ok') throw new Error(`The automatic copy ${backupPath} is damaged too (${String(ok)}).`);
  } finally {
    check.close();
  }
  let keptAs: string | null = null;
  if (fs.existsSync(statePath)) {
    keptAs = `${statePath}.unreadable-${stamp()}`;
    moveAside(statePath, keptAs);
  }
  fs.copyFileSync(backupPath, statePath);
  fs.chmodSync(statePath, 0o600);
  return { restoredFrom: backupPath, keptAs };
}

/** For tests and tools that need one throwaway connection with every table (no files kept apart). */
export function openMemoryStore(migrations: CacheMigration[]): Sqlite {
  const db = new Database(':memory:');
  applyMigrations(db, migrations);
  return db;
}
