import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * The verification walk of a review-copy source split over worker threads, for long logs.
 *
 * Each entry's SHA-256 depends only on its stored text and the hash stored in the row before
 * it; only the links between neighbours are sequential. So the seq range is cut into one
 * contiguous piece per worker; each worker opens its own read-only connection to the cache
 * file (WAL: readers run beside the writer), reads its piece in one read transaction (one
 * snapshot) and checks every row the way ChainVerifier.pushStored accepts one: the seq is the
 * next one, SHA-256(previous hash ‖ stored text) is the stored hash, and the seq and
 * prev_hash written inside the text are the row's seq and the previous hash. A worker other
 * than the first starts from the hash stored in the row just before its piece, read in its
 * own snapshot; the main thread then checks each boundary: the piece before ended exactly on
 * that row, with that hash.
 *
 * This walk only says "all of it is intact", or gives up: at the first row a worker would
 * not accept (or a boundary that does not join, or a worker that failed to start), it
 * returns null and the caller walks serially with ChainVerifier, which names the first fault
 * with its exact problem and message. A fault is never reported from here, and a row is
 * accepted here only under the conditions ChainVerifier accepts it (the unit tests compare
 * both on tampered copies, faults on the boundaries included).
 *
 * The worker's source is plain JavaScript evaluated by worker_threads (`eval: true`), as the
 * bundle reader's; better-sqlite3 is required by the path resolved here.
 *
 * Workers are never terminated: `worker.terminate()` while a worker is loading better-sqlite3
 * or inside one of its calls aborts the whole process (node-addon-api turns the failed N-API
 * call into a fatal error; seen in CI as "FATAL ERROR: Error::New napi_get_last_error_info",
 * and better-sqlite3 issue #1507). A shared stop flag asks them instead: each checks it before
 * loading the addon and before every batch, and ends by itself.
 */

/** Where a source's rows are, for workers with their own connection. */
export interface ParallelPlan {
  /** The cache file (not ':memory:'). */
  file: string;
  /** `audit_e_<tag>` */
  table: string;
  /** The source's largest seq when the plan was made (where the pieces are cut). */
  lastSeq: number;
  /** Worker threads (default: the cores available, 2 to 4). */
  threads?: number;
  /** Fewer entries than this are walked serially (starting workers costs more). */
  minEntries?: number;
}

/** What a walk found when every entry was intact (the fields of ChainVerifier verifyLog reads). */
export interface ParallelWalk {
  fault: null;
  checked: number;
  nextSeq: number;
  headHash: string;
  seen: Map<number, string>;
}

export const PARALLEL_MIN_ENTRIES = 100_000;

const TABLE = /^audit_e_[0-9a-f]{12}$/;

/** Walks under way, by cache file: closing the console stops them (stopParallelWalks) instead of exiting under them. */
const running = new Map<string, Set<{ stop: Int32Array; done: Promise<unknown> }>>();
/** Stop flag values: a piece failed (the serial walk takes over), or the console is closing. */
const PIECE_FAILED = 1;
const CLOSING = 2;

/**
 * Stops the walks reading `file` and waits until their workers have ended by themselves.
 * Called before the console closes its database and exits: a process that exits with a
 * worker inside better-sqlite3 aborts just as terminate() does.
 */
export async function stopParallelWalks(file: string): Promise<void> {
  const walks = [...(running.get(file) ?? [])];
  for (const w of walks) Atomics.store(w.stop, 0, CLOSING);
  await Promise.all(walks.map((w) => w.done));
}

const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const { file, table, after, to, startSeq, batch } = workerData;
// set by the main thread when another piece failed or the console is closing: this piece's result is not needed any more
const stop = new Int32Array(workerData.stop);
const stopped = () => Atomics.load(stop, 0) !== 0;
const watch = new Set(workerData.watch);
const HEX64 = /^[0-9a-f]{64}$/;
// chain.ts embeddedAt: the last "prev_hash":" and "seq": are the top-level ones; do they say seq and prev?
function embeddedAt(c, seq, prev) {
  const p = c.lastIndexOf('"prev_hash":"');
  const s = c.lastIndexOf('"seq":');
  if (p < 0 || s < p || prev.length !== 64 || !c.startsWith(prev, p + 13)) return false;
  let n = 0;
  for (let i = s + 6; i < c.length; i++) {
    const d = c.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return n === seq;
}
// The walk is a function (its variables locals, not the script's bindings: faster in the hot loop).
function walk(db, out) {
  let prev = workerData.startHash;
  if (prev === null) {
    const h = db.prepare('SELECT hash FROM "' + table + '" WHERE seq = ?').pluck().get(after);
    prev = typeof h === 'string' ? h : null;
  }
  out.startHash = prev;
  const read = db.prepare('SELECT seq, hash, canonical FROM "' + table + '" WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?').raw();
  if (prev === null || !HEX64.test(prev)) return;
  let buf = Buffer.allocUnsafe(64 * 1024);
  // views of buf by length, reused (a Buffer object per entry costs more than its SHA-256)
  let views = new Map();
  buf.write(prev, 0, 32, 'hex');
  let expected = startSeq;
  let last = after;
  let checked = 0;
  for (;;) {
    if (stopped()) return;
    const rows = read.all(last, to, batch);
    if (!rows.length) break;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const seq = r[0];
      const hash = r[1];
      const c = r[2];
      if (seq !== expected || typeof hash !== 'string' || typeof c !== 'string') return;
      if (c.length * 3 + 32 > buf.length) {
        const next = Buffer.allocUnsafe(Math.max(c.length * 3 + 32, buf.length * 2));
        buf.copy(next, 0, 0, 32);
        buf = next;
        views = new Map();
      }
      const n = buf.write(c, 32, 'utf8');
      let v = views.get(32 + n);
      if (v === undefined) {
        v = buf.subarray(0, 32 + n);
        views.set(32 + n, v);
      }
      if (crypto.hash('sha256', v, 'hex') !== hash || !embeddedAt(c, seq, prev)) return;
      if (watch.has(seq)) out.seen.push([seq, hash]);
      prev = hash;
      buf.write(hash, 0, 32, 'hex');
      expected = seq + 1;
      checked += 1;
    }
    last = rows[rows.length - 1][0];
  }
  out.ok = true;
  out.checked = checked;
  out.nextSeq = expected;
  out.head = prev;
}
const out = { ok: false, checked: 0, nextSeq: startSeq, head: null, startHash: null, seen: [] };
if (!stopped()) {
  const Database = require(workerData.sqlite);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.exec('BEGIN'); // one snapshot for the whole piece
    walk(db, out);
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}
parentPort.postMessage(out);
`;

interface Piece {
  ok: boolean;
  checked: number;
  nextSeq: number;
  head: string | null;
  startHash: string | null;
  seen: [number, string][];
}

let sqlitePath: string | null | undefined;
function sqliteModule(): string | null {
  if (sqlitePath === undefined) {
    try {
      sqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');
    } catch {
      sqlitePath = null;
    }
  }
  return sqlitePath;
}

function runPiece(data: Record<string, unknown>): Promise<Piece | null> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(WORKER_SOURCE, { eval: true, name: 'gatehouse-audit-verify', workerData: data });
    } catch {
      resolve(null);
      return;
    }
    let piece: Piece | null = null;
    worker.on('message', (p: Piece) => (piece = p));
    worker.on('error', () => undefined); // ends in 'exit' without a piece: the serial walk decides
    worker.on('exit', () => {
      resolve(piece);
    });
  });
}

/**
 * Walks rows (seq > 0, as LocalAuditCopy.iterateStored reads them) from `start` to the end of
 * the table in parallel. Returns the walk when every entry is intact and linked, or null: a
 * fault somewhere, a worker that could not run, or a log too short to be worth it. On null
 * the caller walks serially, which is what names a fault. 'stopped': the console is closing
 * (stopParallelWalks), nothing was concluded.
 */
export async function walkParallel(
  plan: ParallelPlan,
  start: { seq: number; prevHash: string },
  watch: Set<number>,
): Promise<ParallelWalk | 'stopped' | null> {
  const sqlite = sqliteModule();
  const entries = plan.lastSeq - start.seq + 1;
  const threads = Math.max(1, Math.floor(plan.threads ?? Math.min(4, Math.max(2, os.availableParallelism()))));
  if (!sqlite || !plan.file || !TABLE.test(plan.table) || entries < (plan.minEntries ?? PARALLEL_MIN_ENTRIES) || threads < 2) return null;
  if (entries < threads || start.seq < 1) return null;
  // Piece k holds seqs (cut[k], cut[k + 1]]; the first starts where the serial walk reads (after 0), the last runs to the end.
  const cut = [0];
  for (let k = 1; k < threads; k++) cut.push(start.seq - 1 + Math.floor((entries * k) / threads));
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const pieces = cut.map((after, k) => {
    const to = k + 1 < cut.length ? cut[k + 1]! : Number.MAX_SAFE_INTEGER;
    const p = runPiece({
      sqlite,
      file: plan.file,
      table: plan.table,
      after,
      to,
      startSeq: k === 0 ? start.seq : after + 1,
      startHash: k === 0 ? start.prevHash : null,
      batch: 5000,
      watch: [...watch].filter((s) => s > after && s <= to),
      stop: stop.buffer,
    });
    // the first piece that is not intact stops the others (the serial walk redoes it anyway)
    void p.then((r) => {
      if (!r?.ok) Atomics.compareExchange(stop, 0, 0, PIECE_FAILED);
    });
    return p;
  });
  const walk = { stop, done: Promise.all(pieces) };
  const walks = running.get(plan.file) ?? new Set();
  running.set(plan.file, walks.add(walk));
  const done = await walk.done;
  walks.delete(walk);
  if (!walks.size) running.delete(plan.file);
  if (Atomics.load(stop, 0) === CLOSING) return 'stopped';
  const seen = new Map<number, string>();
  let checked = 0;
  for (let k = 0; k < done.length; k++) {
    const p = done[k];
    if (!p?.ok || p.head === null) return null;
    if (k > 0) {
      const before = done[k - 1]!;
      // the boundary link: the piece before ended on the row this one started from, with its hash
      if (before.nextSeq !== cut[k]! + 1 || before.head !== p.startHash) return null;
    }
    checked += p.checked;
    for (const [s, h] of p.seen) seen.set(s, h);
  }
  const last = done[done.length - 1]!;
  return { fault: null, checked, nextSeq: last.nextSeq, headHash: last.head!, seen };
}
