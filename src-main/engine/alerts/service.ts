import { ContractError } from '../../../src-shared/contract';
import type { Alert, AlertRules, AlertsOverview, Delivery } from '../../../src-shared/contract/alerts';
import type { Sqlite } from '../../adapters/sqlite';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import type { Logger } from '../core/logger';
import { evaluate, RULE_SOURCES, type AlertSnapshot } from './evaluate';
import { dueNotifications, GROUPING_DEFAULTS, type DueNotification, type GroupingTimes } from './grouping';
import { defaultRules, readRules, RULES_CONFIGMAP, writeRules } from './rules';
import { gatherSnapshot, type AlertReaders } from './sources';
import { AlertStore } from './store';
import { dashboardOverview, digest } from './overview';
import type { TenantSummary } from '../../../src-shared/contract/tenants';
import type { DashboardOverview } from '../../../src-shared/contract/dashboard';

/** The mail half's message (engine/mail/sender.ts has the same shape). */
export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
  html?: string;
}

/** Mail delivery, wired by the composition root to the SMTP sender of the cluster (engine.mail.send). */
export interface MailPort {
  send(cluster: ClusterRuntime, msg: MailMessage): Promise<unknown>;
  /** Whether the cluster has an SMTP relay (Settings → SMTP). */
  configured(cluster: ClusterRuntime): Promise<boolean>;
}

export interface AlertsServiceOptions {
  db: Sqlite;
  bus: EventBus;
  log?: Logger;
  readers: AlertReaders;
  /** Null: no mail sender; the settings say so, nothing pretends to send. */
  mail?: MailPort | null;
  now?: () => Date;
  /** Overrides the grouping timings of the rules (tests). */
  times?: GroupingTimes;
  /** How often the console looks at due notifications between evaluations (ms). */
  tickMs?: number;
}

const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 } as const;

/**
 * Evaluates each cluster's alert rules while the console runs, keeps the alerts' state and
 * history in durable local state, and delivers grouped notifications (desktop event, mail).
 */
