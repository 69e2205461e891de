import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ContractError } from '../../../src-shared/contract';
import { DIRECT_ALIGN, IO_BLOCK, STAGE, releaseBuffer, returnStage, takeIoBlock, takeStage } from './reusable';

/**
 * Where backups live: a directory (the default: one workstation or a mounted share) or
 * an S3-compatible bucket (s3-storage.ts). Keys are relative, slash-separated
 * (`<tenant>/<backup id>/<file>`). A put is atomic: a reader sees the whole object or
 * nothing, so an interrupted upload never looks like a backup.
 */
export interface BackupStorage {
  /** Human description for messages and the status page (never a secret). */
  readonly description: string;
  put(key: string, body: Readable): Promise<{ size: number }>;
  get(key: string): Promise<Readable>;
  /**
   * True when every chunk `get` streams is in an ArrayBuffer of its own that nothing else
   * references (a consumer may transfer it to a worker thread, which hands it back).
   */
  readonly ownReads?: boolean;
  /** Null when absent. */
  head(key: string): Promise<{ size: number } | null>;
  /** Every object under prefix (recursive), sorted by key. */
  list(prefix: string): Promise<{ key: string; size: number }[]>;
  delete(key: string): Promise<void>;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** Keys are built by the console from validated slugs and ids; anything else is refused (no traversal). */
export function checkKey(key: string): string[] {
  const parts = key.split('/');
  if (parts.length === 0 || parts.some((p) => !SEGMENT.test(p) || p === '.' || p === '..')) {
    throw new ContractError('VALIDATION', `Invalid backup object name "${key.slice(0, 120)}".`);
  }
  return parts;
}

export async function readAll(stream: Readable, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > limit) throw new ContractError('VALIDATION', `Object larger than ${limit} bytes where a small file was expected.`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Counts bytes passing through. */
export function counter(): Transform & { bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _e, cb) {
      t.bytes += chunk.length;
      cb(null, chunk);
    },
  }) as Transform & { bytes: number };
  t.bytes = 0;
  return t;
}

function fsError(error: unknown, doing: string, where: string): ContractError {
  if (error instanceof ContractError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new ContractError(
      'UNAVAILABLE',
      `The backup directory ${where} is full (${code}) while ${doing}. Free space or choose another target; nothing was listed.`,
      { reason: 'storage-full' },
    );
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new ContractError(
      'FORBIDDEN',
      `The console may not write to the backup directory ${where} (${code}) while ${doing}. Fix its permissions or choose another target.`,
    );
  }
  if (code === 'ENOENT') return new ContractError('NOT_FOUND', `Not found in the backup directory ${where} while ${doing}.`);
  return new ContractError(
    'UNAVAILABLE',
    `The backup directory ${where} failed while ${doing}: ${(error as Error).message?.slice(0, 200) ?? String(error)}`,
  );
}

/**
 * A new file (mode 0600, must not exist) written chunk by chunk and fsynced at the end.
 * Unlike fs.WriteStream it knows when a chunk is done with, and releases it then
 * (reusable.ts).
 *
 * Direct I/O where the file system takes it: a backup file is written once and fsynced
 * anyway, so going through the page cache only costs a kernel copy of every byte (most of
 * the I/O threads' CPU in the backups bench) and evicts what the workstation had cached.
 * Chunks are copied into a page-aligned stage (reusable.ts) and written a whole stage at
 * a time; the last, partial stage is padded to the alignment and the file truncated to
 * its real length. A file system that refuses O_DIRECT (at open, or at the first write)
 * gets the same bytes through the page cache.
 */
class FileSink extends Writable {
  private fd: number | null = null;
  /** Null: writing through the page cache. */
  private stage: Buffer | null = null;
  private fill = 0;
  /** Bytes of the file written (every write says where: a fallback reopens the file). */
  private pos = 0;
  /** A write is in flight: closing the fd (or reusing the stage) waits for it. */
  private busy = false;
  private afterWrite: (() => void) | null = null;

