import { Readable, Writable } from 'node:stream';
import type pg from 'pg';
import { rawReads } from './read-socket';
import { IO_BLOCK, releaseBuffer, takeIoBlock } from './reusable';

/**
 * COPY … TO STDOUT / FROM STDIN on a node-postgres client, as "submittables"
 * (the extension point pg-cursor and pg-query-stream use: client.query(obj) calls
 * obj.submit(connection) and routes the protocol messages to its handle* methods).
 * Backpressure both ways: a slow consumer pauses the socket, a slow server makes
 * the writable wait for the socket to drain.
 */

/** The small part of pg's Connection a COPY needs. */
interface PgConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
  stream: NodeJS.ReadableStream &
    NodeJS.WritableStream & { writableNeedDrain?: boolean; pause(): void; resume(): void; cork(): void; uncork(): void };
}

const rowsOf = (text: string | undefined): number | null => {
  const m = /^COPY (\d+)$/.exec(text ?? '');
  return m ? Number(m[1]) : null;
};

/**
 * COPY sends one protocol message per row: rows are gathered into blocks this big before
 * they enter the stream. Each block is one message to a seal worker and back, and one
 * unpooled allocation: 1 MiB made fewer of both than 256 KiB (bench/backups.ts).
 */
export const COPY_BLOCK = IO_BLOCK;
const BLOCK = COPY_BLOCK;

const takeBlock = (): Buffer => takeIoBlock(BLOCK);

// Message types a COPY TO's raw reader consumes itself; any other one ends it.
const COPY_DATA = 0x64; // 'd'
const COPY_OUT_RESPONSE = 0x48; // 'H'
const COPY_DONE = 0x63; // 'c'

type DataListener = (chunk: Buffer) => void;

/**
 * Streams the output of `COPY … TO STDOUT`. `rows` is set once the stream ended. Every
 * chunk pushed is in an ArrayBuffer of its own (not Buffer's shared pool) that this stream
 * never touches again, so a consumer may transfer it to a worker thread (seal-worker.ts),
 * which may hand it back for reuse (reusable.ts).
 *
 * While the COPY runs, the socket's bytes are read here, not by pg-protocol: it made a
 * message object and a Buffer view per row (millions per GB, most of the console's CPU
 * of a backup). From submit until the first message that is not CopyOutResponse,
 * CopyData or CopyDone, the 'data' listener of the socket is this reader; from that
 * message on (CommandComplete, an error, a notice) the bytes go back to pg's parser,
 * which then calls the handle* methods below as for any query. submit() runs when the
 * client is idle (after ReadyForQuery), so pg's parser holds no partial message then.
 */
export class CopyOut extends Readable {
  rows: number | null = null;
  /**
   * What the stream itself held, counted as it passed: CopyData messages (the protocol
   * sends exactly one per row), their payload bytes, and messages whose payload did not
   * end with a newline (none, for COPY's text format). A dump checks them against the
   * server's row count and the bytes its seal worker hashed.
   */
  frames = 0;
  bytes = 0;
  unterminated = 0;
  private connection: PgConnection | null = null;
  private block = takeBlock();
  private used = 0;
  callback?: (err: Error | null) => void;
  private called = false;
  // The raw reader's state: pg's 'data' listeners while it is attached, a frame header
  // split across socket reads, and the current frame's type and bytes still to come.
  private saved: DataListener[] | null = null;
  private readonly header = Buffer.alloc(5);
  private headerUsed = 0;
  private kind = 0;
  private left = 0;

  constructor(private readonly text: string) {
    super({ highWaterMark: 2 * BLOCK });
  }

  private settle(err: Error | null): void {
    if (this.called) return;
    this.called = true;
    this.callback?.(err);
  }

  submit(connection: PgConnection): void {
    this.connection = connection;
    const stream = connection.stream;
    this.saved = stream.listeners('data') as DataListener[];
    stream.removeAllListeners('data');
    stream.on('data', this.onRaw);
    rawReads(stream, true);
    connection.query(this.text);
  }