export class AlertsService {
  readonly store: AlertStore;
  private readonly now: () => Date;
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; nextEvalAt: number; busy: boolean }>();
  private readonly rulesOf = new Map<string, AlertRules>();
  private readonly mailErrors = new Map<string, string | null>();

  constructor(private readonly o: AlertsServiceOptions) {
    this.store = new AlertStore(o.db);
    this.now = o.now ?? (() => new Date());
  }

  /** The grouping timings of a cluster: its rules' (Settings → Alerts), Grafana's defaults until they are read. */
  private timesFor(clusterId: string): GroupingTimes {
    if (this.o.times) return this.o.times;
    const g = this.rulesOf.get(clusterId)?.grouping;
    if (!g) return GROUPING_DEFAULTS;
    return {
      groupWaitMs: g.groupWaitSeconds * 1000,
      groupIntervalMs: g.groupIntervalSeconds * 1000,
      repeatIntervalMs: g.repeatIntervalSeconds * 1000,
    };
  }

  async delivery(cluster: ClusterRuntime, rules: AlertRules | null = this.rulesOf.get(cluster.clusterId) ?? null): Promise<Delivery> {
    let mail: Delivery['mail'] = 'no-smtp';
    if (this.o.mail) {
      try {
        mail = !(await this.o.mail.configured(cluster)) ? 'no-smtp' : rules?.alertEmail ? 'ready' : 'no-address';
      } catch {
        mail = 'unknown';
      }
    }
    return {
      mail,
      mailError: this.mailErrors.get(cluster.clusterId) ?? null,
      lastNotifiedAt: this.store.lastNotifiedAt(cluster.clusterId),
    };
  }

  // ---- rules

  async rules(cluster: ClusterRuntime) {
    const { rules, stored } = await readRules(cluster);
    this.rulesOf.set(cluster.clusterId, rules);
    return { rules, stored, configMap: RULES_CONFIGMAP, namespace: cluster.namespace, delivery: await this.delivery(cluster, rules) };
  }

  async setRules(cluster: ClusterRuntime, rules: AlertRules) {
    const { before } = await writeRules(cluster, rules);
    this.rulesOf.set(cluster.clusterId, rules);
    return {
      before,
      result: {
        rules,
        stored: true,
        configMap: RULES_CONFIGMAP,
        namespace: cluster.namespace,
        delivery: await this.delivery(cluster, rules),
      },
    };
  }

  // ---- evaluation

  /** Starts the cluster's evaluation loop (idempotent); it stops when the cluster's services close. */
  start(cluster: ClusterRuntime): void {
    if (this.timers.has(cluster.clusterId)) return;
    const entry = { timer: undefined as unknown as NodeJS.Timeout, nextEvalAt: 0, busy: false };
    entry.timer = setInterval(() => void this.tick(cluster, entry), this.o.tickMs ?? 5_000);
    entry.timer.unref?.();
    this.timers.set(cluster.clusterId, entry);
    cluster.onClose(() => this.stop(cluster.clusterId));
    void this.tick(cluster, entry);
  }

  stop(clusterId?: string): void {
    for (const [id, t] of this.timers) {
      if (clusterId !== undefined && id !== clusterId) continue;
      clearInterval(t.timer);
      this.timers.delete(id);
    }
  }

  private async tick(cluster: ClusterRuntime, entry: { nextEvalAt: number; busy: boolean }): Promise<void> {
    if (entry.busy) return;
    entry.busy = true;
    try {
      const t = this.now().getTime();
      if (t >= entry.nextEvalAt) {
        await this.evaluate(cluster);
        entry.nextEvalAt = t + (this.rulesOf.get(cluster.clusterId)?.evaluateEverySeconds ?? 60) * 1000;
      } else await this.flush(cluster);
    } catch (error) {
      this.o.log?.warn({ clusterId: cluster.clusterId, err: String(error).slice(0, 200) }, 'alert evaluation failed');
    } finally {
      entry.busy = false;
    }
  }

  /** One cycle: read the sources, apply the rules, record transitions, deliver what is due. */
  async evaluate(cluster: ClusterRuntime): Promise<AlertsOverview> {
    const now = this.now();
    let rules = this.rulesOf.get(cluster.clusterId) ?? null;
    const errors: { source: string; message: string }[] = [];
    try {
      rules = (await readRules(cluster)).rules;
      this.rulesOf.set(cluster.clusterId, rules);
    } catch (error) {
      // Unreachable cluster: keep evaluating with the rules last read (offline: license, cached tenants).
      errors.push({ source: 'rules', message: error instanceof Error ? error.message : String(error) });
    }
    rules ??= defaultRules();
    const gathered = await gatherSnapshot(this.o.readers, cluster, now);
    errors.push(...gathered.errors);
    this.applySnapshot(cluster.clusterId, gathered.snapshot, rules, errors);
    await this.flush(cluster);
    return this.overview(cluster);
  }

  /** Applies one snapshot (the pure part of a cycle; the unit tests and the bench drive it). */
  applySnapshot(clusterId: string, snapshot: AlertSnapshot, rules: AlertRules, errors: { source: string; message: string }[]) {
    const failed = new Set(errors.map((e) => e.source));
    const skipped = new Set(
      Object.entries(RULE_SOURCES)
        .filter(([, source]) => snapshot[source] === null || failed.has(source))
        .map(([rule]) => rule),
    );
    const conditions = evaluate(snapshot, rules);
    const changes = this.store.apply(clusterId, conditions, snapshot.at, skipped);
    const errorsBefore = JSON.stringify(this.store.evaluation(clusterId)?.sourceErrors ?? []);
    this.store.saveEvaluation(clusterId, snapshot.at, errors, digest(snapshot));
    // A quiet cycle publishes nothing: the pages reload on alerts.changed, once a minute would be noise.
    if (changes.fired.length || changes.resolved.length || errorsBefore !== JSON.stringify(errors)) this.publishChanged(clusterId);
    return changes;
  }

  /** Sends the notifications that are due (group wait / interval / repeat). */
  async flush(cluster: ClusterRuntime): Promise<DueNotification[]> {
    const now = this.now();
    const due = dueNotifications(this.store, cluster.clusterId, now, this.timesFor(cluster.clusterId));
    if (due.length === 0) return due;
    const rules = this.rulesOf.get(cluster.clusterId) ?? defaultRules();
    for (const n of due) {
      const severity = n.alerts.reduce<Alert['severity']>(
        (s, a) => (SEVERITY_RANK[a.severity] < SEVERITY_RANK[s] ? a.severity : s),
        'info',
      );
      const title = `${cluster.contextName}: ${n.alerts.length} ${n.groupKey.replace(/_/g, ' ')} alert${n.alerts.length === 1 ? '' : 's'}${n.reason === 'repeat' ? ' (still firing)' : ''}`;
      const body =
        n.alerts
          .slice(0, 5)
          .map((a) => a.summary)
          .join('\n') + (n.alerts.length > 5 ? `\n…and ${n.alerts.length - 5} more` : '');
      this.o.bus.publish('alerts.notify', {
        clusterId: cluster.clusterId,
        clusterName: cluster.contextName,
        title,
        body,
        fingerprints: n.alerts.map((a) => a.fingerprint),
        severity,
        at: now.toISOString(),
      });
      let channels = 'desktop';
      if (this.o.mail && rules.alertEmail) {
        try {
          await this.o.mail.send(cluster, {
            to: [rules.alertEmail],
            subject: `[Gatehouse] ${title}`,
            text: `${body}\n\nCluster: ${cluster.contextName} (${cluster.clusterId})\nOpen Gatehouse → Alerts to acknowledge or silence.\n`,
          });
          this.mailErrors.set(cluster.clusterId, null);
          channels += `, mail to ${rules.alertEmail}`;
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          this.mailErrors.set(cluster.clusterId, message.slice(0, 300));
          channels += ` (mail failed: ${message.slice(0, 120)})`;
        }
      }
      for (const a of n.alerts) this.store.history(cluster.clusterId, 'notified', a.fingerprint, a.rule, now, channels);
    }
    this.publishChanged(cluster.clusterId);
    return due;
  }

  private publishChanged(clusterId: string): void {
    const now = this.now();
    const firing = this.store.list(clusterId, now, false).filter((a) => a.state === 'firing').length;
    this.o.bus.publish('alerts.changed', { clusterId, firing, at: now.toISOString() });
  }

  // ---- reading and commands

  /** The dashboard's totals: the tenant cache (kept live by the WATCH) and the last evaluation. */
  dashboard(
    clusterId: string,
    cache: { tenants: TenantSummary[]; refreshedAt: string } | null,
    activity: DashboardOverview['activity'] = [],
  ): DashboardOverview {
    return dashboardOverview(clusterId, cache, this.store, this.now(), activity);
  }

  async overview(cluster: ClusterRuntime, includeResolved = true): Promise<AlertsOverview> {
    const now = this.now();
    const clusterId = cluster.clusterId;
    const ev = this.store.evaluation(clusterId);
    return {
      clusterId,
      alerts: this.store.list(clusterId, now, includeResolved).slice(0, 1000),
      history: this.store.historyOf(clusterId, 200),
      lastEvaluatedAt: ev?.evaluatedAt ?? null,
      sourceErrors: ev?.sourceErrors ?? [],
      delivery: await this.delivery(cluster),
    };
  }

  acknowledge(cluster: ClusterRuntime, fingerprint: string, by: string, note: string): { before: Alert; after: Alert } {
    const now = this.now();
    const before = this.store.get(cluster.clusterId, fingerprint, now);
    if (!before) throw new ContractError('NOT_FOUND', `No alert ${fingerprint} on ${cluster.contextName}. Reload the Alerts page.`);
    if (before.state === 'resolved')
      throw new ContractError('CONFLICT', `The alert ${fingerprint} has resolved already; nothing to acknowledge.`);
    const after = this.store.acknowledge(cluster.clusterId, fingerprint, by, now, note)!;
    this.publishChanged(cluster.clusterId);
    return { before, after };
  }

  silence(cluster: ClusterRuntime, fingerprint: string, by: string, hours: number): { before: Alert; after: Alert } {
    const now = this.now();
    const before = this.store.get(cluster.clusterId, fingerprint, now);
    if (!before) throw new ContractError('NOT_FOUND', `No alert ${fingerprint} on ${cluster.contextName}. Reload the Alerts page.`);
    const until = hours > 0 ? new Date(now.getTime() + hours * 3_600_000) : null;
    const after = this.store.silence(cluster.clusterId, fingerprint, by, until, now)!;
    this.publishChanged(cluster.clusterId);
    return { before, after };
  }

  /** For the daily report: the alerts that fired or were active since `since`. */
  async alertsOfDay(
    cluster: ClusterRuntime,
    since: Date,
  ): Promise<Array<{ rule: string; severity: string; summary: string; firedAt: string; state: string }>> {
    const now = this.now();
    const s = since.getTime();
    return this.store
      .list(cluster.clusterId, now, true)
      .filter((a) => Date.parse(a.lastFiredAt) >= s || a.resolvedAt === null || Date.parse(a.resolvedAt) >= s)
      .map((a) => ({ rule: a.rule, severity: a.severity, summary: a.summary, firedAt: a.lastFiredAt, state: a.state }));
  }

  close(): void {
    this.stop();
  }
}
