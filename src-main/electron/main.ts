import { app, BrowserWindow, dialog, ipcMain, Menu, protocol, session, shell } from 'electron';
import path from 'node:path';
import { createEngine } from '../engine';
import { APP_ENTRY_URL, APP_SCHEME, createAppProtocolHandler, devServerOrigin, ownPageChecker } from '../ipc/desktop-bridge/app-protocol';
import { createDesktopBridge } from '../ipc/desktop-bridge/bridge';
import { createRouter } from '../ipc/router';
import { CONTENT_SECURITY_POLICY } from '../serve/csp';
import { buildMenu } from './menu';

// Our page comes from app://gatehouse (its own origin), not file:// (shared by every local file).
// Privileged schemes must be registered before the app is ready. No corsEnabled: other origins cannot read app://.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

// Two consoles on one data directory would fight over the cache: the second one focuses the first.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  void start();
}

async function start() {
  await app.whenReady();
  let engine: ReturnType<typeof createEngine>;
  try {
    engine = createEngine({
      mode: 'electron',
      developmentMode: !app.isPackaged && process.env.GATEHOUSE_DEV === '1',
      resetLocalState: process.argv.includes('--reset-local-state'),
    });
  } catch (error) {
    // A corrupt durable-state file (LocalStateError) or an unwritable data dir: say so and stop.
    dialog.showErrorBox('Gatehouse cannot start', error instanceof Error ? error.message : String(error));
    app.exit(1);
    return;
  }
  const router = createRouter(engine, {
    async openFileDialog(options) {
      const result = await dialog.showOpenDialog({ title: options.title, filters: options.filters, properties: ['openFile'] });
      return result.canceled ? [] : result.filePaths;
    },
    async saveFileDialog(options) {
      const result = await dialog.showSaveDialog({
        title: options.title,
        defaultPath: options.defaultName,
        properties: ['createDirectory'],
      });
      return result.canceled || !result.filePath ? null : result.filePath;
    },
  });

  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));

  protocol.handle(APP_SCHEME, createAppProtocolHandler(path.join(import.meta.dirname, '../renderer'), CONTENT_SECURITY_POLICY));
  // electron-vite's dev server, only in an unpackaged app and only on loopback.
  const rendererUrl = process.env.ELECTRON_RENDERER_URL;
  const devOrigin = devServerOrigin(rendererUrl, app.isPackaged);
  if (rendererUrl && !devOrigin)
    engine.log.warn({ url: rendererUrl }, 'ELECTRON_RENDERER_URL ignored: not an unpackaged app on a loopback dev server');
  const isOwnPage = ownPageChecker(devOrigin);
  // Only our own windows showing our own page may call the router or navigate (src-main/ipc/desktop-bridge/bridge.ts).
  const bridge = createDesktopBridge({
    ipc: ipcMain,
    router,
    isOwnPage,
    onRefused: (what, details) => engine.log.warn({ ...details, what }, 'refused IPC or navigation from outside the console page'),
  });

  const createWindow = () => {
    const win = new BrowserWindow({
      width: 1360,
      height: 860,
      title: 'Gatehouse',
      show: false,
      webPreferences: {
        preload: path.join(import.meta.dirname, '../preload/index.cjs'),
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        webviewTag: false,
        spellcheck: false,
      },
    });
    bridge.attach(win.webContents);
    win.webContents.setWindowOpenHandler(({ url }) => {
      if (/^https?:\/\//.test(url)) void shell.openExternal(url);
      return { action: 'deny' };
    });
    win.once('ready-to-show', () => win.show());
    void win.loadURL(devOrigin && rendererUrl ? rendererUrl : APP_ENTRY_URL);
    return win;
  };

  Menu.setApplicationMenu(buildMenu());
  let main = createWindow();
  app.on('second-instance', () => {
    if (main.isDestroyed()) main = createWindow();
    if (main.isMinimized()) main.restore();
    main.focus();
  });
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) main = createWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('will-quit', () => void engine.close());
}
