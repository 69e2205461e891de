import { randomUUID } from 'node:crypto';
import type { CacheMigration, Sqlite } from '../../adapters/sqlite';
import { ContractError, type OperationProgress } from '../../../src-shared/contract';
import type { OperationSummary } from '../../../src-shared/contract/tenants';
import type { ClusterRuntime } from './cluster-runtime';
import type { EventBus } from './events';
import { redactSecrets } from './redact';

/**
 * A journaled saga runner (tenant create/delete, restore, license fan-out…).
 *
 * Every step is written to SQLite before it runs and after it ends, so a console
 * killed mid-way finds the operation on its next start and can resume it (steps
 * are idempotent: "create if absent, else compare") or roll it back (compensations
 * are idempotent too: "delete if present and ours"). Params and notes are stored
 * as JSON and must not hold secrets: the runner refuses params that the redactor
 * would change, so a caller cannot leak one into the journal by accident.
 */

export interface SagaStep<C> {
  name: string;
  run(ctx: C): Promise<void>;
  /** Undo what run did, and tolerate that it did nothing or only half of it. */
  compensate?(ctx: C): Promise<void>;
}

export interface OperationHandle {
  id: string;
  /** Who started the operation. */
  actor: string | null;
  /** Non-secret facts a later resume needs (e.g. "the role existed before us"). */
  notes: Record<string, unknown>;
  note(key: string, value: unknown): void;
  /** Tells the operator something was left alone (shown with the operation, never dropped). */
  notice(text: string): void;
}

export interface SagaDefinition<P, C> {
  kind: string;
  /** Sagas whose steps destroy data (delete) can be resumed but not rolled back. */
  forwardOnly?: boolean;
  target(params: P): string;
  /**
   * Builds the in-memory context for a run, resume or rollback. `cluster` is the cluster
   * the operation was journaled against, whichever one the operator has selected now.
   */
  context(params: P, op: OperationHandle, cluster: ClusterRuntime): Promise<C> | C;
  /** Called before every forward step: throws to stop (e.g. the Lease was lost); compensation then runs. */
  guard?(ctx: C): void;
  steps: SagaStep<C>[];
  /** Frees what context() opened; called however the run ends. */
  dispose?(ctx: C): Promise<void>;
}

export type OperationStatus = 'running' | 'compensating' | 'done' | 'failed' | 'rolled-back';
type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'compensating' | 'compensated';

export interface SagaOutcome<C> {
  operation: OperationSummary;
  ctx: C | null;
  /** The error that stopped the saga, if it did not complete. */
  error: unknown;
}

export const sagaMigrations: CacheMigration[] = [
  {
    id: 400,
    name: 'saga journal',
    store: 'state',
    sql: `CREATE TABLE operations (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, cluster_id TEXT NOT NULL, cluster_name TEXT NOT NULL, actor TEXT,
        params TEXT NOT NULL, notes TEXT NOT NULL DEFAULT '{}', status TEXT NOT NULL,
        failed_step TEXT, error TEXT, notices TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE INDEX operations_status ON operations(status);
      CREATE TABLE operation_steps (
        operation_id TEXT NOT NULL REFERENCES operations(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
        name TEXT NOT NULL, status TEXT NOT NULL, error TEXT, started_at TEXT, finished_at TEXT,
        PRIMARY KEY (operation_id, idx));`,
  },
];

interface OperationRow {
  id: string;
  kind: string;
  target: string;
  cluster_id: string;
  cluster_name: string;
  actor: string | null;
  params: string;
  notes: string;
  notices: string;
  status: OperationStatus;
  failed_step: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

/** Finds the cluster an operation belongs to by its identity; UNAVAILABLE while it cannot be reached. */
export type ClusterResolver = (clusterId: string) => Promise<ClusterRuntime>;
interface StepRow {
  idx: number;
  name: string;
  status: StepStatus;
  error: string | null;
}

/** Test hook: GATEHOUSE_SAGA_CRASH=<kind>:<step index>:<before|after> SIGKILLs the process at that boundary. */
function crashPoint(kind: string, idx: number, where: 'before' | 'after'): void {
  const spec = process.env.GATEHOUSE_SAGA_CRASH;
  if (spec && spec === `${kind}:${idx}:${where}`) process.kill(process.pid, 'SIGKILL');
}

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).slice(0, 1000);

