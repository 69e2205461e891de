// The audit log against its database owner: every console is a witness, signers are
// enrolled, checkpoints are published into a Kubernetes ConfigMap. Each attack is done the
// way the DBA could (the admin DSN, triggers bypassed) on a real PostgreSQL and must be
// detected with the first bad seq or the missing range named.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeClients } from '../../src-main/adapters/kube';
import { canonicalJson, entryHash, type ChainFields } from '../../src-main/engine/audit/chain';
import { CHECKPOINTS_CONFIGMAP } from '../../src-main/engine/audit/kube-checkpoints';
import { AuditService } from '../../src-main/engine/audit/service';
import { fingerprint, InstallationKey, signCheckpoint } from '../../src-main/engine/audit/signing';
import type { PgAdminConfig } from '../../src-main/engine/core/cluster-runtime';
import { memorySecrets, record, tempCache, tempDir } from '../unit/audit/helpers';
import { harness, kubeConfig, uniqueNamespace } from './harness-fixture';

const CLUSTER = 'uid-witness-test';
let namespace: string;
let admin: PgAdminConfig;
const opened: { svc: AuditService; dir: string; db: { close(): void } }[] = [];

beforeAll(async () => {
  const h = harness();
  admin = { ...h.postgres, ssl: false };
  namespace = await uniqueNamespace('audit-witness');
});

afterAll(async () => {
  for (const o of opened) {
    await o.svc.close();
    o.db.close();
    fs.rmSync(o.dir, { recursive: true, force: true });
  }
});

/** A console whose cluster CLUSTER has its log in `database` on the harness PostgreSQL and its checkpoints in the test namespace. */
function consoleFor(database: string, opts: { kube?: boolean } = {}): AuditService {
  const { db, dir } = tempCache();
  const kube = opts.kube === false ? null : kubeClients(kubeConfig('operator'));
  const svc = new AuditService({
    db,
    secrets: memorySecrets(),
    consoleVersion: '0.1.0',
    checkpointEvery: 10,
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
    controlDatabase: database,
    clusters: { resolve: async (uid) => (uid === CLUSTER ? { pgAdmin: async () => admin, kube, namespace } : null) },
  });
  opened.push({ svc, dir, db });
  return svc;
}

const freshDatabase = () => `audit_w_${randomBytes(4).toString('hex')}`;

