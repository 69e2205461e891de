import type { AuditAlarm, AuditFinding, AuditProblem } from '../../../src-shared/contract/audit';
import type { Sqlite } from '../../adapters/sqlite';

/** What this console last saw of one log (durable state: it survives a deleted cache). */
export interface WitnessState {
  logId: string;
  cluster: string;
  origin: string;
  seq: number;
  head: string;
  checkpointSize: number | null;
  checkpointNote: string | null;
  /** Rows of the database's DDL trace seen so far (a smaller number later means trace rows were deleted). */
  ddlEvents: number;
  updatedAt: string;
}

interface WitnessRow {
  log_id: string;
  cluster: string;
  origin: string;
  seq: number;
  head: string;
  checkpoint_size: number | null;
  checkpoint_note: string | null;
  ddl_events: number;
  updated_at: string;
}

const toState = (r: WitnessRow): WitnessState => ({
  logId: r.log_id,
  cluster: r.cluster,
  origin: r.origin,
  seq: r.seq,
  head: r.head,
  checkpointSize: r.checkpoint_size,
  checkpointNote: r.checkpoint_note,
  ddlEvents: r.ddl_events,
  updatedAt: r.updated_at,
});

/**
 * Every console is a witness: per log id it remembers the newest (seq, head) and the newest
 * trusted checkpoint it has seen, and which log each cluster's database holds. A shared log
 * must always be an append-only extension of that; anything else is an alarm.
 */
export class WitnessStore {
  constructor(private readonly db: Sqlite) {}

  get(logId: string): WitnessState | null {
    const r = this.db.prepare('SELECT * FROM audit_witness WHERE log_id = ?').get(logId) as WitnessRow | undefined;
    return r ? toState(r) : null;
  }

  all(): WitnessState[] {
    return (this.db.prepare('SELECT * FROM audit_witness ORDER BY updated_at DESC').all() as WitnessRow[]).map(toState);
  }

  forCluster(cluster: string): WitnessState | null {
    const bound = this.boundLog(cluster);
    return bound ? this.get(bound) : null;
  }

  boundLog(cluster: string): string | null {
    return (this.db.prepare('SELECT log_id FROM audit_cluster_logs WHERE cluster = ?').pluck().get(cluster) as string | undefined) ?? null;
  }

  clusters(): { cluster: string; logId: string }[] {
    return this.db.prepare('SELECT cluster, log_id AS logId FROM audit_cluster_logs ORDER BY bound_at').all() as {
      cluster: string;
      logId: string;
    }[];
  }

  bind(cluster: string, logId: string): void {
    this.db
      .prepare(
        'INSERT INTO audit_cluster_logs (cluster, log_id, bound_at) VALUES (?, ?, ?) ON CONFLICT (cluster) DO UPDATE SET log_id = excluded.log_id, bound_at = excluded.bound_at',
      )
      .run(cluster, logId, new Date().toISOString());
  }

  /**
   * Moves the witnessed head forward, never backwards (a smaller head leaves the witnessed
   * one as it is: proving the log still extends it is the caller's job), and records a newer
   * trusted checkpoint.
   */
  advance(
    w: { logId: string; cluster: string; origin: string },
    head: { seq: number; hash: string },
    extra: { checkpoint?: { size: number; note: string } | null; ddlEvents?: number } = {},
  ): void {
    const now = new Date().toISOString();
    const current = this.get(w.logId);
    if (current && head.seq < current.seq) head = { seq: current.seq, hash: current.head };
    const cp = extra.checkpoint && (!current?.checkpointSize || extra.checkpoint.size >= current.checkpointSize) ? extra.checkpoint : null;
    this.db
      .prepare(
        `INSERT INTO audit_witness (log_id, cluster, origin, seq, head, checkpoint_size, checkpoint_note, ddl_events, updated_at)
         VALUES (@logId, @cluster, @origin, @seq, @head, @cpSize, @cpNote, @ddl, @now)
         ON CONFLICT (log_id) DO UPDATE SET seq = @seq, head = @head,
           checkpoint_size = coalesce(@cpSize, checkpoint_size), checkpoint_note = coalesce(@cpNote, checkpoint_note),
           ddl_events = max(ddl_events, @ddl), updated_at = @now`,
      )
      .run({
        ...w,
        seq: head.seq,
        head: head.hash,
        cpSize: cp?.size ?? null,
        cpNote: cp?.note ?? null,
        ddl: extra.ddlEvents ?? current?.ddlEvents ?? 0,
        now,
      });
  }

  /** After an admin accepted a log as it is now: forget what was witnessed of it (the evidence copy stays). */
  forget(logId: string): void {
    this.db.prepare('DELETE FROM audit_witness WHERE log_id = ?').run(logId);
  }
}

interface AlarmRow {
  id: number;
  cluster: string | null;
  log_id: string | null;
  kind: string;
  message: string;
  seq: number | null;
  details: string;
  raised_at: string;
  resolved_at: string | null;
  resolved_by: string | null;
  resolution: string | null;
}

const toAlarm = (r: AlarmRow): AuditAlarm & { details: Record<string, unknown> } => {
  const details = JSON.parse(r.details) as Record<string, unknown>;
  return {
    id: r.id,
    cluster: r.cluster,
    logId: r.log_id,
    kind: r.kind as AuditProblem,
    message: r.message,
    seq: r.seq,
    raisedAt: r.raised_at,
    evidence: typeof details.evidence === 'string' ? details.evidence : null,
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
    resolution: r.resolution,
    details,
  };
};

