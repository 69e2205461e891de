import { Worker } from 'node:worker_threads';

/**
 * The per-byte work of importing a bundle's entries.jsonl — reading it, SHA-256 of the
 * whole file, SHA-256 of each entry and JSON.parse of each entry for the review copy's
 * filter columns — in a worker thread, so the main thread only checks the chain and stores
 * rows while the worker prepares the next chunk. The worker decides nothing: every check
 * (line shape, seq, link, hash, the manifest's digest, the columns' types) is made on the
 * main thread by bundle.ts and ChainVerifier, over what the worker reports.
 *
 * Entry i's digest is SHA-256(claimed hash of line i−1 as 32 bytes ‖ canonical text of line i),
 * the first line's with the manifest's start_prev_hash. The main thread accepts line i−1
 * only when its claimed hash is the chain's head, so that digest is the one the chain asks
 * for; each batch says which hash its first digest was chained from, and the main thread
 * checks that it is the head it holds.
 *
 * The worker's source is plain JavaScript evaluated by worker_threads (`eval: true`), as
 * the backup sealing worker: nothing to resolve or bundle, the same under tsx, vitest and Electron.
 */
/** A line of entries.jsonl is `${LINE_PREFIX}<canonical>${LINE_SUFFIX_START}<64 hex>"}` (bundle.ts writes them). */
export const LINE_PREFIX = '{"entry":';
export const LINE_SUFFIX_START = ',"hash":"';

const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { file, startPrevHash, chunkBytes } = workerData;
const PREFIX = ${JSON.stringify(LINE_PREFIX)};
const SUFFIX_START = ${JSON.stringify(LINE_SUFFIX_START)};
const SUFFIX_LENGTH = SUFFIX_START.length + 64 + 2;
const HEX64 = /^[0-9a-f]{64}$/;
const fd = fs.openSync(file, 'r');
const buf = Buffer.alloc(chunkBytes);
const fileSha = crypto.createHash('sha256');
let scratch = Buffer.allocUnsafe(64 * 1024);
// views of scratch by length, reused (a Buffer object per entry costs more than its SHA-256)
let views = new Map();
function view(length) {
  let v = views.get(length);
  if (!v) {
    v = scratch.subarray(0, length);
    views.set(length, v);
  }
  return v;
}
let carry = Buffer.alloc(0);
let prev = startPrevHash;
let done = false;

function batchOf(text) {
  const lines = text.split('\\n');
  const n = lines.length;
  const canonical = new Array(n);
  const hash = new Array(n);
  const digest = new Array(n);
  // per line: actor, action, target, at, outcome, and params' tenant, slug, tenantSlug (undefined when absent)
  const columns = new Array(n * 8);
  // 0: well formed; 1: not an entry line; 2: its entry is not JSON
  const state = new Uint8Array(n);
  const first = prev;
  for (let i = 0; i < n; i++) {
    const line = lines[i];
    const ok =
      line.startsWith(PREFIX) &&
      line.length > PREFIX.length + SUFFIX_LENGTH &&
      line.startsWith(SUFFIX_START, line.length - SUFFIX_LENGTH) &&
      line.endsWith('"}');
    if (!ok) {
      state[i] = 1;
      canonical[i] = '';
      hash[i] = '';
      digest[i] = '';
      prev = '';
      continue;
    }
    const c = line.slice(PREFIX.length, line.length - SUFFIX_LENGTH);
    const h = line.slice(line.length - 66, line.length - 2);
    canonical[i] = c;
    hash[i] = h;
    if (HEX64.test(prev)) {
      if (c.length * 3 + 32 > scratch.length) {
        scratch = Buffer.allocUnsafe(c.length * 3 + 32);
        views = new Map();
      }
      scratch.write(prev, 0, 32, 'hex');
      const len = scratch.write(c, 32, 'utf8');
      digest[i] = crypto.hash('sha256', view(32 + len), 'hex');
    } else digest[i] = '';
    prev = h;
    let e = null;
    try {
      e = JSON.parse(c);
    } catch {
      state[i] = 2;
    }
    if (e && typeof e === 'object') {
      const p = e.params && typeof e.params === 'object' ? e.params : null;
      const o = i * 8;
      columns[o] = e.actor;
      columns[o + 1] = e.action;
      columns[o + 2] = e.target;
      columns[o + 3] = e.at;
      columns[o + 4] = e.outcome;
      if (p) {
        columns[o + 5] = p.tenant;
        columns[o + 6] = p.slug;
        columns[o + 7] = p.tenantSlug;
      }
    } else state[i] = 2;
  }
  return { first, canonical, hash, digest, columns, state };
}