async function until(cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The database owner: the admin DSN, with the append-only triggers bypassed for the session. */
async function owner(database: string): Promise<pg.Client> {
  const c = new pg.Client({ ...admin, database });
  await c.connect();
  await c.query("SET session_replication_role = 'replica'");
  return c;
}

/** A console that recorded `n` entries into a fresh log and synced (so it witnessed them). */
async function witnessed(n: number, opts: { kube?: boolean } = {}) {
  const database = freshDatabase();
  const svc = consoleFor(database, opts);
  for (let i = 0; i < n; i++) await svc.outbox.record(record({ cluster: CLUSTER, target: `tenant/w${i}` }));
  await until(() => svc.outbox.pending().count === 0);
  await svc.sync(CLUSTER);
  return { svc, database };
}

/** Rewrites entry `seq` (actor → mallory) and re-chains every entry after it, as the owner. */
async function rewriteAndRechain(c: pg.Client, seq: number): Promise<void> {
  const rows = (await c.query<{ seq: string; entry: string }>('SELECT seq, entry FROM audit_log WHERE seq >= $1 ORDER BY seq', [seq])).rows;
  let prev = (await c.query<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = $1', [seq - 1])).rows[0]!.hash;
  for (const r of rows) {
    const fields = JSON.parse(r.entry) as ChainFields;
    if (Number(r.seq) === seq) fields.actor = 'local:mallory';
    fields.prev_hash = prev;
    const canonical = canonicalJson(fields);
    const hash = entryHash(prev, canonical);
    await c.query('UPDATE audit_log SET entry = $1, prev_hash = $2, hash = $3, actor = $4 WHERE seq = $5', [
      canonical,
      prev,
      hash,
      fields.actor,
      r.seq,
    ]);
    prev = hash;
  }
}

describe('checkpoints leave the database', () => {
  it('are published into a ConfigMap in the platform namespace, per log, and listed in the witness state', async () => {
    const { svc } = await witnessed(25);
    const cm = await kubeClients(kubeConfig('admin')).core.readNamespacedConfigMap({ name: CHECKPOINTS_CONFIGMAP, namespace });
    const logId = svc.witness.boundLog(CLUSTER)!;
    const published = JSON.parse(cm.data![`log-${logId}`]!) as { origin: string; checkpoints: string[] };
    expect(published.origin).toBe(`gatehouse/audit/${logId}`);
    expect(published.checkpoints.length).toBeGreaterThan(0);
    expect(cm.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'gatehouse' });
    const w = svc.witness.get(logId)!;
    expect(w).toMatchObject({ seq: 25, cluster: CLUSTER });
    expect(w.checkpointNote).toMatch(/^gatehouse\/audit\//);
    expect((await svc.status(CLUSTER)).publication).toMatchObject({ ok: true });
    expect(await svc.verify(`cluster:${CLUSTER}`)).toMatchObject({ state: 'verified', headSeq: 25 });
  });
});

describe('the four attacks of the database owner are detected and named', () => {
  it('1. the newest entries deleted after the last checkpoint: truncated after seq N', async () => {
    const { svc, database } = await witnessed(20);
    // five more, fewer than checkpointEvery: no checkpoint covers them, but the witness saw them
    for (let i = 0; i < 5; i++) await svc.outbox.record(record({ cluster: CLUSTER, target: `tenant/late${i}` }));
    await until(() => svc.outbox.pending().count === 0);
    const c = await owner(database);
    const lastCheckpoint = Number((await c.query('SELECT max(size) AS m FROM audit_checkpoints')).rows[0].m);
    expect(lastCheckpoint).toBeLessThan(25);
    await c.query('DELETE FROM audit_log WHERE seq > $1', [lastCheckpoint]);
    await c.end();
    const report = await svc.verify(`cluster:${CLUSTER}`);
    expect(report).toMatchObject({
      state: 'tampered',
      problem: 'log-truncated',
      firstBadSeq: lastCheckpoint + 1,
      missingRange: { from: lastCheckpoint + 1, to: 25 },
    });
    expect(report.message).toMatch(new RegExp(`truncated after entry ${lastCheckpoint}`));
    // the alarm stays, and the copy of what was seen is kept as evidence
    const alarm = svc.alarms.open(CLUSTER).find((a) => a.kind === 'log-truncated')!;
    expect(alarm.evidence).toMatch(/^archive:/);
    expect(svc.local.count(alarm.evidence!)).toBe(25);
    // this console's next records are not chained onto the truncated log
    await svc.outbox.record(record({ cluster: CLUSTER, target: 'tenant/after-attack' }));
    await expect(svc.outbox.flush(CLUSTER)).rejects.toThrow(/truncated/);
    expect(svc.outbox.pending(CLUSTER).count).toBe(1);
  });

  it('2. an entry rewritten, everything after it re-chained, all checkpoints deleted: entry N rewritten, checkpoints missing', async () => {
    const { svc, database } = await witnessed(40);
    const c = await owner(database);
    await rewriteAndRechain(c, 13);
    await c.query('DELETE FROM audit_checkpoints');
    await c.end();
    const report = await svc.verify(`cluster:${CLUSTER}`);
    expect(report).toMatchObject({ state: 'tampered', ok: false });
    // the chain itself is valid again: only what lives outside the database shows it
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'entry-rewritten', seq: 13 }));
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'checkpoints-missing' }));
    expect(report.findings).toContainEqual(
      expect.objectContaining({ kind: 'checkpoint-disagrees', where: `Kubernetes ConfigMap ${namespace}/${CHECKPOINTS_CONFIGMAP}` }),
    );
    expect(report.firstBadSeq).toBe(13);
  });

  it('3. the same, plus a new signer key and a checkpoint signed with it: the signer is unenrolled, its checkpoint untrusted', async () => {
    const { svc, database } = await witnessed(40);
    const mallory = await InstallationKey.load(memorySecrets());
    const c = await owner(database);
    await rewriteAndRechain(c, 21);
    await c.query('DELETE FROM audit_checkpoints');
    const head = (await c.query('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0];
    const origin = (await c.query("SELECT 'gatehouse/audit/' || log_id AS o FROM audit_meta")).rows[0].o as string;
    await c.query('INSERT INTO audit_signers (name, vkey) VALUES ($1, $2)', [mallory.name, mallory.verifier.vkey]);
    await c.query('INSERT INTO audit_checkpoints (size, signer, note) VALUES ($1, $2, $3)', [
      head.seq,
      mallory.name,
      signCheckpoint(mallory, origin, Number(head.seq), head.hash).note,
    ]);
    await c.end();
    const report = await svc.verify(`cluster:${CLUSTER}`);
    expect(report.state).toBe('tampered');
    expect(report.firstBadSeq).toBe(21);
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'entry-rewritten', seq: 21 }));
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'checkpoint-unknown-signer', seq: Number(head.seq) }));
    expect(report.trustedCheckpoint?.signers ?? []).not.toContain(mallory.name);
    await svc.sync(CLUSTER).catch(() => undefined);
    const signers = await svc.signers();
    expect(signers.enrolled.map((s) => s.name)).not.toContain(mallory.name);
    expect(signers.unenrolled).toContainEqual(
      expect.objectContaining({ name: mallory.name, fingerprint: fingerprint(mallory.verifier.vkey) }),
    );
  });

  it('4. audit_meta.log_id changed: an alarm, the local copy kept and exportable, nothing appended to the other log', async () => {
    const { svc, database } = await witnessed(30);
    const oldLogId = svc.witness.boundLog(CLUSTER)!;
    const c = await owner(database);
    await c.query("UPDATE audit_meta SET log_id = 'forged-log-id'");
    await c.end();
    // even a restarted console (new connection) keeps the copy
    await svc.logs.drop(CLUSTER);
    const report = await svc.verify(`cluster:${CLUSTER}`);
    expect(report).toMatchObject({ state: 'tampered', problem: 'log-id-changed' });
    expect(report.message).toContain(oldLogId);
    const alarm = svc.alarms.open(CLUSTER).find((a) => a.kind === 'log-id-changed')!;
    expect(alarm.evidence).toMatch(/^archive:/);
    expect(svc.local.count(alarm.evidence!)).toBe(30);
    const out = await svc.export(alarm.evidence!, path.join(tempDir(), 'evidence'), {});
    expect(out).toMatchObject({ count: 30, firstSeq: 1, lastSeq: 30 });
    // records wait instead of being chained into the forged log
    await svc.outbox.record(record({ cluster: CLUSTER, target: 'tenant/held' }));
    await expect(svc.outbox.flush(CLUSTER)).rejects.toThrow(/log id/);
    const check = new pg.Client({ ...admin, database });
    await check.connect();
    expect((await check.query("SELECT count(*)::int AS n FROM audit_log WHERE target = 'tenant/held'")).rows[0].n).toBe(0);
    await check.end();
    expect((await svc.status(CLUSTER)).sharedStore).toBe('held');
    // an admin accepts the new log: records flow again, the evidence stays
    await svc.resolveAlarm(alarm.id, true, 'the database was rebuilt on purpose', 'local:root');
    await until(() => svc.outbox.pending(CLUSTER).count === 0);
    expect(svc.local.count(alarm.evidence!)).toBe(30);
  });
});

