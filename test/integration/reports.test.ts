// The daily report through the real engine and router: SMTP and report settings saved in the
// harness cluster, figures from a real tenant, license and audit log, the mail received by a
// real SMTP server on loopback; sent once at its hour (injected clock), not again after a
// restart, once when two consoles race, retried after a failure; the CronJob objects it applies.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src-main/engine';
import { createRouter, type Router } from '../../src-main/ipc/router';
import { createReportsCapability, REPORT_CRONJOB, REPORT_JOB_SECRET, REPORT_OBJECT } from '../../src-main/engine/reports';
import type { ClusterRuntime } from '../../src-main/engine/core/cluster-runtime';
import { runReportJob } from '../../src-main/engine/reports/job';
import { makeLicense } from '../fixtures/license/helpers';
import { deleteNamespace, harness, kubeConfig, uniqueNamespace } from './harness-fixture';
import { closedPort, startTestSmtp, testCerts, type TestCerts, type TestSmtp } from '../fixtures/smtp-server';

const h = harness();
const PASSWORD = 'report-relay-Pa55';
const FROM = 'reports@gatehouse.test';
let ns: string;
let root: string;
let engine: Engine;
let router: Router;
let contextId: string;
let smtp: TestSmtp;
let certs: TestCerts;
let now: Date;
/** The report hour: the next UTC hour at least an hour ahead (never midnight, so "before" is the same day). */
let at: Date;
const slug = `rep-${Math.random().toString(36).slice(2, 7)}`;

async function call<T = unknown>(name: string, input: unknown = {}): Promise<T> {
  const r = await router.invoke('reports-test', name, input);
  if (!r.ok) throw Object.assign(new Error(`${name}: ${r.error.message}`), r.error);
  return r.value as T;
}

const engineFor = (dataDir: string) =>
  createEngine({
    mode: 'browser',
    dataDir,
    identity: 'os-user',
    developmentMode: true,
    reports: { clock: () => now, everyMs: 0 },
    clusters: {
      env: { KUBECONFIG: h.kubeconfigs.operator },
      home: root,
      watch: false,
      autoStart: false,
      secretStore: { keychain: null, prefer: 'encrypted-file', passphrase: 'reports test passphrase' },
    },
  });

const smtpSettings = (port: number) => ({
  host: '127.0.0.1',
  port,
  username: 'relay',
  from: FROM,
  tls: 'starttls',
  ca: 'custom',
  caPem: certs.caPem,
});
const cluster = (): Promise<ClusterRuntime> => engine.directory.forContext(contextId);
const minutes = (n: number) => new Date(at.getTime() + n * 60_000);

beforeAll(async () => {
  certs = testCerts();
  smtp = await startTestSmtp({ mode: 'starttls', key: certs.key, cert: certs.cert, users: { relay: PASSWORD }, allowedFrom: [FROM] });
  at = new Date(Date.now() + 3_600_000);
  at.setUTCMinutes(0, 0, 0);
  at = new Date(at.getTime() + 3_600_000);
  if (at.getUTCHours() === 0) at = new Date(at.getTime() + 3_600_000);
  now = minutes(-30);
  ns = await uniqueNamespace('reports');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-reports-'));
  engine = engineFor(path.join(root, 'data'));
  router = createRouter(engine);
  contextId = (await call<{ contexts: { id: string }[] }>('clusters.list')).contexts[0]!.id;
  await call('clusters.select', { clusterId: contextId });
  const { host, port, user, password, database } = h.postgres;
  await call('clusters.profile.save', {
    clusterId: contextId,
    namespace: ns,
    database: { host, port, user, database, sslMode: 'disable', allowInsecureTls: true, password },
    expectedOffline: false,
  });
  await call('license.activate', { license: (await makeLicense({ limits: { tenants: 10, users: 1000 } })).jws });
  await call('tenants.create', { slug, name: 'Report Tenant', tier: 'PRO' });
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await smtp?.close();
  await deleteNamespace(ns).catch(() => undefined);
  fs.rmSync(root, { recursive: true, force: true });
});

