// The daily report CronJob's entry point (image ghcr.io/justiam/gatehouse-report, docs/mail.md):
// `send-daily`. It runs the console's own report code against the cluster it runs in: claims
// the day in ConfigMap gatehouse-daily-report (so a console that runs too never sends it
// twice), reads the SMTP relay from gatehouse-smtp through the API, and the figures from the
// tenant registry, the license, the backup catalog and the shared audit log (database
// connection from the Secret gatehouse-report-job).
// Locally: KUBECONFIG=… GATEHOUSE_NAMESPACE=iam-system GATEHOUSE_CLUSTER_ID=… node --import tsx src-main/engine/reports/job.ts send-daily
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { KubeConfig } from '@kubernetes/client-node';
import { ContractError } from '../../../src-shared/contract';
import type { AuditEntry } from '../../../src-shared/contract/audit';
import { kubeClients } from '../../adapters/kube';
import { PostgresAdmin, pgSslOptions, type PgSsl } from '../../adapters/postgres';
import { openLocalStore } from '../../adapters/sqlite';
import type { ClusterRuntime, PgAdminConfig } from '../core/cluster-runtime';
import { EventBus } from '../core/events';
import { SagaRunner } from '../core/saga';
import { TenantService, tenantsMigrations } from '../tenants';
import { createLicenseService, licenseMigrations } from '../license';
import { BackupService, backupsMigrations } from '../backups';
import { createMailCapability } from '../mail';
import { createReportsCapability, type RunOutcome } from './index';
import { CONTROL_DATABASE } from '../core/control-database';

function need(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v)
    throw new ContractError('VALIDATION', `${name} is not set: the CronJob reads its configuration from the Secret gatehouse-report-job.`);
  return v;
}

function adminFromEnv(env: NodeJS.ProcessEnv): PgAdminConfig | null {
  if (!env.GATEHOUSE_PG_HOST) return null;
  const ssl = (!env.GATEHOUSE_PG_SSL || env.GATEHOUSE_PG_SSL === 'false' ? false : JSON.parse(env.GATEHOUSE_PG_SSL)) as PgSsl;
  return {
    host: env.GATEHOUSE_PG_HOST,
    port: Number(need(env, 'GATEHOUSE_PG_PORT')),
    user: need(env, 'GATEHOUSE_PG_USER'),
    password: need(env, 'GATEHOUSE_PG_PASSWORD'),
    database: need(env, 'GATEHOUSE_PG_DATABASE'),
    ssl,
  };
}

/** The last 24 h of the shared audit log, read straight from gatehouse_control (the job has no local copy). */
async function auditOfDay(
  admin: PgAdminConfig,
  since: Date,
  until: Date,
): Promise<{ entries: AuditEntry[]; total: number; note: string | null }> {
  const c = new pg.Client({
    host: admin.host,
    port: admin.port,
    user: admin.user,
    password: admin.password,
    database: CONTROL_DATABASE,
    ssl: pgSslOptions(admin.ssl, admin.host),
  });
  await c.connect();
  try {
    const total = Number(
      (await c.query<{ n: string }>('SELECT count(*) AS n FROM audit_log WHERE at >= $1 AND at < $2', [since, until])).rows[0]!.n,
    );
    const rows = (
      await c.query<{ entry: string }>('SELECT entry FROM audit_log WHERE at >= $1 AND at < $2 ORDER BY seq DESC LIMIT 1000', [
        since,
        until,
      ])
    ).rows;
    return {
      entries: rows.map((r) => JSON.parse(r.entry) as AuditEntry),
      total,
      note: total > rows.length ? `the newest ${rows.length} of ${total} entries are summarised` : null,
    };
  } finally {
    await c.end();
  }
}