describe("the database's own protection", () => {
  it('audit_meta is append-only like the entries', async () => {
    const { database } = await witnessed(3);
    const c = new pg.Client({ ...admin, database });
    await c.connect();
    await expect(c.query("UPDATE audit_meta SET log_id = 'x'")).rejects.toThrow(/append-only/);
    await expect(c.query('DELETE FROM audit_meta')).rejects.toThrow(/append-only/);
    await c.end();
  });

  it('a trigger disabled and re-enabled around a rewrite leaves a trace the next verify reports', async () => {
    const { svc, database } = await witnessed(15);
    const c = new pg.Client({ ...admin, database });
    await c.connect();
    await c.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
    await c.query(`UPDATE audit_log SET entry = replace(entry, '"outcome":"success"', '"outcome":"failure"') WHERE seq = 7`);
    await c.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    await c.end();
    const report = await svc.verify(`cluster:${CLUSTER}`);
    expect(report).toMatchObject({ state: 'tampered', firstBadSeq: 7, problem: 'hash-mismatch' });
    const trace = report.findings.find((f) => f.kind === 'protection-changed' && f.severity === 'alarm');
    expect(trace?.message).toMatch(/ALTER TABLE public\.audit_log by gatehouse_admin/);
  });
});

describe('signers are enrolled, not discovered', () => {
  it("another console's checkpoints are untrusted until an admin enrolls its key by fingerprint", async () => {
    const database = freshDatabase();
    const other = consoleFor(database, { kube: false });
    for (let i = 0; i < 1200; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) => other.outbox.record(record({ cluster: CLUSTER, target: `tenant/o${i + j}` }))),
      );
    }
    await until(() => other.outbox.pending().count === 0, 120_000);
    const me = consoleFor(database, { kube: false });
    await me.sync(CLUSTER);
    const before = await me.verify(`cluster:${CLUSTER}`);
    // 1,200 entries and no checkpoint by an enrolled key: not OK
    expect(before).toMatchObject({ state: 'unverifiable', problem: 'no-trusted-checkpoint' });
    expect(before.findings.some((f) => f.kind === 'checkpoint-unknown-signer')).toBe(true);
    const key = await other.key();
    const listed = await me.signers();
    expect(listed.unenrolled).toContainEqual(expect.objectContaining({ name: key.name, fingerprint: fingerprint(key.verifier.vkey) }));
    await expect(me.enroll(key.verifier.vkey, 'SHA256:not-the-right-one', 'local:root')).rejects.toThrow(/does not match/);
    await me.enroll(key.verifier.vkey, fingerprint(key.verifier.vkey), 'local:root');
    const after = await me.verify(`cluster:${CLUSTER}`);
    expect(after).toMatchObject({ state: 'verified', ok: true });
    expect(after.trustedCheckpoint?.signers).toContain(key.name);
  }, 180_000);
});