export class SagaRunner {
  private readonly definitions = new Map<string, SagaDefinition<unknown, unknown>>();
  /** Operations this process is executing right now (they are not "unfinished"). */
  private readonly active = new Set<string>();

  constructor(
    private readonly db: Sqlite,
    private readonly bus: EventBus | null,
    private readonly resolveCluster: ClusterResolver,
  ) {}

  register<P, C>(def: SagaDefinition<P, C>): void {
    this.definitions.set(def.kind, def as SagaDefinition<unknown, unknown>);
  }

  /** Journals a new operation against `cluster` and runs it to the end (or to a compensated failure). */
  async start<P, C>(kind: string, params: P, cluster: ClusterRuntime, opts: { actor?: string; id?: string } = {}): Promise<SagaOutcome<C>> {
    const def = this.definition(kind);
    if (JSON.stringify(redactSecrets(params)) !== JSON.stringify(params)) {
      throw new Error(`saga ${kind}: params contain secret-looking fields; pass secrets through the context, not the journal`);
    }
    const id = opts.id ?? randomUUID();
    const now = new Date().toISOString();
    const target = def.target(params);
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO operations (id, kind, target, cluster_id, cluster_name, actor, params, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?, 'running', ?, ?)`,
        )
        .run(id, kind, target, cluster.clusterId, cluster.contextName, opts.actor ?? null, JSON.stringify(params), now, now);
      const ins = this.db.prepare(`INSERT INTO operation_steps (operation_id, idx, name, status) VALUES (?,?,?, 'pending')`);
      def.steps.forEach((s, i) => ins.run(id, i, s.name));
    })();
    return this.execute<C>(id, 'forward', cluster);
  }

  /** Continues an unfinished operation from its first step that is not done, on its own cluster. */
  async resume<C = unknown>(id: string): Promise<SagaOutcome<C>> {
    const row = this.row(id);
    if (row.status === 'done' || row.status === 'rolled-back') {
      throw new ContractError('CONFLICT', `Operation ${id} already ended (${row.status}); nothing to resume.`);
    }
    return this.execute<C>(id, 'forward', await this.resolveCluster(row.cluster_id));
  }

  /** Undoes every step that ran (or may have half-run), newest first. */
  async rollback<C = unknown>(id: string): Promise<SagaOutcome<C>> {
    const row = this.row(id);
    const def = this.definition(row.kind);
    if (def.forwardOnly) {
      throw new ContractError('VALIDATION', `A ${row.kind} cannot be undone (its steps destroy data); resume it instead.`);
    }
    if (row.status === 'done' || row.status === 'rolled-back') {
      throw new ContractError('CONFLICT', `Operation ${id} already ended (${row.status}); nothing to roll back.`);
    }
    return this.execute<C>(id, 'rollback', await this.resolveCluster(row.cluster_id));
  }

  /** Unfinished operations of every cluster, oldest first. */
  listUnfinished(): OperationSummary[] {
    const rows = this.db
      .prepare(`SELECT * FROM operations WHERE status IN ('running','compensating','failed') ORDER BY created_at`)
      .all() as OperationRow[];
    return rows.filter((r) => !this.active.has(r.id)).map((r) => this.summary(r));
  }

  get(id: string): OperationSummary {
    return this.summary(this.row(id));
  }

  private definition(kind: string): SagaDefinition<unknown, unknown> {
    const def = this.definitions.get(kind);
    if (!def) throw new ContractError('NOT_FOUND', `No handler for operations of kind "${kind}" in this console version.`);
    return def;
  }

  private row(id: string): OperationRow {
    const row = this.db.prepare('SELECT * FROM operations WHERE id = ?').get(id) as OperationRow | undefined;
    if (!row) throw new ContractError('NOT_FOUND', `Operation ${id} is not in this console's journal.`);
    return row;
  }

