import type { CacheMigration, Sqlite } from '../../adapters/sqlite';
import type { Alert, AlertRuleKind, AlertState } from '../../../src-shared/contract/alerts';
import type { Condition } from './evaluate';

/** Alert state and history are durable (acknowledgements and silences must survive a restart); the last snapshot is cache. */
export const alertsMigrations: CacheMigration[] = [
  {
    id: 1900,
    name: 'alerts: state, history, notification groups',
    store: 'state',
    sql: `
      CREATE TABLE alerts (
        cluster_id TEXT NOT NULL, fingerprint TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL,
        subject TEXT NOT NULL, summary TEXT NOT NULL, link TEXT NOT NULL,
        first_fired_at TEXT NOT NULL, last_fired_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, resolved_at TEXT,
        ack_by TEXT, ack_at TEXT, silenced_until TEXT, silenced_by TEXT,
        PRIMARY KEY (cluster_id, fingerprint)
      );
      CREATE TABLE alert_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT, cluster_id TEXT NOT NULL, fingerprint TEXT NOT NULL, rule TEXT NOT NULL,
        at TEXT NOT NULL, event TEXT NOT NULL, detail TEXT
      );
      CREATE INDEX alert_history_cluster_at ON alert_history (cluster_id, at);
      CREATE TABLE alert_groups (
        cluster_id TEXT NOT NULL, group_key TEXT NOT NULL, pending_since TEXT, last_sent_at TEXT, last_sent_set TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (cluster_id, group_key)
      );`,
  },
  {
    id: 1901,
    name: 'alerts: last evaluation per cluster',
    store: 'cache',
    sql: `CREATE TABLE alert_evaluations (cluster_id TEXT PRIMARY KEY, evaluated_at TEXT NOT NULL, source_errors TEXT NOT NULL, snapshot TEXT NOT NULL);`,
  },
];

interface Row {
  cluster_id: string;
  fingerprint: string;
  rule: string;
  severity: string;
  subject: string;
  summary: string;
  link: string;
  first_fired_at: string;
  last_fired_at: string;
  last_seen_at: string;
  resolved_at: string | null;
  ack_by: string | null;
  ack_at: string | null;
  silenced_until: string | null;
  silenced_by: string | null;
}

export type HistoryEvent = 'fired' | 'resolved' | 'acknowledged' | 'silenced' | 'unsilenced' | 'notified';

/** The state an alert shows: a silence outranks an acknowledgement, which outranks firing. */
export function stateOf(row: Pick<Row, 'resolved_at' | 'ack_at' | 'silenced_until'>, now: Date): AlertState {
  if (row.resolved_at) return 'resolved';
  if (row.silenced_until && Date.parse(row.silenced_until) > now.getTime()) return 'silenced';
  if (row.ack_at) return 'acknowledged';
  return 'firing';
}

function toAlert(r: Row, now: Date): Alert {
  return {
    fingerprint: r.fingerprint,
    rule: r.rule as AlertRuleKind,
    severity: r.severity as Alert['severity'],
    subject: r.subject,
    summary: r.summary,
    link: r.link,
    state: stateOf(r, now),
    firstFiredAt: r.first_fired_at,
    lastFiredAt: r.last_fired_at,
    lastSeenAt: r.last_seen_at,
    resolvedAt: r.resolved_at,
    acknowledgedBy: r.ack_by,
    acknowledgedAt: r.ack_at,
    silencedUntil: r.silenced_until && Date.parse(r.silenced_until) > now.getTime() ? r.silenced_until : null,
    silencedBy: r.silenced_until && Date.parse(r.silenced_until) > now.getTime() ? r.silenced_by : null,
  };
}

export interface GroupRow {
  group_key: string;
  pending_since: string | null;
  last_sent_at: string | null;
  last_sent_set: string;
}

/** One cluster's alerts in SQLite: dedup by (cluster, fingerprint), a history row per transition. */
export class AlertStore {
  constructor(private readonly db: Sqlite) {}

  private rows(clusterId: string): Row[] {
    return this.db.prepare('SELECT * FROM alerts WHERE cluster_id = ?').all(clusterId) as Row[];
  }