  /** Hands the socket back to pg's parser, starting with `rest` (a whole message or its beginning). */
  private detach(rest: Buffer): void {
    const stream = this.connection!.stream;
    const saved = this.saved ?? [];
    this.saved = null;
    stream.removeListener('data', this.onRaw);
    rawReads(stream, false);
    for (const l of saved) stream.on('data', l);
    // A copy: the socket may read into the same memory next (read-socket.ts), and pg keeps partial messages.
    if (rest.length > 0) {
      const own = Buffer.from(rest);
      for (const l of saved) l.call(stream, own);
    }
  }

  private readonly onRaw = (buf: Buffer): void => {
    const n = buf.length;
    let i = 0;
    while (i < n) {
      if (this.left > 0) {
        // Inside a frame: its payload is COPY text (CopyData) or skipped.
        const take = Math.min(this.left, n - i);
        if (this.kind === COPY_DATA) {
          this.append(buf, i, i + take);
          if (take === this.left && buf[i + take - 1] !== 10) this.unterminated++;
        }
        i += take;
        this.left -= take;
        continue;
      }
      let kind: number;
      let length: number;
      if (this.headerUsed === 0 && n - i >= 5) {
        kind = buf[i]!;
        if (kind !== COPY_DATA && kind !== COPY_OUT_RESPONSE && kind !== COPY_DONE) return this.detach(buf.subarray(i));
        length = buf.readUInt32BE(i + 1);
        i += 5;
      } else {
        // A header split across two socket reads.
        const take = Math.min(5 - this.headerUsed, n - i);
        buf.copy(this.header, this.headerUsed, i, i + take);
        this.headerUsed += take;
        i += take;
        if (this.headerUsed < 5) return;
        this.headerUsed = 0;
        kind = this.header[0]!;
        if (kind !== COPY_DATA && kind !== COPY_OUT_RESPONSE && kind !== COPY_DONE) {
          return this.detach(Buffer.concat([this.header, buf.subarray(i)]));
        }
        length = this.header.readUInt32BE(1);
      }
      this.kind = kind;
      this.left = length - 4;
      if (kind === COPY_DATA) {
        this.frames++;
        this.bytes += this.left;
        if (this.left === 0) this.unterminated++;
      }
    }
  };

  /** Copies COPY text into the current block (the socket's buffer is not kept). */
  private append(src: Buffer, start: number, end: number): void {
    while (start < end) {
      if (this.used === BLOCK) this.flushBlock();
      const take = Math.min(end - start, BLOCK - this.used);
      src.copy(this.block, this.used, start, start + take);
      this.used += take;
      start += take;
    }
  }

  // CopyData that reaches pg's parser after all (after a notice handed the socket back).
  handleCopyData(msg: { chunk: Buffer }): void {
    const c = msg.chunk;
    this.frames++;
    this.bytes += c.length;
    if (c[c.length - 1] !== 10) this.unterminated++;
    this.append(c, 0, c.length);
  }

  private flushBlock(): void {
    if (this.used === 0) return;
    const out = this.block.subarray(0, this.used);
    this.block = takeBlock();
    this.used = 0;
    if (!this.push(out)) this.connection?.stream.pause();
  }

  override _read(): void {
    this.connection?.stream.resume();
  }

  override _destroy(error: Error | null, cb: (err?: Error | null) => void): void {
    // A consumer that gave up must not leave the socket paused: the connection could never end.
    this.connection?.stream.resume();
    cb(error);
  }

  handleCommandComplete(msg: { text?: string }): void {
    this.flushBlock();
    this.rows = rowsOf(msg.text);
  }

  handleReadyForQuery(): void {
    this.connection?.stream.resume();
    this.flushBlock();
    this.push(null);
    this.settle(null);
  }

  handleError(error: Error): void {
    this.connection?.stream.resume();
    this.destroy(error);
    this.settle(error);
  }

