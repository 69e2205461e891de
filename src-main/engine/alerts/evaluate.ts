import type { AlertRuleKind, AlertRules, Severity } from '../../../src-shared/contract/alerts';

/**
 * What one evaluation reads: each field comes from an existing read API or cache of
 * another capability (sources.ts), never a GET per tenant. A source that could not be
 * read is null and its rules are skipped (listed in `errors`), so an unreadable source
 * never resolves an alert that is still true.
 */
export interface AlertSnapshot {
  at: Date;
  license: {
    state: string;
    /** Seconds until expiry of the verified license; null without one. */
    secondsToExpiry: number | null;
    licenseId: string | null;
    tenantsLimit: number | null;
    usersLimit: number | null;
  } | null;
  tenants: {
    total: number;
    users: number;
    /** Per-tenant user use against its cap (license allocation or share). */
    caps: { slug: string; users: number | null; cap: number | null }[];
    drift: { slug: string; kind: string; message: string }[];
  } | null;
  backups: {
    rows: { tenant: string; health: string; lastBackupAt: string | null; lastVerifyState: string | null; lastVerifyAt: string | null }[];
    /** Enabled schedules by scope ('*' or a slug) → the longest allowed age (hours), when one is known. */
    scheduled: { scope: string; everyHours: number | null }[];
  } | null;
  keys: { slug: string; kind: string; ageDays: number; maxAgeDays: number }[] | null;
  rollouts: { name: string; health: string; message: string | null; stuckUpgrade: string | null }[] | null;
  database: { used: number; max: number } | null;
  audit: { id: number; kind: string; message: string }[] | null;
}

export interface Condition {
  fingerprint: string;
  rule: AlertRuleKind;
  severity: Severity;
  subject: string;
  summary: string;
  link: string;
}

const DAY = 86_400;
const pct = (n: number, d: number) => (d > 0 ? Math.floor((n * 100) / d) : 0);

/** Sources each rule needs: a rule whose source is unreadable keeps its alerts as they are. */
export const RULE_SOURCES: Record<AlertRuleKind, keyof Omit<AlertSnapshot, 'at'>> = {
  license_expiring: 'license',
  capacity: 'tenants',
  backup_failing: 'backups',
  restore_drill_failing: 'backups',
  key_age: 'keys',
  rollout_stuck: 'rollouts',
  drift: 'tenants',
  db_connections: 'database',
  audit_alarm: 'audit',
};

