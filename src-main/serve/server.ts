import crypto from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Router } from '../ipc/router';
import { bridge, CLOSE_SESSION_ENDED, type ServeLog } from './bridge';
import { BrowserSessions, DEFAULT_SESSION_LIMITS, type BrowserSession, type SessionLimits } from './sessions';
import { plainReply, serveStatic } from './static';

export interface ServeOptions {
  router: Router;
  /** Built renderer (index.html + assets). */
  staticDir: string;
  host?: string;
  port?: number;
  /** Needed to bind anything but loopback. */
  allowRemote?: boolean;
  /** Session and sign-in link limits; see DEFAULT_SESSION_LIMITS. */
  sessionLimits?: Partial<SessionLimits>;
  /** Clock of the session limits (tests move it). */
  now?: () => number;
  /** How often ended sessions are swept and their sockets closed (default 15 s). */
  sweepIntervalMs?: number;
  /** Largest WebSocket message accepted (default 8 MiB); a bigger one closes that socket with 1009. */
  maxMessageBytes?: number;
  log?: ServeLog;
}

export interface RunningServer {
  /** Where the console lives: origin plus this instance's base path (ends with "/"), no token. */
  url: string;
  origin: string;
  /** The first single-use sign-in link (printed at start). */
  openUrl: string;
  /** Mints another single-use sign-in link. */
  newOpenUrl(): string;
  /** This instance's session cookie name (random suffix). */
  cookieName: string;
  port: number;
  host: string;
  close(): Promise<void>;
}

export const isLoopback = (host: string) => host === '127.0.0.1' || host === '::1' || host === 'localhost' || host.startsWith('127.');

const UNAUTHENTICATED =
  'Open Gatehouse with a sign-in link printed by `gatehouse serve`; each link works once. It prints a fresh one on request (it says how when it starts; see docs/security.md).';