/** Alarms stay (durable) until an admin resolves them; the same open alarm is never raised twice. */
export class AlarmStore {
  constructor(private readonly db: Sqlite) {}

  raise(a: { cluster: string | null; logId: string | null; finding: AuditFinding; details?: Record<string, unknown> }): {
    alarm: AuditAlarm;
    isNew: boolean;
  } {
    const existing = this.db
      .prepare(
        'SELECT * FROM audit_alarms WHERE resolved_at IS NULL AND cluster IS ? AND log_id IS ? AND kind = ? AND seq IS ? AND message = ?',
      )
      .get(a.cluster, a.logId, a.finding.kind, a.finding.seq, a.finding.message) as AlarmRow | undefined;
    if (existing) return { alarm: toAlarm(existing), isNew: false };
    const id = this.db
      .prepare('INSERT INTO audit_alarms (cluster, log_id, kind, message, seq, details, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(
        a.cluster,
        a.logId,
        a.finding.kind,
        a.finding.message,
        a.finding.seq,
        JSON.stringify({ range: a.finding.range, where: a.finding.where, ...a.details }),
        new Date().toISOString(),
      ).lastInsertRowid;
    return { alarm: this.get(Number(id))!, isNew: true };
  }

  setEvidence(id: number, evidence: string): void {
    const row = this.db.prepare('SELECT details FROM audit_alarms WHERE id = ?').pluck().get(id) as string | undefined;
    if (row === undefined) return;
    this.db.prepare('UPDATE audit_alarms SET details = ? WHERE id = ?').run(JSON.stringify({ ...JSON.parse(row), evidence }), id);
  }

  get(id: number): (AuditAlarm & { details: Record<string, unknown> }) | null {
    const r = this.db.prepare('SELECT * FROM audit_alarms WHERE id = ?').get(id) as AlarmRow | undefined;
    return r ? toAlarm(r) : null;
  }

  open(cluster?: string): (AuditAlarm & { details: Record<string, unknown> })[] {
    const rows = (
      cluster === undefined
        ? this.db.prepare('SELECT * FROM audit_alarms WHERE resolved_at IS NULL ORDER BY id').all()
        : this.db.prepare('SELECT * FROM audit_alarms WHERE resolved_at IS NULL AND cluster IS ? ORDER BY id').all(cluster)
    ) as AlarmRow[];
    return rows.map(toAlarm);
  }

  recent(limit = 50): AuditAlarm[] {
    return (this.db.prepare('SELECT * FROM audit_alarms ORDER BY resolved_at IS NOT NULL, id DESC LIMIT ?').all(limit) as AlarmRow[]).map(
      (r) => {
        const { details: _d, ...alarm } = toAlarm(r);
        return alarm;
      },
    );
  }

  resolve(id: number, by: string, resolution: string): void {
    this.db
      .prepare('UPDATE audit_alarms SET resolved_at = ?, resolved_by = ?, resolution = ? WHERE id = ? AND resolved_at IS NULL')
      .run(new Date().toISOString(), by, resolution, id);
  }
}

/** What a store of a log must answer for the witness to compare it with what it saw. */
export interface HashLookup {
  /** hash of each seq in [from, to] that exists. */
  hashes(from: number, to: number): Promise<Map<number, string>>;
}

/**
 * Is the log (head, lookups) an append-only extension of what was witnessed? Returns the
 * finding that says exactly what changed: entries removed after seq N, or entry N
 * rewritten (found by comparing with the local copy, which holds what this console saw).
 */
export async function compareWithWitness(
  witnessed: { seq: number; head: string },
  head: { seq: number; hash: string },
  log: HashLookup,
  localCopy: HashLookup | null,
  where: string,
): Promise<AuditFinding | null> {
  if (witnessed.seq === 0) return null;
  const atWitnessed = (await log.hashes(witnessed.seq, witnessed.seq)).get(witnessed.seq);
  if (head.seq < witnessed.seq || atWitnessed === undefined) {
    const last = Math.min(head.seq, witnessed.seq - 1);
    // a hole at the witnessed seq with entries after it is a deletion too
    return {
      kind: 'log-truncated',
      severity: 'alarm',
      message: `The ${where} was truncated after entry ${last}: entries ${last + 1}–${witnessed.seq} that this console saw are gone.`,
      seq: last + 1,
      range: { from: last + 1, to: witnessed.seq },
      where,
    };
  }
  if (atWitnessed === witnessed.head) return null;
  const first = await firstDifference(witnessed.seq, log, localCopy);
  return {
    kind: 'entry-rewritten',
    severity: 'alarm',
    message:
      first !== null
        ? `Entry ${first} of the ${where} was rewritten: it is not the entry this console saw (the log was re-chained from there up to at least entry ${witnessed.seq}).`
        : `The ${where} was rewritten at or before entry ${witnessed.seq}: its hash there is not the one this console saw.`,
    seq: first,
    range: { from: first ?? 1, to: witnessed.seq },
    where,
  };
}

/** The first seq ≤ upTo whose hash differs between the log and the local copy (batches of 10,000). */
async function firstDifference(upTo: number, log: HashLookup, localCopy: HashLookup | null): Promise<number | null> {
  if (!localCopy) return null;
  for (let from = 1; from <= upTo; from += 10_000) {
    const to = Math.min(upTo, from + 9_999);
    const [theirs, ours] = await Promise.all([log.hashes(from, to), localCopy.hashes(from, to)]);
    for (let seq = from; seq <= to; seq++) {
      const mine = ours.get(seq);
      if (mine === undefined) continue; // not in the local copy: cannot compare this one
      if (theirs.get(seq) !== mine) return seq;
    }
  }
  return null;
}
