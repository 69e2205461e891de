import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { commands } from '../../../src-shared/contract';
import { createRouter, type Router } from '../../../src-main/ipc/router';
import { startServer, type RunningServer } from '../../../src-main/serve/server';
import { DEFAULT_SESSION_LIMITS } from '../../../src-main/serve/sessions';
import { tempEngine } from './helpers';

/**
 * One request must never kill the engine. A real server on 127.0.0.1 with the real
 * router and engine (temp data dir) takes a few thousand malformed HTTP requests
 * (raw sockets), WebSocket messages and raw frames, then must still answer a valid call.
 * The generator is seeded, so a failure replays exactly.
 */

function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T,
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
  };
}

/** Whatever came back before the server closed (or a bound passed); never throws. */
function rawExchange(port: number, payload: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    socket.setTimeout(3000, done);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', done);
    socket.on('close', done);
    // no half-close right away: Node drops a pending response when the client ends first.
    // Requests say "Connection: close"; a request the server still waits on gets an end after a pause.
    socket.on('connect', () => {
      socket.write(payload);
      setTimeout(() => socket.end(), 300).unref();
    });
  });
}

type Reply = { status: number; headers: http.IncomingHttpHeaders; body: string };
function get(port: number, pathName: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathName, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function signIn(server: RunningServer, openUrl: string): Promise<{ cookie: string; base: string }> {
  const url = new URL(openUrl);
  const r = await get(server.port, `${url.pathname}${url.search}`, {});
  expect(r.status).toBe(303);
  return { cookie: String(r.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '', base: url.pathname };
}

function openSocket(port: number, base: string, cookie: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${base}ws`, { headers: { cookie, origin: `http://127.0.0.1:${port}` } });
    ws.once('open', () => {
      ws.on('error', () => undefined);
      resolve(ws);
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
}

/** Sends one message and resolves when the server answered it (by id) or closed the socket. */
function sendAndSettle(ws: WebSocket, data: string | Buffer, binary: boolean, id: number | null): Promise<'answered' | 'closed'> {
  return new Promise((resolve) => {
    const onClose = () => finish('closed');
    const onMessage = (raw: WebSocket.RawData) => {
      try {
        const msg = JSON.parse(String(raw)) as { id?: unknown };
        if (id !== null && msg.id === id) finish('answered');
        else if (id === null) finish('answered');
      } catch {
        // a reply we cannot read is still a reply
        finish('answered');
      }
    };
    const finish = (how: 'answered' | 'closed') => {
      ws.off('close', onClose);
      ws.off('message', onMessage);
      resolve(how);
    };
    ws.on('close', onClose);
    ws.on('message', onMessage);
    if (ws.readyState !== ws.OPEN) return finish('closed');
    ws.send(data, { binary });
    // messages that get no reply at all (unsubscribe): prove the socket still works with a ping round trip
    if (id === null) ws.ping();
    ws.once('pong', () => id === null && finish('answered'));
  });
}

/** A masked client frame, built by hand so it can be wrong in every way ws would refuse to produce. */
function frame(opts: { fin?: boolean; rsv?: number; opcode: number; payload: Buffer; mask?: boolean; lengthOverride?: bigint }): Buffer {
  const { fin = true, rsv = 0, opcode, payload, mask = true } = opts;
  const head: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const len = opts.lengthOverride ?? BigInt(payload.length);
  const maskBit = mask ? 0x80 : 0;
  if (len < 126n) head.push(maskBit | Number(len));
  else if (len < 65536n) head.push(maskBit | 126, Number(len >> 8n) & 0xff, Number(len) & 0xff);
  else {
    head.push(maskBit | 127);
    for (let i = 7; i >= 0; i--) head.push(Number((len >> BigInt(i * 8)) & 0xffn));
  }
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([Buffer.from(head), mask ? key : Buffer.alloc(0), body]);
}

/** Opens a WebSocket by hand on a raw socket, then writes the given frames; resolves with what the server sent back. */
function rawWebSocket(port: number, base: string, cookie: string, frames: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let upgraded = false;
    const done = () => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    socket.setTimeout(3000, done);
    socket.on('error', done);
    socket.on('close', done);
    socket.on('data', (c) => {
      chunks.push(c);
      if (!upgraded && Buffer.concat(chunks).includes('\r\n\r\n')) {
        upgraded = true;
        if (!Buffer.concat(chunks).toString('latin1').startsWith('HTTP/1.1 101')) return done();
        socket.end(frames);
      }
    });
    socket.on('connect', () =>
      socket.write(
        `GET ${base}ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://127.0.0.1:${port}\r\nCookie: ${cookie}\r\n` +
          `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n\r\n`,
      ),
    );
  });
}

async function inBatches<T>(items: T[], width: number, run: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(run));
}

describe('browser mode survives malformed input', () => {
  const env = tempEngine();
  let server: RunningServer;
  let staticDir = '';
  // the fuzz trips the wrong-link throttle on purpose; the clock lets a later test wait it out
  let clock = 1_000_000;
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);

  beforeAll(async () => {
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    staticDir = path.join(env.dir, 'ui');
    fs.mkdirSync(staticDir);
    fs.writeFileSync(path.join(staticDir, 'index.html'), '<html>ui</html>');
    fs.writeFileSync(path.join(staticDir, 'app.js'), 'console.log(1)');
    server = await startServer({ router: createRouter(env.engine), staticDir, now: () => clock });
  });
  afterAll(async () => {
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    await server.close();
    await env.cleanup();
  });

  it('answers a few thousand malformed HTTP requests with 4xx and keeps serving', { timeout: 180_000 }, async () => {
    const rnd = prng(0x9a7e);
    const { cookie, base } = await signIn(server, server.openUrl);
    const cookieName = cookie.split('=')[0] ?? 'gatehouse_session';
    const port = server.port;
    const hostOk = `127.0.0.1:${port}`;
    const targets = [
      base,
      `${base}app.js`,
      `${base}%`,
      `${base}%E0%A4%A`,
      `${base}%zz`,
      '/%',
      '/%c0%af',
      `${base}..%2f..%2f..%2fetc%2fpasswd`,
      `${base}%2e%2e/%2e%2e/package.json`,
      `${base}%00`,
      `${base}a%00b`,
      '*',
      'http://[::',
      'http://evil.example/',
      '//evil',
      '/\\..\\..\\x',
      `/${'a'.repeat(9000)}`,
      `${base}?token=%E0%A4%A`,
      `${base}?token=${crypto.randomBytes(24).toString('base64url')}`,
      `${base}?token=`,
      '/?token=x&token=y',
      `${base}ws`,
      '/ws',
      `${base}\u00e9\u0000`,
      `${base}#frag`,
      `${base}?%=%&&=`,
      '/%25%',
      '',
    ];
    const methods = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'FOO', 'G\tET', ''];
    const hosts = [hostOk, hostOk, hostOk, `evil.example:${port}`, '', `127.0.0.1:${port}:${port}`, '[::1', null];
    const cookies = [
      null,
      cookie,
      cookie,
      `${cookieName}=%E0%A4%A`,
      `${cookieName}=%`,
      'a=%; b=%%%',
      '=; ;=;',
      `${cookie}; x=%E0%A4%A`,
      `x=%ff; ${cookie}`,
      `${cookieName}=${'%'.repeat(4000)}`,
      `${cookieName}="quoted"`,
      `gatehouse_session=%E0%A4%A`,
      'gatehouse_session=%',
    ];
    const origins = [null, null, `http://${hostOk}`, 'http://evil.example', 'null', 'http://[', '%', `ws://${hostOk}`, 'http://%E0%A4%A'];
    const extras = [
      '',
      '',
      '',
      'Content-Length: 5\r\n',
      'Content-Length: -1\r\n',
      'Content-Length: abc\r\n',
      'Transfer-Encoding: chunked\r\n',
      'Transfer-Encoding: chunked\r\nContent-Length: 3\r\n',
      'Connection: Upgrade\r\nUpgrade: websocket\r\n',
      'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x\r\n',
      'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n',
      'Connection: Upgrade\r\nUpgrade: h2c\r\n',
      'X-No-Colon\r\n',
      `X-Long: ${'y'.repeat(20000)}\r\n`,
      'X-Nul: a\u0000b\r\n',
    ];
    const bodies = ['', '', 'hello', '0\r\n\r\n', 'zz\r\nnot-hex\r\n', crypto.randomBytes(64).toString('latin1')];

    // paths below the base made of the pieces that break decoders: stray "%", overlong UTF-8, dot segments, NUL
    const pieces = [
      '%',
      '%2',
      '%zz',
      '%2e',
      '%2E%2e',
      '%2f',
      '%5c',
      '%00',
      '%ff',
      '%c0%ae',
      '%e0%a4%a',
      '..',
      '.',
      '/',
      '\\',
      'a',
      'index.html',
      'app.js',
      '~',
      ';',
      '?',
      '&token=',
      '%3f',
    ];
    const target = () => {
      const r = rnd.next();
      if (r < 0.15) return base;
      if (r < 0.45) return rnd.pick(targets);
      return base + Array.from({ length: 1 + rnd.int(8) }, () => rnd.pick(pieces)).join('');
    };
    const payloads: Buffer[] = [];
    for (let i = 0; i < 2400; i++) {
      if (rnd.next() < 0.08) {
        payloads.push(rnd.bytes(1 + rnd.int(300)));
        continue;
      }
      // a valid request with some of its parts replaced: most requests reach the deep paths (cookie, token, static file)
      const mutate = <T>(valid: T, xs: readonly T[]) => (rnd.next() < 0.35 ? rnd.pick(xs) : valid);
      const host = mutate<string | null>(hostOk, hosts);
      const c = mutate<string | null>(cookie, cookies);
      const o = mutate<string | null>(null, origins);
      const head =
        `${mutate('GET', methods)} ${target()} HTTP/1.1\r\n` +
        (host === null ? '' : `Host: ${host}\r\n`) +
        (c === null ? '' : `Cookie: ${c}\r\n`) +
        (o === null ? '' : `Origin: ${o}\r\n`) +
        mutate('', extras) +
        'Connection: close\r\n\r\n';
      payloads.push(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(mutate('', bodies), 'latin1')]));
    }

    const statuses: number[] = [];
    await inBatches(payloads, 24, async (payload) => {
      const reply = await rawExchange(port, payload);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(reply);
      if (m) statuses.push(Number(m[1]));
    });

    expect(crashes).toEqual([]);
    // a bad request is the client's fault: never a 5xx
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.length).toBeGreaterThan(2000);
    // and the server still serves a valid request
    const ok = await get(port, base, { cookie });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('ui');
    // the wrong links among them may have tripped the throttle: let its window pass
    clock += DEFAULT_SESSION_LIMITS.tokenFailureWindowMs;
  });

  it('survives malformed WebSocket messages and frames, then still answers a command', { timeout: 180_000 }, async () => {
    const rnd = prng(0x51ab);
    const { cookie, base } = await signIn(server, server.newOpenUrl());
    const port = server.port;
    const names = Object.keys(commands);
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const texts = [
      'not json',
      '{',
      'null',
      '1',
      '"s"',
      '[]',
      'true',
      '{"type":null}',
      '{"type":"invoke"}',
      '{"type":"invoke","id":{},"command":{},"input":1}',
      '{"type":"invoke","id":1,"command":"__proto__","input":{}}',
      '{"type":"invoke","id":1,"command":"constructor","input":{}}',
      '{"type":"invoke","id":1,"command":"toString","input":{}}',
      '{"type":"subscribe","event":"__proto__"}',
      '{"type":"subscribe","event":"constructor"}',
      '{"type":"subscribe","event":"hasOwnProperty"}',
      JSON.stringify({ type: 'subscribe', event: 'x'.repeat(10_000) }),
      '{"type":"unsubscribe","event":"nope"}',
      '{"type":"subscribe","event":"audit.changed"}',
      '{"type":"unsubscribe","event":"audit.changed"}',
      '{"type":"subscribe","event":7}',
      `{"type":"invoke","id":1,"command":"system.settings.set","input":${deep}}`,
      deep,
      '{"__proto__":{"type":"invoke","id":1,"command":"system.info"}}',
      '{"type":"invoke","id":1e999,"command":"system.info","input":{}}',
      '{"type":"invoke","id":"x".repeat(1),"command":"system.info"}',
    ];
    let ws = await openSocket(port, base, cookie);
    const ensureOpen = async () => {
      if (ws.readyState !== ws.OPEN) ws = await openSocket(port, base, cookie);
    };
    let sent = 0;
    for (let i = 0; i < 1500; i++) {
      await ensureOpen();
      const roll = rnd.next();
      const id = 1000 + i;
      if (roll < 0.35) {
        await sendAndSettle(ws, rnd.pick(texts), false, null);
      } else if (roll < 0.7) {
        // every contract command with input of the wrong shape: refused by validation, nothing runs
        const input = rnd.pick([null, 1, 'x', [], [1, 2], true, { __proto__: { polluted: 1 } }, { confirm: 1 }]);
        await sendAndSettle(ws, JSON.stringify({ type: 'invoke', id, command: rnd.pick(names), input }), false, id);
      } else if (roll < 0.8) {
        await sendAndSettle(ws, JSON.stringify({ type: 'invoke', id, command: rnd.bytes(8).toString('latin1'), input: {} }), false, id);
      } else if (roll < 0.9) {
        // invalid UTF-8 in a text frame
        await sendAndSettle(
          ws,
          Buffer.concat([Buffer.from('{"type":"invoke","id":1,"command":"'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}')]),
          false,
          null,
        );
      } else {
        await sendAndSettle(ws, rnd.bytes(1 + rnd.int(64)), true, null);
      }
      sent++;
    }

    // frames ws itself would never send: each must end that socket, not the process
    const bad = [
      frame({ opcode: 0x1, payload: Buffer.from('{"type":"invoke"}'), mask: false }),
      frame({ opcode: 0x1, rsv: 4, payload: Buffer.from('{}') }),
      frame({ opcode: 0x3, payload: Buffer.from('x') }),
      frame({ opcode: 0xb, payload: Buffer.from('x') }),
      frame({ opcode: 0x9, payload: Buffer.alloc(126, 1) }),
      frame({ opcode: 0x9, fin: false, payload: Buffer.from('p') }),
      frame({ opcode: 0x0, payload: Buffer.from('continuation without a start') }),
      frame({ opcode: 0x1, payload: Buffer.alloc(0), lengthOverride: 2n ** 63n - 1n }),
      frame({ opcode: 0x8, payload: Buffer.from([0x03, 0xe7]) }),
      frame({ opcode: 0x8, payload: Buffer.from([0x03, 0xed]) }),
      frame({ opcode: 0x8, payload: Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from([0xff, 0xfe])]) }),
      frame({ opcode: 0x8, payload: Buffer.from([0x03]) }),
      frame({ opcode: 0x1, payload: Buffer.from([0xed, 0xa0, 0x80]) }),
      frame({ opcode: 0x1, fin: false, payload: Buffer.from('{"ty') }),
      frame({ opcode: 0x1, payload: Buffer.from('x'.repeat(40)) }).subarray(0, 10),
    ];
    await inBatches(
      Array.from({ length: 300 }, (_, i) => bad[i % bad.length] as Buffer),
      12,
      (f) => rawWebSocket(port, base, cookie, f),
    );

    // one message over the payload limit
    await ensureOpen();
    const oversize = await sendAndSettle(ws, Buffer.alloc(8 * 1024 * 1024 + 16, 0x20), false, null);
    expect(oversize).toBe('closed');

    expect(crashes).toEqual([]);
    expect(sent).toBe(1500);
    // the server still answers a valid call, on a new session from a fresh link
    const fresh = await signIn(server, server.newOpenUrl());
    const after = await openSocket(port, fresh.base, fresh.cookie);
    const reply = await new Promise<{ ok: boolean; value?: { mode?: string } }>((resolve) => {
      after.on('message', (raw) => {
        const msg = JSON.parse(String(raw)) as { id?: number; result?: { ok: boolean; value?: { mode?: string } } };
        if (msg.id === 42 && msg.result) resolve(msg.result);
      });
      after.send(JSON.stringify({ type: 'invoke', id: 42, command: 'system.info', input: {} }));
    });
    expect(reply.ok).toBe(true);
    expect(reply.value?.mode).toBe('browser');
    after.close();
    ws.close();
  });

  it('a handler whose promise rejects gets an error reply; the server keeps serving', { timeout: 60_000 }, async () => {
    const real: Router = createRouter(env.engine);
    // a pipeline bug (an audit store that throws, say) surfaces as a rejected invoke
    const broken: Router = {
      ...real,
      invoke: async (connectionId, name, input) => {
        if (name === 'system.settings.set') throw new Error('audit store unavailable');
        return real.invoke(connectionId, name, input);
      },
    };
    const other = await startServer({ router: broken, staticDir });
    try {
      const { cookie, base } = await signIn(other, other.openUrl);
      const ws = await openSocket(other.port, base, cookie);
      const results = new Map<number, { ok: boolean; error?: { code: string; message: string } }>();
      ws.on('message', (raw) => {
        const msg = JSON.parse(String(raw)) as { id?: number; result?: { ok: boolean; error?: { code: string; message: string } } };
        if (typeof msg.id === 'number' && msg.result) results.set(msg.id, msg.result);
      });
      for (let id = 1; id <= 50; id++)
        ws.send(JSON.stringify({ type: 'invoke', id, command: 'system.settings.set', input: { theme: 'dark' } }));
      ws.send(JSON.stringify({ type: 'invoke', id: 99, command: 'system.info', input: {} }));
      await expect.poll(() => results.size, { timeout: 30_000 }).toBe(51);
      expect(results.get(1)?.ok).toBe(false);
      expect(results.get(1)?.error?.code).toBe('INTERNAL');
      expect(results.get(1)?.error?.message).not.toMatch(/audit store unavailable|at .*\.ts/);
      expect(results.get(99)?.ok).toBe(true);
      expect(crashes).toEqual([]);
      ws.close();
    } finally {
      await other.close();
    }
  });
});
