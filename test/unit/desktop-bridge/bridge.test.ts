import { describe, expect, it } from 'vitest';
import { APP_ENTRY_URL, devServerOrigin, ownPageChecker } from '../../../src-main/ipc/desktop-bridge/app-protocol';
import { createDesktopBridge, REFUSED_SENDER, type IpcEventLike } from '../../../src-main/ipc/desktop-bridge/bridge';
import { CHANNELS, eventChannel } from '../../../src-main/ipc/desktop-bridge/channels';
import { createPreloadApi } from '../../../src-main/ipc/desktop-bridge/preload-api';
import { CountingRouter, FakeIpcMain, FakeIpcRenderer, FakeWebContents, frame } from './fakes';

const AUDIT = 'audit.changed';
const payload = (n: number) => ({ pendingOutbox: n, localCopyCount: 0 });

/** A desktop app in miniature: the bridge on a fake ipcMain, a window showing app://gatehouse with its preload. */
function setup(options: { devOrigin?: string | null } = {}) {
  const ipc = new FakeIpcMain();
  const router = new CountingRouter();
  const refused: string[] = [];
  const bridge = createDesktopBridge({
    ipc,
    router,
    isOwnPage: ownPageChecker(options.devOrigin ?? null),
    onRefused: (what) => refused.push(what),
  });
  const openWindow = (url = APP_ENTRY_URL) => {
    const contents = new FakeWebContents();
    bridge.attach(contents);
    const renderer = new FakeIpcRenderer(ipc, contents, frame(url));
    return { contents, renderer, api: createPreloadApi(renderer) };
  };
  return { ipc, router, bridge, refused, openWindow };
}

