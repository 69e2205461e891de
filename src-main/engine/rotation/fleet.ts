import { randomUUID } from 'node:crypto';
import { ContractError, isContractError } from '../../../src-shared/contract';
import type { CredentialKind, FleetSummary, SigningAlgorithm } from '../../../src-shared/contract/secrets';
import type { CacheMigration, Sqlite } from '../../adapters/sqlite';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import { errorText, type SagaOutcome, type SagaRunner } from '../core/saga';
import { mapLimit } from '../core/limit';
import { rotationKind, type RotationParams } from './saga';

/**
 * Fleet rotation: one kind of credential for many tenants. Each tenant's rotation is its own
 * journaled saga (holding that tenant's Lease); this journal (durable state) remembers which
 * tenants the fleet run covers and how each ended, so a resume retries only the unfinished ones
 * and one tenant's failure never stops the others.
 */
export const rotationMigrations: CacheMigration[] = [
  {
    id: 1300,
    name: 'rotation fleet journal',
    store: 'state',
    sql: `CREATE TABLE rotation_fleets (
        id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL, cluster_name TEXT NOT NULL, kind TEXT NOT NULL, algorithm TEXT,
        concurrency INTEGER NOT NULL, actor TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE INDEX rotation_fleets_cluster ON rotation_fleets(cluster_id, created_at);
      CREATE TABLE rotation_fleet_items (
        fleet_id TEXT NOT NULL REFERENCES rotation_fleets(id) ON DELETE CASCADE, slug TEXT NOT NULL, status TEXT NOT NULL,
        operation_id TEXT, error TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (fleet_id, slug));`,
  },
];

export const FLEET_KIND = 'rotation.fleet';

interface FleetRow {
  id: string;
  cluster_id: string;
  cluster_name: string;
  kind: CredentialKind;
  algorithm: SigningAlgorithm | null;
  concurrency: number;
  actor: string | null;
  status: 'running' | 'done' | 'partial';
  created_at: string;
  updated_at: string;
}
interface ItemRow {
  slug: string;
  status: 'pending' | 'running' | 'done' | 'failed' | 'skipped';
  operation_id: string | null;
  error: string | null;
}

export class FleetRotation {
  private readonly active = new Set<string>();

  constructor(
    private readonly db: Sqlite,
    private readonly bus: EventBus | null,
    private readonly saga: SagaRunner,
  ) {}

  /** Journals a fleet run over `slugs` and runs it. */
  async start(
    cluster: ClusterRuntime,
    input: { kind: CredentialKind; concurrency: number; algorithm: SigningAlgorithm | null; slugs: string[] },
    actor: string | null,
  ): Promise<FleetSummary> {
    const id = randomUUID();
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO rotation_fleets (id, cluster_id, cluster_name, kind, algorithm, concurrency, actor, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,'running',?,?)`,
        )
        .run(id, cluster.clusterId, cluster.contextName, input.kind, input.algorithm, input.concurrency, actor, now, now);
      const ins = this.db.prepare(`INSERT INTO rotation_fleet_items (fleet_id, slug, status, updated_at) VALUES (?, ?, 'pending', ?)`);
      for (const slug of [...new Set(input.slugs)].sort()) ins.run(id, slug, now);
    })();
    return this.run(id, cluster, actor);
  }

  /** Retries every tenant of a fleet run that did not finish; on the run's own cluster only. */
  async resume(id: string, cluster: ClusterRuntime, actor: string | null): Promise<FleetSummary> {
    const row = this.row(id);
    if (row.cluster_id !== cluster.clusterId) {
      throw new ContractError(
        'VALIDATION',
        `Fleet rotation ${id} belongs to cluster ${row.cluster_name} (${row.cluster_id}); select that cluster to resume it.`,
      );
    }
    return this.run(id, cluster, actor);
  }

  clusterOf(id: string): string {
    return this.row(id).cluster_id;
  }

  list(clusterId: string, limit = 20): FleetSummary[] {
    const rows = this.db
      .prepare('SELECT * FROM rotation_fleets WHERE cluster_id = ? ORDER BY created_at DESC LIMIT ?')
      .all(clusterId, limit) as FleetRow[];
    return rows.map((r) => this.summary(r));
  }

  get(id: string): FleetSummary {
    return this.summary(this.row(id));
  }

  private row(id: string): FleetRow {
    const row = this.db.prepare('SELECT * FROM rotation_fleets WHERE id = ?').get(id) as FleetRow | undefined;
    if (!row) throw new ContractError('NOT_FOUND', `Fleet rotation ${id} is not in this console's journal.`);
    return row;
  }

  private items(id: string): ItemRow[] {
    return this.db
      .prepare('SELECT slug, status, operation_id, error FROM rotation_fleet_items WHERE fleet_id = ? ORDER BY slug')
      .all(id) as ItemRow[];
  }

