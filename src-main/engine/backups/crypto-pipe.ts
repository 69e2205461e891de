import crypto from 'node:crypto';
import { Transform, Writable } from 'node:stream';

/** A pass-through that hashes (sha256) and counts what flows, optionally counting newlines (COPY rows). */
export interface Tap extends Transform {
  bytes: number;
  lines: number;
  hex(): string;
}

export function tap(countLines = false): Tap {
  const hash = crypto.createHash('sha256');
  let digest: string | null = null;
  const t = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      t.bytes += chunk.length;
      if (countLines) {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) t.lines++;
      }
      cb(null, chunk);
    },
  }) as Tap;
  t.bytes = 0;
  t.lines = 0;
  t.hex = () => (digest ??= hash.digest('hex'));
  return t;
}

/**
 * Holds back the end of a stream until check() passes: a COPY only sees the end of its
 * input (and so only commits) once every byte has been proven to be the backup's.
 */
export function gate(check: () => void, trailer?: Buffer): Transform {
  return new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _e, cb) {
      cb(null, chunk);
    },
    flush(cb) {
      try {
        check();
        if (trailer) this.push(trailer);
        cb();
      } catch (error) {
        cb(error as Error);
      }
    },
  });
}

/** A sink that keeps what it receives (small files only). */
export function collector(): Writable & { chunks: Buffer[]; bytes(): Buffer } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer, _e, cb) {
      chunks.push(chunk);
      cb();
    },
  }) as Writable & { chunks: Buffer[]; bytes(): Buffer };
  w.chunks = chunks;
  w.bytes = () => Buffer.concat(chunks);
  return w;
}

/** A sink that drops what it receives (read-back checks only need the taps before it). */
export const discard = (): Writable =>
  new Writable({
    highWaterMark: 1 << 20,
    write(_chunk, _e, cb) {
      cb();
    },
  });
