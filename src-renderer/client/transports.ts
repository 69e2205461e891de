import { commands, isCommandName, type Result } from '../../src-shared/contract';
import { createClient, type GatehouseClient, type Transport } from '../../src-shared/client';

/** The preload exposes exactly this on window.gatehouse (Electron). */
export interface PreloadBridge {
  invoke(command: string, input: unknown): Promise<Result<unknown>>;
  subscribe(event: string, listener: (payload: unknown) => void): () => void;
}

declare global {
  interface Window {
    gatehouse?: PreloadBridge;
  }
}

/** Whether the engine answers; `back` is true when it answers again after a loss. */
export type EngineStatus = { up: true; back: boolean } | { up: false };

export interface WebSocketTransportOptions {
  /** How long a call may wait for its answer; the default comes from the contract (`invokeTimeoutMs`). */
  timeoutFor?(command: string, input: unknown): number;
  /** First reconnect delay; doubles per failed attempt up to `maxReconnectDelayMs`. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
}

const READ_TIMEOUT_MS = 60_000;
// sagas, fan-outs to every tenant and exports run long and report progress as events
const LONG_TIMEOUT_MS = 15 * 60_000;
// reads that walk a whole audit log (a million entries) take as long as a saga
const LONG_READS = new Set(['audit.verify', 'audit.sync']);
// a command that waits on purpose (OIDC sign-in in the browser) gets its own wait plus this
const WAIT_MARGIN_MS = 30_000;

/** How long the renderer waits for a command's answer before telling the operator it did not come. */
export function invokeTimeoutMs(command: string, input: unknown): number {
  const long = LONG_READS.has(command) || (isCommandName(command) && commands[command].mutating);
  const base = long ? LONG_TIMEOUT_MS : READ_TIMEOUT_MS;
  const wait =
    input && typeof input === 'object' && 'timeoutMs' in input && typeof input.timeoutMs === 'number'
      ? input.timeoutMs + WAIT_MARGIN_MS
      : 0;
  return Math.max(base, wait);
}

const duration = (ms: number) => (ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

const unavailable = (message: string): Result<unknown> => ({ ok: false, error: { code: 'UNAVAILABLE', message } });

/**
 * Browser mode: one WebSocket to the loopback server. It reconnects after a loss
 * (with backoff), replays every subscription on the new socket, fails the calls
 * that were in flight with a message that says their outcome is unknown, and
 * gives every call a timeout so none waits forever.
 */
export function webSocketTransport(
  url: string,
  options: WebSocketTransportOptions = {},
): Transport & { onStatus(cb: (s: EngineStatus) => void): () => void } {
  const timeoutFor = options.timeoutFor ?? invokeTimeoutMs;
  const firstDelay = options.reconnectDelayMs ?? 500;
  const maxDelay = options.maxReconnectDelayMs ?? 5_000;
  let socket: WebSocket | null = null;
  let opening: Promise<WebSocket> | null = null;
  let nextId = 1;
  let delay = firstDelay;
  // a connection failed or dropped since the last open: the next open is a comeback
  let lost = false;
  let retry: ReturnType<typeof setTimeout> | null = null;
  const pending = new Map<number, { command: string; done(r: Result<unknown>): void }>();
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const statusListeners = new Set<(s: EngineStatus) => void>();
  const send = (message: unknown) => socket?.send(JSON.stringify(message));

  const scheduleReconnect = () => {
    if (retry) return;
    retry = setTimeout(() => {
      retry = null;
      void connect().catch(() => undefined);
    }, delay);
    delay = Math.min(maxDelay, delay * 2);
  };

  const connect = (): Promise<WebSocket> => {
    if (socket) return Promise.resolve(socket);
    if (opening) return opening;
    opening = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url);
      let open = false;
      ws.onopen = () => {
        open = true;
        socket = ws;
        opening = null;
        delay = firstDelay;
        // the server forgets subscriptions with the socket: replay them all
        for (const event of listeners.keys()) send({ type: 'subscribe', event });
        const back = lost;
        lost = false;
        statusListeners.forEach((cb) => cb({ up: true, back }));
        resolve(ws);
      };
      ws.onmessage = (m) => {
        let msg: { type?: string; id?: number; result?: Result<unknown>; event?: string; payload?: unknown };
        try {
          msg = JSON.parse(String(m.data)) as typeof msg;
        } catch {
          return;
        }
        if (msg.type === 'result' && msg.id !== undefined) {
          // an answer after its timeout finds nothing pending and is dropped
          pending.get(msg.id)?.done(msg.result as Result<unknown>);
        } else if (msg.type === 'event' && msg.event) {
          listeners.get(msg.event)?.forEach((l) => l(msg.payload));
        }
      };
      // a socket that closes before it opened may report no error first: settle here too
      ws.onerror = () => {
        if (!open) reject(new Error('WebSocket connection failed'));
      };
      ws.onclose = () => {
        if (!open) {
          opening = null;
          reject(new Error('WebSocket connection failed'));
        } else {
          socket = null;
          for (const { command, done } of [...pending.values()]) {
            done(
              unavailable(
                `Lost the connection to the console engine while "${command}" was running; it may or may not have completed. The page reloads its data once the engine answers again: check there before retrying.`,
              ),
            );
          }
        }
        lost = true;
        statusListeners.forEach((cb) => cb({ up: false }));
        scheduleReconnect();
      };
    });
    return opening;
  };

  return {
    async invoke(command, input) {
      const ws = await connect().catch(() => null);
      if (!ws)
        return unavailable(
          'Cannot reach the console engine; in browser mode, check that `npm run serve` still runs (the page reconnects by itself).',
        );
      const id = nextId++;
      const ms = timeoutFor(command, input);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve(
            unavailable(
              `The console engine did not answer "${command}" within ${duration(ms)}. It may still be working on it: check the page (or the engine's log) before trying again.`,
            ),
          );
        }, ms);
        pending.set(id, {
          command,
          done: (r) => {
            clearTimeout(timer);
            pending.delete(id);
            resolve(r);
          },
        });
        ws.send(JSON.stringify({ type: 'invoke', id, command, input }));
      });
    },
    subscribe(event, listener) {
      let set = listeners.get(event);
      if (!set) {
        listeners.set(event, (set = new Set()));
        if (socket) send({ type: 'subscribe', event });
        else void connect().catch(() => undefined);
      }
      set.add(listener);
      return () => {
        set.delete(listener);
        // the last listener gone: the server stops sending it, and a reconnect does not replay it
        if (set.size === 0 && listeners.get(event) === set) {
          listeners.delete(event);
          send({ type: 'unsubscribe', event });
        }
      };
    },
    onStatus(cb) {
      statusListeners.add(cb);
      return () => statusListeners.delete(cb);
    },
  };
}

/** Picks Electron's preload bridge when present, else the WebSocket of browser mode. */
export function connectClient(): GatehouseClient {
  return connectClientWithStatus().client;
}

/**
 * Same as connectClient, plus whether the engine is reachable: the WebSocket
 * can drop (server stopped); Electron IPC is in-process and always up.
 */
export function connectClientWithStatus(): { client: GatehouseClient; onStatus(cb: (s: EngineStatus) => void): void } {
  if (window.gatehouse) return { client: createClient(window.gatehouse), onStatus: (cb) => cb({ up: true, back: false }) };
  // relative to the page: browser mode serves the console below a per-instance base path
  const ws = new URL('ws', location.href);
  ws.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  ws.hash = '';
  ws.search = '';
  const transport = webSocketTransport(ws.href);
  return { client: createClient(transport), onStatus: (cb) => void transport.onStatus(cb) };
}