  private row(clusterId: string, fingerprint: string): Row | undefined {
    return this.db.prepare('SELECT * FROM alerts WHERE cluster_id = ? AND fingerprint = ?').get(clusterId, fingerprint) as Row | undefined;
  }

  history(clusterId: string, event: HistoryEvent, fingerprint: string, rule: string, at: Date, detail: string | null = null): void {
    this.db
      .prepare('INSERT INTO alert_history (cluster_id, fingerprint, rule, at, event, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(clusterId, fingerprint, rule, at.toISOString(), event, detail);
  }

  /**
   * Applies one evaluation: conditions that hold fire (or stay firing), alerts of the
   * evaluated rules that no longer hold resolve. Rules in `skipped` (source unreadable) keep their state.
   */
  apply(clusterId: string, conditions: Condition[], now: Date, skipped: Set<string>): { fired: string[]; resolved: string[] } {
    const at = now.toISOString();
    const fired: string[] = [];
    const resolved: string[] = [];
    const tx = this.db.transaction(() => {
      const existing = new Map(this.rows(clusterId).map((r) => [r.fingerprint, r]));
      for (const c of conditions) {
        const row = existing.get(c.fingerprint);
        if (!row) {
          this.db
            .prepare(
              `INSERT INTO alerts (cluster_id, fingerprint, rule, severity, subject, summary, link, first_fired_at, last_fired_at, last_seen_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(clusterId, c.fingerprint, c.rule, c.severity, c.subject, c.summary, c.link, at, at, at);
          this.history(clusterId, 'fired', c.fingerprint, c.rule, now, c.summary);
          fired.push(c.fingerprint);
        } else if (row.resolved_at) {
          // Fires again: a new episode, so an earlier acknowledgement no longer holds (a silence does, until it ends).
          this.db
            .prepare(
              'UPDATE alerts SET severity = ?, summary = ?, link = ?, last_fired_at = ?, last_seen_at = ?, resolved_at = NULL, ack_by = NULL, ack_at = NULL WHERE cluster_id = ? AND fingerprint = ?',
            )
            .run(c.severity, c.summary, c.link, at, at, clusterId, c.fingerprint);
          this.history(clusterId, 'fired', c.fingerprint, c.rule, now, c.summary);
          fired.push(c.fingerprint);
        } else {
          this.db
            .prepare('UPDATE alerts SET severity = ?, summary = ?, link = ?, last_seen_at = ? WHERE cluster_id = ? AND fingerprint = ?')
            .run(c.severity, c.summary, c.link, at, clusterId, c.fingerprint);
        }
      }
      const holding = new Set(conditions.map((c) => c.fingerprint));
      for (const row of existing.values()) {
        if (row.resolved_at || holding.has(row.fingerprint) || skipped.has(row.rule)) continue;
        this.db.prepare('UPDATE alerts SET resolved_at = ? WHERE cluster_id = ? AND fingerprint = ?').run(at, clusterId, row.fingerprint);
        this.history(clusterId, 'resolved', row.fingerprint, row.rule, now);
        resolved.push(row.fingerprint);
      }
    });
    tx();
    return { fired, resolved };
  }

  list(clusterId: string, now: Date, includeResolved = true): Alert[] {
    const order: Record<string, number> = { firing: 0, acknowledged: 1, silenced: 2, resolved: 3 };
    const sev: Record<string, number> = { critical: 0, warning: 1, info: 2 };
    return this.rows(clusterId)
      .map((r) => toAlert(r, now))
      .filter((a) => includeResolved || a.state !== 'resolved')
      .sort((a, b) => order[a.state]! - order[b.state]! || sev[a.severity]! - sev[b.severity]! || (a.lastFiredAt < b.lastFiredAt ? 1 : -1));
  }

  get(clusterId: string, fingerprint: string, now: Date): Alert | null {
    const r = this.row(clusterId, fingerprint);
    return r ? toAlert(r, now) : null;
  }

  acknowledge(clusterId: string, fingerprint: string, by: string, now: Date, note: string): Alert | null {
    const r = this.row(clusterId, fingerprint);
    if (!r) return null;
    this.db
      .prepare('UPDATE alerts SET ack_by = ?, ack_at = ? WHERE cluster_id = ? AND fingerprint = ?')
      .run(by, now.toISOString(), clusterId, fingerprint);
    this.history(clusterId, 'acknowledged', fingerprint, r.rule, now, note ? `${by}: ${note}` : by);
    return this.get(clusterId, fingerprint, now);
  }

  silence(clusterId: string, fingerprint: string, by: string, until: Date | null, now: Date): Alert | null {
    const r = this.row(clusterId, fingerprint);
    if (!r) return null;
    this.db
      .prepare('UPDATE alerts SET silenced_until = ?, silenced_by = ? WHERE cluster_id = ? AND fingerprint = ?')
      .run(until?.toISOString() ?? null, until ? by : null, clusterId, fingerprint);
    this.history(clusterId, until ? 'silenced' : 'unsilenced', fingerprint, r.rule, now, until ? `${by} until ${until.toISOString()}` : by);
    return this.get(clusterId, fingerprint, now);
  }

  historyOf(clusterId: string, limit = 200, since?: Date) {
    const rows = since
      ? this.db
          .prepare(
            'SELECT at, fingerprint, rule, event, detail FROM alert_history WHERE cluster_id = ? AND at >= ? ORDER BY id DESC LIMIT ?',
          )
          .all(clusterId, since.toISOString(), limit)
      : this.db
          .prepare('SELECT at, fingerprint, rule, event, detail FROM alert_history WHERE cluster_id = ? ORDER BY id DESC LIMIT ?')
          .all(clusterId, limit);
    return rows as { at: string; fingerprint: string; rule: AlertRuleKind; event: HistoryEvent; detail: string | null }[];
  }

  group(clusterId: string, key: string): GroupRow {
    const row = this.db
      .prepare('SELECT group_key, pending_since, last_sent_at, last_sent_set FROM alert_groups WHERE cluster_id = ? AND group_key = ?')
      .get(clusterId, key) as GroupRow | undefined;
    return row ?? { group_key: key, pending_since: null, last_sent_at: null, last_sent_set: '[]' };
  }

  saveGroup(clusterId: string, g: GroupRow): void {
    this.db
      .prepare(
        `INSERT INTO alert_groups (cluster_id, group_key, pending_since, last_sent_at, last_sent_set) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(cluster_id, group_key) DO UPDATE SET pending_since = excluded.pending_since, last_sent_at = excluded.last_sent_at, last_sent_set = excluded.last_sent_set`,
      )
      .run(clusterId, g.group_key, g.pending_since, g.last_sent_at, g.last_sent_set);
  }

  lastNotifiedAt(clusterId: string): string | null {
    const row = this.db.prepare('SELECT MAX(last_sent_at) AS at FROM alert_groups WHERE cluster_id = ?').get(clusterId) as
      { at: string | null } | undefined;
    return row?.at ?? null;
  }

  saveEvaluation(clusterId: string, at: Date, errors: { source: string; message: string }[], snapshot: unknown): void {
    this.db
      .prepare(
        `INSERT INTO alert_evaluations (cluster_id, evaluated_at, source_errors, snapshot) VALUES (?, ?, ?, ?)
         ON CONFLICT(cluster_id) DO UPDATE SET evaluated_at = excluded.evaluated_at, source_errors = excluded.source_errors, snapshot = excluded.snapshot`,
      )
      .run(clusterId, at.toISOString(), JSON.stringify(errors), JSON.stringify(snapshot));
  }

  evaluation(clusterId: string): { evaluatedAt: string; sourceErrors: { source: string; message: string }[]; snapshot: unknown } | null {
    const row = this.db
      .prepare('SELECT evaluated_at, source_errors, snapshot FROM alert_evaluations WHERE cluster_id = ?')
      .get(clusterId) as { evaluated_at: string; source_errors: string; snapshot: string } | undefined;
    return row ? { evaluatedAt: row.evaluated_at, sourceErrors: JSON.parse(row.source_errors), snapshot: JSON.parse(row.snapshot) } : null;
  }
}
