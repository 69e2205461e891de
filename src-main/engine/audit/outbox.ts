import { randomUUID } from 'node:crypto';
import type { Sqlite } from '../../adapters/sqlite';
import type { AuditIntent, AuditRecord, AuditRecorder } from './recorder';
import type { PendingRecord } from './shared-log';

export interface OutboxOptions {
  /**
   * Sends one ordered batch of one cluster's records to that cluster's shared log; throws
   * when it cannot now (unreachable, held by an alarm): the batch stays queued.
   */
  deliver: ((cluster: string, batch: PendingRecord[]) => Promise<void>) | null;
  /** Records that belong to no cluster (workstation actions) go here, synchronously, never into a cluster's log. */
  workstation?: (record: AuditRecord) => void;
  batchSize?: number;
  /** First retry delay; doubles up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  onError?: (cluster: string, error: unknown) => void;
  onChange?: () => void;
}

/** One cluster's queue state: its own single flight, backoff and last error, so a dead cluster never blocks another. */
class Lane {
  flushing: Promise<number> | null = null;
  timer: NodeJS.Timeout | null = null;
  failures = 0;
  lastError: string | null = null;
  constructor(readonly cluster: string) {}
}

/**
 * The pipeline's recorder. Every record is written to SQLite synchronously (before the
 * command's answer leaves the engine) with the cluster it belongs to, then flushed in order
 * into that cluster's shared log, and only that one, in the background, whichever cluster is
 * selected. When a cluster cannot take them its rows wait and are retried with exponential
 * backoff, per cluster. A row is deleted only after its cluster's log has it.
 */
export class AuditOutbox implements AuditRecorder {
  private readonly epoch: string;
  private readonly lanes = new Map<string, Lane>();
  private closed = false;

  constructor(
    private readonly db: Sqlite,
    private options: OutboxOptions,
  ) {
    // Refs must stay unique even if ids restart in a new file: a new file gets a new epoch.
    const row = db.prepare("SELECT value FROM audit_outbox_meta WHERE key = 'epoch'").pluck().get() as string | undefined;
    this.epoch = row ?? randomUUID();
    if (!row) db.prepare("INSERT INTO audit_outbox_meta (key, value) VALUES ('epoch', ?)").run(this.epoch);
  }

  setDelivery(deliver: OutboxOptions['deliver']): void {
    this.options = { ...this.options, deliver };
    if (deliver) for (const cluster of this.clustersPending()) this.kick(cluster);
  }

  /**
   * The record of intent, durable before the mutation runs (SQLite, synchronous). If this
   * throws (disk full, read-only file, locked database) the pipeline does not run the command.
   */
  intend(entry: AuditIntent): string {
    const id = randomUUID();
    this.db
      .prepare('INSERT INTO audit_intents (id, cluster, record, created_at) VALUES (?, ?, ?, ?)')
      .run(id, entry.cluster, JSON.stringify(entry), new Date().toISOString());
    return id;
  }

  /** Intents not yet followed by their outcome (the console is running them, or stopped while it did). */
  openIntents(): { id: string; record: AuditIntent; createdAt: string }[] {
    return (
      this.db.prepare('SELECT id, record, created_at AS createdAt FROM audit_intents ORDER BY created_at').all() as {
        id: string;
        record: string;
        createdAt: string;
      }[]
    ).map((r) => ({ id: r.id, record: JSON.parse(r.record) as AuditIntent, createdAt: r.createdAt }));
  }

  /**
   * At start-up: every intent still open is an action the console was running when it
   * stopped. Its outcome is unknown, and it is recorded as such, not dropped.
   */
  async recordInterrupted(): Promise<number> {
    const open = this.openIntents();
    for (const i of open) {
      await this.record(
        {
          ...i.record,
          outcome: 'failure',
          errorCode: 'INTERRUPTED',
          after: { note: 'the console stopped while this action ran; its result is unknown — check Operations and the target' },
        },
        i.id,
      );
    }
    return open.length;
  }

  async record(entry: AuditRecord, intentId?: string): Promise<void> {
    const closeIntent = this.db.prepare('DELETE FROM audit_intents WHERE id = ?');
    if (entry.cluster === null) {
      if (!this.options.workstation) throw new Error('no workstation log to record a workstation action in');
      this.options.workstation(entry);
      if (intentId) closeIntent.run(intentId);
      this.options.onChange?.();
      return;
    }
    const insert = this.db.prepare('INSERT INTO audit_outbox (cluster, record, created_at) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      insert.run(entry.cluster, JSON.stringify(entry), new Date().toISOString());
      if (intentId) closeIntent.run(intentId);
    })();
    this.options.onChange?.();
    const lane = this.lane(entry.cluster);
    if (lane.failures === 0) this.schedule(lane, 0);
  }

