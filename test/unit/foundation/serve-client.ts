import http from 'node:http';
import WebSocket from 'ws';
import type { RunningServer } from '../../../src-main/serve/server';

/** Raw Node clients for browser-mode tests: a browser would not let a test forge Host, Origin or cookies. */

export type Reply = { status: number; headers: http.IncomingHttpHeaders; body: string };

export function request(port: number, pathName: string, headers: Record<string, string> = {}): Promise<Reply> {
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

/** Path and query of a link, as the browser requests it. */
export const linkPath = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

/** `name=value` of the cookie a reply sets, or '' when it sets none. */
export const setCookieOf = (r: Reply) => String(r.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';

/** Opens a sign-in link as a fresh browser would; returns its session cookie. */
export async function signInWith(server: RunningServer, link = server.newOpenUrl()): Promise<string> {
  const r = await request(server.port, linkPath(link));
  if (r.status !== 303) throw new Error(`sign-in link refused: ${r.status} ${r.body}`);
  return setCookieOf(r);
}

export function openSocket(server: RunningServer, headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}ws`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

export type WireResult = { ok: boolean; value?: Record<string, unknown>; error?: { code: string; message: string } };

/** A socket with typed calls and a log of every message received, in order. */
export function client(ws: WebSocket) {
  const received: { type: string; id?: number; event?: string; payload?: unknown; result?: WireResult }[] = [];
  const waiters = new Map<number, (r: WireResult) => void>();
  let nextId = 1;
  ws.on('message', (raw) => {
    const msg = JSON.parse(String(raw)) as (typeof received)[number];
    received.push(msg);
    if (msg.type === 'result' && typeof msg.id === 'number') waiters.get(msg.id)?.(msg.result as WireResult);
  });
  return {
    received,
    call(command: string, input: unknown = {}): Promise<WireResult> {
      const id = nextId++;
      return new Promise((resolve) => {
        waiters.set(id, resolve);
        ws.send(JSON.stringify({ type: 'invoke', id, command, input }));
      });
    },
    send(message: unknown) {
      ws.send(JSON.stringify(message));
    },
  };
}
