// Backups under faults and at their edges: a real S3-compatible server (s3rver) killed
// mid-upload, PostgreSQL killed during a dump and during a restore, the console SIGKILLed
// mid-restore, snapshot consistency across parallel streams, tables larger than the
// protocol buffer, and scheduled backups (CronJob objects, the job's code path, claims).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError } from '../../src-shared/contract';
import { tenantDbName } from '../../src-main/engine/tenants/material';
import { cronJobName, jobSecret, writeCronJob, writeJobSecret } from '../../src-main/engine/backups/cronjob';
import { runScheduleJob } from '../../src-main/engine/backups/job';
import { copyOut } from '../../src-main/engine/backups/copy-stream';
import { compareWithManifest, loadBackup } from '../../src-main/engine/backups/load';
import { decryptBuffer } from '../../src-main/engine/backups/age';
import type { Manifest } from '../../src-main/engine/backups/manifest';
import { readAll } from '../../src-main/engine/backups/storage';
import { PostgresAdmin } from '../../src-main/adapters/postgres';
import { buildBackupEngine, configureKey, fingerprint, seedTenant, type BackupTestEngine } from './backups-env';
import { harnessOrReason, harnessPg, operatorNamespace, privatePostgres, tempDataDir, uniqueSlug } from './tenants-env';
import { S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, startS3Server, type S3Server } from './s3-server';

const h = harnessOrReason();
const state = 'state' in h ? h.state : (undefined as never);
const here = path.dirname(fileURLToPath(import.meta.url));

async function expectCode(p: Promise<unknown>, code: string, message?: RegExp): Promise<ContractError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'expected a ContractError').toBeInstanceOf(ContractError);
  expect((err as ContractError).code, (err as Error).message).toBe(code);
  if (message) expect((err as Error).message).toMatch(message);
  return err as ContractError;
}

async function asTenant(pgc: pg.ClientConfig, slug: string, sql: string): Promise<void> {
  const c = new pg.Client({ ...pgc, database: tenantDbName(slug) });
  await c.connect();
  try {
    await c.query(`SET ROLE ${tenantDbName(slug)}`);
    await c.query(sql);
  } finally {
    await c.end();
  }
}