  constructor(private readonly file: string) {
    super({ highWaterMark: 1 << 20 });
  }

  override _construct(cb: (err?: Error | null) => void): void {
    const { O_WRONLY, O_CREAT, O_EXCL, O_DIRECT } = fs.constants;
    const stage = O_DIRECT ? takeStage() : null;
    const buffered = () =>
      fs.open(this.file, 'wx', 0o600, (err, fd) => {
        this.fd = err ? null : fd;
        cb(err);
      });
    if (!stage) return buffered();
    fs.open(this.file, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT, 0o600, (err, fd) => {
      if (err) returnStage(stage);
      if (err?.code === 'EINVAL') return buffered(); // no O_DIRECT on this file system
      if (err) return cb(err);
      this.fd = fd;
      this.stage = stage;
      cb();
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.take(chunk, 0, cb);
  }

  /** Copies chunk into the stage, writing each full stage before filling it again (or writes it as it is, without one). */
  private take(chunk: Buffer, from: number, cb: (err?: Error | null) => void): void {
    const stage = this.stage;
    if (!stage) {
      return this.writeAt(chunk, from, chunk.length - from, (err) => {
        if (err) return cb(err);
        releaseBuffer(chunk);
        cb();
      });
    }
    const n = Math.min(chunk.length - from, STAGE - this.fill);
    chunk.copy(stage, this.fill, from, from + n);
    this.fill += n;
    if (this.fill < STAGE) {
      releaseBuffer(chunk);
      return cb();
    }
    this.flushStage(STAGE, (err) => (err ? cb(err) : this.take(chunk, from + n, cb)));
  }

  /** Writes the stage's `length` bytes (a multiple of DIRECT_ALIGN, covering `fill`) at pos. */
  private flushStage(length: number, cb: (err?: Error | null) => void): void {
    const fill = this.fill;
    const start = this.pos;
    this.writeAt(this.stage!, 0, length, (err) => {
      if (!err) {
        this.pos -= length - fill; // the padding of a last stage is not the file's
        this.fill = 0;
        return cb();
      }
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') return cb(err);
      // O_DIRECT taken at open but its writes refused (an alignment the file system did not
      // announce): the file reopened through the page cache, the stage written again.
      this.busy = true; // a destroy meanwhile waits for the reopened fd, to close it
      fs.close(this.fd!, () =>
        fs.open(this.file, 'r+', (openErr, fd) => {
          this.busy = false;
          this.fd = openErr ? null : fd;
          if (this.afterWrite) return this.afterWrite();
          if (openErr) return cb(openErr);
          const stage = this.stage!;
          this.pos = start; // the stage again from its start, whatever part of it went through before
          this.writeAt(stage, 0, fill, (e) => {
            // From here on through the page cache; a destroy before this point returned the stage itself.
            this.stage = null;
            returnStage(stage);
            if (e) return cb(e);
            this.fill = 0;
            cb();
          });
        }),
      );
    });
  }

  /** Writes buf[offset, offset + length) at pos, all of it; pos moves on with what was written. */
  private writeAt(buf: Buffer, offset: number, length: number, cb: (err?: Error | null) => void): void {
    this.busy = true;
    fs.write(this.fd!, buf, offset, length, this.pos, (err, n) => {
      this.busy = false;
      if (this.afterWrite) return this.afterWrite(); // destroyed meanwhile
      if (err) return cb(err);
      this.pos += n;
      if (n < length) return this.writeAt(buf, offset + n, length - n, cb);
      cb();
    });
  }

  // Durable before it becomes visible: the caller's rename is the commit.
  override _final(cb: (err?: Error | null) => void): void {
    const sync = () => fs.fsync(this.fd!, (err) => cb(err));
    if (!this.stage || this.fill === 0) return sync();
    const size = this.pos + this.fill;
    const padded = Math.ceil(this.fill / DIRECT_ALIGN) * DIRECT_ALIGN;
    this.stage.fill(0, this.fill, padded);
    this.flushStage(padded, (err) => {
      if (err) return cb(err);
      fs.ftruncate(this.fd!, size, (e) => (e ? cb(e) : sync()));
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const finish = () => {
      this.afterWrite = null;
      const fd = this.fd;
      this.fd = null;
      if (this.stage) returnStage(this.stage);
      this.stage = null;
      if (fd === null) return cb(err);
      fs.close(fd, (closeErr) => cb(err ?? closeErr));
    };
    // A stream can be destroyed with a write in flight: its fd and stage stay until it returns.
    if (this.busy) this.afterWrite = finish;
    else finish();
  }
}

/**
 * A file read in 1 MiB blocks from the I/O pool (reusable.ts): a restore's opening worker
 * hands each block back once it has hashed and opened it. Blocks nobody hands back are
 * collected as usual.
 */
class FileSource extends Readable {
  constructor(private readonly handle: fs.promises.FileHandle) {
    super({ highWaterMark: IO_BLOCK });
  }

  override _read(): void {
    const block = takeIoBlock();
    this.handle.read(block, 0, block.length, null).then(
      ({ bytesRead }) => this.push(bytesRead > 0 ? block.subarray(0, bytesRead) : null),
      (error: Error) => this.destroy(error),
    );
  }

  override _destroy(error: Error | null, cb: (err?: Error | null) => void): void {
    this.handle.close().then(
      () => cb(error),
      () => cb(error),
    );
  }
}

export class DirectoryStorage implements BackupStorage {
  readonly description: string;
  readonly ownReads = true;

  constructor(readonly root: string) {
    this.description = `directory ${root}`;
  }

  private file(key: string): string {
    return path.join(this.root, ...checkKey(key));
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    const target = this.file(key);
    const tmp = path.join(path.dirname(target), `.${path.basename(target)}.partial-${randomBytes(4).toString('hex')}`);
    const count = counter();
    try {
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      await pipeline(body, count, new FileSink(tmp));
      await fs.promises.rename(tmp, target);
      return { size: count.bytes };
    } catch (error) {
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
      throw fsError(error, `writing ${key}`, this.root);
    }
  }

  async get(key: string): Promise<Readable> {
    const file = this.file(key);
    try {
      return new FileSource(await fs.promises.open(file, 'r'));
    } catch (error) {
      throw fsError(error, `reading ${key}`, this.root);
    }
  }

  async head(key: string): Promise<{ size: number } | null> {
    try {
      const st = await fs.promises.stat(this.file(key));
      return st.isFile() ? { size: st.size } : null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw fsError(error, `looking up ${key}`, this.root);
    }
  }

  async list(prefix: string): Promise<{ key: string; size: number }[]> {
    const base = prefix ? this.file(prefix.replace(/\/$/, '')) : this.root;
    const out: { key: string; size: number }[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw fsError(error, `listing ${prefix || '/'}`, this.root);
      }
      for (const e of entries) {
        if (e.name.startsWith('.')) continue; // partial uploads
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(path.join(dir, e.name), r);
        else if (e.isFile()) out.push({ key: r, size: (await fs.promises.stat(path.join(dir, e.name))).size });
      }
    };
    await walk(base, prefix.replace(/\/$/, ''));
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const file = this.file(key);
    try {
      await fs.promises.rm(file, { force: true });
      // Empty folders of a deleted backup go too.
      for (let dir = path.dirname(file); dir.startsWith(this.root) && dir !== this.root; dir = path.dirname(dir)) {
        if ((await fs.promises.readdir(dir)).length > 0) break;
        await fs.promises.rmdir(dir);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw fsError(error, `deleting ${key}`, this.root);
    }
  }
}

export const bufferStream = (b: Buffer | string): Readable => Readable.from([Buffer.from(b)]);