  // Messages a COPY TO never gets; present because the client calls them on any active query.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handlePortalSuspended(): void {}
  handleEmptyQuery(): void {}
  handleCopyInResponse(connection: PgConnection): void {
    connection.sendCopyFail('unexpected COPY FROM STDIN');
  }
}

/** A writable feeding `COPY … FROM STDIN`. Resolves `done` with the row count the server reports. */
export class CopyIn extends Writable {
  rows: number | null = null;
  private connection: PgConnection | null = null;
  private ready = false;
  private waiting: (() => void) | null = null;
  private finished: ((err?: Error | null) => void) | null = null;
  private failure: Error | null = null;
  callback?: (err: Error | null) => void;
  private called = false;

  constructor(private readonly text: string) {
    super({ highWaterMark: 1 << 20 });
  }

  private settle(err: Error | null): void {
    if (this.called) return;
    this.called = true;
    this.callback?.(err);
  }

  submit(connection: PgConnection): void {
    this.connection = connection;
    connection.query(this.text);
  }

  handleCopyInResponse(): void {
    this.ready = true;
    if (this.destroyed && !this.finished && !this.failure) {
      // Aborted before the server was ready: tell it now, or it would wait for data forever.
      this.connection?.sendCopyFail('aborted by the client');
      return;
    }
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  private whenReady(fn: () => void): void {
    if (this.ready) fn();
    else this.waiting = fn;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.failure) return cb(this.failure);
    this.whenReady(() => {
      if (this.failure) return cb(this.failure);
      // The CopyData header and the chunk as one writev: pg's sendCopyFromChunk copied every
      // chunk into a new message buffer (a second copy of a restore's data, and garbage).
      // The chunk is not copied, so it must not change after it was written: the streams
      // that feed a CopyIn (decryption, checks) emit buffers of their own, and one marked
      // returnable (a worker's answer, reusable.ts) is given back once the socket took it.
      const s = this.connection!.stream;
      if (!(s as { writable?: boolean }).writable) return cb(new Error('the connection to PostgreSQL closed during COPY FROM STDIN'));
      const head = Buffer.allocUnsafe(5);
      head[0] = COPY_DATA;
      head.writeUInt32BE(chunk.length + 4, 1);
      s.cork();
      s.write(head);
      (s.write as (c: Buffer, done: () => void) => boolean)(chunk, () => releaseBuffer(chunk));
      s.uncork();
      if (s.writableNeedDrain) s.once('drain', () => cb());
      else cb();
    });
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.failure) return cb(this.failure);
    this.finished = cb;
    this.whenReady(() => this.connection!.endCopyFrom());
  }

  override _destroy(error: Error | null, cb: (err?: Error | null) => void): void {
    // An aborted input (decryption failed, checksum mismatch) must not commit half a table.
    if (error && this.ready && !this.finished && !this.failure) this.connection?.sendCopyFail(error.message.slice(0, 200));
    cb(error);
  }

  handleCommandComplete(msg: { text?: string }): void {
    this.rows = rowsOf(msg.text);
  }

  handleReadyForQuery(): void {
    const f = this.finished;
    this.finished = null;
    if (this.failure) {
      f?.(this.failure);
      this.settle(this.failure);
      return;
    }
    f?.();
    this.settle(null);
  }

  handleError(error: Error): void {
    this.failure = error;
    const w = this.waiting;
    this.waiting = null;
    w?.();
    // The server answers an error with ReadyForQuery too, unless the connection died.
    const f = this.finished;
    if (f) {
      this.finished = null;
      f(error);
    } else if (!this.destroyed) {
      this.destroy(error);
    }
    this.settle(error);
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handlePortalSuspended(): void {}
  handleEmptyQuery(): void {}
  handleCopyData(): void {}
}

export const copyOut = (client: pg.Client, sql: string): CopyOut => client.query(new CopyOut(sql) as never) as unknown as CopyOut;
export const copyIn = (client: pg.Client, sql: string): CopyIn => client.query(new CopyIn(sql) as never) as unknown as CopyIn;
