import type { Result } from '../../../src-shared/contract';
import { CHANNELS, eventChannel } from './channels';

/*
 * The main-process half of the desktop bridge, without Electron: src-main/electron/main.ts
 * hands it ipcMain and each window's webContents, which satisfy the small interfaces
 * below. Unit tests hand it fakes of these interfaces (test/unit/desktop-bridge/).
 */

/** The frame a message came from (Electron's WebFrameMain). */
export interface FrameLike {
  readonly url: string;
  /** null for a top-level frame. */
  readonly parent: unknown;
  /** true once the frame navigated away or was removed. */
  readonly detached?: boolean;
}

/** What a navigation event hands its listeners (Electron's will-navigate / will-frame-navigate / will-redirect details). */
export interface NavigationLike {
  readonly url: string;
  preventDefault(): void;
}

/** One of our windows' contents (Electron's WebContents). */
export interface SenderLike {
  readonly id: number;
  send(channel: string, ...args: unknown[]): void;
  isDestroyed(): boolean;
  once(event: 'destroyed', listener: () => void): unknown;
  on(event: 'did-navigate', listener: (event: unknown, url: string) => void): unknown;
  on(event: 'will-navigate' | 'will-frame-navigate' | 'will-redirect', listener: (details: NavigationLike) => void): unknown;
}

export interface IpcEventLike {
  readonly sender: SenderLike;
  readonly senderFrame: FrameLike | null;
}

/** Electron's ipcMain. */
export interface IpcLike {
  handle(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => unknown): void;
  on(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => void): unknown;
}

/** The part of the router (src-main/ipc/router.ts) the bridge uses. */
export interface BridgeRouter {
  invoke(connectionId: string, command: unknown, input: unknown): Promise<Result<unknown>>;
  /** Delivers only while the connection's operator may see the event (signed in, at least the event's role). */
  subscribe(connectionId: string, event: string, listener: (payload: unknown) => void): () => void;
}

export interface DesktopBridgeOptions {
  ipc: IpcLike;
  router: BridgeRouter;
  /** Our page: app://gatehouse (and the dev server when unpackaged); see app-protocol.ts. */
  isOwnPage(url: unknown): boolean;
  /** A refused message or navigation, for the log. */
  onRefused?(what: string, details: { senderId: number; url: string | null }): void;
}

export interface DesktopBridge {
  /** Makes a window's contents one of ours: it may call the router, and may navigate only to our page. */
  attach(sender: SenderLike): void;
  /** The router subscriptions held for a sender, by event (tests, diagnostics). */
  subscriptions(sender: SenderLike): ReadonlyMap<string, number>;
}

export const REFUSED_SENDER: Result<unknown> = {
  ok: false,
  error: {
    code: 'FORBIDDEN',
    message: 'IPC from a page that is not the console was refused. Restart Gatehouse if the window shows something else.',
  },
};

/** The connection id the pipeline sees for a window: stable for the window's life, across reloads. */
export const connectionIdOf = (sender: SenderLike) => `electron:${sender.id}`;

interface Subscription {
  /** Renderer subscribe messages not yet matched by an unsubscribe. */
  count: number;
  off: () => void;
}

export function createDesktopBridge(options: DesktopBridgeOptions): DesktopBridge {
  const { ipc, router, isOwnPage } = options;
  /** Our windows, each with its router subscriptions: at most one per event, however many renderer listeners. */
  const windows = new Map<SenderLike, Map<string, Subscription>>();

  const releaseAll = (sender: SenderLike) => {
    const subscriptions = windows.get(sender);
    if (!subscriptions) return;
    for (const subscription of subscriptions.values()) subscription.off();
    subscriptions.clear();
  };

  /** The sender's subscriptions when the message comes from the top frame of one of our windows showing our page; else null. */
  const accept = (what: string, event: IpcEventLike): Map<string, Subscription> | null => {
    const subscriptions = windows.get(event.sender);
    const frame = event.senderFrame;
    const ok =
      subscriptions !== undefined &&
      !event.sender.isDestroyed() &&
      frame != null &&
      frame.parent == null &&
      frame.detached !== true &&
      isOwnPage(frame.url);
    if (ok) return subscriptions;
    options.onRefused?.(what, { senderId: event.sender.id, url: frame?.url ?? null });
    return null;
  };

  ipc.handle(CHANNELS.invoke, (event, command, input) => {
    if (!accept(CHANNELS.invoke, event)) return REFUSED_SENDER;
    return router.invoke(connectionIdOf(event.sender), command, input);
  });

  ipc.on(CHANNELS.subscribe, (event, name) => {
    const subscriptions = accept(CHANNELS.subscribe, event);
    if (!subscriptions || typeof name !== 'string') return;
    const existing = subscriptions.get(name);
    if (existing) {
      existing.count += 1;
      return;
    }
    const sender = event.sender;
    const channel = eventChannel(name);
    let off: () => void;
    try {
      off = router.subscribe(connectionIdOf(sender), name, (payload) => {
        if (sender.isDestroyed()) releaseAll(sender);
        else sender.send(channel, payload);
      });
    } catch {
      return; // not a contract event: nothing to subscribe to
    }
    subscriptions.set(name, { count: 1, off });
  });

  ipc.on(CHANNELS.unsubscribe, (event, name) => {
    const subscriptions = accept(CHANNELS.unsubscribe, event);
    if (!subscriptions || typeof name !== 'string') return;
    const existing = subscriptions.get(name);
    if (!existing) return;
    existing.count -= 1;
    if (existing.count > 0) return;
    existing.off();
    subscriptions.delete(name);
  });

  // A reloaded page starts with no listeners; what main held was the previous document's.
  ipc.on(CHANNELS.documentStart, (event) => {
    if (accept(CHANNELS.documentStart, event)) releaseAll(event.sender);
  });

  return {
    attach(sender) {
      if (windows.has(sender)) return;
      windows.set(sender, new Map());
      sender.once('destroyed', () => {
        releaseAll(sender);
        windows.delete(sender);
      });
      const guard = (what: string) => (details: NavigationLike) => {
        if (isOwnPage(details.url)) return;
        details.preventDefault();
        options.onRefused?.(what, { senderId: sender.id, url: details.url });
      };
      sender.on('will-navigate', guard('will-navigate'));
      sender.on('will-frame-navigate', guard('will-frame-navigate'));
      sender.on('will-redirect', guard('will-redirect'));
      // Should a navigation away ever commit, nothing of ours runs there any more.
      sender.on('did-navigate', (_event, url) => {
        if (!isOwnPage(url)) releaseAll(sender);
      });
    },
    subscriptions(sender) {
      return new Map([...(windows.get(sender) ?? new Map<string, Subscription>())].map(([name, s]) => [name, s.count]));
    },
  };
}
