import { z } from 'zod';
import { command, event } from './define';

/**
 * Alert rules (stored per cluster in the ConfigMap `gatehouse-alert-rules`, docs/alerts.md),
 * the alerts the console evaluates from them, and their delivery (desktop notification, mail).
 */

export const AlertRuleKind = z.enum([
  'license_expiring',
  'capacity',
  'backup_failing',
  'restore_drill_failing',
  'key_age',
  'rollout_stuck',
  'drift',
  'db_connections',
  'audit_alarm',
]);
export type AlertRuleKind = z.infer<typeof AlertRuleKind>;

export const Severity = z.enum(['info', 'warning', 'critical']);
export type Severity = z.infer<typeof Severity>;

const Pct = z.number().int().min(1).max(100);

export const AlertRules = z
  .object({
    /** Where alert mail goes; null: no mail (desktop notifications only). */
    alertEmail: z.email().max(254).nullable().default(null),
    /** Seconds between evaluations while the console runs (min 10 s). */
    evaluateEverySeconds: z.number().int().min(10).max(3600).default(60),
    /** Notification grouping, in seconds; the defaults are Grafana's (group wait 30 s, group interval 5 min, repeat interval 4 h). */
    grouping: z
      .object({
        groupWaitSeconds: z.number().int().min(0).max(3600).default(30),
        groupIntervalSeconds: z
          .number()
          .int()
          .min(10)
          .max(24 * 3600)
          .default(300),
        repeatIntervalSeconds: z
          .number()
          .int()
          .min(60)
          .max(7 * 24 * 3600)
          .default(4 * 3600),
      })
      .strict()
      .prefault({}),
    rules: z
      .object({
        license_expiring: z
          .object({ enabled: z.boolean().default(true), daysBefore: z.number().int().min(1).max(365).default(30) })
          .strict()
          .default({ enabled: true, daysBefore: 30 }),
        capacity: z
          .object({
            enabled: z.boolean().default(true),
            warnPercent: Pct.default(80),
            criticalPercent: Pct.default(95),
            perTenant: z.boolean().default(true),
          })
          .strict()
          .default({ enabled: true, warnPercent: 80, criticalPercent: 95, perTenant: true }),
        backup_failing: z
          .object({
            enabled: z.boolean().default(true),
            maxAgeHours: z
              .number()
              .int()
              .min(1)
              .max(24 * 90)
              .default(26),
          })
          .strict()
          .default({ enabled: true, maxAgeHours: 26 }),
        restore_drill_failing: z
          .object({ enabled: z.boolean().default(true) })
          .strict()
          .default({ enabled: true }),
        key_age: z
          .object({ enabled: z.boolean().default(true) })
          .strict()
          .default({ enabled: true }),
        rollout_stuck: z
          .object({ enabled: z.boolean().default(true) })
          .strict()
          .default({ enabled: true }),
        drift: z
          .object({ enabled: z.boolean().default(true) })
          .strict()
          .default({ enabled: true }),
        db_connections: z
          .object({ enabled: z.boolean().default(true), warnPercent: Pct.default(80) })
          .strict()
          .default({ enabled: true, warnPercent: 80 }),
        audit_alarm: z
          .object({ enabled: z.boolean().default(true) })
          .strict()
          .default({ enabled: true }),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  // Every field has a default: the smallest document is the alert address alone.
  .meta({ examples: [{ alertEmail: 'oncall@example.com' }] });
export type AlertRules = z.infer<typeof AlertRules>;

export const AlertState = z.enum(['firing', 'resolved', 'acknowledged', 'silenced']);
export type AlertState = z.infer<typeof AlertState>;

export const Alert = z.object({
  /** Stable identity of the condition (rule + subject): the same condition is one alert, however often it is seen. */
  fingerprint: z.string(),
  rule: AlertRuleKind,
  severity: Severity,
  /** What it is about: a tenant slug, a deployment, the license… */
  subject: z.string(),
  summary: z.string(),
  /** The page that shows it (a #/ route). */
  link: z.string(),
  state: AlertState,
  firstFiredAt: z.string(),
  lastFiredAt: z.string(),
  lastSeenAt: z.string(),
  resolvedAt: z.string().nullable(),
  acknowledgedBy: z.string().nullable(),
  acknowledgedAt: z.string().nullable(),
  silencedUntil: z.string().nullable(),
  silencedBy: z.string().nullable(),
});
export type Alert = z.infer<typeof Alert>;

export const AlertHistoryEntry = z.object({
  at: z.string(),
  fingerprint: z.string(),
  rule: AlertRuleKind,
  event: z.enum(['fired', 'resolved', 'acknowledged', 'silenced', 'unsilenced', 'notified']),
  detail: z.string().nullable(),
});

export const Delivery = z.object({
  /**
   * Mail: `ready` (SMTP relay configured on Settings → SMTP and an alert address set), `no-address`,
   * `no-smtp` (no relay for this cluster), `unknown` (the cluster did not answer).
   */
  mail: z.enum(['ready', 'no-address', 'no-smtp', 'unknown']),
  mailError: z.string().nullable(),
  lastNotifiedAt: z.string().nullable(),
});
export type Delivery = z.infer<typeof Delivery>;

export const AlertsOverview = z.object({
  clusterId: z.string(),
  alerts: z.array(Alert),
  history: z.array(AlertHistoryEntry),
  lastEvaluatedAt: z.string().nullable(),
  /** Sources that could not be read in the last evaluation (their rules were not evaluated). */
  sourceErrors: z.array(z.object({ source: z.string(), message: z.string() })),
  delivery: Delivery,
});
export type AlertsOverview = z.infer<typeof AlertsOverview>;

const Fingerprint = z.string().min(1).max(300);

export const alertsCommands = {
  'alerts.list': command({
    summary: 'Alerts of the selected cluster (current and recent) with their history',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({ includeResolved: z.boolean().default(true) }).strict(),
    output: AlertsOverview,
  }),
  'alerts.rules.get': command({
    summary: 'The alert rules, thresholds and alert address of the selected cluster',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({ rules: AlertRules, stored: z.boolean(), configMap: z.string(), namespace: z.string(), delivery: Delivery }),
  }),
  'alerts.rules.set': command({
    summary: 'Store the alert rules of the selected cluster (ConfigMap gatehouse-alert-rules)',
    role: 'admin',
    mutating: true,
    input: z.object({ rules: AlertRules }).strict(),
    output: z.object({ rules: AlertRules, stored: z.boolean(), configMap: z.string(), namespace: z.string(), delivery: Delivery }),
  }),
  'alerts.evaluate': command({
    summary: 'Evaluate the alert rules of the selected cluster now',
    role: 'operator',
    mutating: false,
    input: z.object({}).strict(),
    output: AlertsOverview,
  }),
  'alerts.acknowledge': command({
    summary: 'Acknowledge a firing alert (no more notifications until it resolves and fires again)',
    role: 'operator',
    mutating: true,
    input: z.object({ fingerprint: Fingerprint, note: z.string().max(500).default('') }).strict(),
    output: Alert,
  }),
  'alerts.silence': command({
    summary: 'Silence an alert until a time (no notifications meanwhile); 0 hours lifts the silence',
    role: 'operator',
    mutating: true,
    input: z
      .object({
        fingerprint: Fingerprint,
        hours: z
          .number()
          .min(0)
          .max(24 * 30),
      })
      .strict(),
    output: Alert,
  }),
};

export const alertsEvents = {
  'alerts.changed': event({
    role: 'viewer',
    summary: 'The alerts of a cluster changed (evaluation, acknowledge, silence)',
    payload: z.object({ clusterId: z.string(), firing: z.number().int(), at: z.string() }),
  }),
  'alerts.notify': event({
    role: 'viewer',
    summary: 'A group of alerts is due for a notification (the renderer shows a desktop notification)',
    payload: z.object({
      clusterId: z.string(),
      clusterName: z.string(),
      title: z.string(),
      body: z.string(),
      fingerprints: z.array(z.string()),
      severity: Severity,
      at: z.string(),
    }),
  }),
};
