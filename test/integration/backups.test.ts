// Tenant backups against the real API server (operator kubeconfig, least privilege), the
// real PostgreSQL of the harness and the real client tools (pg_dump, psql).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError } from '../../src-shared/contract';
import { CONTROL_DATABASE } from '../../src-main/engine/audit/shared-log';
import { decryptBuffer } from '../../src-main/engine/backups/age';
import { parseEscrowFile } from '../../src-main/engine/backups/keys';
import { decodeSecretData, tenantDbName } from '../../src-main/engine/tenants/material';
import { buildBackupEngine, configureKey, fingerprint, seedTenant, type BackupTestEngine } from './backups-env';
import { harnessOrReason, harnessPg, operatorNamespace, tempDataDir, uniqueSlug } from './tenants-env';

const h = harnessOrReason();
const state = 'state' in h ? h.state : (undefined as never);

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

const filesUnder = (dir: string): string[] =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.join(e.parentPath, e.name))
    : [];

describe('tenant backups (real API server, PostgreSQL, pg_dump/psql)', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: BackupTestEngine;
  let core: CoreV1Api;
  const pgc = harnessPg(state);
  const slug = uniqueSlug('bk');

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-backups');
    eng = buildBackupEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: pgc,
      dataDir: tempDataDir(),
      consoleId: 'console-a',
    });
    const admin = new KubeConfig();
    admin.loadFromFile(state.kubeconfigs.admin);
    core = admin.makeApiClient(CoreV1Api);
    await eng.tenants.create(eng.runtime, { slug, name: 'Backup Corp', tier: 'PRO' });
    await seedTenant(pgc, slug, 300);
  });
  afterAll(async () => {
    for (const s of [slug]) await eng?.tenants.delete(eng.runtime, s, false).catch(() => undefined);
    await eng?.close();
    await ns?.remove();
  });

  it('refuses to back up until the key exists and its escrow was confirmed by the check code', async () => {
    const s = eng.backups.service;
    expect((await s.status(eng.runtime)).key.state).toBe('none');
    await expectCode(s.takeOne(eng.runtime, slug, { reason: 'manual', actor: 't' }), 'VALIDATION', /not configured.*No backup key/);
    // The delete's final backup is refused before the delete changes anything.
    await expectCode(eng.tenants.delete(eng.runtime, slug, true), 'VALIDATION', /not configured/);
    expect((await eng.tenants.get(eng.runtime, slug)).tenant.status).toBe('active');

    await s.createKey(eng.runtime, 't');
    expect((await s.status(eng.runtime)).key.state).toBe('needs-escrow');
    await expectCode(s.takeOne(eng.runtime, slug, { reason: 'manual', actor: 't' }), 'VALIDATION', /Export the backup key/);
    const exported = await s.exportKey(eng.runtime);
    expect(exported.content).toMatch(/^AGE-SECRET-KEY-1/m);
    await expectCode(s.confirmEscrow(eng.runtime, 'AAAA-BBBB'), 'VALIDATION', /not the check code/);
    await s.confirmEscrow(eng.runtime, /^# check: (\S+)$/m.exec(exported.content)![1]!.toLowerCase());
    const ready = await s.status(eng.runtime);
    expect(ready.configured).toBe(true);
    expect(ready.key.recipient).toBe(exported.recipient);
    // The recipient is published in gatehouse_control, so other consoles of the cluster know a key exists.
    const c = new pg.Client({ ...pgc, database: CONTROL_DATABASE });
    await c.connect();
    const row = (await c.query('SELECT recipient FROM backup_cluster_keys WHERE cluster_id = $1', [eng.runtime.clusterId])).rows[0];
    await c.end();
    expect(row?.recipient).toBe(exported.recipient);
  });

  let firstId = '';
  it('takes a consistent backup: manifest counts and checksums, encrypted files, no secret value anywhere, indexed in gatehouse_control', async () => {
    const s = eng.backups.service;
    const before = await fingerprint(pgc, tenantDbName(slug));
    const progress: string[] = [];
    const b = await s.takeOne(eng.runtime, slug, { reason: 'manual', actor: 'local:alice', note: 'first' }, (_d, _t, what) =>
      progress.push(what),
    );
    firstId = b.id;
    expect(b.tenant).toBe(slug);
    expect(b.verification.state).toBe('never');
    expect(progress).toContain('public.users');
    const { manifest } = await s.open(eng.runtime, b.id);
    expect(manifest.takenBy).toMatchObject({ actor: 'local:alice', reason: 'manual', note: 'first' });
    expect(manifest.cluster.id).toBe(eng.runtime.clusterId);
    expect(manifest.schemaVersion).toBeGreaterThan(0);
    expect(manifest.postgres.serverVersion).toMatch(/^15\./);
    const users = manifest.tables.find((t) => t.name === 'users')!;
    expect(users.rows).toBe(301); // 300 seeded + the initial admin
    expect(`${users.rows}`).toBe(before['public.users']!.split(':')[0]);
    for (const t of manifest.tables) expect(`${t.rows}`, t.name).toBe(before[`public.${t.name}`]!.split(':')[0]);

    // At rest: only age files and the (plain) manifest; no tenant data and no Secret value in clear.
    const root = eng.backups.service.targets.get(eng.runtime.clusterId).target;
    const files = filesUnder((root as { path: string }).path);
    expect(files.filter((f) => f.endsWith('.age')).length).toBe(manifest.files.length);
    const secret = decodeSecretData(await core.readNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace }));
    // The private signing keys (JWK "d") and the tokens, wherever the Secret holds them.
    const jwks = (JSON.parse(secret.JWT_KEYS!) as { keys: { kid: string; jwk: { d?: string } }[] }).keys;
    const secretValues = [
      ...jwks.map((k) => k.jwk.d!).filter(Boolean),
      secret.CP_TOKEN!,
      secret.PROXY_TOKEN!,
      secret.LOGIN_WORKER_TOKEN!,
      secret.INITIAL_ADMIN_PASSWORD!,
      secret.DATABASE_URL!,
    ];
    expect(secretValues.length).toBeGreaterThanOrEqual(6);
    for (const f of files) {
      const bytes = fs.readFileSync(f);
      expect(bytes.includes(`user7@${slug}.example`), f).toBe(false);
      for (const v of secretValues) expect(bytes.includes(v), `a Secret value in ${f}`).toBe(false);
      if (f.endsWith('.age')) expect(bytes.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    }
    // The Kubernetes part: Secret metadata and key ids, never values, even once decrypted.
    const kube = fs.readFileSync(files.find((f) => f.endsWith('kubernetes.json.age'))!);
    const identity = parseEscrowFile((await s.exportKey(eng.runtime)).content).identity;
    const k = JSON.parse((await decryptBuffer(kube, [identity])).toString()) as {
      secret: { keys: string[]; keyIds: { JWT_KEYS: { kid: string }[] } };
      registry: { name: string };
    };
    expect(k.secret.keys).toContain('JWT_KEYS');
    expect(k.secret.keyIds.JWT_KEYS.map((x) => x.kid)).toEqual(jwks.map((x) => x.kid));
    expect(k.registry.name).toBe('Backup Corp');
    const plain = JSON.stringify(k);
    for (const v of secretValues) expect(plain.includes(v), 'a Secret value in kubernetes.json').toBe(false);

    const c = new pg.Client({ ...pgc, database: CONTROL_DATABASE });
    await c.connect();
    const row = (
      await c.query('SELECT tenant, rows, verify_state FROM backup_catalog WHERE cluster_id = $1 AND id = $2', [
        eng.runtime.clusterId,
        b.id,
      ])
    ).rows[0];
    await c.end();
    expect(row).toMatchObject({ tenant: slug, verify_state: 'never' });
    expect((await s.list(eng.runtime, slug)).backups.map((x) => x.id)).toEqual([b.id]);
  });

  it('verifies by restoring into a scratch database, records the result, and drops the scratch database', async () => {
    const s = eng.backups.service;
    const v = await s.verify(eng.runtime, firstId, 'local:alice');
    expect(v.verification.state, v.verification.message ?? '').toBe('passed');
    expect(v.verification.by).toBe('local:alice');
    const admin = new pg.Client(pgc);
    await admin.connect();
    const scratch = (await admin.query(`SELECT datname FROM pg_database WHERE datname LIKE 'gatehouse\\_verify\\_%'`)).rows;
    await admin.end();
    expect(scratch).toEqual([]);
    const listed = (await s.list(eng.runtime, slug)).backups[0]!;
    expect(listed.verification.state).toBe('passed');
  });

  it('a tampered file fails verification with the reason; a tampered manifest is not opened at all', async () => {
    const s = eng.backups.service;
    const b = await s.takeOne(eng.runtime, slug, { reason: 'manual', actor: 't' });
    const { manifest } = await s.open(eng.runtime, b.id);
    const root = (s.targets.get(eng.runtime.clusterId).target as { path: string }).path;
    const dataFile = path.join(root, slug, b.id, manifest.tables.find((t) => t.name === 'users')!.file);
    const bytes = fs.readFileSync(dataFile);
    bytes[bytes.length - 40]! ^= 1;
    fs.writeFileSync(dataFile, bytes);
    const v = await s.verify(eng.runtime, b.id, 't');
    expect(v.verification.state).toBe('failed');
    expect(v.verification.message).toMatch(/does not match its manifest|could not be decrypted/);
    // Nothing half-loaded stays behind: the scratch database is gone.
    const admin = new pg.Client(pgc);
    await admin.connect();
    expect((await admin.query(`SELECT 1 FROM pg_database WHERE datname LIKE 'gatehouse\\_verify\\_%'`)).rowCount).toBe(0);
    await admin.end();

    const manifestFile = path.join(root, slug, b.id, 'manifest.json');
    fs.writeFileSync(manifestFile, fs.readFileSync(manifestFile, 'utf8').replace(/"rows": 301/, '"rows": 302'));
    await expectCode(s.verify(eng.runtime, b.id, 't'), 'VALIDATION', /not authenticated/);
    await s.deleteBackup(eng.runtime, b.id);
    expect(fs.existsSync(path.join(root, slug, b.id))).toBe(false);
  });

  it('restores into a new tenant: same data, new credentials, its own registry entry', async () => {
    const clone = uniqueSlug('bkc');
    const out = await eng.backups.restoreClone(eng.runtime, { backupId: firstId, slug: clone, name: null, actor: 't' });
    expect(out.operation.steps.map((x) => `${x.name}:${x.status}`)).toEqual(
      ['reserve', 'database', 'load', 'schema', 'secret', 'registry', 'release'].map((x) => `${x}:done`),
    );
    try {
      const src = await fingerprint(pgc, tenantDbName(slug));
      const dst = await fingerprint(pgc, tenantDbName(clone));
      // Everything but the admin row (the clone's initial admin gets a new password).
      for (const t of Object.keys(src)) if (t !== 'public.users') expect(dst[t], t).toBe(src[t]);
      expect(dst['public.users']!.split(':')[0]).toBe(src['public.users']!.split(':')[0]);
      const a = decodeSecretData(await core.readNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace }));
      const b = decodeSecretData(await core.readNamespacedSecret({ name: `tenant-${clone}`, namespace: ns.namespace }));
      for (const key of ['DATABASE_URL', 'JWT_KEYS', 'CP_TOKEN', 'PROXY_TOKEN', 'LOGIN_WORKER_TOKEN', 'INITIAL_ADMIN_PASSWORD']) {
        expect(b[key], key).toBeTruthy();
        expect(b[key], key).not.toBe(a[key]);
      }
      // The clone's own credentials reach its own database, owned by its own role.
      const c = new pg.Client({ connectionString: b.DATABASE_URL });
      await c.connect();
      const owner = (await c.query(`SELECT tableowner FROM pg_tables WHERE tablename = 'users'`)).rows[0]?.tableowner;
      const n = (await c.query(`SELECT count(*)::int AS n FROM users`)).rows[0]?.n;
      await c.end();
      expect(owner).toBe(tenantDbName(clone));
      expect(n).toBe(301);
      // Loaded with COPY FREEZE (load.ts): every page of a table the restore did not touch
      // again is all-frozen at once, nothing left for hint bits or a vacuum to rewrite.
      const su = new pg.Client({ ...pgc, database: tenantDbName(clone) });
      await su.connect();
      try {
        await su.query('CREATE EXTENSION IF NOT EXISTS pg_visibility');
        const vm = (
          await su.query<{ pages: number; frozen: number }>(
            `SELECT count(*)::int AS pages, count(*) FILTER (WHERE all_frozen)::int AS frozen FROM pg_visibility_map('public.memberships')`,
          )
        ).rows[0]!;
        expect(vm.pages).toBeGreaterThan(0);
        expect(vm.frozen).toBe(vm.pages);
      } finally {
        await su.end();
      }
      const entry = (await eng.tenants.get(eng.runtime, clone)).tenant;
      expect(entry).toMatchObject({ tier: 'PRO', status: 'active', inRegistry: true });
      expect(entry.name).toMatch(/^Backup Corp \(restored/);
    } finally {
      await eng.tenants.delete(eng.runtime, clone, false);
    }
  });

  it('restores in place: suspended meanwhile, a safety backup first, data back, role and credentials untouched', async () => {
    const secretBefore = await core.readNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace });
    const before = await fingerprint(pgc, tenantDbName(slug));
    const url = decodeSecretData(secretBefore).DATABASE_URL!;
    // damage after the backup
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`DELETE FROM memberships; DELETE FROM users WHERE username LIKE 'user1%'`);
    await c.end();
    expect(await fingerprint(pgc, tenantDbName(slug))).not.toEqual(before);

    const statuses: string[] = [];
    const off = eng.bus.subscribe('operation.progress', (e) => {
      if (e.kind === 'backup.restore.inplace' && e.status === 'done') statuses.push(e.step);
    });
    const out = await eng.backups.restoreInPlace(eng.runtime, { backupId: firstId, slug, name: null, actor: 't' });
    off();
    expect(statuses).toEqual([
      'reserve',
      'suspend',
      'safety-backup',
      'staging',
      'load',
      'schema',
      'swap',
      'reopen',
      'drop-previous',
      'release',
    ]);
    expect(await fingerprint(pgc, tenantDbName(slug))).toEqual(before);
    // The Secret is the same object, and its credentials still open the restored database.
    const secretAfter = await core.readNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace });
    expect(secretAfter.metadata?.resourceVersion).toBe(secretBefore.metadata?.resourceVersion);
    const again = new pg.Client({ connectionString: url });
    await again.connect();
    expect((await again.query(`SELECT tableowner FROM pg_tables WHERE tablename = 'users'`)).rows[0]?.tableowner).toBe(tenantDbName(slug));
    await again.end();
    expect((await eng.tenants.get(eng.runtime, slug)).tenant.status).toBe('active');
    const safety = out.ctx.op.notes.safetyBackup as string;
    const list = (await eng.backups.service.list(eng.runtime, slug)).backups;
    expect(list.find((x) => x.id === safety)?.reason).toBe('before-restore');
    // Nothing of the restore is left: no staging or previous database.
    const admin = new pg.Client(pgc);
    await admin.connect();
    expect((await admin.query(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [`${tenantDbName(slug)}__`])).rows).toEqual(
      [],
    );
    await admin.end();
  });

  it('downloads a backup as a tar file and another console imports it (key imported), verified before it is listed', async () => {
    const s = eng.backups.service;
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gh-dl-')), 'b.tar');
    const dl = await s.download(eng.runtime, firstId, file);
    expect(dl.bytes).toBeGreaterThan(1000);
    await expectCode(s.download(eng.runtime, firstId, file), 'CONFLICT');

    // A second console of another site: its own key, the first cluster's key imported.
    const other = buildBackupEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: pgc,
      dataDir: tempDataDir(),
      consoleId: 'console-b',
      clusterId: `${eng.runtime.clusterId}-site-b`,
    });
    try {
      await configureKey(other);
      // Without the origin cluster's key the backup is refused (foreign cluster).
      await expectCode(other.backups.service.importFile(other.runtime, file, 't'), 'VALIDATION', /another cluster/);
      const truncated = `${file}.truncated`;
      fs.writeFileSync(truncated, fs.readFileSync(file).subarray(0, Math.floor(dl.bytes / 2)));
      await other.backups.service.importKey(other.runtime, (await s.exportKey(eng.runtime)).content);
      await expectCode(other.backups.service.importFile(other.runtime, truncated, 't'), 'VALIDATION', /truncated|cut short|lacks/);
      expect((await other.backups.service.list(other.runtime, slug)).backups).toEqual([]);
      const corrupted = `${file}.corrupted`;
      const bytes = fs.readFileSync(file);
      bytes[bytes.length - 3000]! ^= 1;
      fs.writeFileSync(corrupted, bytes);
      await expectCode(other.backups.service.importFile(other.runtime, corrupted, 't'), 'VALIDATION');
      expect((await other.backups.service.list(other.runtime, slug)).backups).toEqual([]);

      const imported = await other.backups.service.importFile(other.runtime, file, 't');
      expect(imported).toMatchObject({ id: firstId, imported: true, tenant: slug });
      expect(imported.verification.state).toBe('passed');
      expect((await other.backups.service.list(other.runtime, slug)).backups.map((x) => x.id)).toEqual([firstId]);
      // The same file again: refused, and the backup already there keeps its row and files.
      await expectCode(other.backups.service.importFile(other.runtime, file, 't'), 'CONFLICT', /already in the catalog/);
      expect((await other.backups.service.list(other.runtime, slug)).backups.map((x) => x.id)).toEqual([firstId]);
      expect((await other.backups.service.verify(other.runtime, firstId, 't')).verification.state).toBe('passed');
    } finally {
      await other.close();
    }
  });

  it('the delete saga takes a real, verified final backup before it drops the database', async () => {
    const victim = uniqueSlug('bkd');
    await eng.tenants.create(eng.runtime, { slug: victim, name: 'Doomed', tier: 'DEV' });
    await seedTenant(pgc, victim, 20);
    const out = await eng.tenants.delete(eng.runtime, victim, true, 'local:alice');
    expect(out.steps.find((x) => x.name === 'final-backup')?.status).toBe('done');
    const list = (await eng.backups.service.list(eng.runtime, victim)).backups;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ reason: 'before-delete', actor: 'local:alice' });
    expect(list[0]!.verification.state).toBe('passed');
    expect(list[0]!.rows).toBeGreaterThanOrEqual(21);
  });

  it('a second console of the cluster must import the key; replacing the key keeps older backups readable here', async () => {
    const second = buildBackupEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: pgc,
      dataDir: tempDataDir(),
      consoleId: 'console-a2',
      clusterId: eng.runtime.clusterId,
    });
    try {
      const st = await second.backups.service.status(second.runtime);
      expect(st.key.state).toBe('missing-here');
      expect(st.configured).toBe(false);
      await expectCode(second.backups.service.createKey(second.runtime, 't'), 'CONFLICT', /Import its escrow file/);
      // The same catalog, seen from the second console.
      expect((await second.backups.service.list(second.runtime, slug)).backups.map((b) => b.id)).toContain(firstId);
    } finally {
      await second.close();
    }
    const s = eng.backups.service;
    const old = (await s.status(eng.runtime)).key.recipient;
    const replaced = await s.replaceKey(eng.runtime, 't');
    expect(replaced.status.key.state).toBe('needs-escrow');
    expect(replaced.status.key.recipient).not.toBe(old);
    expect(replaced.status.key.imported.map((k) => k.recipient)).toContain(old);
    const v = await s.verify(eng.runtime, firstId, 't');
    expect(v.verification.state, v.verification.message ?? '').toBe('passed');
  });
});
