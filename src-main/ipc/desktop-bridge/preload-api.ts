import type { Result } from '../../../src-shared/contract';
import { CHANNELS, eventChannel } from './channels';

/*
 * The renderer half of the desktop bridge, without Electron: src-main/electron/preload.ts
 * hands it ipcRenderer and exposes the result as window.gatehouse. Only ./channels is
 * imported, so the sandboxed preload bundle stays this small.
 */

/** Electron's ipcRenderer. */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  send(channel: string, ...args: unknown[]): void;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

/** What window.gatehouse offers (src-renderer/client/transports.ts: PreloadBridge). */
export interface PreloadApi {
  invoke(command: string, input: unknown): Promise<Result<unknown>>;
  subscribe(event: string, listener: (payload: unknown) => void): () => void;
}

interface Topic {
  /** One entry per subscribe call, so the same function subscribed twice is two listeners. */
  listeners: Set<{ listener: (payload: unknown) => void }>;
  onMessage: (event: unknown, payload: unknown) => void;
}

/**
 * Counts renderer listeners per event: the first one subscribes in main, the last one
 * leaving unsubscribes there, and each event message reaches every listener once.
 */
export function createPreloadApi(
  ipc: IpcRendererLike,
  reportListenerError: (error: unknown) => void = (error) => console.error(error),
): PreloadApi {
  const topics = new Map<string, Topic>();
  ipc.send(CHANNELS.documentStart);

  return {
    invoke: (command, input) => ipc.invoke(CHANNELS.invoke, command, input) as Promise<Result<unknown>>,
    subscribe(event, listener) {
      if (typeof event !== 'string' || typeof listener !== 'function') throw new TypeError('subscribe(event: string, listener: function)');
      let topic = topics.get(event);
      if (!topic) {
        const listeners: Topic['listeners'] = new Set();
        const onMessage = (_event: unknown, payload: unknown) => {
          // a copy: a listener may unsubscribe itself or another one while we deliver
          for (const entry of [...listeners]) {
            if (!listeners.has(entry)) continue;
            try {
              entry.listener(payload);
            } catch (error) {
              reportListenerError(error); // one broken listener must not starve the others
            }
          }
        };
        const created: Topic = { listeners, onMessage };
        topic = created;
        topics.set(event, created);
        ipc.on(eventChannel(event), onMessage);
        ipc.send(CHANNELS.subscribe, event);
      }
      const current = topic;
      const entry = { listener };
      current.listeners.add(entry);
      let subscribed = true;
      return () => {
        if (!subscribed) return;
        subscribed = false;
        current.listeners.delete(entry);
        if (current.listeners.size > 0 || topics.get(event) !== current) return;
        topics.delete(event);
        ipc.removeListener(eventChannel(event), current.onMessage);
        ipc.send(CHANNELS.unsubscribe, event);
      };
    },
  };
}