  private steps(id: string): StepRow[] {
    return this.db.prepare('SELECT idx, name, status, error FROM operation_steps WHERE operation_id = ? ORDER BY idx').all(id) as StepRow[];
  }

  private summary(row: OperationRow): OperationSummary {
    const steps = this.steps(row.id);
    const live = this.active.has(row.id);
    const status: OperationSummary['status'] =
      row.status === 'done' || row.status === 'rolled-back' || row.status === 'failed' ? row.status : live ? 'running' : 'interrupted';
    return {
      id: row.id,
      kind: row.kind,
      target: row.target,
      status,
      clusterId: row.cluster_id,
      clusterName: row.cluster_name,
      actor: row.actor,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      failedStep: row.failed_step,
      error: row.error,
      steps: steps.map((s) => ({ name: s.name, status: s.status, error: s.error })),
      canRollback: !this.definitions.get(row.kind)?.forwardOnly && status !== 'done' && status !== 'rolled-back',
      notices: JSON.parse(row.notices) as string[],
    };
  }

  private setStep(id: string, idx: number, status: StepStatus, error: string | null = null): void {
    const now = new Date().toISOString();
    const col = status === 'running' || status === 'compensating' ? 'started_at' : 'finished_at';
    this.db
      .prepare(`UPDATE operation_steps SET status = ?, error = ?, ${col} = ? WHERE operation_id = ? AND idx = ?`)
      .run(status, error, now, id, idx);
    this.db.prepare('UPDATE operations SET updated_at = ? WHERE id = ?').run(now, id);
  }

  private setOperation(id: string, status: OperationStatus, failed?: { step: string; error: string }): void {
    const now = new Date().toISOString();
    if (failed) {
      this.db
        .prepare('UPDATE operations SET status = ?, failed_step = ?, error = ?, updated_at = ? WHERE id = ?')
        .run(status, failed.step, failed.error, now, id);
    } else {
      this.db.prepare('UPDATE operations SET status = ?, updated_at = ? WHERE id = ?').run(status, now, id);
    }
  }

  private publish(
    row: OperationRow,
    step: string,
    status: OperationProgress['status'],
    idx: number,
    total: number,
    message?: string,
  ): void {
    this.bus?.publish('operation.progress', {
      operationId: row.id,
      kind: row.kind,
      target: row.target,
      step,
      status,
      done: idx,
      total,
      at: new Date().toISOString(),
      ...(message ? { message } : {}),
    });
  }

  private handle(row: OperationRow): OperationHandle {
    const notes = JSON.parse(row.notes) as Record<string, unknown>;
    return {
      id: row.id,
      actor: row.actor,
      notes,
      note: (key, value) => {
        notes[key] = value;
        const safe = redactSecrets(notes);
        this.db.prepare('UPDATE operations SET notes = ? WHERE id = ?').run(JSON.stringify(safe), row.id);
      },
      notice: (text) => {
        const current = JSON.parse(
          (this.db.prepare('SELECT notices FROM operations WHERE id = ?').pluck().get(row.id) as string | undefined) ?? '[]',
        ) as string[];
        if (current.includes(text)) return;
        this.db.prepare('UPDATE operations SET notices = ? WHERE id = ?').run(JSON.stringify([...current, text]), row.id);
      },
    };
  }

