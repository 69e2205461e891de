import type { z } from 'zod';
import type { AuditEntry } from '../../../src-shared/contract/audit';
import type { OverviewRow } from '../../../src-shared/contract/backups';
import type { LicenseStatus } from '../../../src-shared/contract/license';
import type { TenantSummary } from '../../../src-shared/contract/tenants';
import type { ClusterRuntime } from '../core/cluster-runtime';

/** One alert of the day, as the alerts capability hands it over (wired at the merge). */
export interface ReportAlert {
  rule: string;
  severity: string;
  summary: string;
  firedAt: string;
  state: string;
}

/**
 * Where the daily report's figures come from, each read on its own: a source that fails
 * leaves its section saying why, never an invented number. The console wires these to the
 * tenant cache, the license service, the backup catalog and the audit log's local copy.
 */
export interface ReportSources {
  tenants(cluster: ClusterRuntime): Promise<{ tenants: TenantSummary[]; fromCache: boolean }>;
  license?(cluster: ClusterRuntime): Promise<LicenseStatus>;
  backups?(cluster: ClusterRuntime): Promise<{ rows: z.infer<typeof OverviewRow>[]; fromCache: boolean }>;
  audit?(cluster: ClusterRuntime, since: Date, until: Date): Promise<{ entries: AuditEntry[]; total: number; note: string | null }>;
  alertsOfDay?: (cluster: ClusterRuntime, since: Date) => Promise<ReportAlert[]>;
}

type Section<T> = { ok: true; data: T } | { ok: false; reason: string };

export interface ReportModel {
  cluster: string;
  clusterId: string;
  generatedAt: string;
  since: string;
  day: string;
  tenants: Section<{ total: number; byStatus: [string, number][]; byTier: [string, number][]; fromCache: boolean }>;
  users: Section<{ total: number; withStats: number; withoutStats: number; largest: { slug: string; users: number }[] }>;
  license: Section<{
    state: string;
    customer: string | null;
    tier: string;
    expiresAt: string | null;
    daysLeft: number | null;
    users: { used: number | null; limit: number };
    tenants: { used: number | null; limit: number };
  }>;
  backups: Section<{ ok: number; failed: string[]; never: string[]; unverified: number; takenSince: number; fromCache: boolean }>;
  alerts: Section<{ items: ReportAlert[] }>;
  audit: Section<{
    total: number;
    byOutcome: [string, number][];
    topActions: [string, number][];
    notable: { at: string; actor: string; action: string; target: string | null; outcome: string }[];
    note: string | null;
  }>;
}

export interface BuiltReport {
  subject: string;
  text: string;
  html: string;
  model: ReportModel;
  unavailable: { section: string; reason: string }[];
}

const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e)).slice(0, 300);
async function section<T>(read: (() => Promise<T>) | null, missing: string): Promise<Section<T>> {
  if (!read) return { ok: false, reason: missing };
  try {
    return { ok: true, data: await read() };
  } catch (error) {
    return { ok: false, reason: reasonOf(error) };
  }
}
const counts = (values: string[]): [string, number][] => {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
};

