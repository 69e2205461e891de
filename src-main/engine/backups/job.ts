// The scheduled-backup CronJob's entry point (image ghcr.io/justiam/gatehouse-backup, see
// docs/backups.md): `run-schedule --scope <slug|*>`. It runs the console's own backup code
// (BackupService.runDue) against the cluster it runs in, configured by the Secret
// gatehouse-backup-job; it can write backups (public recipient, authentication key) but
// never read one (no age identity), so restore drills are left to an open console.
// Locally: KUBECONFIG=… GATEHOUSE_PG_HOST=… node --import tsx src-main/engine/backups/job.ts run-schedule --scope '*'
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { BackupTarget } from '../../../src-shared/contract/backups';
import { ContractError } from '../../../src-shared/contract';
import { kubeClients } from '../../adapters/kube';
import type { PgSsl } from '../../adapters/postgres';
import { openLocalStore } from '../../adapters/sqlite';
import { PostgresAdmin } from '../../adapters/postgres';
import type { ClusterRuntime } from '../core/cluster-runtime';
import { SagaRunner } from '../core/saga';
import { TenantService, tenantsMigrations } from '../tenants';
import { backupsMigrations } from './index';
import { BackupService } from './service';

/** GATEHOUSE_PG_SSL: the profile's TLS setting as JSON (false, or {"mode":"verify-full","ca":"…"}). */
function parseSsl(raw: string | undefined): PgSsl {
  if (!raw || raw === 'false') return false;
  const v = JSON.parse(raw) as PgSsl;
  if (v && v.mode !== 'verify-full' && v.mode !== 'require')
    throw new ContractError('VALIDATION', 'GATEHOUSE_PG_SSL must be false or {"mode":"verify-full"|"require","ca"?:…}.');
  return v;
}

function need(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v)
    throw new ContractError('VALIDATION', `${name} is not set: the CronJob reads its configuration from the Secret gatehouse-backup-job.`);
  return v;
}

export async function runScheduleJob(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  now = new Date(),
): Promise<{ scope: string; slot: string; ok: number; failed: number }[]> {
  const [cmd, flag, scope] = argv;
  if (cmd !== 'run-schedule' || flag !== '--scope' || !scope)
    throw new ContractError('VALIDATION', 'usage: gatehouse-backup run-schedule --scope <tenant slug | *>');
  const kc = new KubeConfig();
  if (env.KUBECONFIG) kc.loadFromFile(env.KUBECONFIG);
  else kc.loadFromCluster();
  const kube = kubeClients(kc);
  const namespace = need(env, 'GATEHOUSE_NAMESPACE');
  const clusterId = need(env, 'GATEHOUSE_CLUSTER_ID');
  // The Secret names the cluster it was written for; a copy applied elsewhere must not write there.
  const uid = (await kube.core.readNamespace({ name: 'kube-system' })).metadata?.uid;
  if (uid !== clusterId)
    throw new ContractError(
      'VALIDATION',
      `This CronJob was configured for cluster ${clusterId} but runs in ${uid ?? 'an unknown cluster'}; refused.`,
    );
  const admin = {
    host: need(env, 'GATEHOUSE_PG_HOST'),
    port: Number(need(env, 'GATEHOUSE_PG_PORT')),
    user: need(env, 'GATEHOUSE_PG_USER'),
    password: need(env, 'GATEHOUSE_PG_PASSWORD'),
    database: need(env, 'GATEHOUSE_PG_DATABASE'),
    ssl: parseSsl(env.GATEHOUSE_PG_SSL),
  };
  const target = BackupTarget.parse(JSON.parse(need(env, 'GATEHOUSE_BACKUP_TARGET')));
  // A throwaway local store: the journal of a job's run lives as long as its pod.
  const dataDir = fs.mkdtempSync(path.join(env.TMPDIR ?? os.tmpdir(), 'gatehouse-backup-job-'));
  const { db } = openLocalStore(dataDir, [
    { id: 100, name: 'settings', store: 'state' as const, sql: 'CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)' },
    ...tenantsMigrations,
    ...backupsMigrations,
  ]);
  // The one cluster this pod runs in (what a ClusterScope is in the console).
  const pool = new PostgresAdmin(admin);
  const closers: (() => void | Promise<void>)[] = [];
  const scopeRt: ClusterRuntime & { close(): Promise<void> } = {
    clusterId,
    contextId: 'in-cluster',
    contextName: env.GATEHOUSE_CLUSTER_NAME ?? 'in-cluster',
    kube,
    namespace,
    pgAdmin: async () => admin,
    postgres: async () => pool,
    onClose: (fn) => void closers.push(fn),
    async close() {
      for (const fn of closers.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
      await pool.close();
    },
  };
  const saga = new SagaRunner(db, null, async () => scopeRt);
  const tenants = new TenantService({ db, bus: null, saga, consoleId: `cronjob-${os.hostname()}` });
  const secrets = new Map<string, string>();
  if (env.GATEHOUSE_BACKUP_S3_SECRET) secrets.set(`backups-s3-secret:${clusterId}`, env.GATEHOUSE_BACKUP_S3_SECRET);
  const store = async () => ({
    get: async (k: string) => secrets.get(k) ?? null,
    set: async (k: string, v: string) => void secrets.set(k, v),
    delete: async (k: string) => void secrets.delete(k),
  });
  const service = new BackupService({
    db,
    bus: null,
    saga,
    tenants,
    secrets: store,
    consoleId: `cronjob-${os.hostname()}`,
    consoleVersion: env.GATEHOUSE_VERSION ?? 'job',
    dataDir,
    jobKey: { recipient: need(env, 'GATEHOUSE_BACKUP_RECIPIENT'), authKey: Buffer.from(need(env, 'GATEHOUSE_BACKUP_AUTH_KEY'), 'base64') },
  });
  await service.targets.set(clusterId, target, env.GATEHOUSE_BACKUP_S3_SECRET);
  try {
    return await service.runDue(scopeRt, now, `cronjob:${os.hostname()}`, scope);
  } finally {
    await service.close();
    await tenants.close();
    await scopeRt.close();
    db.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  runScheduleJob(process.argv.slice(2)).then(
    (ran) => {
      console.log(JSON.stringify({ ran }));
      process.exit(ran.some((r) => r.failed > 0) ? 1 : 0);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
