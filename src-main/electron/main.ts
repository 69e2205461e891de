import { app, BrowserWindow, dialog, ipcMain, Menu, session, shell, type WebContents } from 'electron';
import path from 'node:path';
import { createEngine } from '../engine';
import { createRouter } from '../ipc/router';
import { CONTENT_SECURITY_POLICY } from '../serve/csp';
import { buildMenu } from './menu';

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
  const windows = new Set<WebContents>();
  const router = createRouter(engine, {
    async openFileDialog(options) {
      const result = await dialog.showOpenDialog({ title: options.title, filters: options.filters, properties: ['openFile'] });
      return result.canceled ? [] : result.filePaths;
    },
  });

  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));

  // Only our own windows may call the router.
  ipcMain.handle('gatehouse:invoke', (event, command: unknown, input: unknown) => {
    if (!windows.has(event.sender) || !isOwnFrame(event.senderFrame?.url)) {
      return { ok: false, error: { code: 'FORBIDDEN', message: 'IPC from an unknown sender was refused.' } };
    }
    return router.invoke(`electron:${event.sender.id}`, command, input);
  });
  ipcMain.on('gatehouse:subscribe', (event, name: unknown) => {
    if (!windows.has(event.sender) || typeof name !== 'string') return;
    const sender = event.sender;
    try {
      const off = router.subscribe(`electron:${sender.id}`, name, (payload) => {
        if (!sender.isDestroyed()) sender.send(`gatehouse:event:${name}`, payload);
      });
      sender.once('destroyed', off);
    } catch {
      // unknown event names are ignored
    }
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
    windows.add(win.webContents);
    win.webContents.on('destroyed', () => windows.delete(win.webContents));
    win.webContents.setWindowOpenHandler(({ url }) => {
      if (/^https?:\/\//.test(url)) void shell.openExternal(url);
      return { action: 'deny' };
    });
    win.webContents.on('will-navigate', (event, url) => {
      if (!isOwnFrame(url)) event.preventDefault();
    });
    win.once('ready-to-show', () => win.show());
    if (process.env.ELECTRON_RENDERER_URL) void win.loadURL(process.env.ELECTRON_RENDERER_URL);
    else void win.loadFile(path.join(import.meta.dirname, '../renderer/index.html'));
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

function isOwnFrame(url: string | undefined): boolean {
  if (!url) return false;
  if (process.env.ELECTRON_RENDERER_URL) return url.startsWith(process.env.ELECTRON_RENDERER_URL);
  return url.startsWith('file://');
}