describe('backups: S3 target, consistency, schedules (harness PostgreSQL, s3rver)', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: BackupTestEngine;
  let s3: S3Server;
  const pgc = harnessPg(state);
  const slug = uniqueSlug('bs');
  let uid = '';

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-backups-s3');
    const admin = new KubeConfig();
    admin.loadFromFile(state.kubeconfigs.admin);
    uid = (await admin.makeApiClient(CoreV1Api).readNamespace({ name: 'kube-system' })).metadata!.uid!;
    // The real cluster identity: the CronJob's code checks it against the cluster it runs in.
    eng = buildBackupEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: pgc,
      dataDir: tempDataDir(),
      consoleId: 'console-s3',
      clusterId: uid,
    });
    s3 = await startS3Server();
    await eng.tenants.create(eng.runtime, { slug, name: 'S3 Corp', tier: 'PRO' });
    await seedTenant(pgc, slug, 50);
    await configureKey(eng);
    await eng.backups.service.setTarget(
      eng.runtime,
      {
        kind: 's3',
        endpoint: s3.endpoint,
        region: 'us-east-1',
        bucket: S3_BUCKET,
        prefix: 'site-a',
        forcePathStyle: true,
        accessKeyId: S3_ACCESS_KEY,
      },
      S3_SECRET_KEY,
    );
  });
  afterAll(async () => {
    await eng?.tenants.delete(eng.runtime, slug, false).catch(() => undefined);
    await eng?.close();
    await s3?.dispose();
    await ns?.remove();
  });

  it('backs up to the bucket, verifies and restores from it', async () => {
    const s = eng.backups.service;
    expect((await s.testTarget(eng.runtime)).ok).toBe(true);
    const b = await s.takeOne(eng.runtime, slug, { reason: 'manual', actor: 't', verify: true });
    expect(b.verification.state, b.verification.message ?? '').toBe('passed');
    const storage = await s.storage(eng.runtime);
    const objects = await storage.list(`${slug}/${b.id}/`);
    expect(objects.map((o) => o.key)).toContain(`${slug}/${b.id}/manifest.json`);
    const clone = uniqueSlug('bsc');
    await eng.backups.restoreClone(eng.runtime, { backupId: b.id, slug: clone, name: 'From S3', actor: 't' });
    const a = await fingerprint(pgc, tenantDbName(slug));
    const c = await fingerprint(pgc, tenantDbName(clone));
    expect(c['public.groups']).toBe(a['public.groups']);
    await eng.tenants.delete(eng.runtime, clone, false);
  });

  it("a verify's read-back names a restored table whose content differs from the backup (the content checksum), and only that one", async () => {
    const s = eng.backups.service;
    const b = await s.takeOne(eng.runtime, slug, { reason: 'manual', actor: 't', verify: false });
    const { manifest, storage, identities } = await s.open(eng.runtime, b.id);
    expect(manifest.format).toBe('gatehouse-backup/2');
    expect(manifest.tables.every((t) => /^[0-9a-f]{64}$/.test(t.tagsSha256 ?? '') && t.sha256 === undefined)).toBe(true);
    const admin = { ...pgc, ssl: false as const };
    const pga = new PostgresAdmin(pgc);
    const db = `gh_readback_${Date.now()}`;
    await pga.query(`CREATE DATABASE ${db}`);
    try {
      await loadBackup({ admin, storage, manifest, identities, database: db, owner: null, jobs: 2 });
      expect((await compareWithManifest(admin, db, manifest, { storage, identities })).mismatches).toEqual([]);
      // The first format's checksum (sha256 of the COPY text), as a backup of that format has it.
      const v1: Manifest = {
        ...manifest,
        format: 'gatehouse-backup/1',
        tables: await Promise.all(
          manifest.tables.map(async ({ tagsSha256: _, ...t }) => {
            const text = await decryptBuffer(await readAll(await storage.get(`${slug}/${b.id}/${t.file}`), 1 << 30), identities);
            return { ...t, sha256: crypto.createHash('sha256').update(text).digest('hex') };
          }),
        ),
      };
      expect((await compareWithManifest(admin, db, v1, { storage, identities })).mismatches).toEqual([]);
      // The same number of rows, one character more in one of them.
      const c = new pg.Client({ ...pgc, database: db });
      await c.connect();
      await c.query(`UPDATE public.users SET display_name = display_name || '.' WHERE username = 'user1'`);
      await c.end();
      const { mismatches } = await compareWithManifest(admin, db, manifest, { storage, identities });
      const users = manifest.tables.find((t) => t.name === 'users')!;
      expect(mismatches).toEqual([`public.users: ${users.rows} rows (manifest ${users.rows}), content differs from the backup`]);
      expect((await compareWithManifest(admin, db, v1, { storage, identities })).mismatches).toEqual(mismatches);
    } finally {
      await pga.dropDatabase(db);
    }
  });

  it('the bucket dying mid-upload fails the backup with the reason, and nothing is listed', async () => {
    const s = eng.backups.service;
    const before = (await s.list(eng.runtime, slug)).backups.length;
    const dying = buildBackupEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: pgc,
      dataDir: eng.dataDir,
      consoleId: 'console-s3',
      clusterId: uid,
      backups: { beforeDumpTable: async (_slug, i) => (i === 2 ? s3.kill() : undefined) },
    });
    // Same console: the same secret store.
    for (const [k, v] of eng.secrets) dying.secrets.set(k, v);
    try {
      await expectCode(
        dying.backups.service.takeOne(dying.runtime, slug, { reason: 'manual', actor: 't' }),
        'UNAVAILABLE',
        /unreachable|failed/,
      );
    } finally {
      await dying.close();
      await s3.start();
    }
    expect((await s.list(eng.runtime, slug)).backups.length).toBe(before);
    // No manifest for a backup that did not complete, so a rescan finds nothing new either.
    const manifests = (await (await s.storage(eng.runtime)).list(`${slug}/`)).filter((o) => o.key.endsWith('/manifest.json'));
    expect(manifests.length).toBe(before);
    expect((await s.rescan(eng.runtime)).added).toBe(0);
  });

  it('all parallel table streams read one snapshot: rows committed mid-dump appear in no table', async () => {
    await asTenant(
      pgc,
      slug,
      `CREATE TABLE ledger_a (n int); CREATE TABLE ledger_b (n int); INSERT INTO ledger_a VALUES (0); INSERT INTO ledger_b VALUES (0);`,
    );
    const writer = buildBackupEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: pgc,
      dataDir: eng.dataDir,
      consoleId: 'console-s3',
      clusterId: uid,
      // Between every two tables, one transaction adds a row to both ledgers.
      backups: {
        beforeDumpTable: async (_s, i) =>
          asTenant(pgc, slug, `BEGIN; INSERT INTO ledger_a VALUES (${i + 1}); INSERT INTO ledger_b VALUES (${i + 1}); COMMIT;`),
      },
    });
    for (const [k, v] of eng.secrets) writer.secrets.set(k, v);
    try {
      const b = await writer.backups.service.takeOne(writer.runtime, slug, { reason: 'manual', actor: 't' });
      const { manifest } = await eng.backups.service.open(eng.runtime, b.id);
      const rows = (n: string) => manifest.tables.find((t) => t.name === n)!.rows;
      expect(rows('ledger_a')).toBe(1);
      expect(rows('ledger_b')).toBe(1);
    } finally {
      await writer.close();
      await asTenant(pgc, slug, 'DROP TABLE ledger_a; DROP TABLE ledger_b;');
    }
  });

  it('a table far larger than the protocol read buffer round-trips byte for byte (verify)', async () => {
    // ~4 MB of sign-ins (bigserial ids: the sequence value is restored too) and long user rows.
    await asTenant(
      pgc,
      slug,
      `INSERT INTO sign_ins (user_id, outcome, at) SELECT (SELECT id FROM users ORDER BY username LIMIT 1), CASE WHEN g % 7 = 0 THEN 'failure' ELSE 'success' END, now() - g * interval '1 second' FROM generate_series(1, 40000) g`,
    );
    await asTenant(
      pgc,
      slug,
      `INSERT INTO users (username, email, display_name) SELECT 'bulk' || g, 'bulk' || g || '@x.example', repeat('long display name ', 10) || g FROM generate_series(1, 10000) g`,
    );
    const b = await eng.backups.service.takeOne(eng.runtime, slug, { reason: 'manual', actor: 't', verify: true });
    expect(b.verification.state, b.verification.message ?? '').toBe('passed');
    expect(b.rows).toBeGreaterThan(40_000);
  });

  it('a table bigger than a quarter of shared_buffers verifies, whatever scans ran before or alongside (synchronized scans off)', async () => {
    // 64 MB shared_buffers in the harness: above 16 MB a seq scan may join another scan mid-table.
    // Two indexes: the restore builds them in parallel, and index builds are synchronized scans too.
    await asTenant(
      pgc,
      slug,
      `CREATE TABLE bulk_events AS SELECT g AS id, repeat(md5(g::text), 6) AS payload FROM generate_series(1, 200000) g;
      CREATE INDEX bulk_events_id ON bulk_events (id); CREATE INDEX bulk_events_payload ON bulk_events (payload); CREATE INDEX bulk_events_both ON bulk_events (payload, id)`,
    );
    try {
      // An abandoned scan leaves the shared scan position in the middle of the table.
      const c = new pg.Client({ ...pgc, database: tenantDbName(slug) });
      c.on('error', () => undefined); // its socket is cut on purpose below
      await c.connect();
      const out = copyOut(c, 'COPY bulk_events TO STDOUT');
      let n = 0;
      for await (const chunk of out) {
        n += (chunk as Buffer).length;
        if (n > 12 * 1024 * 1024) break;
      }
      (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      const b = await eng.backups.service.takeOne(eng.runtime, slug, { reason: 'manual', actor: 't', verify: true });
      expect(b.verification.state, b.verification.message ?? '').toBe('passed');
    } finally {
      await asTenant(pgc, slug, 'DROP TABLE bulk_events');
    }
  });

  it('a schedule creates its CronJob and job Secret (no identity in it); due slots run once, by whoever claims them; pruning keeps the newest verified', async () => {
    const s = eng.backups.service;
    const schedule = {
      scope: slug,
      enabled: true,
      cron: '0 3 * * *',
      verify: true,
      retention: { keepLast: 1, daily: 0, weekly: 0, monthly: 0 },
    };
    await s.setSchedule(eng.runtime, schedule, 'local:alice');
    await writeJobSecret(eng.runtime, jobSecret(ns.namespace, await s.jobConfig(eng.runtime)));
    await writeCronJob(eng.runtime, schedule, '0.1.0');
    const admin = new KubeConfig();
    admin.loadFromFile(state.kubeconfigs.admin);
    const cj = await admin.makeApiClient(BatchV1Api).readNamespacedCronJob({ name: cronJobName(slug), namespace: ns.namespace });
    expect(cj.spec?.schedule).toBe('0 3 * * *');
    expect(cj.spec?.timeZone).toBe('Etc/UTC');
    expect(cj.spec?.concurrencyPolicy).toBe('Forbid');
    const container = cj.spec!.jobTemplate.spec!.template.spec!.containers[0]!;
    expect(container.image).toBe('ghcr.io/justiam/gatehouse-backup:0.1.0');
    expect(container.args).toEqual(['run-schedule', '--scope', slug]);
    expect(container.envFrom?.[0]?.secretRef?.name).toBe('gatehouse-backup-job');
    const secret = await admin.makeApiClient(CoreV1Api).readNamespacedSecret({ name: 'gatehouse-backup-job', namespace: ns.namespace });
    const data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    expect(data.GATEHOUSE_BACKUP_RECIPIENT).toMatch(/^age1/);
    expect(Object.values(data).some((v) => v.includes('AGE-SECRET-KEY'))).toBe(false);

    // The job's code path, run here as the pod would run it (same Secret, operator credentials).
    const updated = new Date((await s.schedules(eng.runtime))[0]!.updatedAt);
    const slotTime = new Date(Date.UTC(updated.getUTCFullYear(), updated.getUTCMonth(), updated.getUTCDate() + 1, 3, 5));
    const env = {
      ...data,
      KUBECONFIG: state.kubeconfigs.operator,
      GATEHOUSE_NAMESPACE: ns.namespace,
      TMPDIR: process.env.TMPDIR ?? '/tmp',
    };
    const ran = await runScheduleJob(['run-schedule', '--scope', slug], env, slotTime);
    expect(ran).toEqual([
      {
        scope: slug,
        slot: new Date(Date.UTC(slotTime.getUTCFullYear(), slotTime.getUTCMonth(), slotTime.getUTCDate(), 3, 0)).toISOString(),
        ok: 1,
        failed: 0,
      },
    ]);
    // The console's runner, at the same moment, finds the slot already claimed.
    expect(await s.runDue(eng.runtime, slotTime)).toEqual([]);
    const scheduled = (await s.list(eng.runtime, slug)).backups.filter((b) => b.reason === 'schedule');
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]!.actor).toMatch(/^cronjob:/);
    // The job could not verify (no identity): the console's drill does.
    expect(scheduled[0]!.verification.state).toBe('never');
    const drilled = await s.drill(eng.runtime);
    expect(drilled.map((d) => [d.id, d.verification.state])).toEqual([[scheduled[0]!.id, 'passed']]);

    // Retention keepLast 1: only the newest, plus the newest verified, survive a prune.
    const newest = await s.takeOne(eng.runtime, slug, { reason: 'manual', actor: 't' });
    const all = (await s.list(eng.runtime, slug)).backups;
    const newestVerified = all.find((b) => b.verification.state === 'passed')!;
    const pruned = await s.prune(eng.runtime, slug);
    const left = (await s.list(eng.runtime, slug)).backups.map((b) => b.id).sort();
    expect(left).toEqual([newest.id, newestVerified.id].sort());
    expect(pruned.deleted.length).toBe(all.length - 2);
  });
});