  private setItem(id: string, slug: string, status: ItemRow['status'], operationId: string | null, error: string | null): void {
    this.db
      .prepare(
        'UPDATE rotation_fleet_items SET status = ?, operation_id = COALESCE(?, operation_id), error = ?, updated_at = ? WHERE fleet_id = ? AND slug = ?',
      )
      .run(status, operationId, error, new Date().toISOString(), id, slug);
  }

  private summary(row: FleetRow): FleetSummary {
    const items = this.items(row.id);
    const count = (s: ItemRow['status']) => items.filter((i) => i.status === s).length;
    const status: FleetSummary['status'] = row.status === 'running' && !this.active.has(row.id) ? 'interrupted' : row.status;
    return {
      fleetId: row.id,
      clusterId: row.cluster_id,
      kind: row.kind,
      status,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      actor: row.actor,
      concurrency: row.concurrency,
      total: items.length,
      done: count('done'),
      failed: count('failed'),
      skipped: count('skipped'),
      items: items.map((i) => ({ slug: i.slug, status: i.status, operationId: i.operation_id, error: i.error })),
    };
  }

  private progress(
    id: string,
    kind: string,
    target: string,
    status: 'running' | 'done' | 'failed' | 'skipped',
    done: number,
    total: number,
    message?: string,
  ): void {
    this.bus?.publish('operation.progress', {
      operationId: id,
      kind: FLEET_KIND,
      target,
      step: kind,
      status,
      done,
      total,
      at: new Date().toISOString(),
      ...(message ? { message } : {}),
    });
  }

  private async run(id: string, cluster: ClusterRuntime, actor: string | null): Promise<FleetSummary> {
    if (this.active.has(id)) throw new ContractError('CONFLICT', `Fleet rotation ${id} is already running in this console.`);
    this.active.add(id);
    try {
      const row = this.row(id);
      this.db.prepare(`UPDATE rotation_fleets SET status = 'running', updated_at = ? WHERE id = ?`).run(new Date().toISOString(), id);
      const all = this.items(id);
      const todo = all.filter((i) => i.status !== 'done' && i.status !== 'skipped');
      const total = all.length;
      let done = total - todo.length;
      this.progress(id, row.kind, '*', 'running', done, total, `${todo.length} tenant(s) to rotate (${row.kind})`);
      await mapLimit(todo, row.concurrency, async (item) => {
        this.setItem(id, item.slug, 'running', null, null);
        this.progress(id, row.kind, item.slug, 'running', done, total);
        const outcome = await this.rotateOne(row, item, cluster, actor);
        done++;
        this.setItem(id, item.slug, outcome.status, outcome.operationId, outcome.error);
        this.progress(id, row.kind, item.slug, outcome.status, done, total, outcome.error ?? undefined);
      });
      const failed = this.items(id).some((i) => i.status === 'failed');
      this.db
        .prepare('UPDATE rotation_fleets SET status = ?, updated_at = ? WHERE id = ?')
        .run(failed ? 'partial' : 'done', new Date().toISOString(), id);
      this.progress(
        id,
        row.kind,
        '*',
        failed ? 'failed' : 'done',
        total,
        total,
        failed ? 'some tenants failed: resume to retry them' : 'every tenant rotated',
      );
    } finally {
      this.active.delete(id);
    }
    return this.get(id);
  }

  /** One tenant: resumes its unfinished rotation if it has one, else starts a new one. */
  private async rotateOne(
    row: FleetRow,
    item: ItemRow,
    cluster: ClusterRuntime,
    actor: string | null,
  ): Promise<{ status: 'done' | 'failed' | 'skipped'; operationId: string | null; error: string | null }> {
    let outcome: SagaOutcome<unknown>;
    try {
      const previous = item.operation_id ? safeGet(this.saga, item.operation_id) : null;
      if (previous?.status === 'done') return { status: 'done', operationId: previous.id, error: null };
      if (previous && (previous.status === 'failed' || previous.status === 'interrupted') && previous.failedStep !== '(prepare)') {
        outcome = await this.saga.resume(previous.id);
      } else {
        const params: RotationParams = { slug: item.slug, kind: row.kind, algorithm: row.algorithm, fleetId: row.id };
        outcome = await this.saga.start(rotationKind(row.kind), params, cluster, actor ? { actor } : {});
      }
    } catch (error) {
      return { status: 'failed', operationId: null, error: errorText(error) };
    }
    if (!outcome.error) return { status: 'done', operationId: outcome.operation.id, error: null };
    if (isContractError(outcome.error) && outcome.error.code === 'NOT_FOUND' && outcome.operation.status === 'rolled-back') {
      return { status: 'skipped', operationId: outcome.operation.id, error: 'tenant no longer exists' };
    }
    const step = outcome.operation.failedStep ? ` at step "${outcome.operation.failedStep}"` : '';
    return { status: 'failed', operationId: outcome.operation.id, error: `failed${step}: ${errorText(outcome.error)}` };
  }
}

function safeGet(saga: SagaRunner, id: string) {
  try {
    return saga.get(id);
  } catch {
    return null;
  }
}