describe('daily report', () => {
  it('the SMTP save is audited without the password; the view says "set", never the value', async () => {
    const view = await call<{ passwordSet: boolean }>('mail.smtp.save', { settings: smtpSettings(smtp.port), password: PASSWORD });
    expect(view.passwordSet).toBe(true);
    expect(JSON.stringify(await call('mail.smtp.get'))).not.toContain(PASSWORD);
    await call('audit.sync');
    const entries = await call<{ entries: { action: string; params: unknown; after: unknown }[] }>('audit.query', {
      source: 'cluster',
      action: 'mail.smtp.save',
    });
    expect(entries.entries).toHaveLength(1);
    const json = JSON.stringify(entries.entries[0]);
    expect(json).not.toContain(PASSWORD);
    expect(json).toContain('[redacted]');
    expect(json).toContain('"authChange":"new"');
  });

  it('saving the report with inCluster applies the documented CronJob and its Secret', async () => {
    const view = await call<{ config: { hour: number }; cronJob: { exists: boolean; schedule: string }; nextAt: string | null }>(
      'mail.report.set',
      {
        enabled: true,
        hour: at.getUTCHours(),
        timeZone: 'Etc/UTC',
        recipients: ['ops@example.test', 'cto@example.test'],
        inCluster: true,
      },
    );
    expect(view.cronJob).toMatchObject({ exists: true, schedule: `0 ${at.getUTCHours()} * * *` });
    expect(view.nextAt).toBe(at.toISOString());
    const cj = await kubeConfig('admin').makeApiClient(BatchV1Api).readNamespacedCronJob({ name: REPORT_CRONJOB, namespace: ns });
    expect(cj.spec?.timeZone).toBe('Etc/UTC');
    expect(cj.spec?.suspend).toBe(false);
    expect(cj.spec?.concurrencyPolicy).toBe('Forbid');
    expect(cj.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('gatehouse');
    const pod = cj.spec?.jobTemplate.spec?.template.spec;
    expect(pod?.serviceAccountName).toBe('gatehouse');
    expect(pod?.containers[0]?.image).toBe(`ghcr.io/justiam/gatehouse-report:${engine.version}`);
    expect(pod?.containers[0]?.args).toEqual(['send-daily']);
    expect(pod?.containers[0]?.envFrom?.[0]?.secretRef?.name).toBe(REPORT_JOB_SECRET);
    const secret = await kubeConfig('admin').makeApiClient(CoreV1Api).readNamespacedSecret({ name: REPORT_JOB_SECRET, namespace: ns });
    const env = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    expect(env.GATEHOUSE_CLUSTER_ID).toBe((await cluster()).clusterId);
    expect(env.GATEHOUSE_PG_HOST).toBe(h.postgres.host);
  });

  it("the preview shows every section, alerts of the day included (from the console's alert state)", async () => {
    const p = await call<{ subject: string; text: string; html: string; unavailable: { section: string }[] }>('mail.report.preview');
    expect(p.subject).toContain('Daily report');
    expect(p.text).toContain('TENANTS');
    expect(p.text).toContain('1 tenant(s)');
    expect(p.text).toContain('LICENSE');
    expect(p.text).toContain('of 1000');
    expect(p.text).not.toContain('Alerts: not available');
    expect(p.text).toMatch(/ALERTS OF THE DAY/);
    expect(p.text).toMatch(/AUDIT LOG[\s\S]*tenants\.create/);
    expect(p.html).toContain('<h2');
    expect(p.unavailable).toEqual([]);
  });

  it('is not sent before its hour, is sent once at it, and not again the same day', async () => {
    now = minutes(-30);
    expect((await engine.reports.runDue(await cluster())).outcome).toBe('not-due');
    expect(smtp.received).toHaveLength(0);
    now = minutes(3);
    const sent = await engine.reports.runDue(await cluster());
    expect(sent.outcome).toBe('sent');
    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0]!;
    expect(mail.from).toBe(FROM);
    expect(mail.to).toEqual(['ops@example.test', 'cto@example.test']);
    expect(mail.raw).toContain('multipart/alternative');
    expect(mail.raw).toContain('text/html');
    // Later the same day: `at` is on the hour, so +50 min never crosses midnight (+5 h did in an evening run).
    now = minutes(50);
    expect((await engine.reports.runDue(await cluster())).outcome).toBe('claimed-elsewhere');
    const view = await call<{ lastSent: { state: string; day: string; attempts: number } }>('mail.report.get');
    expect(view.lastSent).toMatchObject({ state: 'sent', day: at.toISOString().slice(0, 10), attempts: 1 });
    expect(smtp.received).toHaveLength(1);
  });

  it('a restarted console does not send the day again (the record is in the cluster)', async () => {
    await engine.close();
    engine = engineFor(path.join(root, 'data'));
    router = createRouter(engine);
    await call('clusters.select', { clusterId: contextId });
    now = minutes(10);
    expect((await engine.reports.runDue(await cluster())).outcome).toBe('claimed-elsewhere');
    expect(smtp.received).toHaveLength(1);
  });

  it('two consoles at the same hour of the next day: exactly one mail', async () => {
    now = minutes(24 * 60 + 1);
    const c = await cluster();
    const other = createReportsCapability({
      send: (cl, msg) => engine.mail.send(cl, msg),
      smtpConfigured: async () => true,
      claimant: 'console:other',
      consoleVersion: 'test',
      clock: () => now,
      everyMs: 0,
      sources: { tenants: async () => ({ tenants: [], fromCache: true }) },
    });
    const outcomes = (await Promise.all([engine.reports.runDue(c), other.runDue(c)])).map((o) => o.outcome).sort();
    expect(outcomes).toEqual(['claimed-elsewhere', 'sent']);
    expect(smtp.received).toHaveLength(2);
  });

  it('a failed sending is recorded and retried after a pause, then sent once', async () => {
    const dead = await closedPort();
    await call('mail.smtp.save', { settings: smtpSettings(dead) });
    now = minutes(2 * 24 * 60 + 1);
    const failed = await engine.reports.runDue(await cluster());
    expect(failed.outcome).toBe('failed');
    expect((await call<{ lastSent: { state: string; error: string } }>('mail.report.get')).lastSent).toMatchObject({ state: 'failed' });
    now = minutes(2 * 24 * 60 + 3);
    expect((await engine.reports.runDue(await cluster())).outcome).toBe('claimed-elsewhere');
    await call('mail.smtp.save', { settings: smtpSettings(smtp.port) });
    now = minutes(2 * 24 * 60 + 15);
    expect((await engine.reports.runDue(await cluster())).outcome).toBe('sent');
    expect((await call<{ lastSent: { state: string; attempts: number } }>('mail.report.get')).lastSent).toMatchObject({
      state: 'sent',
      attempts: 2,
    });
    expect(smtp.received).toHaveLength(3);
  });

  it("send now goes to the given address and does not count as the day's report", async () => {
    const out = await call<{ to: string[] }>('mail.report.send', { to: ['auditor@example.test'] });
    expect(out.to).toEqual(['auditor@example.test']);
    expect(smtp.received.at(-1)!.to).toEqual(['auditor@example.test']);
    expect((await call<{ lastSent: { attempts: number } }>('mail.report.get')).lastSent.attempts).toBe(2);
  });

  it('the CronJob entry point, run with the environment of its Secret, sends the next day once; a console then does not', async () => {
    const secret = await kubeConfig('admin').makeApiClient(CoreV1Api).readNamespacedSecret({ name: REPORT_JOB_SECRET, namespace: ns });
    const env = {
      ...Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])),
      KUBECONFIG: h.kubeconfigs.operator,
      GATEHOUSE_NAMESPACE: ns,
      TMPDIR: os.tmpdir(),
    };
    const day4 = () => minutes(3 * 24 * 60 + 2);
    await expect(runReportJob(['send-daily'], { ...env, GATEHOUSE_CLUSTER_ID: 'another-cluster' }, day4)).rejects.toThrow(
      /configured for cluster another-cluster/,
    );
    const before = smtp.received.length;
    const out = await runReportJob(['send-daily'], env, day4);
    expect(out.outcome, JSON.stringify(out)).toBe('sent');
    expect(smtp.received).toHaveLength(before + 1);
    const mail = smtp.received.at(-1)!;
    expect(mail.from).toBe(FROM);
    // the job trusts only the pinned vendor keys: this test-signed license shows as invalid there, never as valid
    expect(mail.raw).toMatch(/LICENSE\r?\n {2}invalid, tier FREE/);
    // the text part is quoted-printable (soft line breaks); other tests' tenants share the cluster and may come first
    const text = mail.raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    expect(text).toMatch(new RegExp(`BACKUPS\\r?\\n[\\s\\S]*Never backed up: [^\\r\\n]*\\b${slug}\\b`));
    expect((await runReportJob(['send-daily'], env, day4)).outcome).toBe('claimed-elsewhere');
    now = day4();
    expect((await engine.reports.runDue(await cluster())).outcome).toBe('claimed-elsewhere');
    expect(smtp.received).toHaveLength(before + 1);
    const view = await call<{ lastSent: { by: string } }>('mail.report.get');
    expect(view.lastSent.by).toMatch(/^cronjob:/);
  });

  it('turning inCluster off removes the CronJob and its Secret; the ConfigMap keeps the settings', async () => {
    const view = await call<{ cronJob: { exists: boolean } }>('mail.report.set', {
      enabled: false,
      hour: 6,
      timeZone: 'Europe/Berlin',
      recipients: ['ops@example.test'],
      inCluster: false,
    });
    expect(view.cronJob.exists).toBe(false);
    const core = kubeConfig('admin').makeApiClient(CoreV1Api);
    await expect(core.readNamespacedSecret({ name: REPORT_JOB_SECRET, namespace: ns })).rejects.toMatchObject({ code: 404 });
    const cm = await core.readNamespacedConfigMap({ name: REPORT_OBJECT, namespace: ns });
    expect(cm.data).toMatchObject({
      enabled: 'false',
      hour: '6',
      timeZone: 'Europe/Berlin',
      recipients: 'ops@example.test',
      inCluster: 'false',
    });
  });
});
