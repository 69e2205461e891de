import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * The desktop app serves its page from app://gatehouse/ (a privileged standard
 * secure scheme registered by src-main/electron/main.ts), not file://: every
 * local file shares the file:// origin, app://gatehouse is ours alone.
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'gatehouse';
export const APP_ENTRY_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

function parseUrl(url: unknown): URL | null {
  if (typeof url !== 'string' || url === '') return null;
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/**
 * Exactly app://gatehouse (any path). Parsed, not prefix-matched: app://gatehouse.evil,
 * app://gatehouse@x (host x), app://gatehouse:1 and app://other are not ours.
 */
export function isAppPageUrl(url: unknown): boolean {
  const parsed = parseUrl(url);
  return (
    parsed !== null && parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST && parsed.username === '' && parsed.password === ''
  );
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The origin of electron-vite's dev server (ELECTRON_RENDERER_URL), trusted only in an
 * unpackaged app and only on loopback; null otherwise (the app then loads app://).
 */
export function devServerOrigin(rendererUrl: string | undefined, isPackaged: boolean): string | null {
  if (isPackaged) return null;
  const parsed = parseUrl(rendererUrl);
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) return null;
  if (parsed.username !== '' || parsed.password !== '' || !LOOPBACK.has(parsed.hostname)) return null;
  return parsed.origin;
}

/** Whether a URL (a frame's, a navigation target) is our own page: app://gatehouse, or the allowed dev server. */
export function ownPageChecker(devOrigin: string | null): (url: unknown) => boolean {
  return (url) => {
    if (isAppPageUrl(url)) return true;
    if (devOrigin === null) return false;
    const parsed = parseUrl(url);
    return parsed !== null && parsed.username === '' && parsed.password === '' && parsed.origin === devOrigin;
  };
}

// The raw path as the request spelled it, before URL parsing resolves dot segments for us.
const RAW_APP_URL = /^app:\/\/gatehouse(\/[^?#]*)?(?:[?#].*)?$/;
// A segment that could leave the folder or name something else on some OS (drive letters, NTFS streams).
const UNSAFE_SEGMENT = /[/\\\0:]/;

/**
 * The file under `root` an app:// URL names, or null when the URL is refused: not
 * app://gatehouse, a dot segment (raw or percent-encoded), a backslash, a NUL, a
 * colon, an empty segment, or a malformed escape. "/" is index.html.
 */
export function resolveAppAsset(root: string, url: string): string | null {
  if (!isAppPageUrl(url)) return null;
  const match = RAW_APP_URL.exec(url);
  if (!match) return null;
  const rawPath = match[1] ?? '/';
  const segments: string[] = [];
  for (const raw of rawPath.slice(1).split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (segment === '' || segment === '.' || segment === '..' || UNSAFE_SEGMENT.test(segment)) {
      if (segment === '' && rawPath === '/') break;
      return null;
    }
    segments.push(segment);
  }
  if (segments.length === 0) segments.push('index.html');
  const base = path.resolve(root);
  const file = path.resolve(base, ...segments);
  const relative = path.relative(base, file);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return null;
  return file;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
};

const plain = (status: number, text: string) =>
  new Response(text, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' } });

/**
 * The app:// handler: serves files of `root` (out/renderer) with the given CSP; refuses
 * anything resolveAppAsset refuses and any symlink that leads outside `root`.
 */
export function createAppProtocolHandler(root: string, contentSecurityPolicy: string): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return plain(405, 'Only GET and HEAD are served.');
    const file = resolveAppAsset(root, request.url);
    if (!file) return plain(403, 'Refused: not a file of the console.');
    let body: Buffer;
    try {
      const [realRoot, realFile] = await Promise.all([fs.realpath(root), fs.realpath(file)]);
      const relative = path.relative(realRoot, realFile);
      if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative))
        return plain(403, 'Refused: not a file of the console.');
      if (!(await fs.stat(realFile)).isFile()) return plain(404, 'Not found.');
      body = await fs.readFile(realFile);
    } catch {
      return plain(404, 'Not found.');
    }
    return new Response(request.method === 'HEAD' ? null : new Uint8Array(body), {
      status: 200,
      headers: {
        'content-type': MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
        'content-security-policy': contentSecurityPolicy,
        'x-content-type-options': 'nosniff',
        'cache-control': path.basename(file) === 'index.html' ? 'no-store' : 'max-age=3600',
      },
    });
  };
}