/** The conditions that hold now, one per fingerprint (pure: the unit tests drive it). */
export function evaluate(s: AlertSnapshot, config: AlertRules): Condition[] {
  const out = new Map<string, Condition>();
  const add = (c: Omit<Condition, 'fingerprint'>) => {
    const fingerprint = `${c.rule}:${c.subject}`;
    if (!out.has(fingerprint)) out.set(fingerprint, { fingerprint, ...c });
  };
  const r = config.rules;

  if (r.license_expiring.enabled && s.license) {
    const l = s.license;
    if (l.secondsToExpiry !== null) {
      const days = Math.floor(l.secondsToExpiry / DAY);
      if (l.secondsToExpiry <= 0)
        add({
          rule: 'license_expiring',
          severity: 'critical',
          subject: 'license',
          link: '#/license',
          summary: `The license ${l.licenseId ?? ''} has expired (${l.state}). Import a renewal on the License page.`.replace('  ', ' '),
        });
      else if (days < r.license_expiring.daysBefore)
        add({
          rule: 'license_expiring',
          severity: days < 7 ? 'critical' : 'warning',
          subject: 'license',
          link: '#/license',
          summary:
            `The license ${l.licenseId ?? ''} expires in ${days} day${days === 1 ? '' : 's'}. Request a renewal on the License page.`.replace(
              '  ',
              ' ',
            ),
        });
    } else if (l.state === 'invalid') {
      add({
        rule: 'license_expiring',
        severity: 'critical',
        subject: 'license',
        link: '#/license',
        summary: 'The stored license does not verify. Import a valid license on the License page.',
      });
    }
  }

  if (r.capacity.enabled && s.tenants) {
    const level = (p: number): Severity | null =>
      p >= r.capacity.criticalPercent ? 'critical' : p >= r.capacity.warnPercent ? 'warning' : null;
    const lim = s.license;
    if (lim?.tenantsLimit) {
      const p = pct(s.tenants.total, lim.tenantsLimit);
      const sev = level(p);
      if (sev)
        add({
          rule: 'capacity',
          severity: sev,
          subject: 'license-tenants',
          link: '#/license',
          summary: `${s.tenants.total} of ${lim.tenantsLimit} licensed tenants in use (${p} %)${p >= 100 ? ', the limit is reached' : ''}.`,
        });
    }
    if (lim?.usersLimit) {
      const p = pct(s.tenants.users, lim.usersLimit);
      const sev = level(p);
      if (sev)
        add({
          rule: 'capacity',
          severity: sev,
          subject: 'license-users',
          link: '#/license',
          summary: `${s.tenants.users} of ${lim.usersLimit} licensed users in use (${p} %)${p >= 100 ? ', the limit is reached' : ''}.`,
        });
    }
    if (r.capacity.perTenant) {
      for (const t of s.tenants.caps) {
        if (t.users === null || !t.cap) continue;
        const p = pct(t.users, t.cap);
        const sev = level(p);
        if (sev)
          add({
            rule: 'capacity',
            severity: sev,
            subject: `tenant:${t.slug}`,
            link: `#/tenants/${t.slug}`,
            summary: `${t.slug}: ${t.users} of ${t.cap} users (${p} % of its cap)${p >= 100 ? ', the cap is reached' : ''}.`,
          });
      }
    }
  }

  if (r.drift.enabled && s.tenants) {
    for (const d of s.tenants.drift)
      add({ rule: 'drift', severity: 'warning', subject: `${d.slug}:${d.kind}`, link: `#/tenants/${d.slug}`, summary: d.message });
  }

  if (s.backups) {
    const now = s.at.getTime();
    const maxAgeFor = (tenant: string) => {
      const own = s.backups!.scheduled.find((x) => x.scope === tenant) ?? s.backups!.scheduled.find((x) => x.scope === '*');
      if (!own) return null;
      // Older than its schedule (plus two hours of slack) or than the rule's bound, whichever is larger.
      return Math.max(own.everyHours !== null ? own.everyHours + 2 : 0, r.backup_failing.maxAgeHours);
    };
    for (const row of s.backups.rows) {
      if (r.backup_failing.enabled) {
        const maxHours = maxAgeFor(row.tenant);
        if (maxHours !== null) {
          if (!row.lastBackupAt)
            add({
              rule: 'backup_failing',
              severity: 'warning',
              subject: row.tenant,
              link: '#/backups',
              summary: `${row.tenant}: scheduled for backups but none was taken yet.`,
            });
          else {
            const hours = Math.floor((now - Date.parse(row.lastBackupAt)) / 3_600_000);
            if (hours > maxHours)
              add({
                rule: 'backup_failing',
                severity: 'critical',
                subject: row.tenant,
                link: '#/backups',
                summary: `${row.tenant}: the last backup is ${hours} hours old (schedule allows ${maxHours}).`,
              });
          }
        }
      }
      if (r.restore_drill_failing.enabled && row.lastVerifyState === 'failed')
        add({
          rule: 'restore_drill_failing',
          severity: 'critical',
          subject: row.tenant,
          link: '#/backups',
          summary: `${row.tenant}: the last restore drill (verification) failed. Open Backups to see why.`,
        });
    }
  }

  if (r.key_age.enabled && s.keys) {
    for (const k of s.keys)
      add({
        rule: 'key_age',
        severity: 'warning',
        subject: `${k.slug}:${k.kind}`,
        link: '#/secrets',
        summary: `${k.slug}: ${k.kind} is ${k.ageDays} days old (policy: ${k.maxAgeDays} days). Rotate it.`,
      });
  }

  if (r.rollout_stuck.enabled && s.rollouts) {
    for (const w of s.rollouts) {
      if (w.stuckUpgrade)
        add({
          rule: 'rollout_stuck',
          severity: 'critical',
          subject: w.name,
          link: '#/infrastructure',
          summary: `Upgrade ${w.stuckUpgrade}: ${w.name} is stuck${w.message ? ` (${w.message})` : ''}. Resume or roll back on Infrastructure.`,
        });
      else if (w.health === 'Degraded')
        add({
          rule: 'rollout_stuck',
          severity: 'critical',
          subject: w.name,
          link: '#/infrastructure',
          summary: `${w.name} is degraded${w.message ? `: ${w.message}` : ''}.`,
        });
    }
  }

  if (r.db_connections.enabled && s.database && s.database.max > 0) {
    const p = pct(s.database.used, s.database.max);
    if (p >= r.db_connections.warnPercent)
      add({
        rule: 'db_connections',
        severity: p >= 95 ? 'critical' : 'warning',
        subject: 'postgres',
        link: '#/infrastructure',
        summary: `PostgreSQL has ${s.database.used} of ${s.database.max} connections in use (${p} %).`,
      });
  }

  if (r.audit_alarm.enabled && s.audit) {
    for (const a of s.audit)
      add({
        rule: 'audit_alarm',
        severity: 'critical',
        subject: `alarm-${a.id}`,
        link: '#/audit',
        summary: `Audit verification: ${a.message}`,
      });
  }
  return [...out.values()];
}
