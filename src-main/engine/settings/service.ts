import type { Sqlite, CacheMigration } from '../../adapters/sqlite';

export const settingsMigrations: CacheMigration[] = [
  { id: 100, name: 'settings', store: 'state', sql: `CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)` },
];

/** Local, per-workstation settings (theme, selected cluster…), stored as JSON values. */
export class SettingsService {
  constructor(private readonly db: Sqlite) {}

  get<T>(key: string, fallback: T): T {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    if (!row) return fallback;
    try {
      return JSON.parse(row.value) as T;
    } catch {
      return fallback;
    }
  }

  set(key: string, value: unknown): void {
    this.db
      .prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
      .run(key, JSON.stringify(value));
  }
}