describe('desktop bridge: subscriptions', () => {
  it('leaves no bus listener behind after 200 subscribe/unsubscribe cycles, and sends nothing afterwards', () => {
    const { router, bridge, openWindow } = setup();
    const { contents, api } = openWindow();
    for (let i = 0; i < 200; i++) {
      const off = api.subscribe(AUDIT, () => undefined);
      expect(router.listeners(AUDIT)).toBe(1);
      off();
    }
    expect(router.listeners()).toBe(0);
    expect(router.subscribeCalls).toBe(200);
    expect(router.unsubscribeCalls).toBe(200);
    expect(bridge.subscriptions(contents).size).toBe(0);
    router.bus.publish(AUDIT, payload(1));
    expect(contents.sentOn(eventChannel(AUDIT))).toHaveLength(0);
  });

  it('gives two renderer listeners of one event one router subscription, and each listener every event once', () => {
    const { router, bridge, openWindow } = setup();
    const { contents, renderer, api } = openWindow();
    const first: unknown[] = [];
    const second: unknown[] = [];
    const offFirst = api.subscribe(AUDIT, (p) => first.push(p));
    const offSecond = api.subscribe(AUDIT, (p) => second.push(p));
    expect(router.subscribeCalls).toBe(1);
    expect(bridge.subscriptions(contents).get(AUDIT)).toBe(1);
    expect(renderer.listenerCount(eventChannel(AUDIT))).toBe(1);

    router.bus.publish(AUDIT, payload(1));
    expect(contents.sentOn(eventChannel(AUDIT))).toHaveLength(1);
    expect(first).toEqual([payload(1)]);
    expect(second).toEqual([payload(1)]);

    offFirst();
    offFirst(); // a second call of the same unsubscribe must not take the other listener's place
    expect(router.listeners(AUDIT)).toBe(1);
    router.bus.publish(AUDIT, payload(2));
    expect(first).toEqual([payload(1)]);
    expect(second).toEqual([payload(1), payload(2)]);

    offSecond();
    expect(router.listeners()).toBe(0);
    expect(renderer.listenerCount(eventChannel(AUDIT))).toBe(0);
  });

  it('treats the same function subscribed twice as two listeners', () => {
    const { router, openWindow } = setup();
    const { api } = openWindow();
    const seen: unknown[] = [];
    const listener = (p: unknown) => seen.push(p);
    const offA = api.subscribe(AUDIT, listener);
    api.subscribe(AUDIT, listener);
    offA();
    router.bus.publish(AUDIT, payload(3));
    expect(seen).toEqual([payload(3)]);
  });

  it('keeps delivering to the other listeners when one throws', () => {
    const { router, openWindow } = setup();
    const { contents, renderer } = openWindow();
    const errors: unknown[] = [];
    const api = createPreloadApi(renderer, (e) => errors.push(e));
    const seen: unknown[] = [];
    api.subscribe(AUDIT, () => {
      throw new Error('broken page listener');
    });
    api.subscribe(AUDIT, (p) => seen.push(p));
    router.bus.publish(AUDIT, payload(4));
    expect(seen).toEqual([payload(4)]);
    expect(errors).toHaveLength(1);
    expect(contents.sentOn(eventChannel(AUDIT))).toHaveLength(1);
  });

  it('counts raw subscribe messages per sender and event: one router subscription, released by the last unsubscribe only', () => {
    const { ipc, router, bridge, openWindow } = setup();
    const { contents } = openWindow();
    const event: IpcEventLike = { sender: contents, senderFrame: frame(APP_ENTRY_URL) };
    ipc.send(CHANNELS.unsubscribe, event, AUDIT); // nothing held: no negative count
    ipc.send(CHANNELS.subscribe, event, AUDIT);
    ipc.send(CHANNELS.subscribe, event, AUDIT);
    expect(router.subscribeCalls).toBe(1);
    expect(bridge.subscriptions(contents).get(AUDIT)).toBe(2);
    ipc.send(CHANNELS.unsubscribe, event, AUDIT);
    expect(router.listeners(AUDIT)).toBe(1);
    ipc.send(CHANNELS.unsubscribe, event, AUDIT);
    expect(router.listeners(AUDIT)).toBe(0);
    ipc.send(CHANNELS.unsubscribe, event, AUDIT);
    ipc.send(CHANNELS.subscribe, event, AUDIT);
    expect(bridge.subscriptions(contents).get(AUDIT)).toBe(1);
  });

  it('ignores names that are not contract events and anything that is not a string', () => {
    const { ipc, router, bridge, openWindow } = setup();
    const { contents, api } = openWindow();
    api.subscribe('no.such.event', () => undefined);
    const event: IpcEventLike = { sender: contents, senderFrame: frame(APP_ENTRY_URL) };
    ipc.send(CHANNELS.subscribe, event, { toString: () => AUDIT });
    ipc.send(CHANNELS.subscribe, event);
    expect(router.listeners()).toBe(0);
    expect(bridge.subscriptions(contents).size).toBe(0);
  });

  it("keeps one window's subscriptions apart from another's", () => {
    const { router, openWindow } = setup();
    const a = openWindow();
    const b = openWindow();
    const offA = a.api.subscribe(AUDIT, () => undefined);
    b.api.subscribe(AUDIT, () => undefined);
    expect(router.listeners(AUDIT)).toBe(2);
    offA();
    router.bus.publish(AUDIT, payload(5));
    expect(a.contents.sentOn(eventChannel(AUDIT))).toHaveLength(0);
    expect(b.contents.sentOn(eventChannel(AUDIT))).toHaveLength(1);
  });
});

