import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DIRECT_ALIGN, STAGE, freeStageCount } from '../../../src-main/engine/backups/reusable';
import { DirectoryStorage } from '../../../src-main/engine/backups/storage';

// The directory target writes with O_DIRECT from page-aligned stages (storage.ts FileSink):
// every length must come out exact, whatever the chunking, and a file system that refuses
// direct I/O must get the same bytes through the page cache.

const roots: string[] = [];
const newStorage = () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-dirstore-'));
  roots.push(root);
  return new DirectoryStorage(root);
};
afterEach(() => {
  vi.restoreAllMocks();
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

/** `bytes` in chunks of random sizes (1 byte to 2.5 MiB), each in a buffer of its own. */
const chunked = (bytes: Buffer, seed: number): Readable => {
  let at = 0;
  let s = seed;
  return new Readable({
    read() {
      if (at >= bytes.length) return this.push(null);
      s = (s * 1103515245 + 12345) % 2 ** 31;
      const n = Math.min(bytes.length - at, 1 + (s % (5 * (STAGE / 2))));
      this.push(Buffer.from(bytes.subarray(at, at + n)));
      at += n;
    },
  });
};

const sizes = [0, 1, DIRECT_ALIGN - 1, DIRECT_ALIGN, DIRECT_ALIGN + 1, STAGE - 1, STAGE, STAGE + 1, 3 * STAGE + 12_345];

describe('directory target: direct I/O', () => {
  it('writes every size byte-exact, mode 0600, aligned direct writes only, and gives its stages back', async () => {
    const s = newStorage();
    const opens: number[] = [];
    const open = fs.open;
    vi.spyOn(fs, 'open').mockImplementation(((file: fs.PathLike, flags: fs.OpenMode, ...rest: unknown[]) => {
      if (typeof flags === 'number') opens.push(flags);
      return (open as (...a: unknown[]) => void)(file, flags, ...rest);
    }) as typeof fs.open);
    const write = fs.write;
    const unaligned: string[] = [];
    vi.spyOn(fs, 'write').mockImplementation(((fd: number, buf: Buffer, off: number, len: number, pos: number | null, cb: unknown) => {
      if (pos === null || len % DIRECT_ALIGN !== 0 || pos % DIRECT_ALIGN !== 0) unaligned.push(`${len}@${pos}`);
      return (write as (...a: unknown[]) => void)(fd, buf, off, len, pos, cb);
    }) as typeof fs.write);
    const free = freeStageCount();
    for (const [i, size] of sizes.entries()) {
      const bytes = crypto.randomBytes(size);
      const key = `acme/20261206T000000Z-0000000${i}/data/0001.copy.age`;
      expect(await s.put(key, chunked(bytes, i + 1))).toEqual({ size });
      const file = path.join(s.root, ...key.split('/'));
      expect(fs.readFileSync(file).equals(bytes)).toBe(true);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    }
    expect(opens.length).toBe(sizes.length);
    expect(opens.every((f) => (f & fs.constants.O_DIRECT) !== 0)).toBe(true);
    expect(unaligned).toEqual([]);
    // A stage is back in the pool after each file (the first file may have made the pool).
    expect(freeStageCount()).toBe(free || 16);
  });

  it('a file system that refuses O_DIRECT at open gets the same bytes through the page cache', async () => {
    const s = newStorage();
    const open = fs.open;
    vi.spyOn(fs, 'open').mockImplementation(((file: fs.PathLike, flags: fs.OpenMode, ...rest: unknown[]) => {
      if (typeof flags === 'number' && flags & fs.constants.O_DIRECT) {
        const cb = rest[rest.length - 1] as (e: NodeJS.ErrnoException) => void;
        return process.nextTick(() => cb(Object.assign(new Error('EINVAL: invalid argument, open'), { code: 'EINVAL' })));
      }
      return (open as (...a: unknown[]) => void)(file, flags, ...rest);
    }) as typeof fs.open);
    const free = freeStageCount();
    const bytes = crypto.randomBytes(2 * STAGE + 77);
    expect(await s.put('acme/20261206T000000Z-00000000/data/0001.copy.age', chunked(bytes, 9))).toEqual({ size: bytes.length });
    expect(fs.readFileSync(path.join(s.root, 'acme/20261206T000000Z-00000000/data/0001.copy.age')).equals(bytes)).toBe(true);
    expect(freeStageCount()).toBe(free);
  });

  it('one that takes O_DIRECT at open but refuses the write goes on through the page cache from where it was', async () => {
    const s = newStorage();
    const write = fs.write;
    let refused = 0;
    vi.spyOn(fs, 'write').mockImplementation(((fd: number, buf: Buffer, off: number, len: number, pos: number | null, cb: unknown) => {
      // The second stage's write is refused (the first went through direct).
      if (pos === STAGE && refused === 0) {
        refused++;
        return process.nextTick(() =>
          (cb as (e: NodeJS.ErrnoException) => void)(Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' })),
        );
      }
      return (write as (...a: unknown[]) => void)(fd, buf, off, len, pos, cb);
    }) as typeof fs.write);
    const free = freeStageCount();
    for (const size of [2 * STAGE, 3 * STAGE + 5]) {
      refused = 0;
      const bytes = crypto.randomBytes(size);
      const key = `acme/20261206T000000Z-0000000${size % 10}/data/0001.copy.age`;
      expect(await s.put(key, chunked(bytes, size))).toEqual({ size });
      expect(refused).toBe(1);
      expect(fs.readFileSync(path.join(s.root, ...key.split('/'))).equals(bytes)).toBe(true);
    }
    expect(freeStageCount()).toBe(free);
  });

  it('a failed upload gives its stage back and leaves no file', async () => {
    const s = newStorage();
    const free = freeStageCount();
    const failing = new Readable({
      read() {
        this.push(crypto.randomBytes(STAGE + 10));
        this.destroy(new Error('the source died'));
      },
    });
    await expect(s.put('acme/20261206T000000Z-00000000/data/0001.copy.age', failing)).rejects.toThrow(/the source died/);
    expect(await s.list('')).toEqual([]);
    expect(fs.readdirSync(path.join(s.root, 'acme/20261206T000000Z-00000000/data'))).toEqual([]);
    expect(freeStageCount()).toBe(free);
  });

  it('destroyed with a write in flight, it closes the file only once that write returned', async () => {
    const s = newStorage();
    const events: string[] = [];
    const write = fs.write;
    vi.spyOn(fs, 'write').mockImplementation(((fd: number, buf: Buffer, off: number, len: number, pos: number | null, cb: unknown) => {
      events.push('write');
      // The write returns late, after the source has failed and the pipeline destroyed the sink.
      setTimeout(() => {
        events.push('write returned');
        (write as (...a: unknown[]) => void)(fd, buf, off, len, pos, cb);
      }, 100);
    }) as typeof fs.write);
    const close = fs.close;
    vi.spyOn(fs, 'close').mockImplementation(((fd: number, cb: unknown) => {
      events.push('close');
      return (close as (...a: unknown[]) => void)(fd, cb);
    }) as typeof fs.close);
    const free = freeStageCount();
    let pushed = false;
    const failing = new Readable({
      read() {
        if (!pushed) {
          pushed = true;
          this.push(crypto.randomBytes(STAGE + 10));
          setTimeout(() => this.destroy(new Error('the source died')), 20);
        }
      },
    });
    await expect(s.put('acme/20261206T000000Z-00000000/data/0001.copy.age', failing)).rejects.toThrow(/the source died/);
    await new Promise((r) => setTimeout(r, 200));
    expect(events.slice(0, 3)).toEqual(['write', 'write returned', 'close']);
    expect(freeStageCount()).toBe(free);
  });
});
