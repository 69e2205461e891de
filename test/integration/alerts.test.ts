// Alerts through the real engine and router against the harness: the rules stored in the cluster's
// ConfigMap (audited), real conditions (a license five days from expiry, the license's tenant limit
// reached by a real tenant) firing, grouped per rule on an injected clock, mailed through the
// cluster's SMTP relay to a real SMTP server on loopback, once; acknowledge audited; the daily
// report's alerts section filled from the same state.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src-main/engine';
import { createRouter, type Router } from '../../src-main/ipc/router';
import { RULES_CONFIGMAP, RULES_KEY } from '../../src-main/engine/alerts';
import type { Alert, AlertsOverview } from '../../src-shared/contract/alerts';
import { makeLicense, nowS } from '../fixtures/license/helpers';
import { deleteNamespace, harness, kubeConfig, uniqueNamespace } from './harness-fixture';
import { startTestSmtp, testCerts, type TestCerts, type TestSmtp } from '../fixtures/smtp-server';

const h = harness();
const PASSWORD = 'alerts-relay-Pa55';
const FROM = 'alerts@gatehouse.test';
const ONCALL = 'oncall@example.test';
let ns: string;
let root: string;
let engine: Engine;
let router: Router;
let smtp: TestSmtp;
let certs: TestCerts;
let now = new Date();
const slug = `alr-${Math.random().toString(36).slice(2, 7)}`;
const advance = (ms: number) => (now = new Date(now.getTime() + ms));

async function call<T = unknown>(name: string, input: unknown = {}): Promise<T> {
  const r = await router.invoke('alerts-test', name, input);
  if (!r.ok) throw Object.assign(new Error(`${name}: ${r.error.message}`), r.error);
  return r.value as T;
}
const firing = (o: AlertsOverview) =>
  o.alerts
    .filter((a) => a.state === 'firing')
    .map((a) => a.fingerprint)
    .sort();

beforeAll(async () => {
  certs = testCerts();
  smtp = await startTestSmtp({ mode: 'starttls', key: certs.key, cert: certs.cert, users: { relay: PASSWORD }, allowedFrom: [FROM] });
  ns = await uniqueNamespace('alerts');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-alerts-'));
  engine = createEngine({
    mode: 'browser',
    dataDir: path.join(root, 'data'),
    identity: 'os-user',
    developmentMode: true,
    // The test drives the cycles; the clock is the alerts' own (grouping decisions).
    alerts: { now: () => now, autoStart: false },
    reports: { everyMs: 0 },
    clusters: {
      env: { KUBECONFIG: h.kubeconfigs.operator },
      home: root,
      watch: false,
      autoStart: false,
      secretStore: { keychain: null, prefer: 'encrypted-file', passphrase: 'alerts test passphrase' },
    },
  });
  router = createRouter(engine);
  const contextId = (await call<{ contexts: { id: string }[] }>('clusters.list')).contexts[0]!.id;
  await call('clusters.select', { clusterId: contextId });
  const { host, port, user, password, database } = h.postgres;
  await call('clusters.profile.save', {
    clusterId: contextId,
    namespace: ns,
    database: { host, port, user, database, sslMode: 'disable', allowInsecureTls: true, password },
    expectedOffline: false,
  });
  // Five days from expiry, and room for exactly one tenant.
  await call('license.activate', {
    license: (await makeLicense({ exp: nowS() + 5 * 86_400 + 3600, limits: { tenants: 1, users: 1000 } })).jws,
  });
  await call('tenants.create', { slug, name: 'Alert Tenant', tier: 'PRO' });
  await call('tenants.list', {});
  await call('mail.smtp.save', {
    settings: { host: '127.0.0.1', port: smtp.port, username: 'relay', from: FROM, tls: 'starttls', ca: 'custom', caPem: certs.caPem },
    password: PASSWORD,
  });
}, 180_000);

afterAll(async () => {
  await engine?.close();
  await smtp?.close();
  await deleteNamespace(ns).catch(() => undefined);
  fs.rmSync(root, { recursive: true, force: true });
});