// One chunk per request: the main thread asks for the next while it stores this one.
function next() {
  if (done) return;
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) {
      done = true;
      fs.closeSync(fd);
      const last = carry.length ? batchOf(carry.toString('utf8')) : null;
      parentPort.postMessage({ batch: last, fileSha256: fileSha.digest('hex') });
      return;
    }
    const chunk = buf.subarray(0, n);
    fileSha.update(chunk);
    // Cut at the last newline byte: it is never part of a multi-byte UTF-8 character.
    const cut = chunk.lastIndexOf(0x0a);
    if (cut < 0) {
      carry = Buffer.concat([carry, chunk]);
      continue;
    }
    const text = Buffer.concat([carry, chunk.subarray(0, cut)]).toString('utf8');
    carry = Buffer.from(chunk.subarray(cut + 1));
    parentPort.postMessage({ batch: batchOf(text) });
    return;
  }
}
parentPort.on('message', () => {
  try {
    next();
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
});
`;

/** What the worker reports of one chunk of lines (index i is the chunk's i-th line). */
export interface ReadBatch {
  /** The hash the first line's digest was chained from. */
  first: string;
  canonical: string[];
  hash: string[];
  /** SHA-256 over [previous line's claimed hash ‖ this canonical text], hex; '' when that hash was not hex. */
  digest: string[];
  /** 8 per line: actor, action, target, at, outcome, params.tenant, params.slug, params.tenantSlug, as parsed. */
  columns: unknown[];
  /** 0 well formed; 1 not an entry line; 2 its entry is not JSON. */
  state: Uint8Array;
}

interface Reply {
  batch?: ReadBatch | null;
  fileSha256?: string;
  error?: string;
}

/**
 * Reads a bundle's entries in a worker: yields one batch per 4 MB of the file while the
 * worker prepares the next, and returns the SHA-256 of the whole file. The worker ends
 * when the generator does (the file was read, a batch was refused, or an error).
 */
export async function* readEntries(file: string, startPrevHash: string, chunkBytes = 4 << 20): AsyncGenerator<ReadBatch, string> {
  const worker = new Worker(WORKER_SOURCE, { eval: true, name: 'gatehouse-audit-import', workerData: { file, startPrevHash, chunkBytes } });
  const replies: Reply[] = [];
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  let ended = false;
  worker.on('message', (r: Reply) => {
    replies.push(r);
    wake?.();
  });
  worker.on('error', (error) => {
    failure ??= error;
    wake?.();
  });
  worker.on('exit', (code) => {
    if (!ended) failure ??= new Error(`the bundle reader stopped (exit code ${code})`);
    wake?.();
  });
  const reply = async (): Promise<Reply> => {
    while (!replies.length) {
      if (failure) throw failure;
      await new Promise<void>((r) => (wake = r));
      wake = null;
    }
    return replies.shift()!;
  };
  try {
    worker.postMessage('next');
    for (;;) {
      const r = await reply();
      if (r.error) throw new Error(`reading ${file}: ${r.error}`);
      if (r.fileSha256 !== undefined) {
        if (r.batch) yield r.batch;
        return r.fileSha256;
      }
      // ask for the next chunk before this one is checked and stored
      worker.postMessage('next');
      yield r.batch!;
    }
  } finally {
    ended = true;
    await worker.terminate();
  }
}
