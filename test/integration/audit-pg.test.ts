import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { chainEntry } from '../../src-main/engine/audit/chain';
import { AuditService } from '../../src-main/engine/audit/service';
import { fingerprint, InstallationKey, signCheckpoint } from '../../src-main/engine/audit/signing';
import { memorySecrets, record, tempCache, tempDir } from '../unit/audit/helpers';
import { throwawayPostgres, type ThrowawayPostgres } from './audit-support';

let pgServer: ThrowawayPostgres;
const services: { svc: AuditService; close(): void }[] = [];

function consoleOn(server: ThrowawayPostgres): AuditService {
  const { db, dir } = tempCache();
  const svc = new AuditService({
    db,
    secrets: memorySecrets(),
    consoleVersion: '0.1.0',
    checkpointEvery: 10,
    retry: { baseDelayMs: 50, maxDelayMs: 500 },
    // the records of helpers.record() belong to cluster "prod", whose database is this server
    clusters: { resolve: async (uid) => (uid === 'prod' ? { pgAdmin: async () => server.config } : null) },
  });
  services.push({
    svc,
    close: () => {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  });
  return svc;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function superuser(): Promise<pg.Client> {
  return pgServer.client('gatehouse_control');
}

beforeAll(async () => {
  pgServer = await throwawayPostgres();
}, 120_000);

afterAll(async () => {
  for (const s of services) {
    await s.svc.close();
    s.close();
  }
  await pgServer?.cleanup();
});

describe('shared audit log in PostgreSQL', () => {
  it('creates gatehouse_control and an append-only table: the console role cannot change it, a trigger refuses even the owner', async () => {
    const a = consoleOn(pgServer);
    for (let i = 0; i < 5; i++) await a.outbox.record(record());
    await until(() => a.outbox.pending().count === 0);
    const c = await superuser();
    try {
      expect((await c.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n).toBe(5);
      await c.query('SET ROLE gatehouse_console');
      for (const sql of ["UPDATE audit_log SET actor = 'x'", 'DELETE FROM audit_log', 'TRUNCATE audit_log']) {
        await expect(c.query(sql), sql).rejects.toThrow(/permission denied/);
      }
      await c.query('RESET ROLE');
      await expect(c.query("UPDATE audit_log SET actor = 'x' WHERE seq = 1")).rejects.toThrow(/append-only/);
      await expect(c.query('DELETE FROM audit_log WHERE seq = 1')).rejects.toThrow(/append-only/);
      await expect(c.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
      const priv = await c.query(
        "SELECT has_table_privilege('gatehouse_console', 'audit_log', 'UPDATE') AS u, has_table_privilege('gatehouse_console', 'audit_log', 'INSERT') AS i",
      );
      expect(priv.rows[0]).toEqual({ u: false, i: true });
    } finally {
      await c.end();
    }
  });

  it('never loses an entry: PostgreSQL killed mid-stream, appends continue, all flushed in order when it returns', async () => {
    const a = consoleOn(pgServer);
    await a.sync('prod');
    const startCount = a.local.count('cluster:prod');
    const targets: string[] = [];
    for (let i = 0; i < 120; i++) {
      if (i === 40) await pgServer.kill();
      if (i === 90) {
        expect(a.outbox.pending().count).toBeGreaterThanOrEqual(50); // they waited in the outbox
        expect((await a.status('prod')).lastFlushError).not.toBeNull();
        await pgServer.start();
      }
      const target = `tenant/stream-${i}`;
      targets.push(target);
      await a.outbox.record(record({ target })); // what the pipeline awaits: it never fails while PG is down
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    // background retry with backoff drains the outbox without being asked
    await until(() => a.outbox.pending().count === 0);
    const c = await superuser();
    try {
      const rows = (await c.query<{ target: string }>("SELECT target FROM audit_log WHERE target LIKE 'tenant/stream-%' ORDER BY seq"))
        .rows;
      const got = rows.map((r) => r.target);
      if (got.length !== targets.length)
        console.log('missing:', targets.filter((t) => !got.includes(t)).join(','), 'outbox', a.outbox.pending());
      expect(got).toEqual(targets); // none lost, none doubled, order kept
    } finally {
      await c.end();
    }
    const report = await a.verify('cluster:prod');
    expect(report).toMatchObject({ ok: true, readFrom: 'shared' });
    expect(report.checkpointsChecked).toBeGreaterThan(0);
    await a.sync('prod');
    expect(a.local.count('cluster:prod')).toBe(startCount + 120);
  }, 180_000);

  it('two consoles appending at once never fork the chain', async () => {
    const a = consoleOn(pgServer);
    const b = consoleOn(pgServer);
    await Promise.all([
      (async () => {
        for (let i = 0; i < 60; i++) await a.outbox.record(record({ actor: 'local:console-a' }));
      })(),
      (async () => {
        for (let i = 0; i < 60; i++) await b.outbox.record(record({ actor: 'local:console-b' }));
      })(),
    ]);
    await until(() => a.outbox.pending().count === 0 && b.outbox.pending().count === 0);
    const c = await superuser();
    try {
      const r = await c.query('SELECT count(*)::int AS n, max(seq)::int AS m, count(DISTINCT prev_hash)::int AS p FROM audit_log');
      expect(r.rows[0].n).toBe(r.rows[0].m); // seq 1..n, no gap
      expect(r.rows[0].p).toBe(r.rows[0].n); // every entry has its own predecessor: no fork
    } finally {
      await c.end();
    }
    // each trusts its own checkpoints; the other's key is only listed as unenrolled until an admin enrolls it
    const byB = await b.verify('cluster:prod');
    expect(byB.ok).toBe(true);
    expect(byB.findings).toContainEqual(expect.objectContaining({ kind: 'checkpoint-unknown-signer' }));
    expect((await a.verify('cluster:prod')).ok).toBe(true);
  }, 120_000);
});

describe('export from the shared log, import on a console that never saw the cluster', () => {
  it('round-trips and verifies offline; a tampered export is refused', async () => {
    const a = consoleOn(pgServer);
    await a.outbox.record(record());
    await until(() => a.outbox.pending().count === 0);
    const dir = path.join(tempDir(), 'bundle');
    const out = await a.export('cluster:prod', dir, {});
    const c = await superuser();
    const n = (await c.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n;
    await c.end();
    expect(out.count).toBe(n);
    const { db, dir: d2 } = tempCache();
    const offline = new AuditService({ db, secrets: memorySecrets(), consoleVersion: '0.1.0' }); // no shared log at all
    services.push({
      svc: offline,
      close: () => {
        db.close();
        fs.rmSync(d2, { recursive: true, force: true });
      },
    });
    const info = await offline.import(dir, fingerprint((await a.key()).verifier.vkey));
    expect(await offline.verify(`bundle:${info.id}`)).toMatchObject({ ok: true, checked: n });
    const lines = fs.readFileSync(path.join(dir, 'entries.jsonl'), 'utf8').split('\n');
    lines[2] = lines[2]!.replace('"outcome":"success"', '"outcome":"denied"');
    fs.writeFileSync(path.join(dir, 'entries.jsonl'), lines.join('\n'));
    const { db: db3 } = tempCache();
    const other = new AuditService({ db: db3, secrets: memorySecrets(), consoleVersion: '0.1.0' });
    await expect(other.import(dir, fingerprint((await a.key()).verifier.vkey))).rejects.toThrow(/entry 3 was changed/);
    expect(other.local.count()).toBe(0);
    await other.close();
    db3.close();
  });
});

describe('tampering in PostgreSQL (as superuser, triggers bypassed) is detected and named', () => {
  let svc: AuditService;
  let c: pg.Client;
  beforeAll(async () => {
    svc = consoleOn(pgServer);
    await svc.outbox.record(record());
    await until(() => svc.outbox.pending().count === 0);
    c = await superuser();
    // replica mode skips ordinary triggers: what an attacker with superuser can do
    await c.query("SET session_replication_role = 'replica'");
  });
  afterAll(async () => {
    await c?.end();
  });

  async function row(seq: number) {
    return (await c.query('SELECT * FROM audit_log WHERE seq = $1', [seq])).rows[0];
  }
  async function restore(original: Record<string, unknown>) {
    await c.query('DELETE FROM audit_log WHERE seq = $1', [original.seq]);
    const cols = Object.keys(original);
    await c.query(
      `INSERT INTO audit_log (${cols.join(',')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(',')})`,
      Object.values(original),
    );
    expect((await svc.verify('cluster:prod')).ok).toBe(true);
  }

  it('an edited entry', async () => {
    const original = await row(7);
    await c.query(`UPDATE audit_log SET entry = replace(entry, '"outcome":"success"', '"outcome":"failure"') WHERE seq = 7`);
    expect(await svc.verify('cluster:prod')).toMatchObject({ ok: false, firstBadSeq: 7, problem: 'hash-mismatch' });
    await restore(original);
  });

  it('a deleted entry', async () => {
    const original = await row(12);
    await c.query('DELETE FROM audit_log WHERE seq = 12');
    expect(await svc.verify('cluster:prod')).toMatchObject({ ok: false, firstBadSeq: 12, problem: 'missing-entry' });
    await restore(original);
  });

  it('entries removed from the end (a signed checkpoint still covers them)', async () => {
    const head = Number((await c.query('SELECT max(size) AS m FROM audit_checkpoints')).rows[0].m);
    const originals = (await c.query('SELECT * FROM audit_log WHERE seq >= $1 ORDER BY seq', [head])).rows;
    await c.query('DELETE FROM audit_log WHERE seq >= $1', [head]);
    expect(await svc.verify('cluster:prod')).toMatchObject({ ok: false, firstBadSeq: head, problem: 'missing-entry' });
    for (const o of originals) {
      const cols = Object.keys(o);
      await c.query(`INSERT INTO audit_log (${cols.join(',')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(',')})`, Object.values(o));
    }
    expect((await svc.verify('cluster:prod')).ok).toBe(true);
  });

  it('an inserted entry', async () => {
    const max = Number((await c.query('SELECT max(seq) AS m FROM audit_log')).rows[0].m);
    const { entry, canonical } = chainEntry(record({ actor: 'local:mallory' }), max + 1, 'ff'.repeat(32));
    await c.query(
      "INSERT INTO audit_log (seq, prev_hash, hash, entry, at, actor, action, target, outcome, origin_ref) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'forged')",
      [max + 1, entry.prev_hash, entry.hash, canonical, entry.at, entry.actor, entry.action, entry.target, entry.outcome],
    );
    expect(await svc.verify('cluster:prod')).toMatchObject({ ok: false, firstBadSeq: max + 1, problem: 'broken-link' });
    await c.query('DELETE FROM audit_log WHERE seq = $1', [max + 1]);
    expect((await svc.verify('cluster:prod')).ok).toBe(true);
  });

  it('reordered entries', async () => {
    const a = await row(20);
    const b = await row(21);
    await c.query('UPDATE audit_log SET seq = -1 WHERE seq = 20');
    await c.query('UPDATE audit_log SET seq = 20 WHERE seq = 21');
    await c.query('UPDATE audit_log SET seq = 21 WHERE seq = -1');
    expect(await svc.verify('cluster:prod')).toMatchObject({ ok: false, firstBadSeq: 20 });
    await c.query('DELETE FROM audit_log WHERE seq IN (20, 21)');
    for (const o of [a, b]) {
      const cols = Object.keys(o);
      await c.query(`INSERT INTO audit_log (${cols.join(',')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(',')})`, Object.values(o));
    }
    expect((await svc.verify('cluster:prod')).ok).toBe(true);
  });

  it('a forged checkpoint (unknown key) and a tampered one (trusted key, altered root)', async () => {
    const mallory = await InstallationKey.load(memorySecrets());
    const head = (await c.query('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0];
    const origin = (await c.query("SELECT 'gatehouse/audit/' || log_id AS o FROM audit_meta")).rows[0].o;
    const forged = signCheckpoint(mallory, origin, Number(head.seq), head.hash);
    await c.query('INSERT INTO audit_checkpoints (size, signer, note) VALUES ($1, $2, $3)', [head.seq, mallory.name, forged.note]);
    // a checkpoint by a key nobody enrolled proves nothing: reported untrusted, and it does not count
    const untrusted = await svc.verify('cluster:prod');
    expect(untrusted.findings).toContainEqual(expect.objectContaining({ kind: 'checkpoint-unknown-signer', seq: Number(head.seq) }));
    expect(untrusted.trustedCheckpoint?.signers ?? []).not.toContain(mallory.name);
    await c.query('DELETE FROM audit_checkpoints WHERE signer = $1', [mallory.name]);

    // one signed by this console's own key: a checkpoint of another (unenrolled) console proves nothing here anyway
    const cp = (await c.query('SELECT * FROM audit_checkpoints WHERE signer = $1 ORDER BY size LIMIT 1', [(await svc.key()).name])).rows[0];
    const lines = cp.note.split('\n');
    lines[2] = Buffer.alloc(32, 7).toString('base64');
    await c.query('UPDATE audit_checkpoints SET note = $1 WHERE size = $2 AND signer = $3', [lines.join('\n'), cp.size, cp.signer]);
    expect(await svc.verify('cluster:prod')).toMatchObject({ ok: false, problem: 'checkpoint-signature', firstBadSeq: Number(cp.size) });
    await c.query('UPDATE audit_checkpoints SET note = $1 WHERE size = $2 AND signer = $3', [cp.note, cp.size, cp.signer]);
    expect((await svc.verify('cluster:prod')).ok).toBe(true);
  });
});