describe('desktop bridge: window lifecycle', () => {
  it('removes every subscription of a destroyed window', () => {
    const { router, bridge, openWindow } = setup();
    const { contents, api } = openWindow();
    api.subscribe(AUDIT, () => undefined);
    api.subscribe('cluster.state', () => undefined);
    api.subscribe('tenants.changed', () => undefined);
    expect(router.listeners()).toBe(3);
    contents.destroy();
    expect(router.listeners()).toBe(0);
    expect(bridge.subscriptions(contents).size).toBe(0);
  });

  it('sends nothing to a window already destroyed, and drops its subscriptions then', () => {
    const { router, openWindow } = setup();
    const { contents, api } = openWindow();
    api.subscribe(AUDIT, () => undefined);
    contents.destroy(false); // isDestroyed() is true before 'destroyed' has been emitted
    expect(() => router.bus.publish(AUDIT, payload(6))).not.toThrow();
    expect(contents.sent).toHaveLength(0);
    expect(router.listeners()).toBe(0);
  });

  it('refuses messages from a window already destroyed', async () => {
    const { router, openWindow } = setup();
    const { contents, api } = openWindow();
    contents.destroy(false);
    await expect(api.invoke('system.info', {})).resolves.toEqual(REFUSED_SENDER);
    api.subscribe(AUDIT, () => undefined);
    expect(router.invocations).toHaveLength(0);
    expect(router.subscribeCalls).toBe(0);
  });

  it('on a reload, releases what the previous document held: each event reaches the new page once', () => {
    const { ipc, router, openWindow } = setup();
    const { contents, api } = openWindow();
    api.subscribe(AUDIT, () => undefined);
    api.subscribe('cluster.state', () => undefined);
    // the same window loads the page again: a new document with a new preload
    const reloaded = createPreloadApi(new FakeIpcRenderer(ipc, contents, frame(APP_ENTRY_URL)));
    expect(router.listeners()).toBe(0);
    const seen: unknown[] = [];
    reloaded.subscribe(AUDIT, (p) => seen.push(p));
    router.bus.publish(AUDIT, payload(7));
    expect(seen).toEqual([payload(7)]);
    expect(router.listeners()).toBe(1);
  });

  it('releases everything should the window ever commit a navigation away from our page', () => {
    const { router, openWindow } = setup();
    const { contents, api } = openWindow();
    api.subscribe(AUDIT, () => undefined);
    contents.didNavigate('app://gatehouse/index.html');
    expect(router.listeners()).toBe(1);
    contents.didNavigate('https://example.com/');
    expect(router.listeners()).toBe(0);
  });

  it('prevents navigation, frame navigation and redirects to anything but our page', () => {
    const { openWindow, refused } = setup();
    const { contents } = openWindow();
    for (const kind of ['will-navigate', 'will-frame-navigate', 'will-redirect'] as const) {
      expect(contents.attemptNavigation(kind, 'app://gatehouse/index.html#/tenants')).toBe(false);
      for (const url of [
        'https://example.com/',
        'file:///etc/passwd',
        'app://gatehouse.evil/index.html',
        'app://gatehouse@evil/',
        'app://other/index.html',
        'javascript:alert(1)',
        '',
      ]) {
        expect(contents.attemptNavigation(kind, url), `${kind} ${url}`).toBe(true);
      }
    }
    expect(refused.filter((r) => r === 'will-navigate')).toHaveLength(7);
  });
});

