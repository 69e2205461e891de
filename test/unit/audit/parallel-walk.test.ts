import { Worker } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import { chainEntry, ChainVerifier, entryHash, GENESIS_HASH } from '../../../src-main/engine/audit/chain';
import { LocalAuditCopy, type StoredEntry } from '../../../src-main/engine/audit/local-copy';
import { stopParallelWalks, walkParallel, type ParallelPlan } from '../../../src-main/engine/audit/parallel-walk';
import { DEFAULT_POLICY, verifyLog } from '../../../src-main/engine/audit/verify';
import { record, tempCache } from './helpers';

const N = 600;
const THREADS = 3; // pieces (0, 200], (200, 400], (400, end]
const WATCH = new Set([1, 199, 200, 201, 399, 400, 401, 600, 700]);

function chain(n: number, from = 1, start = GENESIS_HASH): StoredEntry[] {
  const out: StoredEntry[] = [];
  let prev = start;
  for (let i = from; i < from + n; i++) {
    const { entry, canonical } = chainEntry(record({ target: `tenant/t${i}` }), i, prev);
    out.push({ seq: i, hash: entry.hash, canonical });
    prev = entry.hash;
  }
  return out;
}

const all = chain(N);
let n = 0;

/** A fresh source holding `rows`, and what a parallel walk of it needs. */
function source(rows: StoredEntry[]) {
  const { db } = tempCache();
  const copy = new LocalAuditCopy(db);
  const src = `cluster:p${(n += 1)}`;
  copy.insertStored(src, rows);
  const plan = (): ParallelPlan => ({ ...copy.parallelPlan(src)!, threads: THREADS, minEntries: 0 });
  const table = plan().table;
  return { db, copy, src, plan, table };
}

function serial(copy: LocalAuditCopy, src: string, start = { seq: 1, prevHash: GENESIS_HASH }) {
  const v = new ChainVerifier(start, WATCH);
  outer: for (const batch of copy.iterateStored(src)) for (const r of batch) if (!v.pushStored(r[0], r[1], r[2])) break outer;
  return v;
}

async function report(s: ReturnType<typeof source>, parallel: boolean, start = { seq: 1, prevHash: GENESIS_HASH }) {
  const { report: r, seen } = await verifyLog({
    source: s.src,
    readFrom: 'local',
    batches: s.copy.iterateStored(s.src),
    parallel: parallel ? s.plan() : null,
    start,
    origin: null,
    checkpoints: [],
    trusted: [],
    policy: { ...DEFAULT_POLICY, maxEntriesWithoutCheckpoint: Infinity, maxCheckpointAgeMs: Infinity },
    timeOf: () => null,
    watch: [...WATCH],
    now: new Date(0),
  });
  return { report: r, seen };
}

