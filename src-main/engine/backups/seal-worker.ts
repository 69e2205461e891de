import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { AGE_CHUNK, AGE_TAG, AgeError, ageHeader, openHeader, parseIdentities } from './age';
import { IO_BLOCK, returnIoBlock, returnable } from './reusable';

/**
 * The per-byte work of a backup file — age's ChaCha20-Poly1305 STREAM sealing, sha256 of
 * the stored bytes, and the content checksum (sha256 of the chunks' Poly1305 tags, see
 * contentDigestStream) — in a worker thread, so the console's main thread only moves
 * buffers. The age header (X25519 wrapping, header MAC) is made on the main thread by
 * age.ts; the worker gets the payload key and seals the chunks exactly as
 * encryptStream does (the tests decrypt its output with age.ts, age-encryption and the
 * age CLI). Blocks the caller owns are transferred, never copied; the worker answers
 * each block with one buffer of sealed chunks, also transferred, and hands the block back
 * (copy-stream.ts uses blocks of its size again).
 *
 * The worker's source is plain JavaScript evaluated by worker_threads (`eval: true`):
 * nothing to resolve or bundle, the same under tsx, vitest, the CronJob and Electron.
 */

const WORKER_SOURCE = `
'use strict';
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const CHUNK = ${AGE_CHUNK};
const TAG = ${AGE_TAG};
// What one 1 MiB block comes to sealed: its chunks, their tags, and a held-back chunk before them.
const OUT_SIZE = ${IO_BLOCK} + CHUNK + (${IO_BLOCK} / CHUNK + 2) * TAG;
const files = new Map();

// Errors of the file itself (opening): reported as age errors, not as a worker failure.
class AgeFault extends Error {}

function nonceOf(f, last) {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(f.counter++, 3);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

function seal(f, plain, last, out) {
  const c = crypto.createCipheriv('chacha20-poly1305', f.key, nonceOf(f, last), { authTagLength: TAG });
  const sealed = c.update(plain);
  c.final();
  const tag = c.getAuthTag();
  f.tags.update(tag);
  if (f.discard) return;
  out.push(sealed);
  out.push(tag);
}

function open(f, sealed, last, out) {
  const d = crypto.createDecipheriv('chacha20-poly1305', f.key, nonceOf(f, last), { authTagLength: TAG });
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  out.push(d.update(sealed.subarray(0, sealed.length - TAG)));
  try {
    d.final();
  } catch {
    throw new AgeFault('payload authentication failed (the file is corrupted, truncated or was modified)');
  }
}

// Cuts buf into the file's pieces (CHUNK plaintext bytes to seal, CHUNK + TAG sealed bytes
// to open). The last (possibly short) piece is always held back: only the end of the
// stream says whether it carries the "last" flag. It is copied into the file's own held
// buffer, so nothing keeps a view of buf (which goes back to the main thread to be used again).
function feed(f, buf, out) {
  const size = f.held.length;
  let pos = 0;
  if (f.heldLen > 0) {
    const n = Math.min(size - f.heldLen, buf.length);
    buf.copy(f.held, f.heldLen, 0, n);
    f.heldLen += n;
    pos = n;
    if (pos === buf.length) return;
    f.piece(f, f.held, false, out);
    f.heldLen = 0;
  }
  while (buf.length - pos > size) {
    f.piece(f, buf.subarray(pos, pos + size), false, out);
    pos += size;
  }
  buf.copy(f.held, 0, pos);
  f.heldLen = buf.length - pos;
}

function finish(f, out) {
  if (f.piece === open) {
    if (f.heldLen < TAG) throw new AgeFault('truncated age file (the last chunk is missing)');
    if (f.heldLen === TAG && f.counter > 0n) throw new AgeFault('malformed age payload (empty last chunk)');
  }
  f.piece(f, f.held.subarray(0, f.heldLen), true, out);
}

// Output buffers the main thread gave back (reusable.ts), used again for the next block.
const spare = [];
const SPARE_MAX = 8;

function pack(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const ab = spare.length && spare[spare.length - 1].byteLength >= n ? spare.pop() : Buffer.allocUnsafeSlow(Math.max(n, OUT_SIZE)).buffer;
  const out = Buffer.from(ab, 0, n);
  let at = 0;
  for (const p of parts) {
    p.copy(out, at);
    at += p.length;
  }
  return out;
}

function newFile(m, piece, held) {
  return {
    piece,
    key: crypto.createSecretKey(Buffer.from(m.key)),
    counter: 0n,
    held: Buffer.allocUnsafe(held),
    heldLen: 0,
    skip: m.skip || 0,
    // The content checksum: sha256 of the chunks' tags (sealing only).
    tags: crypto.createHash('sha256'),
    discard: m.discard === true,
    plainBytes: 0,
    stored: crypto.createHash('sha256'),
    storedBytes: 0,
  };
}

// Hashes the stored bytes (the output of sealing, the input of opening). An opened file's
// plaintext is authenticated by age itself; its checksum is compared by a verify's
// read-back, so it is only counted here. A digest-only seal (discard) stores nothing.
function account(f, input, output) {
  if (f.piece === seal) {
    f.plainBytes += input.length;
    if (f.discard) return;
    f.stored.update(output);
    f.storedBytes += output.length;
  } else {
    f.plainBytes += output.length;
    f.stored.update(input);
    f.storedBytes += input.length;
  }
}

parentPort.on('message', (m) => {
  const f = files.get(m.id);
  try {
    if (m.op === 'seal') {
      const file = newFile(m, seal, CHUNK);
      const header = Buffer.from(m.header);
      file.stored.update(header);
      file.storedBytes = header.length;
      files.set(m.id, file);
    } else if (m.op === 'open') {
      // The main thread checked the header (age.ts openHeader); skip: its length, hashed as stored bytes but not opened.
      files.set(m.id, newFile(m, open, CHUNK + TAG));
    } else if (m.op === 'data') {
      if (!f) return;
      const buf = Buffer.from(m.buf, m.offset, m.length);
      const skip = Math.min(f.skip, buf.length);
      f.skip -= skip;
      const parts = [];
      feed(f, skip ? buf.subarray(skip) : buf, parts);
      const out = parts.length ? pack(parts) : Buffer.from(new ArrayBuffer(0));
      if (skip) {
        f.stored.update(buf.subarray(0, skip));
        f.storedBytes += skip;
      }
      account(f, skip ? buf.subarray(skip) : buf, out);
      // The block goes back with the answer: the main thread uses it for its next block.
      parentPort.postMessage({ id: m.id, op: 'out', buf: out.buffer, length: out.length, back: m.buf }, [out.buffer, m.buf]);
    } else if (m.op === 'end') {
      if (!f) return;
      files.delete(m.id);
      if (f.skip > 0) throw new AgeFault('truncated age file (incomplete header)');
      const parts = [];
      finish(f, parts);
      const out = parts.length ? pack(parts) : Buffer.from(new ArrayBuffer(0));
      account(f, Buffer.alloc(0), out);
      parentPort.postMessage(
        {
          id: m.id,
          op: 'done',
          buf: out.buffer,
          length: out.length,
          tagsSha256: f.piece === seal ? f.tags.digest('hex') : null,
          plainBytes: f.plainBytes,
          storedSha256: f.stored.digest('hex'),
          storedBytes: f.storedBytes,
        },
        [out.buffer],
      );
    } else if (m.op === 'abort') {
      files.delete(m.id);
    } else if (m.op === 'give') {
      if (spare.length < SPARE_MAX && m.buf.byteLength >= OUT_SIZE) spare.push(m.buf);
    }
  } catch (error) {
    files.delete(m.id);
    parentPort.postMessage({ id: m.id, op: 'error', message: String((error && error.message) || error), age: error instanceof AgeFault });
  }
});
`;

