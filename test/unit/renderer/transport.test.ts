import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { invokeTimeoutMs, webSocketTransport, type EngineStatus } from '../../../src-renderer/client/transports';

// The renderer's WebSocket transport (browser mode) against a real WebSocket server
// speaking the bridge's protocol (src-main/serve/server.ts): Node 24's global WebSocket is the browser's API.

interface Connection {
  socket: ServerSocket;
  messages: { type: string; id?: number; command?: string; event?: string }[];
}

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise((r) => s.close(r));
  }
});

/** A bridge stand-in: records what each connection sends; `answer` decides the reply to an invoke (none if undefined). */
async function bridge(answer: (command: string) => unknown = () => ({ ok: true, value: {} })) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  servers.push(wss);
  await new Promise((r) => wss.once('listening', r));
  const connections: Connection[] = [];
  wss.on('connection', (socket) => {
    const c: Connection = { socket, messages: [] };
    connections.push(c);
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Connection['messages'][number];
      c.messages.push(msg);
      if (msg.type === 'invoke') {
        const result = answer(msg.command!);
        if (result !== undefined) socket.send(JSON.stringify({ type: 'result', id: msg.id, result }));
      }
    });
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`, connections, wss };
}

const eventually = (check: () => void) => vi.waitFor(check, { timeout: 5_000, interval: 10 });
const subscribed = (c: Connection | undefined) => (c?.messages ?? []).filter((m) => m.type === 'subscribe').map((m) => m.event);

describe('renderer WebSocket transport', () => {
  it('replays the live subscriptions (and only those) on the new socket after a reconnect, and delivers events there', async () => {
    const server = await bridge();
    const transport = webSocketTransport(server.url, { reconnectDelayMs: 10 });
    const statuses: EngineStatus[] = [];
    transport.onStatus((s) => statuses.push(s));
    const seen: unknown[] = [];
    transport.subscribe('tenants.changed', (p) => seen.push(p));
    const offWorkloads = transport.subscribe('workloads.changed', () => undefined);
    await eventually(() => expect(subscribed(server.connections[0])).toEqual(['tenants.changed', 'workloads.changed']));
    offWorkloads();
    await eventually(() => expect(server.connections[0]!.messages).toContainEqual({ type: 'unsubscribe', event: 'workloads.changed' }));

    server.connections[0]!.socket.terminate();
    await eventually(() => expect(subscribed(server.connections[1])).toEqual(['tenants.changed']));
    server.connections[1]!.socket.send(JSON.stringify({ type: 'event', event: 'tenants.changed', payload: { n: 1 } }));
    await eventually(() => expect(seen).toEqual([{ n: 1 }]));
    // the first open is not a comeback; the one after the loss is
    expect(statuses).toEqual([{ up: true, back: false }, { up: false }, { up: true, back: true }]);
  });

  it('fails a call in flight when the connection drops, saying its outcome is unknown, and serves the next call on the new socket', async () => {
    const server = await bridge((command) => (command === 'tenants.create' ? undefined : { ok: true, value: { pong: true } }));
    const transport = webSocketTransport(server.url, { reconnectDelayMs: 10 });
    const inFlight = transport.invoke('tenants.create', { slug: 'acme' });
    await eventually(() => expect(server.connections[0]?.messages.some((m) => m.command === 'tenants.create')).toBe(true));
    server.connections[0]!.socket.terminate();
    const result = await inFlight;
    expect(result).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    expect(!result.ok && result.error.message).toMatch(/"tenants\.create".*may or may not have completed/);
    await eventually(() => expect(server.connections).toHaveLength(2));
    expect(await transport.invoke('system.info', {})).toEqual({ ok: true, value: { pong: true } });
  });

  it('gives up on a call the engine never answers, with a message naming it, and drops its late answer', async () => {
    let hold: ((id: number) => void) | null = null;
    const server = await bridge((command) => (command === 'audit.export' ? undefined : { ok: true, value: { fresh: true } }));
    server.wss.on('connection', (socket) => {
      hold = (id) => socket.send(JSON.stringify({ type: 'result', id, result: { ok: true, value: { late: true } } }));
    });
    const transport = webSocketTransport(server.url, { timeoutFor: (command) => (command === 'audit.export' ? 50 : 60_000) });
    const result = await transport.invoke('audit.export', {});
    expect(result).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    expect(!result.ok && result.error.message).toMatch(/did not answer "audit\.export" within 50 ms\. It may still be working on it/);
    // the answer arrives after all: ignored, and the next call gets its own answer
    const exportId = server.connections[0]!.messages.find((m) => m.command === 'audit.export')!.id!;
    hold!(exportId);
    expect(await transport.invoke('system.info', {})).toEqual({ ok: true, value: { fresh: true } });
  });

  it('answers UNAVAILABLE at once while the engine cannot be reached, and connects once it can', async () => {
    const server = await bridge(() => ({ ok: true, value: 'up' }));
    const url = server.url;
    for (const c of server.wss.clients) c.terminate();
    await new Promise((r) => server.wss.close(r));
    servers.length = 0;
    const transport = webSocketTransport(url, { reconnectDelayMs: 10, maxReconnectDelayMs: 20 });
    const statuses: EngineStatus[] = [];
    transport.onStatus((s) => statuses.push(s));
    const down = await transport.invoke('system.info', {});
    expect(down).toMatchObject({
      ok: false,
      error: { code: 'UNAVAILABLE', message: expect.stringMatching(/Cannot reach the console engine/) },
    });

    const port = Number(new URL(url).port);
    const again = new WebSocketServer({ port, host: '127.0.0.1' });
    servers.push(again);
    again.on('connection', (socket) =>
      socket.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { id: number };
        socket.send(JSON.stringify({ type: 'result', id: msg.id, result: { ok: true, value: 'up' } }));
      }),
    );
    transport.subscribe('cluster.state', () => undefined); // starts a connection attempt
    await eventually(() => expect(statuses.at(-1)).toEqual({ up: true, back: true }));
    expect(await transport.invoke('system.info', {})).toEqual({ ok: true, value: 'up' });
  });
});

describe('invoke timeouts from the contract', () => {
  it('reads wait a minute, mutations (sagas, fan-outs, exports) and whole-log audit reads fifteen, and a command that waits on purpose its own wait plus a margin', () => {
    expect(invokeTimeoutMs('tenants.list', {})).toBe(60_000);
    expect(invokeTimeoutMs('tenants.create', { slug: 'a' })).toBe(15 * 60_000);
    expect(invokeTimeoutMs('audit.verify', { source: 'cluster' })).toBe(15 * 60_000);
    expect(invokeTimeoutMs('operators.oidc.complete', { flowId: 'f', timeoutMs: 20 * 60_000 })).toBe(20 * 60_000 + 30_000);
  });
});
