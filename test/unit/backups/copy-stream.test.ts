import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { COPY_BLOCK, CopyOut } from '../../../src-main/engine/backups/copy-stream';

// The raw COPY reader against the wire format itself: frames split at every offset must
// give the same COPY text, and everything from the first other message on must reach
// pg's parser byte for byte.

const frame = (type: string, payload: Buffer): Buffer => {
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeUInt32BE(payload.length + 4, 1);
  return Buffer.concat([head, payload]);
};
const cstr = (s: string) => Buffer.from(`${s}\0`);

class FakeSocket extends EventEmitter {
  paused = 0;
  pause(): void {
    this.paused++;
  }
  resume(): void {}
}

async function run(wire: Buffer, cut: (wire: Buffer) => Buffer[], end = true) {
  const socket = new FakeSocket();
  const toPg: Buffer[] = [];
  socket.on('data', (b: Buffer) => toPg.push(Buffer.from(b)));
  const copy = new CopyOut('COPY t TO STDOUT');
  const sent: string[] = [];
  copy.submit({
    query: (t: string) => sent.push(t),
    sendCopyFromChunk() {},
    endCopyFrom() {},
    sendCopyFail() {},
    stream: socket as never,
  });
  for (const piece of cut(wire)) socket.emit('data', piece);
  const finish = async () => {
    // What pg does once it parsed CommandComplete and ReadyForQuery.
    copy.handleCommandComplete({ text: 'COPY 3' });
    copy.handleReadyForQuery();
    // 'data' events, not read(): a read() of a paused stream joins what it buffered.
    const out: Buffer[] = [];
    copy.on('data', (b: Buffer) => out.push(b));
    await new Promise((resolve) => copy.once('end', resolve));
    return out;
  };
  const chunks = end ? await finish() : [];
  return { sent, toPg: Buffer.concat(toPg), pgBytes: () => Buffer.concat(toPg), chunks, out: Buffer.concat(chunks), copy, socket, finish };
}

const rows = ['1\talice\n', '2\tbob with a longer name\t\\N\n', `3\t${'x'.repeat(300_000)}\n`];
const copyResponse = frame('H', Buffer.from([0, 0, 2, 0, 0, 0, 0]));
const tail = Buffer.concat([frame('C', cstr('COPY 3')), frame('Z', Buffer.from('I'))]);
const wire = Buffer.concat([copyResponse, ...rows.map((r) => frame('d', Buffer.from(r))), frame('c', Buffer.alloc(0)), tail]);
const text = Buffer.from(rows.join(''));

describe('CopyOut raw reader', async () => {
  it('yields the COPY text and hands the rest of the socket back to pg, for every split point', async () => {
    // Every split of the small frames and a sample of splits inside the long row.
    const points = [...Array(120).keys(), ...Array.from({ length: 40 }, (_, k) => 120 + k * 7919), wire.length - 20, wire.length - 1];
    for (const at of points) {
      const r = await run(wire, (w) => [w.subarray(0, at), w.subarray(at)]);
      expect(r.sent).toEqual(['COPY t TO STDOUT']);
      expect(r.out.equals(text), `split at ${at}`).toBe(true);
      expect(r.toPg.equals(tail), `split at ${at}`).toBe(true);
      expect([r.copy.frames, r.copy.bytes, r.copy.unterminated], `split at ${at}`).toEqual([3, text.length, 0]);
    }
  });

  it('works byte by byte across the frame headers', async () => {
    const small = Buffer.concat([
      copyResponse,
      frame('d', Buffer.from('a\n')),
      frame('d', Buffer.from('bc\n')),
      frame('c', Buffer.alloc(0)),
      tail,
    ]);
    const r = await run(small, (w) => [...w].map((b) => Buffer.from([b])));
    expect(r.out.toString()).toBe('a\nbc\n');
    expect(r.toPg.equals(tail)).toBe(true);
    expect([r.copy.frames, r.copy.bytes, r.copy.unterminated]).toEqual([2, 5, 0]);
  });

  it('counts CopyData messages that do not end a line (or are empty): a dump refuses such a stream', async () => {
    const odd = Buffer.concat([
      copyResponse,
      frame('d', Buffer.from('a\n')),
      frame('d', Buffer.from('half a row')),
      frame('d', Buffer.alloc(0)),
      frame('d', Buffer.from('b\n')),
      frame('c', Buffer.alloc(0)),
      tail,
    ]);
    for (const cut of [(w: Buffer) => [w], (w: Buffer) => [...w].map((b) => Buffer.from([b]))]) {
      const r = await run(odd, cut);
      expect([r.copy.frames, r.copy.bytes, r.copy.unterminated]).toEqual([4, 14, 2]);
    }
  });

  it('gives pg an error before any COPY data, and pg gets the socket back for good', async () => {
    const err = Buffer.concat([
      frame('E', Buffer.concat([cstr('SERROR'), cstr('C42501'), cstr('Mpermission denied'), Buffer.from([0])])),
      frame('Z', Buffer.from('I')),
    ]);
    const r = await run(err, (w) => [w]);
    expect(r.toPg.equals(err)).toBe(true);
    expect(r.out.length).toBe(0);
    // The reader is detached: later bytes go only to pg's listener.
    expect(r.socket.listenerCount('data')).toBe(1);
    r.socket.emit('data', Buffer.from('later'));
    expect(r.pgBytes().subarray(err.length).toString()).toBe('later');
  });

  it('a notice mid-COPY hands the socket back; the CopyData after it still reaches the stream through pg', async () => {
    const notice = frame('N', Buffer.concat([cstr('SWARNING'), cstr('Mnote'), Buffer.from([0])]));
    const before = Buffer.concat([copyResponse, frame('d', Buffer.from('a\n'))]);
    const r = await run(Buffer.concat([before, notice, frame('d', Buffer.from('b\n'))]), (w) => [w], false);
    expect(r.toPg.equals(Buffer.concat([notice, frame('d', Buffer.from('b\n'))]))).toBe(true);
    r.copy.handleCopyData({ chunk: Buffer.from('b\n') });
    expect(Buffer.concat(await r.finish()).toString()).toBe('a\nb\n');
    expect([r.copy.frames, r.copy.bytes, r.copy.unterminated]).toEqual([2, 4, 0]);
  });

  it('pushes full blocks, each in an ArrayBuffer of its own', async () => {
    const big = Array.from({ length: 160 }, (_, k) => `${k}\t${'y'.repeat(20_000)}\n`);
    const w = Buffer.concat([copyResponse, ...big.map((r) => frame('d', Buffer.from(r))), frame('c', Buffer.alloc(0)), tail]);
    const r = await run(w, (x) => Array.from({ length: Math.ceil(x.length / 65536) }, (_, k) => x.subarray(k * 65536, (k + 1) * 65536)));
    expect(r.out.equals(Buffer.from(big.join('')))).toBe(true);
    expect(r.chunks.length).toBeGreaterThan(2);
    for (const c of r.chunks.slice(0, -1)) expect(c.length).toBe(COPY_BLOCK);
    expect(new Set(r.chunks.map((c) => c.buffer)).size).toBe(r.chunks.length);
    expect(r.chunks.every((c) => c.byteOffset === 0 && c.buffer !== w.buffer)).toBe(true);
  });
});
