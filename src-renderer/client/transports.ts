import type { Result } from '../../src-shared/contract';
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

/** Browser mode: one WebSocket to the loopback server, reconnecting, with pending calls failed clearly on loss. */
export function webSocketTransport(url: string): Transport & { onStatus(cb: (up: boolean) => void): void } {
  let socket: WebSocket | null = null;
  let nextId = 1;
  const pending = new Map<number, (r: Result<unknown>) => void>();
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const statusListeners = new Set<(up: boolean) => void>();
  let opened: Promise<WebSocket> | null = null;

  const connect = (): Promise<WebSocket> => {
    if (opened) return opened;
    opened = new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => {
        socket = ws;
        for (const event of listeners.keys()) ws.send(JSON.stringify({ type: 'subscribe', event }));
        statusListeners.forEach((cb) => cb(true));
        resolve(ws);
      };
      ws.onmessage = (m) => {
        const msg = JSON.parse(String(m.data)) as { type: string; id?: number; result?: Result<unknown>; event?: string; payload?: unknown };
        if (msg.type === 'result' && msg.id !== undefined) {
          pending.get(msg.id)?.(msg.result as Result<unknown>);
          pending.delete(msg.id);
        } else if (msg.type === 'event' && msg.event) {
          listeners.get(msg.event)?.forEach((l) => l(msg.payload));
        }
      };
      ws.onclose = () => {
        socket = null;
        opened = null;
        statusListeners.forEach((cb) => cb(false));
        for (const [id, done] of pending) {
          done({ ok: false, error: { code: 'UNAVAILABLE', message: 'Lost the connection to the console engine; reload the page once it is running again.' } });
          pending.delete(id);
        }
        setTimeout(() => void connect().catch(() => undefined), 1000);
      };
      ws.onerror = () => reject(new Error('WebSocket connection failed'));
    });
    return opened;
  };

  return {
    async invoke(command, input) {
      const ws = await connect().catch(() => null);
      if (!ws) return { ok: false, error: { code: 'UNAVAILABLE', message: 'Cannot reach the console engine; is `npm run serve` still running?' } };
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        ws.send(JSON.stringify({ type: 'invoke', id, command, input }));
      });
    },
    subscribe(event, listener) {
      let set = listeners.get(event);
      if (!set) {
        listeners.set(event, (set = new Set()));
        if (socket) socket.send(JSON.stringify({ type: 'subscribe', event }));
        else void connect().catch(() => undefined);
      }
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    onStatus(cb) {
      statusListeners.add(cb);
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
export function connectClientWithStatus(): { client: GatehouseClient; onStatus(cb: (up: boolean) => void): void } {
  if (window.gatehouse) return { client: createClient(window.gatehouse), onStatus: (cb) => cb(true) };
  // relative to the page: browser mode serves the console below a per-instance base path
  const ws = new URL('ws', location.href);
  ws.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  ws.hash = '';
  ws.search = '';
  const transport = webSocketTransport(ws.href);
  return { client: createClient(transport), onStatus: (cb) => transport.onStatus(cb) };
}