/** What a sealed file came to, known once its stream has ended. */
export interface SealResult {
  /** sha256 of the Poly1305 tags of the file's STREAM chunks, in order: the content checksum. */
  tagsSha256: string;
  plainBytes: number;
  storedSha256: string;
  storedBytes: number;
}

/** What an opened file came to: its stored bytes' sha256 and size (to compare with the manifest), the plaintext's size. */
export interface OpenResult {
  plainBytes: number;
  storedSha256: string;
  storedBytes: number;
}

export interface SealStream extends Transform {
  /** Set when the stream has flushed (every byte sealed and hashed). */
  result: SealResult | null;
}

export interface OpenStream extends Transform {
  /** Set when the stream has flushed (every byte opened and hashed). */
  result: OpenResult | null;
}

type Reply =
  | { id: number; op: 'out'; buf: ArrayBuffer; length: number; back: ArrayBuffer }
  | ({ id: number; op: 'done'; buf: ArrayBuffer; length: number; tagsSha256: string | null } & OpenResult)
  | { id: number; op: 'error'; message: string; age?: boolean };

/** Blocks a stream may have in the worker at once: enough to keep it busy, bounded memory. */
const IN_FLIGHT = 4;
/** An idle worker is ended after this long; the next backup starts a new one. */
const IDLE_MS = 30_000;

class SealWorker {
  private readonly worker: Worker;
  private readonly streams = new Map<number, (reply: Reply) => void>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  dead: Error | null = null;

