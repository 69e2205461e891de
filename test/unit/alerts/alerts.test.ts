import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openLocalStore, type Sqlite } from '../../../src-main/adapters/sqlite';
import { EventBus } from '../../../src-main/engine/core/events';
import type { ClusterRuntime } from '../../../src-main/engine/core/cluster-runtime';
import {
  AlertsService,
  alertsMigrations,
  defaultRules,
  evaluate,
  type AlertSnapshot,
  type MailMessage,
} from '../../../src-main/engine/alerts';
import type { AlertRules } from '../../../src-shared/contract/alerts';

const CLUSTER = 'uid-1';
const cluster = {
  clusterId: CLUSTER,
  contextId: 'ctx',
  contextName: 'prod',
  namespace: 'iam-system',
  onClose: () => undefined,
} as unknown as ClusterRuntime;

const empty = (at: Date): AlertSnapshot => ({
  at,
  license: { state: 'valid', secondsToExpiry: 200 * 86_400, licenseId: 'L-1', tenantsLimit: 100, usersLimit: 1000 },
  tenants: { total: 10, users: 100, caps: [], drift: [] },
  backups: { rows: [], scheduled: [] },
  keys: [],
  rollouts: [],
  database: { used: 10, max: 100 },
  audit: [],
});
const drift = (at: Date, slugs: string[]): AlertSnapshot => ({
  ...empty(at),
  tenants: {
    total: 10,
    users: 100,
    caps: [],
    drift: slugs.map((slug) => ({ slug, kind: 'missing-secret', message: `${slug}: Secret tenant-${slug} is missing` })),
  },
});

describe('alert evaluation (pure)', () => {
  const rules = defaultRules();
  it('fires the license rule N days before expiry and not earlier', () => {
    const s = empty(new Date());
    expect(evaluate({ ...s, license: { ...s.license!, secondsToExpiry: 31 * 86_400 } }, rules)).toEqual([]);
    const c = evaluate({ ...s, license: { ...s.license!, secondsToExpiry: 5 * 86_400 } }, rules);
    expect(c.map((x) => [x.rule, x.severity])).toEqual([['license_expiring', 'critical']]);
    const lenient: AlertRules = { ...rules, rules: { ...rules.rules, license_expiring: { enabled: true, daysBefore: 3 } } };
    expect(evaluate({ ...s, license: { ...s.license!, secondsToExpiry: 5 * 86_400 } }, lenient)).toEqual([]);
  });
  it('capacity at 80 / 95 %, per-tenant caps, connections near max, old backups', () => {
    const at = new Date('2026-12-02T12:00:00Z');
    const s: AlertSnapshot = {
      ...empty(at),
      tenants: {
        total: 96,
        users: 810,
        caps: [
          { slug: 'acme', users: 100, cap: 100 },
          { slug: 'ok', users: 10, cap: 100 },
        ],
        drift: [],
      },
      database: { used: 85, max: 100 },
      backups: {
        rows: [{ tenant: 'acme', health: 'ok', lastBackupAt: '2026-11-30T12:00:00Z', lastVerifyState: 'failed', lastVerifyAt: null }],
        scheduled: [{ scope: '*', everyHours: 24 }],
      },
    };
    const c = evaluate(s, rules);
    const by = Object.fromEntries(c.map((x) => [x.fingerprint, x.severity]));
    expect(by).toEqual({
      'capacity:license-tenants': 'critical',
      'capacity:license-users': 'warning',
      'capacity:tenant:acme': 'critical',
      'db_connections:postgres': 'warning',
      'backup_failing:acme': 'critical',
      'restore_drill_failing:acme': 'critical',
    });
  });
});

