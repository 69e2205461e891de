import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openCache } from '../../../src-main/adapters/sqlite';
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
  { id: 1, name: 'one', sql: 'CREATE TABLE a (x INTEGER)' },
  { id: 2, name: 'two', sql: 'CREATE TABLE b (y TEXT)' },
];

describe('local cache', () => {
  it('opens in WAL mode and applies versioned migrations once', () => {
    const file = path.join(tmp(), 'cache.sqlite');
    const first = openCache(file, migrations);
    expect(first.warning).toBeNull();
    expect(first.db.pragma('journal_mode', { simple: true })).toBe('wal');
    first.db.prepare('INSERT INTO a VALUES (1)').run();
    first.db.close();
    const again = openCache(file, [...migrations, { id: 3, name: 'three', sql: 'CREATE TABLE c (z INTEGER)' }]);
    expect(again.db.prepare('SELECT count(*) FROM a').pluck().get()).toBe(1);
    expect(again.db.prepare('SELECT id FROM cache_migrations ORDER BY id').pluck().all()).toEqual([1, 2, 3]);
    again.db.close();
  });

  it('moves a corrupt file aside with a warning and rebuilds instead of refusing to start', () => {
    const dir = tmp();
    const file = path.join(dir, 'cache.sqlite');
    fs.writeFileSync(file, Buffer.alloc(8192, 0x5a)); // not a database
    const { db, warning } = openCache(file, migrations);
    expect(warning).toMatch(/moved to .*corrupt/);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'a'").pluck().get()).toBe('a');
    db.close();
    expect(fs.readdirSync(dir).some((f) => f.includes('.corrupt-'))).toBe(true);
  });

  it('the engine starts on a corrupt cache and reports it at start', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'cache.sqlite'), 'garbage'.repeat(1000));
    const engine = createEngine({ mode: 'browser', dataDir: dir });
    expect(engine.startupWarnings.join('\n')).toMatch(/could not be read/);
    await engine.close();
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