  private lane(cluster: string): Lane {
    let lane = this.lanes.get(cluster);
    if (!lane) this.lanes.set(cluster, (lane = new Lane(cluster)));
    return lane;
  }

  private clustersPending(): string[] {
    return this.db.prepare('SELECT DISTINCT cluster FROM audit_outbox').pluck().all() as string[];
  }

  /** Pending records of one cluster, or of all. */
  pending(cluster?: string): { count: number; oldestAt: string | null } {
    return (
      cluster === undefined
        ? this.db.prepare('SELECT count(*) AS count, min(created_at) AS oldestAt FROM audit_outbox').get()
        : this.db.prepare('SELECT count(*) AS count, min(created_at) AS oldestAt FROM audit_outbox WHERE cluster = ?').get(cluster)
    ) as { count: number; oldestAt: string | null };
  }

  /** Every cluster with records waiting. */
  queues(): { cluster: string; pending: number; oldestAt: string | null; lastError: string | null }[] {
    const rows = this.db
      .prepare('SELECT cluster, count(*) AS pending, min(created_at) AS oldestAt FROM audit_outbox GROUP BY cluster ORDER BY min(id)')
      .all() as { cluster: string; pending: number; oldestAt: string | null }[];
    return rows.map((r) => ({ ...r, lastError: this.lanes.get(r.cluster)?.lastError ?? null }));
  }

  lastError(cluster: string): string | null {
    return this.lanes.get(cluster)?.lastError ?? null;
  }

  /** Flushes one cluster's queue now (single flight per cluster), or every cluster's independently. */
  flush(cluster?: string): Promise<number> {
    if (cluster === undefined) {
      return Promise.allSettled(this.clustersPending().map((c) => this.flush(c))).then((all) =>
        all.reduce((n, r) => n + (r.status === 'fulfilled' ? r.value : 0), 0),
      );
    }
    const lane = this.lane(cluster);
    lane.flushing ??= this.drain(lane).finally(() => {
      lane.flushing = null;
      // A record may have landed after the last read of this drain.
      if (!this.closed && lane.failures === 0 && this.pending(cluster).count > 0) this.schedule(lane, 0);
    });
    return lane.flushing;
  }

  /** Something changed for a cluster (reachable again, an alarm resolved): retry it now, backoff reset. */
  kick(cluster?: string): void {
    for (const c of cluster === undefined ? this.clustersPending() : [cluster]) {
      const lane = this.lane(c);
      lane.failures = 0;
      this.schedule(lane, 0);
    }
  }

  private async drain(lane: Lane): Promise<number> {
    const deliver = this.options.deliver;
    if (!deliver) return 0;
    const size = this.options.batchSize ?? 500;
    const read = this.db.prepare('SELECT id, record FROM audit_outbox WHERE cluster = ? ORDER BY id LIMIT ?');
    const remove = this.db.prepare('DELETE FROM audit_outbox WHERE cluster = ? AND id <= ?');
    let total = 0;
    for (;;) {
      const rows = read.all(lane.cluster, size) as { id: number; record: string }[];
      if (!rows.length) break;
      const batch = rows.map((r) => ({ ref: `${this.epoch}:${r.id}`, record: JSON.parse(r.record) as AuditRecord }));
      try {
        await deliver(lane.cluster, batch);
      } catch (error) {
        lane.failures += 1;
        lane.lastError = error instanceof Error ? error.message : String(error);
        this.options.onError?.(lane.cluster, error);
        const base = this.options.baseDelayMs ?? 500;
        const delay = Math.min(this.options.maxDelayMs ?? 30_000, base * 2 ** Math.min(lane.failures - 1, 16));
        this.schedule(lane, delay * (0.8 + Math.random() * 0.4));
        this.options.onChange?.();
        throw error;
      }
      remove.run(lane.cluster, rows[rows.length - 1]!.id);
      total += rows.length;
      lane.failures = 0;
      lane.lastError = null;
      this.options.onChange?.();
    }
    return total;
  }

  private schedule(lane: Lane, delayMs: number): void {
    if (this.closed || !this.options.deliver) return;
    if (lane.timer) {
      if (delayMs > 0) return; // a retry is already planned
      clearTimeout(lane.timer);
    }
    lane.timer = setTimeout(() => {
      lane.timer = null;
      this.flush(lane.cluster).then(
        () => undefined,
        () => undefined, // drain() already planned the retry
      );
    }, delayMs);
    lane.timer.unref();
  }

  close(): void {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.timer = null;
    }
  }
}