/** Reads every source (in parallel) and builds the day's report: model, plain text and HTML. */
export async function buildDailyReport(cluster: ClusterRuntime, sources: ReportSources, now: Date, day: string): Promise<BuiltReport> {
  const since = new Date(now.getTime() - 86_400_000);
  const tenantsRead = section(() => sources.tenants(cluster), 'not available');
  const [tenantRows, license, backups, audit, alerts] = await Promise.all([
    tenantsRead,
    section(sources.license ? () => sources.license!(cluster) : null, 'not available in this build'),
    section(sources.backups ? () => sources.backups!(cluster) : null, 'not available in this build'),
    section(sources.audit ? () => sources.audit!(cluster, since, now) : null, 'not available in this build'),
    section(sources.alertsOfDay ? () => sources.alertsOfDay!(cluster, since) : null, 'not available in this build'),
  ]);
  const model: ReportModel = {
    cluster: cluster.contextName,
    clusterId: cluster.clusterId,
    generatedAt: now.toISOString(),
    since: since.toISOString(),
    day,
    tenants: tenantRows.ok
      ? {
          ok: true,
          data: {
            total: tenantRows.data.tenants.length,
            byStatus: counts(tenantRows.data.tenants.map((t) => t.status)),
            byTier: counts(tenantRows.data.tenants.map((t) => t.tier)),
            fromCache: tenantRows.data.fromCache,
          },
        }
      : tenantRows,
    users: tenantRows.ok
      ? (() => {
          const withStats = tenantRows.data.tenants.filter((t) => t.stats !== null);
          return {
            ok: true as const,
            data: {
              total: withStats.reduce((n, t) => n + (t.stats?.users ?? 0), 0),
              withStats: withStats.length,
              withoutStats: tenantRows.data.tenants.length - withStats.length,
              largest: [...withStats]
                .sort((a, b) => (b.stats?.users ?? 0) - (a.stats?.users ?? 0))
                .slice(0, 5)
                .map((t) => ({ slug: t.slug, users: t.stats?.users ?? 0 })),
            },
          };
        })()
      : tenantRows,
    license: license.ok
      ? {
          ok: true,
          data: {
            state: license.data.state,
            customer: license.data.license?.customer ?? null,
            tier: license.data.effective.tier,
            expiresAt: license.data.license?.expiresAt ?? null,
            daysLeft: license.data.secondsToExpiry === null ? null : Math.floor(license.data.secondsToExpiry / 86_400),
            users: {
              used: tenantRows.ok ? tenantRows.data.tenants.reduce((n, t) => n + (t.stats?.users ?? 0), 0) : null,
              limit: license.data.effective.limits.users,
            },
            tenants: { used: license.data.tenants.total, limit: license.data.effective.limits.tenants },
          },
        }
      : license,
    backups: backups.ok
      ? {
          ok: true,
          data: {
            ok: backups.data.rows.filter((r) => r.health === 'ok').length,
            failed: backups.data.rows.filter((r) => r.health === 'failed').map((r) => r.tenant),
            never: backups.data.rows.filter((r) => r.health === 'never').map((r) => r.tenant),
            unverified: backups.data.rows.filter((r) => r.health === 'unverified').length,
            takenSince: backups.data.rows.filter((r) => r.lastBackup && new Date(r.lastBackup.createdAt) >= since).length,
            fromCache: backups.data.fromCache,
          },
        }
      : backups,
    alerts: alerts.ok ? { ok: true, data: { items: alerts.data } } : alerts,
    audit: audit.ok
      ? {
          ok: true,
          data: {
            total: audit.data.total,
            byOutcome: counts(audit.data.entries.map((e) => e.outcome)),
            topActions: counts(audit.data.entries.map((e) => e.action)).slice(0, 8),
            notable: audit.data.entries
              .filter((e) => e.outcome !== 'success')
              .slice(0, 10)
              .map((e) => ({ at: e.at, actor: e.actor, action: e.action, target: e.target, outcome: e.outcome })),
            note: audit.data.note,
          },
        }
      : audit,
  };
  const unavailable = (['tenants', 'license', 'backups', 'alerts', 'audit'] as const)
    .filter((k) => !model[k].ok)
    .map((k) => ({ section: k, reason: (model[k] as { reason: string }).reason }));
  const attention =
    (model.backups.ok ? model.backups.data.failed.length : 0) +
    (model.license.ok && model.license.data.state !== 'valid' ? 1 : 0) +
    (model.alerts.ok ? model.alerts.data.items.filter((a) => a.state === 'firing').length : 0);
  const subject = `[Gatehouse] Daily report for ${model.cluster}, ${day}${attention ? ` (${attention} need${attention === 1 ? 's' : ''} attention)` : ''}`;
  return { subject, text: renderText(model), html: renderHtml(model, subject), model, unavailable };
}

// ---- rendering

interface Block {
  title: string;
  lines: string[];
  /** key/value rows (rendered as a table in HTML). */
  rows?: [string, string][];
}

