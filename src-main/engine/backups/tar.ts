import { PassThrough, Readable } from 'node:stream';
import { ContractError } from '../../../src-shared/contract';

/**
 * The download/import file: a plain POSIX ustar archive (`tar xf` opens it) holding a
 * backup's folder as stored: manifest.json, manifest.mac, a README and the .age files.
 */

const BLOCK = 512;

function header(name: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 8, 'ascii');
  h.write('0000000\0', 108, 8, 'ascii');
  h.write('0000000\0', 116, 8, 'ascii');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
  h.write(
    `${Math.floor(mtime / 1000)
      .toString(8)
      .padStart(11, '0')}\0`,
    136,
    12,
    'ascii',
  );
  h.write('        ', 148, 8, 'ascii');
  h.write('0', 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('gatehouse', 265, 32, 'ascii');
  h.write('gatehouse', 297, 32, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

export interface TarSource {
  name: string;
  size: number;
  open(): Promise<Readable>;
}

/** Streams entries into a tar archive; each entry's size must be known (it is: the manifest has it). */
export function tarStream(entries: TarSource[], mtime = Date.now()): Readable {
  return Readable.from(
    (async function* () {
      for (const e of entries) {
        yield header(e.name, e.size, mtime);
        let n = 0;
        for await (const chunk of await e.open()) {
          n += (chunk as Buffer).length;
          if (n > e.size) throw new ContractError('VALIDATION', `${e.name} is larger than its recorded size; the stored backup changed.`);
          yield chunk as Buffer;
        }
        if (n !== e.size)
          throw new ContractError('VALIDATION', `${e.name} holds ${n} bytes, ${e.size} expected; the stored backup is truncated.`);
        if (n % BLOCK) yield Buffer.alloc(BLOCK - (n % BLOCK));
      }
      yield Buffer.alloc(2 * BLOCK);
    })(),
    { objectMode: false },
  );
}

/** Reads exact byte counts from a stream. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  private ended = false;
  constructor(source: Readable) {
    this.it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }
  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    }
    return this.buf.length >= n;
  }
  async read(n: number): Promise<Buffer | null> {
    if (!(await this.fill(n))) return null;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** Up to max bytes (at least 1 unless the stream ended). */
  async some(max: number): Promise<Buffer | null> {
    if (!(await this.fill(1))) return null;
    const n = Math.min(max, this.buf.length);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

const bad = (why: string) =>
  new ContractError('VALIDATION', `Not a readable backup file: ${why}. Download it again from the source site.`, {
    reason: 'archive-corrupt',
  });

function parseHeader(h: Buffer): { name: string; size: number; type: string } | null {
  if (h.every((b) => b === 0)) return null;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  const recorded = parseInt(h.toString('ascii', 148, 156).replace(/\0.*$/, '').trim(), 8);
  if (recorded !== sum) throw bad('a tar header checksum does not match (corrupted file)');
  const name = h.toString('utf8', 0, 100).replace(/\0.*$/s, '');
  const prefix = h.toString('utf8', 345, 500).replace(/\0.*$/s, '');
  const size = parseInt(h.toString('ascii', 124, 136).replace(/\0.*$/, '').trim() || '0', 8);
  if (!Number.isFinite(size) || size < 0) throw bad('a tar header has an invalid size');
  return { name: prefix ? `${prefix}/${name}` : name, size, type: h.toString('ascii', 156, 157) };
}

/**
 * Iterates the regular files of an archive; each entry's stream must be consumed before
 * the next is read. A truncated archive fails with a clear error.
 */
export async function* readTar(source: Readable): AsyncGenerator<{ name: string; size: number; stream: Readable }> {
  const r = new ByteReader(source);
  for (;;) {
    const h = await r.read(BLOCK);
    if (!h) throw bad('it ends in the middle (truncated download?)');
    const entry = parseHeader(h);
    if (!entry) return;
    const padded = Math.ceil(entry.size / BLOCK) * BLOCK;
    if (entry.type !== '0' && entry.type !== '\0' && entry.type !== '') {
      // directories and metadata entries carry no file data we need
      let skip = padded;
      while (skip > 0) {
        const part = await r.some(skip);
        if (!part) throw bad('it ends in the middle (truncated download?)');
        skip -= part.length;
      }
      continue;
    }
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    // The reader may fail before the consumer listens; consumers see the error through
    // the stream's errored state (pipeline, for await), never as an uncaught exception.
    out.on('error', () => undefined);
    let done!: () => void;
    let fail!: (e: Error) => void;
    const finished = new Promise<void>((res, rej) => ((done = res), (fail = rej)));
    // Awaited below; a consumer that gives up early must not turn it into an unhandled rejection.
    finished.catch(() => undefined);
    void (async () => {
      let left = entry.size;
      try {
        while (left > 0) {
          const part = await r.some(Math.min(left, 1 << 20));
          if (!part) throw bad(`${entry.name} is cut short (truncated download?)`);
          left -= part.length;
          if (out.destroyed) throw bad('the import stopped');
          if (!out.write(part)) await new Promise((res) => (out.once('drain', res), out.once('close', res)));
        }
        out.end();
        if (padded > entry.size && !(await r.read(padded - entry.size))) throw bad('it ends in the middle (truncated download?)');
        done();
      } catch (error) {
        out.destroy(error as Error);
        fail(error as Error);
      }
    })();
    try {
      yield { name: entry.name, size: entry.size, stream: out };
    } finally {
      // The consumer stopped early (an error): the reader loop must not wait for it forever.
      if (!out.readableEnded) out.destroy();
    }
    await finished;
  }
}
