import { Readable, Writable } from 'node:stream';
import type pg from 'pg';

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
  stream: NodeJS.ReadableStream & NodeJS.WritableStream & { writableNeedDrain?: boolean; pause(): void; resume(): void };
}

const rowsOf = (text: string | undefined): number | null => {
  const m = /^COPY (\d+)$/.exec(text ?? '');
  return m ? Number(m[1]) : null;
};

/** COPY sends one protocol message per row: rows are gathered into blocks this big before they enter the stream. */
const BLOCK = 256 * 1024;

/**
 * Streams the output of `COPY … TO STDOUT`. `rows` is set once the stream ended. Every
 * chunk pushed is in an ArrayBuffer of its own (unpooled) that this stream never touches
 * again, so a consumer may transfer it to a worker thread (seal-worker.ts).
 */
export class CopyOut extends Readable {
  rows: number | null = null;
  private connection: PgConnection | null = null;
  private block = Buffer.allocUnsafeSlow(BLOCK);
  private used = 0;
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

  handleCopyData(msg: { chunk: Buffer }): void {
    // The chunk is a view into pg-protocol's read buffer, which is reused for the next
    // socket read: it is copied (into the current block) before anything holds on to it.
    const c = msg.chunk;
    if (this.used + c.length > BLOCK) this.flushBlock();
    if (c.length > BLOCK) {
      const own = Buffer.allocUnsafeSlow(c.length);
      c.copy(own);
      if (!this.push(own)) this.connection?.stream.pause();
      return;
    }
    c.copy(this.block, this.used);
    this.used += c.length;
  }

  private flushBlock(): void {
    if (this.used === 0) return;
    const out = this.block.subarray(0, this.used);
    this.block = Buffer.allocUnsafeSlow(BLOCK);
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
      const c = this.connection!;
      c.sendCopyFromChunk(chunk);
      if (c.stream.writableNeedDrain) c.stream.once('drain', () => cb());
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
