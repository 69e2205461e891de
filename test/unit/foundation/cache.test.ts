import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalStateError, openLocalStore, restoreStateFromBackup } from '../../../src-main/adapters/sqlite';
import { createEngine } from '../../../src-main/engine';
import { ensureWritableDataDir, resolveDataDir } from '../../../src-main/engine/core/data-dir';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cache-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const migrations = [
  { id: 1, name: 'one', store: 'state' as const, sql: 'CREATE TABLE a (x INTEGER)' },
  { id: 2, name: 'two', store: 'cache' as const, sql: 'CREATE TABLE b (y TEXT)' },
];

describe('local state and cache', () => {
  it('keeps durable state and cache in two files, one connection reaching both, migrations applied once', () => {
    const dir = tmp();
    const first = openLocalStore(dir, migrations);
    expect(first.warnings).toEqual([]);
    expect(first.db.pragma('journal_mode', { simple: true })).toBe('wal');
    first.db.prepare('INSERT INTO a VALUES (1)').run();
    first.db.prepare("INSERT INTO b VALUES ('cached')").run();
    first.db.close();
    const again = openLocalStore(dir, [...migrations, { id: 3, name: 'three', store: 'state', sql: 'CREATE TABLE c (z INTEGER)' }]);
    expect(again.db.prepare('SELECT count(*) FROM a').pluck().get()).toBe(1);
    expect(again.db.prepare('SELECT id FROM main.local_migrations ORDER BY id').pluck().all()).toEqual([1, 3]);
    expect(again.db.prepare("SELECT name FROM main.sqlite_master WHERE name = 'b'").pluck().get()).toBeUndefined();
    expect(again.db.prepare("SELECT name FROM cache.sqlite_master WHERE name = 'b'").pluck().get()).toBe('b');
    again.db.close();
  });

  it('the data directory is owner-only and so are the files', () => {
    const dir = path.join(tmp(), 'data');
    const { db } = openLocalStore(dir, migrations);
    db.close();
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of ['state.sqlite', 'cache.sqlite', 'state.sqlite.backup'])
      expect(fs.statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
  });

  it('deleting the cache loses nothing durable: it is rebuilt empty', () => {
    const dir = tmp();
    const first = openLocalStore(dir, migrations);
    first.db.prepare('INSERT INTO a VALUES (7)').run();
    first.db.prepare("INSERT INTO b VALUES ('cached')").run();
    first.db.close();
    for (const f of ['cache.sqlite', 'cache.sqlite-wal', 'cache.sqlite-shm']) fs.rmSync(path.join(dir, f), { force: true });
    const again = openLocalStore(dir, migrations);
    expect(again.db.prepare('SELECT x FROM a').pluck().all()).toEqual([7]);
    expect(again.db.prepare('SELECT count(*) FROM b').pluck().get()).toBe(0);
    again.db.close();
  });

  it('moves a corrupt cache aside with a warning and rebuilds it', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'cache.sqlite'), Buffer.alloc(8192, 0x5a)); // not a database
    fs.writeFileSync(path.join(dir, 'state.sqlite'), '');
    const { db, warnings } = openLocalStore(dir, migrations);
    expect(warnings.join('\n')).toMatch(/cache .*moved to .*corrupt/);
    expect(db.prepare("SELECT name FROM cache.sqlite_master WHERE name = 'b'").pluck().get()).toBe('b');
    db.close();
    expect(fs.readdirSync(dir).some((f) => f.includes('.corrupt-'))).toBe(true);
  });

  it('a corrupt durable-state file stops the start, names the file and the recovery commands, and keeps the file', () => {
    const dir = tmp();
    const first = openLocalStore(dir, migrations);
    first.db.prepare('INSERT INTO a VALUES (42)').run();
    first.db.close();
    openLocalStore(dir, migrations).db.close(); // a clean start refreshes the automatic copy
    const garbage = Buffer.alloc(8192, 0x5a);
    fs.writeFileSync(path.join(dir, 'state.sqlite'), garbage);
    for (const f of ['state.sqlite-wal', 'state.sqlite-shm']) fs.rmSync(path.join(dir, f), { force: true });
    let error: unknown;
    try {
      openLocalStore(dir, migrations);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LocalStateError);
    const message = (error as Error).message;
    expect(message).toContain(path.join(dir, 'state.sqlite'));
    expect(message).toContain(`gatehouse restore-local-state --data-dir ${dir}`);
    expect(message).toContain('--reset-local-state');
    expect(fs.readFileSync(path.join(dir, 'state.sqlite'))).toEqual(garbage); // never silently replaced
    const restored = restoreStateFromBackup(dir);
    expect(restored.keptAs).toMatch(/state\.sqlite\.unreadable-/);
    const again = openLocalStore(dir, migrations);
    expect(again.db.prepare('SELECT x FROM a').pluck().all()).toEqual([42]);
    again.db.close();
  });

  it('--reset-local-state moves the durable file aside (kept) and says so', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'state.sqlite'), Buffer.alloc(8192, 0x5a));
    const { db, warnings } = openLocalStore(dir, migrations, { resetState: true });
    expect(warnings.join('\n')).toMatch(/--reset-local-state: the durable state was moved to .*state\.sqlite\.reset-/);
    db.close();
    expect(fs.readdirSync(dir).some((f) => f.startsWith('state.sqlite.reset-'))).toBe(true);
  });

  it('the engine starts on a corrupt cache and reports it at start', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'cache.sqlite'), 'garbage'.repeat(1000));
    fs.writeFileSync(path.join(dir, 'state.sqlite'), '');
    const engine = createEngine({ mode: 'browser', dataDir: dir });
    expect(engine.startupWarnings.join('\n')).toMatch(/could not be read/);
    await engine.close();
  });

  it('deleting the cache file loses no operator account, journal entry or outbox entry', async () => {
    const dir = tmp();
    const first = createEngine({ mode: 'browser', dataDir: dir, identity: 'sign-in', clusters: { autoStart: false, env: {}, home: dir } });
    await first.operators.setupFirstAdmin('c', { username: 'root', password: 'Correct-Horse-42' });
    first.db
      .prepare(
        `INSERT INTO operations (id, kind, target, cluster_id, cluster_name, actor, params, status, created_at, updated_at) VALUES ('op-1','tenant.create','acme','uid-a','staging','local:root','{}','running','2026-12-01','2026-12-01')`,
      )
      .run();
    await first.audit.record({
      actor: 'local:root',
      actorRole: 'admin',
      action: 'tenants.create',
      target: 'tenant:acme',
      params: {},
      before: null,
      after: null,
      outcome: 'success',
      errorCode: null,
      at: new Date().toISOString(),
      cluster: 'uid-a',
      consoleVersion: 'test',
    });
    first.tenants.cache.save('uid-a', [], [], 5);
    await first.close();
    for (const f of ['cache.sqlite', 'cache.sqlite-wal', 'cache.sqlite-shm']) fs.rmSync(path.join(dir, f), { force: true });

    const again = createEngine({ mode: 'browser', dataDir: dir, identity: 'sign-in', clusters: { autoStart: false, env: {}, home: dir } });
    expect(again.operators.list().accounts.map((a) => a.username)).toEqual(['root']);
    expect(again.saga.listUnfinished().map((o) => [o.id, o.clusterId])).toEqual([['op-1', 'uid-a']]);
    expect(again.db.prepare('SELECT count(*) FROM audit_outbox').pluck().get()).toBe(1);
    expect(again.tenants.cache.load('uid-a')).toBeNull(); // the cache really was rebuilt empty
    await again.close();
  });

  it('the engine refuses to start on a corrupt durable-state file', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'state.sqlite'), 'garbage'.repeat(1000));
    expect(() => createEngine({ mode: 'browser', dataDir: dir })).toThrow(LocalStateError);
  });

  it('a data directory that cannot be written gets a clear error', () => {
    const dir = tmp();
    const blocker = path.join(dir, 'file');
    fs.writeFileSync(blocker, '');
    expect(() => ensureWritableDataDir(path.join(blocker, 'data'))).toThrow(/not writable .*--data-dir or GATEHOUSE_HOME/);
  });

  it('GATEHOUSE_HOME and --data-dir override the app data folder', () => {
    const old = process.env.GATEHOUSE_HOME;
    process.env.GATEHOUSE_HOME = '/tmp/gh-home';
    expect(resolveDataDir()).toBe('/tmp/gh-home');
    expect(resolveDataDir('/tmp/explicit')).toBe('/tmp/explicit');
    if (old === undefined) delete process.env.GATEHOUSE_HOME;
    else process.env.GATEHOUSE_HOME = old;
  });
});
