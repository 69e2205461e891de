import { describe, expect, it } from 'vitest';
import { buildDailyReport, claimable, localClock, nextSendAt, type ReportSources } from '../../../src-main/engine/reports';
import { MAX_ATTEMPTS, RETRY_AFTER_MS, STALE_SENDING_MS } from '../../../src-main/engine/reports/state';
import type { ClusterRuntime } from '../../../src-main/engine/core/cluster-runtime';
import type { ReportLastSent } from '../../../src-shared/contract/mail';
import type { TenantSummary } from '../../../src-shared/contract/tenants';

const cluster = { clusterId: 'uid-1', contextName: 'prod <eu>', namespace: 'iam-system' } as unknown as ClusterRuntime;
const tenant = (slug: string, users: number | null, status = 'active', tier = 'PRO'): TenantSummary => ({
  slug,
  name: slug,
  tier,
  status,
  created: null,
  schemaVersion: 1,
  licenseUsers: null,
  backendVersion: null,
  hasSecret: true,
  hasDatabase: true,
  inRegistry: true,
  stats: users === null ? null : { users, groups: 1, applications: 1 },
  statsAt: null,
});
const last = (over: Partial<ReportLastSent>): ReportLastSent => ({
  day: '2026-03-29',
  state: 'sent',
  at: '2026-03-29T07:00:00Z',
  by: 'console:a',
  attempts: 1,
  messageId: 'm',
  error: null,
  ...over,
});

describe('daily report clock', () => {
  it('reads the local day and hour of a time zone, across a DST change', () => {
    // Europe/Berlin switches to summer time on 2026-03-29 at 02:00 local (01:00 UTC)
    expect(localClock(new Date('2026-03-29T00:30:00Z'), 'Europe/Berlin')).toEqual({ day: '2026-03-29', hour: 1 });
    expect(localClock(new Date('2026-03-29T01:30:00Z'), 'Europe/Berlin')).toEqual({ day: '2026-03-29', hour: 3 });
    expect(localClock(new Date('2026-03-28T23:30:00Z'), 'America/New_York')).toEqual({ day: '2026-03-28', hour: 19 });
    expect(localClock(new Date('2026-03-28T23:30:00Z'), 'Etc/UTC')).toEqual({ day: '2026-03-28', hour: 23 });
  });

  it('a day is claimable once; a failure is retried after a pause, a stale claim after a longer one, at most MAX_ATTEMPTS', () => {
    const now = new Date('2026-03-29T07:05:00Z');
    expect(claimable(null, '2026-03-29', now)).toBe(true);
    expect(claimable(last({ day: '2026-03-28' }), '2026-03-29', now)).toBe(true);
    expect(claimable(last({}), '2026-03-29', now)).toBe(false);
    const failedAt = (ms: number) => new Date(now.getTime() - ms).toISOString();
    expect(claimable(last({ state: 'failed', at: failedAt(RETRY_AFTER_MS - 1000) }), '2026-03-29', now)).toBe(false);
    expect(claimable(last({ state: 'failed', at: failedAt(RETRY_AFTER_MS) }), '2026-03-29', now)).toBe(true);
    expect(claimable(last({ state: 'failed', at: failedAt(RETRY_AFTER_MS), attempts: MAX_ATTEMPTS }), '2026-03-29', now)).toBe(false);
    expect(claimable(last({ state: 'sending', at: failedAt(RETRY_AFTER_MS) }), '2026-03-29', now)).toBe(false);
    expect(claimable(last({ state: 'sending', at: failedAt(STALE_SENDING_MS) }), '2026-03-29', now)).toBe(true);
  });

  it('next sending: later today, tomorrow when today is done, now when due and not sent, null when off', () => {
    const cfg = { enabled: true, hour: 8, timeZone: 'Europe/Berlin', recipients: ['a@b.test'], inCluster: false };
    expect(nextSendAt({ config: cfg, lastSent: null }, new Date('2026-06-01T04:10:00Z'))?.toISOString()).toBe('2026-06-01T06:00:00.000Z');
    const now = new Date('2026-06-01T07:10:00Z');
    expect(nextSendAt({ config: cfg, lastSent: null }, now)?.toISOString()).toBe(now.toISOString());
    expect(nextSendAt({ config: cfg, lastSent: last({ day: '2026-06-01' }) }, now)?.toISOString()).toBe('2026-06-02T06:00:00.000Z');
    expect(nextSendAt({ config: { ...cfg, enabled: false }, lastSent: null }, now)).toBeNull();
    expect(nextSendAt({ config: { ...cfg, recipients: [] }, lastSent: null }, now)).toBeNull();
  });
});

describe('daily report content', () => {
  const sources: ReportSources = {
    tenants: async () => ({
      tenants: [tenant('acme', 40), tenant('globex', 2, 'suspended', 'Enterprise'), tenant('new<b>', null)],
      fromCache: true,
    }),
    backups: async () => ({
      fromCache: false,
      rows: [
        { tenant: 'acme', health: 'ok', lastBackup: null, lastVerified: null, backups: 3, storedBytes: 1 },
        { tenant: 'globex', health: 'failed', lastBackup: null, lastVerified: null, backups: 1, storedBytes: 1 },
      ],
    }),
    license: async () => {
      throw new Error('the license Secret cannot be read (403)');
    },
  };

  it('fills what its sources give, says why a section is missing, and never invents alerts', async () => {
    const r = await buildDailyReport(cluster, sources, new Date('2026-06-01T06:00:00Z'), '2026-06-01');
    expect(r.model.tenants).toEqual({
      ok: true,
      data: {
        total: 3,
        byStatus: [
          ['active', 2],
          ['suspended', 1],
        ],
        byTier: [
          ['PRO', 2],
          ['Enterprise', 1],
        ],
        fromCache: true,
      },
    });
    expect(r.model.users).toMatchObject({ ok: true, data: { total: 42, withStats: 2, withoutStats: 1 } });
    expect(r.text).toContain('Alerts: not available in this build');
    expect(r.text).toContain('Not available: the license Secret cannot be read (403)');
    expect(r.text).toContain('Last verification FAILED: globex');
    expect(r.unavailable.map((u) => u.section)).toEqual(['license', 'alerts', 'audit']);
    expect(r.subject).toBe('[Gatehouse] Daily report for prod <eu>, 2026-06-01 (1 needs attention)');
  });

  it('escapes everything in the HTML version', async () => {
    const r = await buildDailyReport(cluster, sources, new Date('2026-06-01T06:00:00Z'), '2026-06-01');
    expect(r.html).toContain('prod &lt;eu&gt;');
    expect(r.html).not.toContain('prod <eu>');
    expect(r.html).not.toContain('new<b>');
  });

  it('lists the alerts of the day when the alerts capability provides them', async () => {
    const r = await buildDailyReport(
      cluster,
      {
        ...sources,
        alertsOfDay: async () => [
          { rule: 'license_expiring', severity: 'warning', summary: 'expires in 7 days', firedAt: '2026-06-01T03:00:00Z', state: 'firing' },
        ],
      },
      new Date('2026-06-01T06:00:00Z'),
      '2026-06-01',
    );
    expect(r.text).toContain('warning license_expiring: firing since 2026-06-01T03:00:00Z: expires in 7 days');
    expect(r.text).not.toContain('Alerts: not available');
    expect(r.subject).toContain('(2 need attention)');
  });
});
