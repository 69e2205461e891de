import type { Sqlite } from '../../adapters/sqlite';

/** Small durable key/value state of the audit capability (last verification, sync times, seen signers, settings). */
export class AuditStateStore {
  constructor(private readonly db: Sqlite) {}

  get<T>(key: string): T | null {
    const s = this.db.prepare('SELECT value FROM audit_state WHERE key = ?').pluck().get(key) as string | undefined;
    return s === undefined ? null : (JSON.parse(s) as T);
  }

  set(key: string, value: unknown): void {
    this.db
      .prepare('INSERT INTO audit_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      .run(key, JSON.stringify(value));
  }
}