export async function runReportJob(argv: string[], env: NodeJS.ProcessEnv = process.env, now?: () => Date): Promise<RunOutcome> {
  if (argv[0] !== 'send-daily') throw new ContractError('VALIDATION', 'usage: gatehouse-report send-daily');
  const kc = new KubeConfig();
  if (env.KUBECONFIG) kc.loadFromFile(env.KUBECONFIG);
  else kc.loadFromCluster();
  const kube = kubeClients(kc);
  const namespace = need(env, 'GATEHOUSE_NAMESPACE');
  const clusterId = need(env, 'GATEHOUSE_CLUSTER_ID');
  // The Secret names the cluster it was written for; a copy applied elsewhere must not mail from there.
  const uid = (await kube.core.readNamespace({ name: 'kube-system' })).metadata?.uid;
  if (uid !== clusterId)
    throw new ContractError(
      'VALIDATION',
      `This CronJob was configured for cluster ${clusterId} but runs in ${uid ?? 'an unknown cluster'}; refused.`,
    );
  const admin = adminFromEnv(env);
  const dataDir = fs.mkdtempSync(path.join(env.TMPDIR ?? os.tmpdir(), 'gatehouse-report-job-'));
  const { db } = openLocalStore(dataDir, [
    { id: 100, name: 'settings', store: 'state' as const, sql: 'CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)' },
    ...tenantsMigrations,
    ...licenseMigrations,
    ...backupsMigrations,
  ]);
  const pool = admin ? new PostgresAdmin(admin) : null;
  const closers: (() => void | Promise<void>)[] = [];
  const scope: ClusterRuntime = {
    clusterId,
    contextId: 'in-cluster',
    contextName: env.GATEHOUSE_CLUSTER_NAME ?? 'in-cluster',
    kube,
    namespace,
    pgAdmin: async () => admin,
    postgres: async () => pool,
    onClose: (fn) => void closers.push(fn),
  };
  const consoleId = `cronjob-${os.hostname()}`;
  const bus = new EventBus();
  const saga = new SagaRunner(db, null, async () => scope);
  const tenants = new TenantService({ db, bus: null, saga, consoleId });
  const memory = new Map<string, string>();
  const secrets = async () => ({
    get: async (k: string) => memory.get(k) ?? null,
    set: async (k: string, v: string) => void memory.set(k, v),
    delete: async (k: string) => void memory.delete(k),
  });
  const backups = new BackupService({
    db,
    bus: null,
    saga,
    tenants,
    secrets,
    consoleId,
    consoleVersion: env.GATEHOUSE_VERSION ?? 'job',
    dataDir,
  });
  const license = createLicenseService({
    db,
    bus,
    developmentMode: false,
    cluster: async () => scope,
    secrets: { store: secrets },
    consoleVersion: env.GATEHOUSE_VERSION ?? 'job',
  });
  const mail = createMailCapability();
  const reports = createReportsCapability({
    send: (c, msg) => mail.send(c, msg),
    smtpConfigured: async (c) => (await mail.store.read(c)).settings !== null,
    claimant: `cronjob:${os.hostname()}`,
    consoleVersion: env.GATEHOUSE_VERSION ?? 'job',
    everyMs: 0,
    ...(now ? { clock: now } : {}),
    sources: {
      // one reconcile with statistics fills the tenant list (a pod has no cache to read)
      tenants: async (c) => ({ tenants: (await tenants.reconcile(c, true)).tenants, fromCache: false }),
      license: () => license.status(),
      backups: (c) => backups.overview(c),
      ...(admin ? { audit: (_c: ClusterRuntime, since: Date, until: Date) => auditOfDay(admin, since, until) } : {}),
    },
  });
  try {
    return await reports.runDue(scope);
  } finally {
    await backups.close().catch(() => undefined);
    await tenants.close().catch(() => undefined);
    for (const fn of closers.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
    await pool?.close();
    db.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  runReportJob(process.argv.slice(2)).then(
    (out) => {
      console.log(JSON.stringify(out));
      process.exit(out.outcome === 'failed' ? 1 : 0);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