/** The value of one cookie, undecoded (ours are base64url); malformed pairs are skipped, never decoded. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 16_384) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The request target in origin form ("/path?query"), or null when it is anything else or does not parse. */
function parseTarget(raw: string | undefined): URL | null {
  if (!raw || !raw.startsWith('/') || raw.startsWith('//')) return null;
  try {
    return new URL(raw, 'http://target.invalid');
  } catch {
    return null;
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  421: 'Misdirected Request',
};

/** Refuses an upgrade on the raw socket (the HTTP response object does not exist there). */
function refuseUpgrade(socket: Duplex, status: number, message: string) {
  const body = Buffer.from(message);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${message}`,
  );
}

/**
 * Browser mode: the same router behind HTTP + WebSocket on loopback.
 *
 * - A single-use token in a printed link is exchanged for a session cookie; failed
 *   attempts are throttled; sessions end when idle and after an absolute lifetime.
 * - Everything lives below a random per-instance base path and the cookie is scoped
 *   to it (`Path=`) under a random per-instance name: cookies are not isolated by
 *   port, so this is what keeps a server on another 127.0.0.1 port from receiving
 *   or overwriting it.
 * - Host is checked on every request (DNS rebinding), Origin on every request that
 *   has one, and the WebSocket upgrade needs a matching Origin.
 * - No input can throw out of a handler: a bad request gets a 4xx.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host) && !options.allowRemote) {
    throw new Error(`Refusing to listen on ${host}: browser mode is loopback-only unless --allow-remote is given.`);
  }
  const log: ServeLog = options.log ?? { warn: () => undefined };
  const now = options.now ?? Date.now;
  const limits: SessionLimits = { ...DEFAULT_SESSION_LIMITS, ...options.sessionLimits };
  const basePath = `/gh-${crypto.randomBytes(16).toString('base64url')}`;
  const cookieName = `gatehouse_${crypto.randomBytes(6).toString('hex')}`;
  const socketsOf = new Map<BrowserSession, Set<WebSocket>>();
  const connectionIdOf = (session: BrowserSession) => `browser:${session.id}`;
  const sessions = new BrowserSessions(limits, now, (session) => {
    for (const ws of socketsOf.get(session) ?? []) ws.close(CLOSE_SESSION_ENDED, 'session ended');
    socketsOf.delete(session);
    // the operator signed in on that browser session is signed out with it
    options.router
      .endConnection(connectionIdOf(session))
      .catch((error: unknown) => log.warn({ err: error }, 'browser mode: ending a session failed'));
  });
  let allowedHosts: Set<string> = new Set();

  const hostAllowed = (req: http.IncomingMessage) => allowedHosts.has((req.headers.host ?? '').toLowerCase());
  const originMatches = (origin: string) => {
    try {
      const u = new URL(origin);
      return u.protocol === 'http:' && allowedHosts.has(u.host.toLowerCase());
    } catch {
      return false;
    }
  };
  // plain navigations carry no Origin; when one is sent it must be ours
  const originAllowed = (req: http.IncomingMessage) => req.headers.origin === undefined || originMatches(req.headers.origin);
  const sessionOf = (req: http.IncomingMessage) => sessions.lookup(cookieValue(req.headers.cookie, cookieName));
  const underBase = (pathname: string) => pathname === basePath || pathname.startsWith(`${basePath}/`);

  function handleRequest(req: http.IncomingMessage, res: http.ServerResponse) {
    if (!hostAllowed(req)) return plainReply(res, 421, 'Unknown Host header: Gatehouse answers only on the address it printed.');
    if (!originAllowed(req)) return plainReply(res, 403, 'Cross-origin requests are refused.');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return plainReply(res, 405, 'Only GET is served here; commands travel over the WebSocket.', { allow: 'GET, HEAD' });
    const target = parseTarget(req.url);
    if (!target) return plainReply(res, 400, 'Malformed request target.');
    if (!underBase(target.pathname)) return plainReply(res, 401, UNAUTHENTICATED);
    if (target.pathname === basePath) {
      // the page's relative URLs (assets, the WebSocket) need the trailing slash
      res.writeHead(308, { location: `${basePath}/${target.search}`, 'cache-control': 'no-store' });
      return void res.end();
    }
    const session = sessionOf(req);
    const offered = target.searchParams.get('token');
    if (offered !== null) {
      if (session) {
        // this browser is signed in already: spend the link, keep the session
        sessions.discard(offered);
        res.writeHead(303, { location: `${basePath}/`, 'cache-control': 'no-store' });
        return void res.end();
      }
      const exchange = sessions.exchange(offered);
      if (!exchange.ok && exchange.reason === 'throttled') {
        return plainReply(res, 429, `Too many wrong sign-in links; wait ${exchange.retryAfterSeconds} s and try a fresh one.`, {
          'retry-after': String(exchange.retryAfterSeconds),
        });
      }
      if (!exchange.ok) return plainReply(res, 401, `This sign-in link is wrong, used already or expired. ${UNAUTHENTICATED}`);
      res.writeHead(303, {
        location: `${basePath}/`,
        'set-cookie': `${cookieName}=${exchange.cookieValue}; HttpOnly; SameSite=Strict; Path=${basePath}; Max-Age=${Math.floor(limits.lifetimeMs / 1000)}`,
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      });
      return void res.end();
    }
    if (!session) return plainReply(res, 401, UNAUTHENTICATED);
    sessions.touch(session);
    serveStatic(options.staticDir, target.pathname.slice(basePath.length) || '/', req, res);
  }

  const server = http.createServer((req, res) => {
    try {
      handleRequest(req, res);
    } catch (error) {
      log.warn({ err: error }, 'browser mode: a request could not be handled');
      plainReply(res, 400, 'The request could not be handled.');
    }
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes ?? 8 * 1024 * 1024 });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      if (!hostAllowed(req)) return refuseUpgrade(socket, 421, 'Unknown Host header.');
      if (req.headers.origin === undefined || !originMatches(req.headers.origin))
        return refuseUpgrade(socket, 403, 'The WebSocket needs this console as its Origin.');
      const target = parseTarget(req.url);
      if (!target || target.pathname !== `${basePath}/ws`) return refuseUpgrade(socket, 404, 'No WebSocket here.');
      const session = sessionOf(req);
      if (!session) return refuseUpgrade(socket, 401, UNAUTHENTICATED);
      if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket')
        return refuseUpgrade(socket, 400, 'Only WebSocket upgrades are accepted.');
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (!sessions.isOpen(session)) return ws.close(CLOSE_SESSION_ENDED, 'session ended');
        let open = socketsOf.get(session);
        if (!open) socketsOf.set(session, (open = new Set()));
        open.add(ws);
        ws.on('close', () => open.delete(ws));
        bridge({
          ws,
          router: options.router,
          connectionId: connectionIdOf(session),
          sessionOpen: () => sessions.isOpen(session),
          touch: () => sessions.touch(session),
          log,
        });
      });
    } catch (error) {
      log.warn({ err: error }, 'browser mode: an upgrade could not be handled');
      refuseUpgrade(socket, 400, 'The upgrade could not be handled.');
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const sweeper = setInterval(() => sessions.sweep(), options.sweepIntervalMs ?? 15_000);
  sweeper.unref();
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  allowedHosts = new Set([`${hostForUrl}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`].map((h) => h.toLowerCase()));
  const origin = `http://${hostForUrl}:${port}`;
  const url = `${origin}${basePath}/`;
  const newOpenUrl = () => `${url}?token=${sessions.mintToken()}`;
  return {
    url,
    origin,
    openUrl: newOpenUrl(),
    newOpenUrl,
    cookieName,
    port,
    host,
    async close() {
      clearInterval(sweeper);
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