describe('verification walk in worker threads', () => {
  it('walks an intact log to the same head, count and watched hashes as the serial walk', async () => {
    const s = source(all);
    const v = serial(s.copy, s.src);
    const p = await walkParallel(s.plan(), { seq: 1, prevHash: GENESIS_HASH }, WATCH);
    if (!p || p === 'stopped') throw new Error(`expected a walk, got ${String(p)}`);
    expect(p).toMatchObject({ fault: null, checked: N, nextSeq: N + 1, headHash: v.headHash });
    expect([...p.seen].sort((a, b) => a[0] - b[0])).toEqual([...v.seen].sort((a, b) => a[0] - b[0]));
    expect(p.seen.get(200)).toBe(all[199]!.hash);
    // and verifyLog's report is the same either way
    expect(await report(s, true)).toEqual(await report(s, false));
  });

  it('walks a slice that starts after entry 1 (a bundle of a seq range)', async () => {
    const s = source(all.slice(100));
    const start = { seq: 101, prevHash: all[99]!.hash };
    const p = await walkParallel(s.plan(), start, WATCH);
    expect(p).toMatchObject({ checked: N - 100, nextSeq: N + 1, headHash: all[N - 1]!.hash });
    expect(await report(s, true, start)).toEqual(await report(s, false, start));
    // the wrong start hash is a broken link at 101, named by the serial walk
    const wrong = { seq: 101, prevHash: all[98]!.hash };
    expect(await walkParallel(s.plan(), wrong, WATCH)).toBeNull();
    const r = await report(s, true, wrong);
    expect(r.report).toMatchObject({ state: 'tampered', firstBadSeq: 101, problem: 'broken-link' });
    expect(r).toEqual(await report(s, false, wrong));
  });

  // every tampering, inside a piece and on both sides of each boundary (200|201, 400|401): the
  // parallel walk never calls it intact, and the report (first bad seq, problem, message) is the serial walk's
  const edits: [string, (s: ReturnType<typeof source>) => void][] = [];
  for (const seq of [1, 100, 200, 201, 400, 401, 600]) {
    edits.push([
      `entry ${seq} edited`,
      (s) => s.db.prepare(`UPDATE ${s.table} SET canonical = replace(canonical, 'local:alice', 'local:mallory') WHERE seq = ?`).run(seq),
    ]);
    edits.push([
      `entry ${seq} edited and re-hashed`,
      (s) => {
        const canonical = all[seq - 1]!.canonical.replace('local:alice', 'local:mallory');
        s.db
          .prepare(`UPDATE ${s.table} SET canonical = ?, hash = ? WHERE seq = ?`)
          .run(canonical, entryHash(seq === 1 ? GENESIS_HASH : all[seq - 2]!.hash, canonical), seq);
      },
    ]);
    edits.push([`entry ${seq} deleted`, (s) => s.db.prepare(`DELETE FROM ${s.table} WHERE seq = ?`).run(seq)]);
    edits.push([
      `entry ${seq}'s hash changed`,
      (s) => s.db.prepare(`UPDATE ${s.table} SET hash = ? WHERE seq = ?`).run('0'.repeat(64), seq),
    ]);
  }
  edits.push([
    'entries 200 and 201 swapped',
    (s) => {
      s.db.prepare(`UPDATE ${s.table} SET hash = ?, canonical = ? WHERE seq = 200`).run(all[200]!.hash, all[200]!.canonical);
      s.db.prepare(`UPDATE ${s.table} SET hash = ?, canonical = ? WHERE seq = 201`).run(all[199]!.hash, all[199]!.canonical);
    },
  ]);
  edits.push(['the tail after 400 deleted', (s) => s.db.prepare(`DELETE FROM ${s.table} WHERE seq > 400`).run()]);
  edits.push([
    'an entry added after the end that does not link',
    (s) =>
      s.db
        .prepare(
          `INSERT INTO ${s.table} SELECT 601, at, actor, action, target, tenant, outcome, hash, canonical FROM ${s.table} WHERE seq = 5`,
        )
        .run(),
  ]);
  edits.push([
    'the whole range 201–400 replaced by a re-chained copy',
    (s) => {
      let prev = all[199]!.hash;
      for (let seq = 201; seq <= 400; seq++) {
        const { entry, canonical } = chainEntry(record({ target: `tenant/forged${seq}` }), seq, prev);
        s.db.prepare(`UPDATE ${s.table} SET hash = ?, canonical = ? WHERE seq = ?`).run(entry.hash, canonical, seq);
        prev = entry.hash;
      }
    },
  ]);
  it.each(edits)(
    '%s: the parallel walk calls nothing intact the serial walk does not, the report is the serial walk’s',
    async (_name, edit) => {
      const s = source(all);
      edit(s);
      const v = serial(s.copy, s.src);
      const p = await walkParallel(s.plan(), { seq: 1, prevHash: GENESIS_HASH }, WATCH);
      if (v.fault) expect(p).toBeNull();
      // deleting the newest entries is not a chain fault (checkpoints and the witness catch it): both walks end there
      else expect(p).toMatchObject({ checked: v.checked, nextSeq: v.nextSeq, headHash: v.headHash, seen: v.seen });
      const parallel = await report(s, true);
      expect(parallel.report.firstBadSeq).toBe(v.fault?.seq ?? null);
      expect(parallel).toEqual(await report(s, false));
    },
  );

  it('an entry appended that links is walked like the serial walk does (the last piece runs to the end)', async () => {
    const s = source(all);
    const plan = s.plan(); // planned before the append
    const more = chain(5, N + 1, all[N - 1]!.hash);
    s.copy.insertStored(s.src, more);
    const p = await walkParallel(plan, { seq: 1, prevHash: GENESIS_HASH }, WATCH);
    expect(p).toMatchObject({ checked: N + 5, nextSeq: N + 6, headHash: more[4]!.hash });
    expect(serial(s.copy, s.src).headHash).toBe(more[4]!.hash);
  });

  it('a piece that fails stops the others without terminate(), which aborts the process while a worker loads better-sqlite3', async () => {
    // CI saw "FATAL ERROR: Error::New napi_get_last_error_info" (SIGABRT of the whole process)
    // when the first piece failed at once and the others were terminated mid-require
    const s = source(all);
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    try {
      for (let round = 0; round < 20; round++) {
        // a wrong start hash: piece 0 refuses its first row while the others are still starting
        expect(await walkParallel(s.plan(), { seq: 1, prevHash: 'f'.repeat(64) }, WATCH)).toBeNull();
      }
      expect(terminate).not.toHaveBeenCalled();
    } finally {
      terminate.mockRestore();
    }
    // and an intact walk after them still works
    expect(await walkParallel(s.plan(), { seq: 1, prevHash: GENESIS_HASH }, WATCH)).toMatchObject({ checked: N });
  });

  it('closing the console stops a walk under way and waits for its workers, which end by themselves; verify says so', async () => {
    const s = source(all);
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    try {
      const walk = walkParallel(s.plan(), { seq: 1, prevHash: GENESIS_HASH }, WATCH);
      await stopParallelWalks(s.plan().file);
      expect(await walk).toBe('stopped'); // nothing concluded, and no serial walk started on a closing database
      const verifying = report(s, true); // its walk is registered before report() returns (no await before it)
      await s.copy.stopWalks();
      await expect(verifying).rejects.toThrow(/console is closing/);
      expect(terminate).not.toHaveBeenCalled();
    } finally {
      terminate.mockRestore();
    }
    // a stop with no walk under way is a no-op, and the next walk runs normally
    await stopParallelWalks(s.plan().file);
    expect(await walkParallel(s.plan(), { seq: 1, prevHash: GENESIS_HASH }, WATCH)).toMatchObject({ checked: N });
  });

  it('falls back to the serial walk when the workers cannot read the file, or the log is short', async () => {
    const s = source(all);
    const broken = { ...s.plan(), file: '/nonexistent/cache.sqlite' };
    expect(await walkParallel(broken, { seq: 1, prevHash: GENESIS_HASH }, WATCH)).toBeNull();
    expect(await walkParallel({ ...s.plan(), minEntries: N + 1 }, { seq: 1, prevHash: GENESIS_HASH }, WATCH)).toBeNull();
    const { report: r } = await verifyLog({
      source: s.src,
      readFrom: 'local',
      batches: s.copy.iterateStored(s.src),
      parallel: broken,
      start: { seq: 1, prevHash: GENESIS_HASH },
      origin: null,
      checkpoints: [],
      trusted: [],
      policy: { ...DEFAULT_POLICY, maxEntriesWithoutCheckpoint: Infinity, maxCheckpointAgeMs: Infinity },
      timeOf: () => null,
    });
    expect(r).toMatchObject({ state: 'verified', checked: N, headSeq: N, headHash: all[N - 1]!.hash });
  });
});
