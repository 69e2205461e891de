import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { AGE_CHUNK, AGE_TAG, ageHeader } from './age';
import { COPY_BLOCK, returnCopyBlock } from './copy-stream';
import { returnable } from './reusable';

/**
 * The per-byte work of a backup file — sha256 of the plaintext (the content checksum),
 * age's ChaCha20-Poly1305 STREAM sealing and sha256 of the stored bytes — in a worker
 * thread, so the console's main thread only moves
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
// What one COPY block comes to sealed: its chunks, their tags, and a held-back chunk before them.
const OUT_SIZE = ${COPY_BLOCK} + CHUNK + (${COPY_BLOCK} / CHUNK + 2) * TAG;
const files = new Map();

function seal(f, plain, last, out) {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(f.counter++, 3);
  nonce[11] = last ? 1 : 0;
  const c = crypto.createCipheriv('chacha20-poly1305', f.key, nonce, { authTagLength: TAG });
  out.push(c.update(plain));
  c.final();
  out.push(c.getAuthTag());
}

// Seals what can be sealed of buf. The last (possibly short) chunk is always held back:
// only the end of the stream says whether it carries the "last" flag. It is copied into
// the file's own held buffer, so nothing keeps a view of buf (which goes back to the
// main thread to be used again).
function feed(f, buf, out) {
  let pos = 0;
  if (f.heldLen > 0) {
    const n = Math.min(CHUNK - f.heldLen, buf.length);
    buf.copy(f.held, f.heldLen, 0, n);
    f.heldLen += n;
    pos = n;
    if (pos === buf.length) return;
    seal(f, f.held, false, out);
    f.heldLen = 0;
  }
  while (buf.length - pos > CHUNK) {
    seal(f, buf.subarray(pos, pos + CHUNK), false, out);
    pos += CHUNK;
  }
  buf.copy(f.held, 0, pos);
  f.heldLen = buf.length - pos;
}

// Output buffers the main thread gave back (reusable.ts), used again for the next block.
const spare = [];
const SPARE_MAX = 8;

function pack(f, parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const ab = spare.length && spare[spare.length - 1].byteLength >= n ? spare.pop() : Buffer.allocUnsafeSlow(Math.max(n, OUT_SIZE)).buffer;
  const out = Buffer.from(ab, 0, n);
  let at = 0;
  for (const p of parts) {
    p.copy(out, at);
    at += p.length;
  }
  f.stored.update(out);
  f.storedBytes += n;
  return out;
}

parentPort.on('message', (m) => {
  const f = files.get(m.id);
  try {
    if (m.op === 'open') {
      const stored = crypto.createHash('sha256');
      const header = Buffer.from(m.header);
      stored.update(header);
      files.set(m.id, {
        key: crypto.createSecretKey(Buffer.from(m.key)),
        counter: 0n,
        held: Buffer.allocUnsafe(CHUNK),
        heldLen: 0,
        plain: crypto.createHash('sha256'),
        plainBytes: 0,
        stored,
        storedBytes: header.length,
      });
    } else if (m.op === 'data') {
      if (!f) return;
      const buf = Buffer.from(m.buf, m.offset, m.length);
      f.plain.update(buf);
      f.plainBytes += buf.length;
      const parts = [];
      feed(f, buf, parts);
      const out = pack(f, parts);
      // The block goes back with the sealed bytes: the main thread uses it for the next COPY block.
      parentPort.postMessage({ id: m.id, op: 'out', buf: out.buffer, length: out.length, back: m.buf }, [out.buffer, m.buf]);
    } else if (m.op === 'end') {
      if (!f) return;
      const parts = [];
      seal(f, f.held.subarray(0, f.heldLen), true, parts);
      const out = pack(f, parts);
      files.delete(m.id);
      parentPort.postMessage(
        {
          id: m.id,
          op: 'done',
          buf: out.buffer,
          length: out.length,
          plainSha256: f.plain.digest('hex'),
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
    parentPort.postMessage({ id: m.id, op: 'error', message: String((error && error.message) || error) });
  }
});
`;

/** What a sealed file came to, known once its stream has ended. */
export interface SealResult {
  plainSha256: string;
  plainBytes: number;
  storedSha256: string;
  storedBytes: number;
}

export interface SealStream extends Transform {
  /** Set when the stream has flushed (every byte sealed and hashed). */
  result: SealResult | null;
}

type Reply =
  | { id: number; op: 'out'; buf: ArrayBuffer; length: number; back: ArrayBuffer }
  | ({ id: number; op: 'done'; buf: ArrayBuffer; length: number } & SealResult)
  | { id: number; op: 'error'; message: string };

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

/**
 * An age-encrypting transform whose crypto runs in a worker thread: its output is a
 * complete age v1 file for the recipients, its `result` the plaintext's and the stored
 * bytes' sha256 and sizes. `owned`: the chunks written are the caller's
 * alone (their ArrayBuffers, unpooled, referenced nowhere else, as CopyOut's blocks are),
 * so those are transferred to the worker instead of copied; they must not be touched
 * after the write.
 */
export function sealStream(recipients: string[], opts: { owned?: boolean; workers?: number } = {}): SealStream {
  const { header, payloadKey } = ageHeader(recipients);
  const worker = pick(opts.workers ?? 1);
  let inFlight = 0;
  let waiting: TransformCallback | null = null;
  let flushed: TransformCallback | null = null;
  let closed = false;
  const stream = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (chunk.length === 0) return cb();
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
    },
    flush(cb: TransformCallback) {
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
  }) as SealStream;
  stream.result = null;
  const id = worker.register((reply) => {
    if (closed) return;
    if (reply.op === 'error') {
      closed = true;
      worker.release(id);
      stream.destroy(new Error(reply.message));
      return;
    }
    // Sealed bytes are marked returnable: the directory storage gives the memory back to
    // the worker once they are on disk (reusable.ts).
    if (reply.length) stream.push(returnable(Buffer.from(reply.buf, 0, reply.length), (ab) => worker.give(ab)));
    if (reply.op === 'out') {
      returnCopyBlock(reply.back);
      inFlight--;
      const cb = waiting;
      waiting = null;
      cb?.();
      return;
    }
    closed = true;
    worker.release(id);
    const { plainSha256, plainBytes, storedSha256, storedBytes } = reply;
    stream.result = { plainSha256, plainBytes, storedSha256, storedBytes };
    flushed?.();
  });
  if (worker.dead) {
    queueMicrotask(() => stream.destroy(worker.dead!));
  } else {
    const key = new Uint8Array(payloadKey);
    worker.post({ id, op: 'open', header: new Uint8Array(header), key: key.buffer }, [key.buffer]);
  }
  stream.push(header);
  return stream;
}
