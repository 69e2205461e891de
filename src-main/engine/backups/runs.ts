import { ContractError } from '../../../src-shared/contract';
import type { BackupReason, BackupRun } from '../../../src-shared/contract/backups';
import type { Sqlite } from '../../adapters/sqlite';
import type { ClusterRuntime } from '../core/cluster-runtime';

/**
 * The journal of multi-tenant backup runs (durable local state): which tenants a run covers
 * and how each ended, so a run cut short (the console quit or crashed, the machine slept)
 * can be resumed for the tenants it did not finish, instead of starting over or being lost.
 * Backups themselves are in the catalog; this only remembers the run.
 */
export const backupRunsMigration = `
  CREATE TABLE backup_runs (
    id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL, cluster_name TEXT NOT NULL, reason TEXT NOT NULL, actor TEXT NOT NULL,
    note TEXT, verify INTEGER NOT NULL, concurrency INTEGER NOT NULL, status TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE INDEX backup_runs_cluster ON backup_runs(cluster_id, created_at);
  CREATE TABLE backup_run_items (
    run_id TEXT NOT NULL REFERENCES backup_runs(id) ON DELETE CASCADE, slug TEXT NOT NULL, status TEXT NOT NULL,
    backup_id TEXT, error TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (run_id, slug));`;

export interface RunOptions {
  reason: BackupReason;
  actor: string;
  note: string | null;
  verify: boolean;
  concurrency: number;
}

interface RunRow {
  id: string;
  cluster_id: string;
  cluster_name: string;
  reason: BackupReason;
  actor: string;
  note: string | null;
  verify: number;
  concurrency: number;
  status: 'running' | 'done' | 'partial';
  created_at: string;
  updated_at: string;
}
type ItemStatus = 'pending' | 'running' | 'done' | 'failed';
interface ItemRow {
  slug: string;
  status: ItemStatus;
  backup_id: string | null;
  error: string | null;
}

/** Runs kept per cluster (older finished ones are pruned). */
const KEEP = 50;

export class BackupRuns {
  /** Runs this process is executing now: a 'running' row that is not here was interrupted. */
  private readonly active = new Set<string>();

  constructor(private readonly db: Sqlite) {}

  start(cluster: ClusterRuntime, id: string, slugs: string[], o: RunOptions): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO backup_runs (id, cluster_id, cluster_name, reason, actor, note, verify, concurrency, status, created_at, updated_at)
           VALUES (?,?,?,?,?,?,?,?,'running',?,?)`,
        )
        .run(id, cluster.clusterId, cluster.contextName, o.reason, o.actor, o.note, o.verify ? 1 : 0, o.concurrency, now, now);
      const ins = this.db.prepare(`INSERT INTO backup_run_items (run_id, slug, status, updated_at) VALUES (?, ?, 'pending', ?)`);
      for (const slug of new Set(slugs)) ins.run(id, slug, now);
      // keep the journal small: the oldest finished runs of this cluster go
      this.db
        .prepare(
          `DELETE FROM backup_runs WHERE cluster_id = ? AND status != 'running' AND id NOT IN
             (SELECT id FROM backup_runs WHERE cluster_id = ? ORDER BY created_at DESC LIMIT ?)`,
        )
        .run(cluster.clusterId, cluster.clusterId, KEEP);
    })();
  }

  /** Claims a run for this process; refuses one that is running here already, or belongs to another cluster. */
  claim(cluster: ClusterRuntime, id: string): { options: RunOptions; todo: string[]; total: number } {
    const row = this.row(id);
    if (row.cluster_id !== cluster.clusterId) {
      throw new ContractError(
        'VALIDATION',
        `Backup run ${id} belongs to cluster ${row.cluster_name} (${row.cluster_id}); select that cluster to resume it.`,
      );
    }
    if (this.active.has(id)) throw new ContractError('CONFLICT', `Backup run ${id} is running now; wait for it to finish.`);
    const items = this.items(id);
    const todo = items.filter((i) => i.status !== 'done').map((i) => i.slug);
    if (todo.length === 0) throw new ContractError('VALIDATION', `Backup run ${id} has nothing left to do: every tenant was backed up.`);
    this.active.add(id);
    this.setStatus(id, 'running');
    return {
      options: { reason: row.reason, actor: row.actor, note: row.note, verify: row.verify === 1, concurrency: row.concurrency },
      todo,
      total: items.length,
    };
  }

  /** Marks a freshly started run as running in this process (start() + this, before its first tenant). */
  began(id: string): void {
    this.active.add(id);
  }

  item(id: string, slug: string, status: ItemStatus, backupId: string | null = null, error: string | null = null): void {
    this.db
      .prepare(
        'UPDATE backup_run_items SET status = ?, backup_id = COALESCE(?, backup_id), error = ?, updated_at = ? WHERE run_id = ? AND slug = ?',
      )
      .run(status, backupId, error, new Date().toISOString(), id, slug);
  }

  finish(id: string): void {
    this.active.delete(id);
    const failed = this.items(id).some((i) => i.status !== 'done');
    this.setStatus(id, failed ? 'partial' : 'done');
  }

  /** Done so far, of a run (resume counts the tenants finished before). */
  doneCount(id: string): number {
    return this.db.prepare(`SELECT count(*) FROM backup_run_items WHERE run_id = ? AND status = 'done'`).pluck().get(id) as number;
  }

  list(clusterId: string, limit = 10): BackupRun[] {
    const rows = this.db
      .prepare('SELECT * FROM backup_runs WHERE cluster_id = ? ORDER BY created_at DESC LIMIT ?')
      .all(clusterId, limit) as RunRow[];
    return rows.map((r) => this.view(r));
  }

  get(id: string): BackupRun {
    return this.view(this.row(id));
  }

  private view(r: RunRow): BackupRun {
    const items = this.items(r.id);
    const count = (s: ItemStatus) => items.filter((i) => i.status === s).length;
    return {
      runId: r.id,
      clusterId: r.cluster_id,
      reason: r.reason,
      actor: r.actor,
      note: r.note,
      verify: r.verify === 1,
      concurrency: r.concurrency,
      status: r.status === 'running' && !this.active.has(r.id) ? 'interrupted' : r.status,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      counts: { total: items.length, done: count('done'), failed: count('failed'), pending: count('pending') + count('running') },
      failures: items.filter((i) => i.status === 'failed').map((i) => ({ slug: i.slug, error: i.error ?? 'failed' })),
    };
  }

  private row(id: string): RunRow {
    const row = this.db.prepare('SELECT * FROM backup_runs WHERE id = ?').get(id) as RunRow | undefined;
    if (!row)
      throw new ContractError(
        'NOT_FOUND',
        `Backup run ${id} is not in this console's journal (runs are kept by the console that started them).`,
      );
    return row;
  }

  private items(id: string): ItemRow[] {
    return this.db
      .prepare('SELECT slug, status, backup_id, error FROM backup_run_items WHERE run_id = ? ORDER BY slug')
      .all(id) as ItemRow[];
  }

  private setStatus(id: string, status: RunRow['status']): void {
    this.db.prepare('UPDATE backup_runs SET status = ?, updated_at = ? WHERE id = ?').run(status, new Date().toISOString(), id);
  }
}