describe('alerts against the harness', () => {
  it('rules are stored in the documented ConfigMap, and the change is audited', async () => {
    const before = await call<{ stored: boolean; delivery: { mail: string } }>('alerts.rules.get');
    expect(before.stored).toBe(false);
    expect(before.delivery.mail).toBe('no-address');
    const current = (await call<{ rules: { rules: Record<string, unknown> } & Record<string, unknown> }>('alerts.rules.get')).rules;
    // Other test files' tenant databases share the harness PostgreSQL and show here as drift: not this test's subject.
    const rules = { ...current, alertEmail: ONCALL, rules: { ...current.rules, drift: { enabled: false } } };
    const saved = await call<{ stored: boolean; delivery: { mail: string } }>('alerts.rules.set', { rules });
    expect(saved).toMatchObject({ stored: true, delivery: { mail: 'ready' } });
    const cm = await kubeConfig('admin').makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: RULES_CONFIGMAP, namespace: ns });
    expect(cm.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('gatehouse');
    expect(JSON.parse(cm.data![RULES_KEY]!)).toMatchObject({ alertEmail: ONCALL, grouping: { groupWaitSeconds: 30 } });
    await call('audit.sync');
    const audit = await call<{ entries: { action: string; target: string | null; outcome: string }[] }>('audit.query', {
      source: 'cluster',
      action: 'alerts.rules.set',
    });
    expect(audit.entries).toEqual([expect.objectContaining({ target: 'alerts:rules', outcome: 'success' })]);
  });

  it('a license near expiry and a full tenant limit fire; one mail per rule group after group wait, not one per cycle', async () => {
    const first = await call<AlertsOverview>('alerts.evaluate');
    expect(firing(first)).toEqual(['capacity:license-tenants', 'license_expiring:license']);
    const lic = first.alerts.find((a) => a.rule === 'license_expiring')!;
    expect(lic.severity).toBe('critical');
    expect(lic.summary).toMatch(/expires in 5 days/);
    expect(smtp.received).toHaveLength(0); // group wait
    advance(10_000);
    await call('alerts.evaluate');
    expect(smtp.received).toHaveLength(0);
    advance(21_000);
    await call('alerts.evaluate');
    await expect.poll(() => smtp.received.length).toBe(2);
    for (const m of smtp.received) {
      expect(m.from).toBe(FROM);
      expect(m.to).toEqual([ONCALL]);
    }
    const raw = smtp.received.map((m) => m.raw).join('\n');
    expect(raw).toMatch(/license expiring alert/);
    expect(raw).toMatch(/capacity alert/);
    expect(raw).toMatch(/\d+ of 1 licensed tenants in use \(\d+ %\), the limit is reached/);
    // more cycles within the repeat interval: deduplicated, no further mail
    for (let i = 0; i < 5; i++) {
      advance(10 * 60_000);
      await call('alerts.evaluate');
    }
    expect(smtp.received).toHaveLength(2);
    const o = await call<AlertsOverview>('alerts.list', {});
    expect(o.delivery).toMatchObject({ mail: 'ready', mailError: null });
    expect(o.history.filter((e) => e.event === 'notified').map((e) => e.detail)).toEqual([
      expect.stringContaining(`mail to ${ONCALL}`),
      expect.stringContaining(`mail to ${ONCALL}`),
    ]);
  });

  it('acknowledge is an audited command; the acknowledged alert is not repeated after the repeat interval', async () => {
    const acked = await call<Alert>('alerts.acknowledge', { fingerprint: 'license_expiring:license', note: 'renewal requested' });
    expect(acked).toMatchObject({ state: 'acknowledged', acknowledgedBy: expect.any(String) });
    advance(4 * 3_600_000 + 60_000);
    await call('alerts.evaluate');
    // only the capacity group repeats ("still firing")
    await expect.poll(() => smtp.received.length).toBe(3);
    expect(smtp.received[2]!.raw).toMatch(/capacity alert/);
    expect(smtp.received[2]!.raw).toMatch(/still\s+firing/); // the Subject header may be folded
    await call('audit.sync');
    const audit = await call<{ entries: { target: string | null; after: unknown }[] }>('audit.query', {
      source: 'cluster',
      action: 'alerts.acknowledge',
    });
    expect(audit.entries).toEqual([
      expect.objectContaining({
        target: 'alert:license_expiring:license',
        after: expect.objectContaining({ state: 'acknowledged', note: 'renewal requested' }),
      }),
    ]);
  });

  it('the daily report lists the alerts of the day; the dashboard counts them from the cache', async () => {
    const p = await call<{ text: string; unavailable: unknown[] }>('mail.report.preview');
    expect(p.unavailable).toEqual([]);
    expect(p.text).toMatch(/ALERTS OF THE DAY[\s\S]*license_expiring/);
    const d = await call<{ tenants: { total: number } | null; alerts: { firing: number; acknowledged: number } }>('dashboard.overview');
    expect(d.tenants?.total).toBeGreaterThanOrEqual(1); // this test's tenant (and databases of other files sharing PostgreSQL)
    expect(d.alerts).toMatchObject({ firing: 1, acknowledged: 1 });
  });
});