  private async execute<C>(id: string, direction: 'forward' | 'rollback', cluster: ClusterRuntime): Promise<SagaOutcome<C>> {
    if (this.active.has(id)) throw new ContractError('CONFLICT', `Operation ${id} is already running in this console.`);
    this.active.add(id);
    const row = this.row(id);
    const def = this.definition(row.kind) as SagaDefinition<unknown, C>;
    // The last line of defence: an operation never runs against another cluster than its own.
    if (cluster.clusterId !== row.cluster_id) {
      this.active.delete(id);
      throw new ContractError('INTERNAL', `Operation ${id} belongs to cluster ${row.cluster_id}, not ${cluster.clusterId}; refused.`);
    }
    let ctx: C | null = null;
    try {
      try {
        ctx = await def.context(JSON.parse(row.params) as unknown, this.handle(row), cluster);
      } catch (error) {
        // Nothing ran: record why so the operator sees it in the unfinished list.
        this.setOperation(id, 'failed', { step: '(prepare)', error: errorText(error) });
        return { operation: this.summary(this.row(id)), ctx, error };
      }
      const error = direction === 'forward' ? await this.forward(row, def, ctx) : await this.compensateAll(row, def, ctx);
      return { operation: this.summary(this.row(id)), ctx, error };
    } finally {
      this.active.delete(id);
      if (ctx && def.dispose) await def.dispose(ctx).catch(() => undefined);
    }
  }

  private async forward<C>(row: OperationRow, def: SagaDefinition<unknown, C>, ctx: C): Promise<unknown> {
    this.setOperation(row.id, 'running');
    const journal = this.steps(row.id);
    const total = def.steps.length;
    for (const [idx, step] of def.steps.entries()) {
      if (journal[idx]?.status === 'done') continue;
      this.setStep(row.id, idx, 'running');
      this.publish(row, step.name, 'running', idx, total);
      crashPoint(row.kind, idx, 'before');
      try {
        def.guard?.(ctx);
        await step.run(ctx);
      } catch (error) {
        const message = errorText(error);
        this.setStep(row.id, idx, 'failed', message);
        this.setOperation(row.id, 'failed', { step: step.name, error: message });
        this.publish(row, step.name, 'failed', idx, total, message);
        // Destroyed data cannot come back: a forward-only saga waits for resume.
        if (def.forwardOnly) return error;
        // The failed step may have half-run, so it is compensated too.
        await this.compensateAll(row, def, ctx);
        return error;
      }
      crashPoint(row.kind, idx, 'after');
      this.setStep(row.id, idx, 'done');
      this.publish(row, step.name, 'done', idx + 1, total);
    }
    this.setOperation(row.id, 'done');
    return null;
  }

  /**
   * Compensates newest first and stops at the first compensation that fails, so
   * what was reserved first (the tenant Lease) stays held until everything after
   * it is undone; rollback() continues from there later.
   */
  private async compensateAll<C>(row: OperationRow, def: SagaDefinition<unknown, C>, ctx: C): Promise<unknown> {
    this.setOperation(row.id, 'compensating');
    const journal = this.steps(row.id);
    const total = def.steps.length;
    for (let idx = def.steps.length - 1; idx >= 0; idx--) {
      const step = def.steps[idx]!;
      const status = journal[idx]?.status ?? 'pending';
      if (status === 'pending' || status === 'compensated') continue;
      this.setStep(row.id, idx, 'compensating', journal[idx]?.error ?? null);
      this.publish(row, step.name, 'compensating', idx, total);
      try {
        await step.compensate?.(ctx);
      } catch (error) {
        const message = `compensation of "${step.name}" failed: ${errorText(error)}`;
        this.setStep(row.id, idx, 'failed', message);
        const current = this.row(row.id);
        this.setOperation(row.id, 'failed', { step: current.failed_step ?? step.name, error: current.error ?? message });
        this.publish(row, step.name, 'failed', idx, total, message);
        return error;
      }
      this.setStep(row.id, idx, 'compensated', journal[idx]?.error ?? null);
      this.publish(row, step.name, 'compensated', idx, total);
    }
    this.setOperation(row.id, 'rolled-back');
    return null;
  }
}
