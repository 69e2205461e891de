import { EventBus } from '../../../src-main/engine/core/events';
import type {
  BridgeRouter,
  FrameLike,
  IpcEventLike,
  IpcLike,
  NavigationLike,
  SenderLike,
} from '../../../src-main/ipc/desktop-bridge/bridge';
import type { IpcRendererLike } from '../../../src-main/ipc/desktop-bridge/preload-api';
import { isEventName, type EventName, type Result } from '../../../src-shared/contract';

/*
 * Stand-ins for the bridge's own small interfaces (IpcLike, SenderLike, IpcRendererLike,
 * BridgeRouter), not for Electron. Delivery is synchronous; the bridge does not rely on order
 * across channels.
 */

type Listener = (...args: never[]) => unknown;

class Emitter {
  private readonly listeners = new Map<string, Array<{ fn: Listener; once: boolean }>>();
  on(event: string, fn: Listener) {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), { fn, once: false }]);
    return this;
  }
  once(event: string, fn: Listener) {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), { fn, once: true }]);
    return this;
  }
  removeListener(event: string, fn: Listener) {
    this.listeners.set(
      event,
      (this.listeners.get(event) ?? []).filter((l) => l.fn !== fn),
    );
    return this;
  }
  emit(event: string, ...args: unknown[]) {
    const current = this.listeners.get(event) ?? [];
    this.listeners.set(
      event,
      current.filter((l) => !l.once),
    );
    for (const l of current) (l.fn as (...a: unknown[]) => unknown)(...args);
  }
  count(event: string) {
    return (this.listeners.get(event) ?? []).length;
  }
}

export class FakeIpcMain implements IpcLike {
  readonly handlers = new Map<string, (event: IpcEventLike, ...args: unknown[]) => unknown>();
  private readonly emitter = new Emitter();
  handle(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => unknown) {
    if (this.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
    this.handlers.set(channel, listener);
  }
  on(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => void) {
    this.emitter.on(channel, listener);
    return this;
  }
  /** What ipcRenderer.invoke reaches. */
  async invoke(channel: string, event: IpcEventLike, ...args: unknown[]) {
    const handler = this.handlers.get(channel);
    if (!handler) throw new Error(`No handler registered for '${channel}'`);
    return handler(event, ...args);
  }
  /** What ipcRenderer.send reaches. */
  send(channel: string, event: IpcEventLike, ...args: unknown[]) {
    this.emitter.emit(channel, event, ...args);
  }
}

export const frame = (url: string, options: { parent?: FrameLike | null; detached?: boolean } = {}): FrameLike => ({
  url,
  parent: options.parent ?? null,
  detached: options.detached ?? false,
});

let nextId = 1;

/** One window's contents; what it sends goes to the renderer listeners of its current document. */
export class FakeWebContents implements SenderLike {
  readonly id = nextId++;
  readonly emitter = new Emitter();
  /** Every message main sent this window, in order. */
  readonly sent: Array<{ channel: string; args: unknown[] }> = [];
  /** The renderer side of the current document (set by FakeIpcRenderer). */
  renderer: FakeIpcRenderer | null = null;
  private destroyed = false;

  send(channel: string, ...args: unknown[]) {
    if (this.destroyed) throw new Error('Object has been destroyed');
    this.sent.push({ channel, args });
    this.renderer?.deliver(channel, args);
  }
  isDestroyed() {
    return this.destroyed;
  }
  once(event: string, listener: () => void) {
    this.emitter.once(event, listener);
    return this;
  }
  on(event: string, listener: (...args: never[]) => unknown) {
    this.emitter.on(event, listener);
    return this;
  }
  /** The window closed: isDestroyed() turns true now; `emitDestroyed` chooses whether 'destroyed' has fired yet. */
  destroy(emitDestroyed = true) {
    this.destroyed = true;
    if (emitDestroyed) this.emitter.emit('destroyed');
  }
  /** A navigation attempt; true when a listener called preventDefault. */
  attemptNavigation(event: 'will-navigate' | 'will-frame-navigate' | 'will-redirect', url: string): boolean {
    let prevented = false;
    const details: NavigationLike = { url, preventDefault: () => (prevented = true) };
    this.emitter.emit(event, details);
    return prevented;
  }
  /** A committed main-frame navigation. */
  didNavigate(url: string) {
    this.emitter.emit('did-navigate', {}, url);
  }
  /** Messages on one channel. */
  sentOn(channel: string) {
    return this.sent.filter((m) => m.channel === channel);
  }
}

/** The renderer side of one document in `contents`, talking to `ipcMain` from `senderFrame`. */
export class FakeIpcRenderer implements IpcRendererLike {
  private readonly emitter = new Emitter();
  constructor(
    private readonly ipcMain: FakeIpcMain,
    private readonly contents: FakeWebContents,
    public senderFrame: FrameLike | null,
  ) {
    contents.renderer = this;
  }
  private event(): IpcEventLike {
    return { sender: this.contents, senderFrame: this.senderFrame };
  }
  invoke(channel: string, ...args: unknown[]) {
    return this.ipcMain.invoke(channel, this.event(), ...args);
  }
  send(channel: string, ...args: unknown[]) {
    this.ipcMain.send(channel, this.event(), ...args);
  }
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void) {
    this.emitter.on(channel, listener);
    return this;
  }
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void) {
    this.emitter.removeListener(channel, listener);
    return this;
  }
  deliver(channel: string, args: unknown[]) {
    this.emitter.emit(channel, {}, ...args);
  }
  /** Renderer listeners on a channel. */
  listenerCount(channel: string) {
    return this.emitter.count(channel);
  }
}

/** The router's event side over the engine's real EventBus, counting live bus listeners; invoke records its calls. */
export class CountingRouter implements BridgeRouter {
  readonly bus = new EventBus();
  readonly invocations: Array<{ connectionId: string; command: unknown; input: unknown }> = [];
  subscribeCalls = 0;
  unsubscribeCalls = 0;
  private readonly live = new Map<string, number>();

  async invoke(connectionId: string, command: unknown, input: unknown): Promise<Result<unknown>> {
    this.invocations.push({ connectionId, command, input });
    return { ok: true, value: { echoed: command } };
  }
  subscribe(_connectionId: string, event: string, listener: (payload: unknown) => void) {
    if (!isEventName(event)) throw new Error(`unknown event ${event}`);
    this.subscribeCalls += 1;
    this.live.set(event, (this.live.get(event) ?? 0) + 1);
    const off = this.bus.subscribe(event as EventName, listener);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.unsubscribeCalls += 1;
      this.live.set(event, (this.live.get(event) ?? 0) - 1);
      off();
    };
  }
  /** Bus listeners the bridge holds, for one event or all. */
  listeners(event?: string) {
    if (event) return this.live.get(event) ?? 0;
    return [...this.live.values()].reduce((a, b) => a + b, 0);
  }
}