describe('a checkpoint file in a folder the operator chose (a mounted share)', () => {
  it('starts with the history, grows with each checkpoint, and names itself when the database and the ConfigMap were both rewritten', async () => {
    const share = fs.realpathSync(tempDir('gatehouse-share-'));
    const { svc, database } = await witnessed(40);
    svc.folders.setRoots([share]);
    const rootId = svc.folders.roots().find((r) => r.path === share)!.id;
    // the built-in export folder lives in the data directory: not a place out of reach
    const builtin = svc.folders.roots().find((r) => r.origin === 'builtin');
    if (builtin) await expect(svc.setWitnessFolder(CLUSTER, builtin.id)).rejects.toThrow(/pick a folder an admin added/);
    const set = await svc.setWitnessFolder(CLUSTER, rootId);
    expect(set).toMatchObject({ folder: share });
    expect(set.published).toBeGreaterThan(0);
    const file = svc.witnessFolder(CLUSTER)!.file!;
    const lines = () => fs.readFileSync(file, 'utf8').trim().split('\n').length;
    const before = lines();
    expect(before).toBeGreaterThan(0);
    for (let i = 0; i < 12; i++) await svc.outbox.record(record({ cluster: CLUSTER, target: `tenant/f${i}` }));
    await until(() => svc.outbox.pending().count === 0);
    expect(lines()).toBeGreaterThan(before);
    expect((await svc.status(CLUSTER)).witnessFile).toMatchObject({ folder: share, file, publication: { ok: true } });
    expect(await svc.verify(`cluster:${CLUSTER}`)).toMatchObject({ state: 'verified' });

    // a second workstation that never saw this log, which enrolled the first console's key and reads the same share
    const own = await svc.key();
    const other = consoleFor(database);
    await other.enroll(own.verifier.vkey, fingerprint(own.verifier.vkey), 'local:admin');
    other.folders.setRoots([share]);
    await other.setWitnessFolder(CLUSTER, other.folders.roots().find((r) => r.path === share)!.id);

    // the attacker owns the database and may edit the ConfigMap: rewrites, re-chains, deletes every checkpoint in both
    const c = await owner(database);
    await rewriteAndRechain(c, 13);
    await c.query('DELETE FROM audit_checkpoints');
    await c.end();
    const core = kubeClients(kubeConfig('admin')).core;
    const cm = await core.readNamespacedConfigMap({ name: CHECKPOINTS_CONFIGMAP, namespace });
    const logId = svc.witness.boundLog(CLUSTER)!;
    delete cm.data![`log-${logId}`];
    await core.replaceNamespacedConfigMap({ name: CHECKPOINTS_CONFIGMAP, namespace, body: cm });

    const report = await other.verify(`cluster:${CLUSTER}`);
    expect(report.state).toBe('tampered');
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'checkpoint-disagrees', where: `checkpoint file in ${share}` }));
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'checkpoints-missing' }));
  });
});
