import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { rawReads, reusingReadSocket } from '../../../src-main/engine/backups/read-socket';

// The socket a backup's connections use: one read buffer, reused, handed out only while a
// raw COPY reader consumes each chunk at once; copies otherwise; 'end' like any socket.
async function exchange(raw: boolean) {
  const payload = Buffer.from(Array.from({ length: 600_000 }, (_, i) => i % 251));
  const server = net.createServer((s) => s.end(payload));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const socket = reusingReadSocket();
  rawReads(socket, raw);
  const seen: Buffer[] = [];
  const copied: Buffer[] = [];
  socket.on('data', (b: Buffer) => {
    seen.push(b);
    copied.push(Buffer.from(b));
  });
  const ended = new Promise<void>((r) => socket.once('end', () => r()));
  socket.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await ended;
  socket.destroy();
  server.close();
  return { payload, seen, copied };
}

describe('reusingReadSocket', () => {
  it('hands out copies by default: every chunk keeps its bytes after later reads', async () => {
    const { payload, seen } = await exchange(false);
    expect(Buffer.concat(seen).equals(payload)).toBe(true);
    expect(new Set(seen.map((b) => b.buffer)).size).toBe(seen.length);
  });

  it('hands out its own buffer while raw reads are on (the reader copies before the next read)', async () => {
    const { payload, seen, copied } = await exchange(true);
    expect(Buffer.concat(copied).equals(payload)).toBe(true);
    if (seen.length > 1) expect(new Set(seen.map((b) => b.buffer)).size).toBe(1);
  });
});
