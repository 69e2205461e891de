import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Router } from '../ipc/router';
import { CONTENT_SECURITY_POLICY } from './csp';

export interface ServeOptions {
  router: Router;
  /** Built renderer (index.html + assets). */
  staticDir: string;
  host?: string;
  port?: number;
  /** Fixed token for tests; random otherwise. */
  token?: string;
  /** Needed to bind anything but loopback. */
  allowRemote?: boolean;
}

export interface RunningServer {
  url: string;
  /** URL including the one-time token to hand to a browser. */
  openUrl: string;
  port: number;
  host: string;
  close(): Promise<void>;
}

const COOKIE = 'gatehouse_session';
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

export const isLoopback = (host: string) => host === '127.0.0.1' || host === '::1' || host === 'localhost' || host.startsWith('127.');

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

const sameSecret = (a: string, b: string) => {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && crypto.timingSafeEqual(ab, bb);
};

/**
 * Browser mode: the same router behind HTTP + WebSocket on loopback. A random
 * token in the printed URL is exchanged for an HttpOnly SameSite=Strict cookie;
 * Host and Origin are checked on every request so a DNS-rebinding page cannot reach it.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host) && !options.allowRemote) {
    throw new Error(`Refusing to listen on ${host}: browser mode is loopback-only unless --allow-remote is given.`);
  }
  const token = options.token ?? crypto.randomBytes(24).toString('base64url');
  const sessions = new Set<string>();
  let allowedHosts: Set<string> = new Set();

  const hostAllowed = (req: http.IncomingMessage) => allowedHosts.has((req.headers.host ?? '').toLowerCase());
  const originAllowed = (req: http.IncomingMessage) => {
    const origin = req.headers.origin;
    if (origin === undefined) return true; // same-origin navigations and non-browser clients send none
    try {
      return allowedHosts.has(new URL(origin).host.toLowerCase()) && new URL(origin).protocol === 'http:';
    } catch {
      return false;
    }
  };
  const sessionOf = (req: http.IncomingMessage) => {
    const value = parseCookies(req.headers.cookie)[COOKIE];
    if (!value) return null;
    for (const s of sessions) if (sameSecret(s, value)) return s;
    return null;
  };

  const refuse = (res: http.ServerResponse, status: number, message: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(message);
  };

  const server = http.createServer((req, res) => {
    if (!hostAllowed(req)) return refuse(res, 421, 'Unknown Host header: Gatehouse answers only on the address it printed.');
    if (!originAllowed(req)) return refuse(res, 403, 'Cross-origin requests are refused.');
    const url = new URL(req.url ?? '/', 'http://placeholder');
    const offered = url.searchParams.get('token');
    if (offered !== null) {
      if (!sameSecret(offered, token)) return refuse(res, 401, 'This link has a wrong or old token. Use the URL printed by `npm run serve`.');
      const session = crypto.randomBytes(32).toString('base64url');
      sessions.add(session);
      res.writeHead(303, {
        location: url.pathname,
        'set-cookie': `${COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/`,
        'cache-control': 'no-store',
      });
      return res.end();
    }
    if (!sessionOf(req)) return refuse(res, 401, 'Open Gatehouse with the URL printed by `npm run serve` (it carries the access token).');
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'Only GET is served here; commands travel over the WebSocket.');
    serveStatic(options.staticDir, url.pathname, res);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 8 * 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const session = hostAllowed(req) && originAllowed(req) && req.url?.startsWith('/ws') ? sessionOf(req) : null;
    if (!session) {
      socket.write('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => bridge(ws, options.router, `browser:${session.slice(0, 16)}`));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  allowedHosts = new Set([`${hostForUrl}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`].map((h) => h.toLowerCase()));
  const url = `http://${hostForUrl}:${port}`;
  return {
    url,
    openUrl: `${url}/?token=${token}`,
    port,
    host,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serveStatic(root: string, pathname: string, res: http.ServerResponse) {
  const safe = path.normalize(decodeURIComponent(pathname)).replace(/^(\.\.[/\\])+/, '');
  let file = path.join(root, safe);
  if (!file.startsWith(path.resolve(root)) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
    file = path.join(root, 'index.html'); // single-page app: unknown paths get the shell
  }
  if (!fs.existsSync(file)) {
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`The UI is not built (${root} is empty). Run \`npm run build:web\` first.`);
    return;
  }
  res.writeHead(200, {
    'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': path.basename(file) === 'index.html' ? 'no-store' : 'max-age=3600',
  });
  fs.createReadStream(file).pipe(res);
}

/** One WebSocket = one client: invoke requests, subscriptions, and pushed events. */
function bridge(ws: WebSocket, router: Router, connectionId: string) {
  const unsubscribers = new Map<string, () => void>();
  const send = (message: unknown) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };
  ws.on('message', async (data) => {
    let message: { id?: unknown; type?: unknown; command?: unknown; input?: unknown; event?: unknown };
    try {
      message = JSON.parse(String(data));
    } catch {
      return send({ type: 'error', message: 'Messages must be JSON.' });
    }
    if (message.type === 'invoke') {
      const result = await router.invoke(connectionId, message.command, message.input);
      return send({ type: 'result', id: message.id, result });
    }
    if (message.type === 'subscribe' && typeof message.event === 'string' && !unsubscribers.has(message.event)) {
      const event = message.event;
      try {
        unsubscribers.set(event, router.subscribe(event, (payload) => send({ type: 'event', event, payload })));
      } catch {
        send({ type: 'error', message: `Unknown event ${event.slice(0, 80)}.` });
      }
      return;
    }
    if (message.type === 'unsubscribe' && typeof message.event === 'string') {
      unsubscribers.get(message.event)?.();
      unsubscribers.delete(message.event);
    }
  });
  ws.on('close', () => {
    for (const off of unsubscribers.values()) off();
    unsubscribers.clear();
  });
}