function blocks(m: ReportModel): Block[] {
  const na = (s: { ok: false; reason: string }) => [`Not available: ${s.reason}`];
  const out: Block[] = [];
  out.push(
    m.tenants.ok
      ? {
          title: 'Tenants',
          lines: [`${m.tenants.data.total} tenant(s)${m.tenants.data.fromCache ? ' (from the console cache)' : ''}`],
          rows: [
            ...m.tenants.data.byStatus.map(([k, v]) => [`status ${k}`, String(v)] as [string, string]),
            ...m.tenants.data.byTier.map(([k, v]) => [`tier ${k}`, String(v)] as [string, string]),
          ],
        }
      : { title: 'Tenants', lines: na(m.tenants) },
  );
  out.push(
    m.users.ok
      ? {
          title: 'Users',
          lines: [
            `${m.users.data.total.toLocaleString('en')} user(s) across ${m.users.data.withStats} tenant(s)${m.users.data.withoutStats ? `; ${m.users.data.withoutStats} tenant(s) without statistics yet` : ''}`,
          ],
          rows: m.users.data.largest.map((t) => [t.slug, t.users.toLocaleString('en')] as [string, string]),
        }
      : { title: 'Users', lines: na(m.users) },
  );
  out.push(
    m.license.ok
      ? {
          title: 'License',
          lines: [
            `${m.license.data.state}${m.license.data.customer ? ` — ${m.license.data.customer}` : ''}, tier ${m.license.data.tier}${m.license.data.expiresAt ? `, expires ${m.license.data.expiresAt.slice(0, 10)}${m.license.data.daysLeft !== null ? ` (${m.license.data.daysLeft} days)` : ''}` : ''}`,
          ],
          rows: [
            ['users', `${m.license.data.users.used ?? '?'} of ${m.license.data.users.limit}`],
            ['tenants', `${m.license.data.tenants.used ?? '?'} of ${m.license.data.tenants.limit}`],
          ],
        }
      : { title: 'License', lines: na(m.license) },
  );
  out.push(
    m.backups.ok
      ? {
          title: 'Backups',
          lines: [
            `${m.backups.data.ok} tenant(s) with a verified backup, ${m.backups.data.unverified} unverified, ${m.backups.data.takenSince} backed up in the last 24 h${m.backups.data.fromCache ? ' (from the console cache)' : ''}`,
            ...(m.backups.data.failed.length ? [`Last verification FAILED: ${m.backups.data.failed.join(', ')}`] : []),
            ...(m.backups.data.never.length
              ? [
                  `Never backed up: ${m.backups.data.never.slice(0, 20).join(', ')}${m.backups.data.never.length > 20 ? ` and ${m.backups.data.never.length - 20} more` : ''}`,
                ]
              : []),
          ],
        }
      : { title: 'Backups', lines: na(m.backups) },
  );
  out.push(
    m.alerts.ok
      ? {
          title: 'Alerts of the day',
          lines: m.alerts.data.items.length ? [] : ['No alert fired in the last 24 h.'],
          rows: m.alerts.data.items.map(
            (a) => [`${a.severity} ${a.rule}`, `${a.state} since ${a.firedAt}: ${a.summary}`] as [string, string],
          ),
        }
      : { title: 'Alerts of the day', lines: [`Alerts: ${m.alerts.reason}`] },
  );
  out.push(
    m.audit.ok
      ? {
          title: 'Audit log (last 24 h)',
          lines: [
            `${m.audit.data.total} entr${m.audit.data.total === 1 ? 'y' : 'ies'}: ${m.audit.data.byOutcome.map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}${m.audit.data.note ? ` (${m.audit.data.note})` : ''}`,
            ...(m.audit.data.topActions.length
              ? [`Most frequent: ${m.audit.data.topActions.map(([a, n]) => `${a} ×${n}`).join(', ')}`]
              : []),
          ],
          rows: m.audit.data.notable.map(
            (e) =>
              [`${e.at.slice(11, 19)} ${e.outcome}`, `${e.actor}: ${e.action}${e.target ? ` on ${e.target}` : ''}`] as [string, string],
          ),
        }
      : { title: 'Audit log (last 24 h)', lines: na(m.audit) },
  );
  return out;
}

export function renderText(m: ReportModel): string {
  const head = [`Gatehouse daily report — ${m.cluster}`, `Cluster ${m.clusterId}, ${m.day} (generated ${m.generatedAt})`, ''];
  const body = blocks(m).flatMap((b) => [
    b.title.toUpperCase(),
    ...b.lines.map((l) => `  ${l}`),
    ...(b.rows ?? []).map(([k, v]) => `  - ${k}: ${v}`),
    '',
  ]);
  return [...head, ...body, 'Sent by the Gatehouse console (Settings → SMTP → Daily report).', ''].join('\n');
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

export function renderHtml(m: ReportModel, subject: string): string {
  const parts = blocks(m).map((b) => {
    const lines = b.lines.map((l) => `<p style="margin:4px 0">${esc(l)}</p>`).join('');
    const rows = b.rows?.length
      ? `<table style="border-collapse:collapse;margin:6px 0">${b.rows.map(([k, v]) => `<tr><td style="padding:2px 12px 2px 0;color:#555">${esc(k)}</td><td style="padding:2px 0">${esc(v)}</td></tr>`).join('')}</table>`
      : '';
    return `<h2 style="font-size:15px;margin:18px 0 4px">${esc(b.title)}</h2>${lines}${rows}`;
  });
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>${esc(subject)}</title></head><body style="font-family:system-ui,sans-serif;font-size:14px;color:#1b1f24">` +
    `<h1 style="font-size:18px;margin:0 0 2px">Gatehouse daily report — ${esc(m.cluster)}</h1><p style="margin:0;color:#555">Cluster ${esc(m.clusterId)}, ${esc(m.day)} (generated ${esc(m.generatedAt)})</p>` +
    parts.join('') +
    `<p style="margin-top:20px;color:#777;font-size:12px">Sent by the Gatehouse console (Settings → SMTP → Daily report).</p></body></html>`
  );
}