describe('desktop bridge: who may call', () => {
  const FOREIGN = [
    'file:///opt/gatehouse/resources/app/out/renderer/index.html',
    'https://gatehouse/index.html',
    'http://localhost:5173/',
    'app://other/index.html',
    'app://gatehouse.evil/index.html',
    'app://gatehouse@evil/index.html',
    'app://gatehouse:8080/index.html',
    'app://user:pw@gatehouse/index.html',
    'app:gatehouse/index.html',
    'about:blank',
    'data:text/html,<p>x</p>',
    '',
  ];

  it('lets our page invoke with a connection id stable for the window, across calls and reloads', async () => {
    const { ipc, router, openWindow } = setup();
    const { contents, api } = openWindow();
    await expect(api.invoke('system.info', {})).resolves.toEqual({ ok: true, value: { echoed: 'system.info' } });
    const reloaded = createPreloadApi(new FakeIpcRenderer(ipc, contents, frame('app://gatehouse/index.html#/audit')));
    await reloaded.invoke('system.info', {});
    const other = openWindow();
    await other.api.invoke('system.info', {});
    expect(router.invocations.map((i) => i.connectionId)).toEqual([
      `electron:${contents.id}`,
      `electron:${contents.id}`,
      `electron:${other.contents.id}`,
    ]);
  });

  it.each(FOREIGN)('refuses invoke and subscribe from a frame showing %j', async (url) => {
    const { router, bridge, refused, openWindow } = setup();
    const { contents, api } = openWindow(url);
    await expect(api.invoke('system.info', {})).resolves.toEqual(REFUSED_SENDER);
    api.subscribe(AUDIT, () => undefined);
    expect(router.invocations).toHaveLength(0);
    expect(router.listeners()).toBe(0);
    expect(bridge.subscriptions(contents).size).toBe(0);
    expect(refused).toContain(CHANNELS.invoke);
    expect(refused).toContain(CHANNELS.subscribe);
  });

  it('refuses a sub-frame, even one showing our page, a detached frame and a message without a frame', async () => {
    const { ipc, router, openWindow } = setup();
    const { contents } = openWindow();
    const top = frame(APP_ENTRY_URL);
    for (const senderFrame of [
      frame(APP_ENTRY_URL, { parent: top }),
      frame('https://ads.example/', { parent: top }),
      frame(APP_ENTRY_URL, { detached: true }),
      null,
    ]) {
      const api = createPreloadApi(new FakeIpcRenderer(ipc, contents, senderFrame));
      await expect(api.invoke('system.info', {})).resolves.toEqual(REFUSED_SENDER);
      api.subscribe(AUDIT, () => undefined);
    }
    expect(router.invocations).toHaveLength(0);
    expect(router.listeners()).toBe(0);
  });

  it('refuses a web contents that is not one of our windows, even showing our page', async () => {
    const { ipc, router } = setup();
    const stranger = new FakeWebContents();
    const api = createPreloadApi(new FakeIpcRenderer(ipc, stranger, frame(APP_ENTRY_URL)));
    await expect(api.invoke('system.info', {})).resolves.toEqual(REFUSED_SENDER);
    api.subscribe(AUDIT, () => undefined);
    expect(router.invocations).toHaveLength(0);
    expect(router.listeners()).toBe(0);
  });

  it("refuses a foreign frame's unsubscribe and reset: they cannot tear down our page's subscriptions", () => {
    const { ipc, router, openWindow } = setup();
    const { contents, api } = openWindow();
    api.subscribe(AUDIT, () => undefined);
    const foreign: IpcEventLike = { sender: contents, senderFrame: frame(APP_ENTRY_URL, { parent: frame(APP_ENTRY_URL) }) };
    ipc.send(CHANNELS.unsubscribe, foreign, AUDIT);
    ipc.send(CHANNELS.documentStart, foreign);
    expect(router.listeners(AUDIT)).toBe(1);
  });

  it('trusts the dev server only unpackaged, on loopback, by exact origin', async () => {
    expect(devServerOrigin('http://localhost:5173', false)).toBe('http://localhost:5173');
    expect(devServerOrigin('http://localhost:5173', true)).toBeNull();
    expect(devServerOrigin('http://192.168.1.20:5173', false)).toBeNull();
    expect(devServerOrigin('http://localhost:5173@evil.example/', false)).toBeNull();
    expect(devServerOrigin('file:///tmp/index.html', false)).toBeNull();
    expect(devServerOrigin(undefined, false)).toBeNull();

    const { router, openWindow } = setup({ devOrigin: devServerOrigin('http://localhost:5173', false) });
    await openWindow('http://localhost:5173/#/tenants').api.invoke('system.info', {});
    expect(router.invocations).toHaveLength(1);
    for (const url of ['http://localhost:5174/', 'http://localhost:5173.evil.example/', 'https://localhost:5173/']) {
      await expect(openWindow(url).api.invoke('system.info', {})).resolves.toEqual(REFUSED_SENDER);
    }
    expect(router.invocations).toHaveLength(1);
  });
});