describe('backups: PostgreSQL killed during a dump and during a restore; console killed mid-restore', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let db: Awaited<ReturnType<typeof privatePostgres>>;
  let eng: BackupTestEngine;
  let killAt: { dump?: number; load?: number } = {};
  const dataDir = tempDataDir();
  const slug = uniqueSlug('bf');

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-backups-faults');
    db = await privatePostgres();
    eng = buildBackupEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: db.config,
      dataDir,
      consoleId: 'console-f',
      backups: {
        beforeDumpTable: async (_s, i) => (killAt.dump === i ? db.stop() : undefined),
        beforeLoadTable: async (_d, i) => (killAt.load === i ? db.stop() : undefined),
      },
    });
    await eng.tenants.create(eng.runtime, { slug, name: 'Faulty', tier: 'PRO' });
    await seedTenant(db.config, slug, 100);
    await configureKey(eng);
  });
  afterAll(async () => {
    await eng?.close();
    await db?.destroy();
    await ns?.remove();
  });

  it('PostgreSQL killed mid-dump: refused with the reason, no file left, nothing listed; the next backup works', async () => {
    const s = eng.backups.service;
    const root = (s.targets.get(eng.runtime.clusterId).target as { path: string }).path;
    killAt = { dump: 3 };
    try {
      await expectCode(s.takeOne(eng.runtime, slug, { reason: 'manual', actor: 't' }), 'UNAVAILABLE', /PostgreSQL|unreachable|terminat/i);
    } finally {
      killAt = {};
      await db.start();
    }
    const storage = await s.storage(eng.runtime);
    expect(await storage.list(`${slug}/`)).toEqual([]);
    expect((await s.list(eng.runtime, slug)).backups).toEqual([]);
    expect(root).toBeTruthy();
    const ok = await s.takeOne(eng.runtime, slug, { reason: 'manual', actor: 't', verify: true });
    expect(ok.verification.state).toBe('passed');
  });

  it('PostgreSQL killed mid-restore: the live database is untouched, the operation waits; rolled back once it answers', async () => {
    const s = eng.backups.service;
    const b = (await s.list(eng.runtime, slug)).backups[0]!;
    await asTenant(db.config, slug, `DELETE FROM memberships`);
    const damaged = await fingerprint(db.config, tenantDbName(slug));
    killAt = { load: 2 };
    try {
      await expectCode(
        eng.backups.restoreInPlace(eng.runtime, { backupId: b.id, slug, name: null, actor: 't' }),
        'UNAVAILABLE',
        /failed at step "load"/,
      );
    } finally {
      killAt = {};
      await db.start();
    }
    const op = eng.saga.listUnfinished().find((o) => o.target === slug && o.kind === 'backup.restore.inplace')!;
    expect(op).toBeDefined();
    // Never half-restored: the live database is the one from before the restore.
    expect(await fingerprint(db.config, tenantDbName(slug))).toEqual(damaged);
    const rolled = await eng.saga.rollback(op.id);
    expect(rolled.operation.status).toBe('rolled-back');
    expect((await eng.tenants.get(eng.runtime, slug)).tenant.status).toBe('active');
    const c = new pg.Client({ ...db.config });
    await c.connect();
    expect((await c.query(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [`${tenantDbName(slug)}__`])).rows).toEqual([]);
    await c.end();
    expect(await eng.tenants.leftovers(eng.runtime, slug)).not.toContainEqual(expect.objectContaining({ kind: 'lease' }));
  });

  function crashChild(crash: string, backupId: string, extra: Record<string, unknown> = {}): void {
    const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'backups-crash-child.ts')], {
      env: {
        ...process.env,
        GATEHOUSE_SAGA_CRASH: crash,
        BACKUPS_CRASH_CHILD: JSON.stringify({
          ...extra,
          kubeconfig: state.kubeconfigs.operator,
          namespace: ns.namespace,
          pg: db.config,
          dataDir,
          consoleId: 'console-f',
          slug,
          backupId,
          secrets: Object.fromEntries(eng.secrets),
        }),
      },
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(child.signal, `child should die by SIGKILL at ${crash}; stderr: ${child.stderr}`).toBe('SIGKILL');
  }

  it('console SIGKILLed in the middle of an all-tenant run: listed as interrupted, resume backs up only the tenants it did not finish', async () => {
    const s = eng.backups.service;
    const others = [uniqueSlug('br'), uniqueSlug('br')].sort();
    for (const o of others) {
      await eng.tenants.create(eng.runtime, { slug: o, name: 'Run', tier: 'PRO' });
      await seedTenant(db.config, o, 10);
    }
    const slugs = [slug, ...others].sort();
    const countOf = async (t: string) => (await s.list(eng.runtime, t)).backups.length;
    const before = Object.fromEntries(await Promise.all(slugs.map(async (t) => [t, await countOf(t)] as const)));
    // concurrency 1, sorted: the child finishes slugs[0] and dies when it starts dumping slugs[1]
    crashChild('none', '', { mode: 'take-many', slugs, killAtSlug: slugs[1] });
    const run = s.runs.list(eng.runtime.clusterId).find((r) => r.actor === 'crash-child')!;
    expect(run).toMatchObject({ status: 'interrupted', counts: { total: 3, done: 1 } });
    expect(await countOf(slugs[0]!)).toBe(before[slugs[0]!]! + 1);
    expect(await countOf(slugs[1]!)).toBe(before[slugs[1]!]);

    const resumed = await s.resumeRun(eng.runtime, run.runId, 'local:resumer');
    expect(resumed.operationId).toBe(run.runId);
    expect(resumed.results.map((r) => r.slug).sort()).toEqual(slugs.slice(1));
    expect(resumed.summary).toEqual({ ok: 2, failed: 0 });
    for (const t of slugs) expect(await countOf(t), t).toBe(before[t]! + 1);
    expect(s.runs.get(run.runId)).toMatchObject({ status: 'done', counts: { total: 3, done: 3, failed: 0, pending: 0 } });
    const taken = (await s.list(eng.runtime, slugs[2]!)).backups[0]!;
    expect(taken.actor).toBe('local:resumer');
    // nothing left to do: refused with the reason
    await expectCode(s.resumeRun(eng.runtime, run.runId, 'local:resumer'), 'VALIDATION', /nothing left to do/);
    for (const o of others) await eng.tenants.delete(eng.runtime, o, false).catch(() => undefined);
  });

  it('console SIGKILLed just before the swap: resume completes the restore', async () => {
    const s = eng.backups.service;
    const b = (await s.list(eng.runtime, slug)).backups.find((x) => x.verification.state === 'passed')!;
    const wanted = await (async () => {
      // what the backup holds = the state when it was taken (memberships present)
      const { manifest } = await s.open(eng.runtime, b.id);
      return manifest.tables.find((t) => t.name === 'memberships')!.rows;
    })();
    await asTenant(db.config, slug, `DELETE FROM memberships`);
    crashChild('backup.restore.inplace:6:before', b.id);
    const op = eng.saga.listUnfinished().find((o) => o.target === slug && o.kind === 'backup.restore.inplace')!;
    expect(op.status).toBe('interrupted');
    expect(op.steps.find((x) => x.name === 'load')?.status).toBe('done');
    const done = await eng.saga.resume(op.id);
    expect(done.operation.status, done.operation.error ?? '').toBe('done');
    const c = new pg.Client({ ...db.config, database: tenantDbName(slug) });
    await c.connect();
    expect((await c.query('SELECT count(*)::int AS n FROM memberships')).rows[0].n).toBe(wanted);
    await c.end();
    expect((await eng.tenants.get(eng.runtime, slug)).tenant.status).toBe('active');
  });

  it('console SIGKILLed right after the swap: rolling back puts the previous database back', async () => {
    const s = eng.backups.service;
    const b = (await s.list(eng.runtime, slug)).backups.find((x) => x.verification.state === 'passed')!;
    await asTenant(db.config, slug, `DELETE FROM memberships`);
    const before = await fingerprint(db.config, tenantDbName(slug));
    crashChild('backup.restore.inplace:6:after', b.id);
    const op = eng.saga.listUnfinished().find((o) => o.target === slug && o.kind === 'backup.restore.inplace')!;
    expect(op).toBeDefined();
    const rolled = await eng.saga.rollback(op.id);
    expect(rolled.operation.status, rolled.operation.error ?? '').toBe('rolled-back');
    expect(await fingerprint(db.config, tenantDbName(slug))).toEqual(before);
    expect((await eng.tenants.get(eng.runtime, slug)).tenant.status).toBe('active');
    const c = new pg.Client({ ...db.config });
    await c.connect();
    expect((await c.query(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [`${tenantDbName(slug)}__`])).rows).toEqual([]);
    await c.end();
  });
});