  constructor(private readonly onExit: (w: SealWorker) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, name: 'gatehouse-backup-seal' });
    // A worker never keeps the console (or a test run, or the CronJob) alive by itself.
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => this.streams.get(reply.id)?.(reply));
    const fail = (error: Error) => {
      this.dead ??= error;
      this.onExit(this);
      for (const deliver of [...this.streams.values()])
        deliver({ id: 0, op: 'error', message: `backup sealing worker failed: ${error.message}` });
      this.streams.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
  }

  get load(): number {
    return this.streams.size;
  }

  post(message: unknown, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  /** An output buffer the worker made, back for its next block. */
  give(ab: ArrayBuffer): void {
    if (!this.dead) this.worker.postMessage({ id: 0, op: 'give', buf: ab }, [ab]);
  }

  register(deliver: (reply: Reply) => void): number {
    const id = this.nextId++;
    this.streams.set(id, deliver);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    return id;
  }

  release(id: number): void {
    this.streams.delete(id);
    if (this.streams.size === 0 && !this.dead) {
      this.idleTimer = setTimeout(() => {
        // Out of the pool before it goes: a stream opened now gets a new worker, not a dying one.
        this.dead = new Error('ended after being idle');
        this.onExit(this);
        void this.worker.terminate();
      }, IDLE_MS);
      this.idleTimer.unref();
    }
  }
}

const pool: SealWorker[] = [];

/** The least busy worker of at most `size` (started on demand, shared by every backup of this process). */
function pick(size: number): SealWorker {
  const live = pool.filter((w) => !w.dead);
  if (live.length < Math.max(1, size)) {
    const w = new SealWorker((gone) => {
      const i = pool.indexOf(gone);
      if (i >= 0) pool.splice(i, 1);
    });
    pool.push(w);
    return w;
  }
  return live.reduce((a, b) => (b.load < a.load ? b : a));
}

interface Opening<R> {
  /**
   * Opens the file in the worker. Given `chunk`, it is called for each chunk until it
   * returns what to send first (null: more is needed, e.g. a header not yet complete);
   * without, once at the start.
   */
  start(worker: SealWorker, id: number, chunk?: Buffer): Buffer | null;
  /** Called at the end when start never returned a buffer. */
  incomplete?(): Error;
  done(reply: Extract<Reply, { op: 'done' }>): R;
  fail(reply: Extract<Reply, { op: 'error' }>): Error;
}

/**
 * A transform whose per-byte work runs in a worker thread. Chunks go to the worker
 * (transferred when `owned`), its answers come back as this stream's output, marked
 * returnable (reusable.ts); the input blocks it hands back go to the I/O block pool.
 */
function workerStream<R>(opts: { owned?: boolean; workers?: number }, o: Opening<R>, lazy: boolean): Transform & { result: R | null } {
  const worker = pick(opts.workers ?? 1);
  let inFlight = 0;
  let waiting: TransformCallback | null = null;
  let flushed: TransformCallback | null = null;
  let closed = false;
  let started = !lazy;
  const send = (chunk: Buffer, cb: TransformCallback) => {
    // Transferred only when owned, and never a view into Buffer's shared pool (a slab of
    // Buffer.poolSize bytes): detaching that would pull the memory from under other buffers.
    const transfer = opts.owned && chunk.buffer instanceof ArrayBuffer && chunk.buffer.byteLength > Buffer.poolSize;
    let buf: ArrayBuffer;
    let offset = 0;
    if (transfer) {
      buf = chunk.buffer as ArrayBuffer;
      offset = chunk.byteOffset;
    } else {
      const copy = new Uint8Array(chunk.length);
      copy.set(chunk);
      buf = copy.buffer;
    }
    worker.post({ id, op: 'data', buf, offset, length: chunk.length }, [buf]);
    if (++inFlight < IN_FLIGHT) cb();
    else waiting = cb;
  };
  const stream = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (chunk.length === 0) return cb();
      if (started) return send(chunk, cb);
      let first: Buffer | null;
      try {
        first = o.start(worker, id, chunk);
      } catch (error) {
        return cb(error as Error);
      }
      if (!first) return cb();
      started = true;
      send(first, cb);
    },
    flush(cb: TransformCallback) {
      if (!started) return cb(o.incomplete?.() ?? new Error('nothing to open'));
      flushed = cb;
      worker.post({ id, op: 'end' });
    },
    destroy(error, cb) {
      if (!closed) {
        closed = true;
        worker.post({ id, op: 'abort' });
        worker.release(id);
      }
      cb(error);
    },
  }) as Transform & { result: R | null };
  stream.result = null;
  const id = worker.register((reply) => {
    if (closed) return;
    if (reply.op === 'error') {
      closed = true;
      worker.release(id);
      stream.destroy(o.fail(reply));
      return;
    }
    // Answers are marked returnable: whoever holds one last (the directory storage once it
    // is on disk, a COPY FROM once the socket took it) gives the memory back to the worker.
    if (reply.length) stream.push(returnable(Buffer.from(reply.buf, 0, reply.length), (ab) => worker.give(ab)));
    if (reply.op === 'out') {
      returnIoBlock(reply.back);
      inFlight--;
      const cb = waiting;
      waiting = null;
      cb?.();
      return;
    }
    closed = true;
    worker.release(id);
    stream.result = o.done(reply);
    flushed?.();
  });
  if (worker.dead) queueMicrotask(() => stream.destroy(worker.dead!));
  else if (!lazy) o.start(worker, id);
  return stream;
}