describe('alert state, grouping and delivery (fake clock)', () => {
  let dir: string;
  let db: Sqlite;
  let now: Date;
  let bus: EventBus;
  let notes: { title: string; fingerprints: string[] }[];
  let mails: MailMessage[];
  let svc: AlertsService;
  const advance = (ms: number) => (now = new Date(now.getTime() + ms));
  const rulesWithMail: AlertRules = { ...defaultRules(), alertEmail: 'ops@example.test' };
  const cycle = async (s: AlertSnapshot) => {
    svc.applySnapshot(CLUSTER, s, rulesWithMail, []);
    await svc.flush(cluster);
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gh-alerts-'));
    db = openLocalStore(dir, alertsMigrations).db;
    now = new Date('2026-12-02T08:00:00Z');
    bus = new EventBus();
    notes = [];
    mails = [];
    bus.subscribe('alerts.notify', (n) => notes.push({ title: n.title, fingerprints: n.fingerprints }));
    svc = new AlertsService({
      db,
      bus,
      readers: {} as never,
      now: () => now,
      mail: { send: async (_c, m) => void mails.push(m), configured: async () => true },
    });
    // The service reads the alert address from the rules it last saw; give it ours.
    (svc as unknown as { rulesOf: Map<string, AlertRules> }).rulesOf.set(CLUSTER, rulesWithMail);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('waits group_wait, groups siblings into one notification, deduplicates by fingerprint', async () => {
    await cycle(drift(now, ['a']));
    expect(notes).toHaveLength(0);
    advance(10_000);
    await cycle(drift(now, ['a', 'b']));
    await cycle(drift(now, ['a', 'b'])); // same conditions again: no new alert rows
    expect(notes).toHaveLength(0);
    advance(20_000);
    await cycle(drift(now, ['a', 'b']));
    expect(notes).toHaveLength(1);
    expect(notes[0]!.fingerprints.sort()).toEqual(['drift:a:missing-secret', 'drift:b:missing-secret']);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual(['ops@example.test']);
    expect(mails[0]!.text).toContain('Secret tenant-a is missing');
    expect((await svc.overview(cluster)).alerts.filter((a) => a.state === 'firing')).toHaveLength(2);
  });

  it('a new alert in a notified group waits group_interval; the same set repeats after repeat_interval', async () => {
    await cycle(drift(now, ['a']));
    advance(30_000);
    await cycle(drift(now, ['a']));
    expect(notes).toHaveLength(1);
    advance(60_000);
    await cycle(drift(now, ['a', 'b']));
    advance(60_000);
    await cycle(drift(now, ['a', 'b']));
    expect(notes).toHaveLength(1); // only 2 minutes since the last one
    advance(3 * 60_000);
    await cycle(drift(now, ['a', 'b']));
    expect(notes).toHaveLength(2);
    advance(3 * 3_600_000);
    await cycle(drift(now, ['a', 'b']));
    expect(notes).toHaveLength(2);
    advance(3_600_000);
    await cycle(drift(now, ['a', 'b']));
    expect(notes).toHaveLength(3);
    expect(notes[2]!.title).toContain('still firing');
  });

  it('a flapping condition does not notify (or mail) once per flap', async () => {
    await cycle(drift(now, ['a']));
    advance(30_000);
    await cycle(drift(now, ['a']));
    expect(notes).toHaveLength(1);
    for (let i = 0; i < 20; i++) {
      advance(6 * 60_000);
      await cycle(drift(now, []));
      advance(6 * 60_000);
      await cycle(drift(now, ['a']));
    }
    // 20 flaps over four hours: the first notification and one repeat after the repeat interval, never one per flap.
    expect(notes).toHaveLength(2);
    expect(notes[1]!.title).toContain('still firing');
    expect(mails).toHaveLength(2);
    const history = (await svc.overview(cluster)).history;
    expect(history.filter((h) => h.event === 'fired')).toHaveLength(21);
    expect(history.filter((h) => h.event === 'resolved')).toHaveLength(20);
  });

  it('acknowledged and silenced alerts are not notified; a silence ends on time; an acknowledgement ends with the episode', async () => {
    await cycle(drift(now, ['a']));
    svc.acknowledge(cluster, 'drift:a:missing-secret', 'op:alice', 'looking');
    advance(60_000);
    await cycle(drift(now, ['a']));
    expect(notes).toHaveLength(0);
    expect(svc.store.get(CLUSTER, 'drift:a:missing-secret', now)!.state).toBe('acknowledged');
    // resolves and fires again: a new episode, the acknowledgement no longer holds
    await cycle(drift(now, []));
    advance(1000);
    await cycle(drift(now, ['a']));
    expect(svc.store.get(CLUSTER, 'drift:a:missing-secret', now)!.state).toBe('firing');
    svc.silence(cluster, 'drift:a:missing-secret', 'op:alice', 2);
    advance(60_000);
    await cycle(drift(now, ['a']));
    expect(notes).toHaveLength(0);
    expect(svc.store.get(CLUSTER, 'drift:a:missing-secret', now)!.state).toBe('silenced');
    advance(2 * 3_600_000);
    await cycle(drift(now, ['a']));
    expect(svc.store.get(CLUSTER, 'drift:a:missing-secret', now)!.state).toBe('firing');
    advance(30_000);
    await cycle(drift(now, ['a']));
    expect(notes).toHaveLength(1);
  });

  it('a source that could not be read keeps its alerts (never resolved by an outage)', async () => {
    await cycle(drift(now, ['a']));
    svc.applySnapshot(CLUSTER, { ...empty(now), tenants: null }, rulesWithMail, [{ source: 'tenants', message: 'no cache' }]);
    expect(svc.store.get(CLUSTER, 'drift:a:missing-secret', now)!.state).toBe('firing');
    svc.applySnapshot(CLUSTER, empty(now), rulesWithMail, []);
    expect(svc.store.get(CLUSTER, 'drift:a:missing-secret', now)!.state).toBe('resolved');
  });

  it('without a mail port nothing is mailed and the delivery says so', async () => {
    svc = new AlertsService({ db, bus, readers: {} as never, now: () => now, mail: null });
    expect((await svc.delivery(cluster, rulesWithMail)).mail).toBe('no-smtp');
    await cycle(drift(now, ['a']));
    advance(30_000);
    await cycle(drift(now, ['a']));
    expect(notes).toHaveLength(1);
    expect(mails).toHaveLength(0);
    const day = await svc.alertsOfDay(cluster, new Date(now.getTime() - 86_400_000));
    expect(day).toEqual([expect.objectContaining({ rule: 'drift', state: 'firing', severity: 'warning' })]);
  });

  it('the grouping timings come from the rules (Settings → Alerts)', async () => {
    const quick: AlertRules = { ...rulesWithMail, grouping: { groupWaitSeconds: 0, groupIntervalSeconds: 60, repeatIntervalSeconds: 600 } };
    (svc as unknown as { rulesOf: Map<string, AlertRules> }).rulesOf.set(CLUSTER, quick);
    await cycle(drift(now, ['a']));
    expect(notes).toHaveLength(1); // group wait 0: at once
    advance(30_000);
    await cycle(drift(now, ['a', 'b']));
    expect(notes).toHaveLength(1); // group interval 60 s not over
    advance(30_000);
    await cycle(drift(now, ['a', 'b']));
    expect(notes).toHaveLength(2);
    advance(600_000);
    await cycle(drift(now, ['a', 'b']));
    expect(notes).toHaveLength(3);
    expect(notes[2]!.title).toContain('still firing');
  });

  it('delivery says what mail needs: an SMTP relay, then an alert address; a failed mail is shown and recorded', async () => {
    let configured = false;
    svc = new AlertsService({
      db,
      bus,
      readers: {} as never,
      now: () => now,
      mail: {
        send: async () => {
          throw new Error('535 authentication failed: check the SMTP password on Settings → SMTP');
        },
        configured: async () => configured,
      },
    });
    expect((await svc.delivery(cluster, rulesWithMail)).mail).toBe('no-smtp');
    configured = true;
    expect((await svc.delivery(cluster, defaultRules())).mail).toBe('no-address');
    expect((await svc.delivery(cluster, rulesWithMail)).mail).toBe('ready');
    (svc as unknown as { rulesOf: Map<string, AlertRules> }).rulesOf.set(CLUSTER, rulesWithMail);
    await cycle(drift(now, ['a']));
    advance(30_000);
    await cycle(drift(now, ['a']));
    expect(notes).toHaveLength(1); // the desktop notification still goes out
    const o = await svc.overview(cluster);
    expect(o.delivery.mailError).toContain('535 authentication failed');
    expect(o.history.find((h) => h.event === 'notified')?.detail).toContain('mail failed');
  });

  it('silence with 0 hours lifts it; acknowledging a resolved alert is refused; unknown fingerprints are NOT_FOUND', async () => {
    await cycle(drift(now, ['a']));
    const fp = 'drift:a:missing-secret';
    expect(svc.silence(cluster, fp, 'op:alice', 1).after.state).toBe('silenced');
    expect(svc.silence(cluster, fp, 'op:alice', 0).after.state).toBe('firing');
    await cycle(drift(now, []));
    expect(() => svc.acknowledge(cluster, fp, 'op:alice', '')).toThrow(/resolved already/);
    expect(() => svc.acknowledge(cluster, 'drift:zz:x', 'op:alice', '')).toThrow(/No alert/);
    const events = (await svc.overview(cluster)).history.map((h) => h.event);
    expect(events).toEqual(expect.arrayContaining(['fired', 'silenced', 'unsilenced', 'resolved']));
  });
});

describe('the evaluation loop (per cluster, stopped on close)', () => {
  it('evaluates on start and every period of the injected clock, and stops when the cluster closes', async () => {
    vi.useFakeTimers();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-alerts-loop-'));
    const db = openLocalStore(dir, alertsMigrations).db;
    try {
      let now = new Date('2026-12-02T08:00:00Z');
      let reads = 0;
      const closers: (() => void)[] = [];
      const c = { ...cluster, onClose: (fn: () => void) => closers.push(fn) } as unknown as ClusterRuntime;
      const svc = new AlertsService({
        db,
        bus: new EventBus(),
        now: () => now,
        tickMs: 1000,
        mail: null,
        readers: {
          license: async () => {
            reads++;
            throw new Error('no license service in this test');
          },
          tenants: () => ({ tenants: [], drift: [] }),
          backups: async () => ({ rows: [], schedules: [] }),
          keyAges: async () => [{ slug: 'acme', kind: 'jwt', ageSeconds: 3 * 86_400, maxAgeDays: 1 }],
          infra: async () => ({ workloads: [] }) as never,
          upgrade: () => null,
          database: async () => ({ reachable: true, connections: { used: 1, max: 100 } }) as never,
          auditAlarms: async () => [],
        },
      });
      svc.start(c);
      await vi.advanceTimersByTimeAsync(10);
      expect(reads).toBe(1);
      const o = await svc.overview(c);
      expect(o.alerts.map((a) => a.fingerprint)).toEqual(['key_age:acme:jwt']);
      expect(o.sourceErrors.map((e) => e.source)).toEqual(expect.arrayContaining(['license']));
      // ticks between periods only flush; the next evaluation waits for evaluateEverySeconds (60 s)
      await vi.advanceTimersByTimeAsync(5000);
      expect(reads).toBe(1);
      now = new Date(now.getTime() + 61_000);
      await vi.advanceTimersByTimeAsync(1000);
      expect(reads).toBe(2);
      closers.forEach((fn) => fn());
      now = new Date(now.getTime() + 3_600_000);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(reads).toBe(2);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
