import type { CacheMigration, Sqlite } from '../../adapters/sqlite';
import type { AuditRecord, AuditRecorder } from './recorder';

export const localAuditMigrations: CacheMigration[] = [
  {
    id: 200,
    name: 'audit local journal',
    sql: `CREATE TABLE audit_local (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, entry TEXT NOT NULL)`,
  },
];

/** Writes every audit record to the local cache first, so none is lost before the shared log takes it. */
export class LocalAuditRecorder implements AuditRecorder {
  constructor(private readonly db: Sqlite) {}

  async record(entry: AuditRecord): Promise<void> {
    this.db.prepare('INSERT INTO audit_local (at, entry) VALUES (?, ?)').run(entry.at, JSON.stringify(entry));
  }

  recent(limit = 100): AuditRecord[] {
    return (this.db.prepare('SELECT entry FROM audit_local ORDER BY seq DESC LIMIT ?').pluck().all(limit) as string[]).map(
      (s) => JSON.parse(s) as AuditRecord,
    );
  }
}