/**
 * An age-encrypting transform whose crypto runs in a worker thread: its output is a
 * complete age v1 file for the recipients, its `result` the content checksum (the tags'
 * sha256), the plaintext's size and the stored bytes' sha256 and size. `owned`: the chunks written are the caller's alone (their
 * ArrayBuffers, unpooled, referenced nowhere else, as CopyOut's blocks are), so those are
 * transferred to the worker instead of copied; they must not be touched after the write.
 */
export function sealStream(recipients: string[], opts: { owned?: boolean; workers?: number } = {}): SealStream {
  const { header, payloadKey } = ageHeader(recipients);
  const stream = workerStream<SealResult>(
    opts,
    {
      start(worker, id) {
        const key = new Uint8Array(payloadKey);
        worker.post({ id, op: 'seal', header: new Uint8Array(header), key: key.buffer }, [key.buffer]);
        return null;
      },
      done: ({ tagsSha256, plainBytes, storedSha256, storedBytes }) => ({
        tagsSha256: tagsSha256!,
        plainBytes,
        storedSha256,
        storedBytes,
      }),
      fail: (reply) => new Error(reply.message),
    },
    false,
  );
  stream.push(header);
  return stream;
}

/**
 * An age-decrypting transform whose crypto runs in a worker thread (a restore's table
 * data). The header is read and checked here (age.ts openHeader: the identities never
 * leave the main thread); the worker gets the payload key, hashes every stored byte and
 * opens the STREAM chunks exactly as decryptStream does, with the same refusals (AgeError:
 * a foreign key, a modified header, a corrupted, truncated or malformed payload). `result`:
 * the stored bytes' sha256 and size, for the caller to compare with the manifest.
 */
export function openStream(identities: string[], opts: { owned?: boolean; workers?: number } = {}): OpenStream {
  const ids = parseIdentities(identities);
  let head: Buffer = Buffer.alloc(0);
  return workerStream<OpenResult>(
    opts,
    {
      start(worker, id, chunk) {
        head = head.length ? Buffer.concat([head, chunk!]) : chunk!;
        const opened = openHeader(head, ids);
        if (!opened) {
          if (head === chunk) head = Buffer.from(chunk); // held across writes: a copy of our own
          return null;
        }
        const key = new Uint8Array(opened.payloadKey);
        worker.post({ id, op: 'open', key: key.buffer, skip: opened.length }, [key.buffer]);
        return head;
      },
      incomplete: () => new AgeError(head.length === 0 ? 'empty file (not an age file)' : 'truncated age file (incomplete header)'),
      done: ({ plainBytes, storedSha256, storedBytes }) => ({ plainBytes, storedSha256, storedBytes }),
      fail: (reply) => (reply.age ? new AgeError(reply.message) : new Error(reply.message)),
    },
    true,
  );
}

/**
 * The content checksum of a table file computed again from plaintext (a verify's read-back
 * of the restored table, load.ts compareWithManifest): the plaintext is sealed with the
 * file's own payload key, in the same 64 KiB STREAM chunks, and only the sha256 of the
 * chunks' Poly1305 tags is kept. The same plaintext gives the same tags as the backup;
 * a different one, different tags (each is a MAC of its chunk under a one-time key). The
 * sealed bytes never leave the worker. This stream outputs nothing.
 */
export function contentDigestStream(
  payloadKey: Buffer,
  opts: { owned?: boolean; workers?: number } = {},
): Transform & { result: { tagsSha256: string; plainBytes: number } | null } {
  return workerStream<{ tagsSha256: string; plainBytes: number }>(
    opts,
    {
      start(worker, id) {
        const key = new Uint8Array(payloadKey);
        worker.post({ id, op: 'seal', header: new Uint8Array(0), key: key.buffer, discard: true }, [key.buffer]);
        return null;
      },
      done: ({ tagsSha256, plainBytes }) => ({ tagsSha256: tagsSha256!, plainBytes }),
      fail: (reply) => new Error(reply.message),
    },
    false,
  );
}
