import { randomUUID } from 'node:crypto';
import type { Sqlite } from '../../adapters/sqlite';
import type { AuditRecord, AuditRecorder } from './recorder';
import type { PendingRecord } from './shared-log';

export interface OutboxOptions {
  /** Sends one ordered batch to the shared log; throws when it cannot (the batch stays queued). */
  deliver: ((batch: PendingRecord[]) => Promise<void>) | null;
  batchSize?: number;
  /** First retry delay; doubles up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  onError?: (error: unknown) => void;
  onChange?: () => void;
}

/**
 * The pipeline's recorder. Every record is written to SQLite synchronously
 * (before the command's answer leaves the engine), then flushed in order to the
 * shared log in the background; when that fails the rows wait and are retried
 * with exponential backoff. A row is deleted only after the shared log has it.
 */
export class AuditOutbox implements AuditRecorder {
  private readonly epoch: string;
  private flushing: Promise<number> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  lastError: string | null = null;

  constructor(
    private readonly db: Sqlite,
    private options: OutboxOptions,
  ) {
    // Refs must stay unique even if the cache is deleted and ids restart: a new file gets a new epoch.
    const row = db.prepare("SELECT value FROM audit_outbox_meta WHERE key = 'epoch'").pluck().get() as string | undefined;
    this.epoch = row ?? randomUUID();
    if (!row) db.prepare("INSERT INTO audit_outbox_meta (key, value) VALUES ('epoch', ?)").run(this.epoch);
  }

  setDelivery(deliver: OutboxOptions['deliver']): void {
    this.options = { ...this.options, deliver };
    this.failures = 0;
    if (deliver) this.schedule(0);
  }

  async record(entry: AuditRecord): Promise<void> {
    this.db.prepare('INSERT INTO audit_outbox (record, created_at) VALUES (?, ?)').run(JSON.stringify(entry), new Date().toISOString());
    this.options.onChange?.();
    if (this.failures === 0) this.schedule(0);
  }

  pending(): { count: number; oldestAt: string | null } {
    const r = this.db.prepare('SELECT count(*) AS count, min(created_at) AS oldestAt FROM audit_outbox').get() as {
      count: number;
      oldestAt: string | null;
    };
    return r;
  }

  /** Flushes everything now (single flight); resolves with how many records were delivered. */
  flush(): Promise<number> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = null;
      // A record may have landed after the last read of this drain.
      if (!this.closed && this.failures === 0 && this.pending().count > 0) this.schedule(0);
    });
    return this.flushing;
  }

  private async drain(): Promise<number> {
    const deliver = this.options.deliver;
    if (!deliver) return 0;
    const size = this.options.batchSize ?? 500;
    const read = this.db.prepare('SELECT id, record FROM audit_outbox ORDER BY id LIMIT ?');
    const remove = this.db.prepare('DELETE FROM audit_outbox WHERE id <= ?');
    let total = 0;
    for (;;) {
      const rows = read.all(size) as { id: number; record: string }[];
      if (!rows.length) break;
      const batch = rows.map((r) => ({ ref: `${this.epoch}:${r.id}`, record: JSON.parse(r.record) as AuditRecord }));
      try {
        await deliver(batch);
      } catch (error) {
        this.failures += 1;
        this.lastError = error instanceof Error ? error.message : String(error);
        this.options.onError?.(error);
        const base = this.options.baseDelayMs ?? 500;
        const delay = Math.min(this.options.maxDelayMs ?? 30_000, base * 2 ** Math.min(this.failures - 1, 16));
        this.schedule(delay * (0.8 + Math.random() * 0.4));
        throw error;
      }
      remove.run(rows[rows.length - 1]!.id);
      total += rows.length;
      this.failures = 0;
      this.lastError = null;
      this.options.onChange?.();
    }
    return total;
  }

  private schedule(delayMs: number): void {
    if (this.closed || !this.options.deliver) return;
    if (this.timer) {
      if (delayMs > 0) return; // a retry is already planned
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().then(
        () => undefined,
        () => undefined, // drain() already planned the retry
      );
    }, delayMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
