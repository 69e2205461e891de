import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { CONTENT_SECURITY_POLICY } from './csp';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

export function plainReply(res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(message);
}

/**
 * Serves a file of the built renderer. `relative` is the raw (still percent-encoded)
 * path below the instance's base path; malformed encodings and NUL bytes are the
 * client's error (400), never an exception. Unknown paths get the single-page shell.
 */
export function serveStatic(root: string, relative: string, req: http.IncomingMessage, res: http.ServerResponse) {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return plainReply(res, 400, 'The path has a malformed percent-encoding.');
  }
  if (decoded.includes('\0')) return plainReply(res, 400, 'The path contains a NUL byte.');
  const rootAbs = path.resolve(root);
  // normalising against "/" first means ".." can never climb above the root
  let file = path.resolve(rootAbs, `.${path.posix.normalize(`/${decoded.replace(/\\/g, '/')}`)}`);
  if (file !== rootAbs && !file.startsWith(rootAbs + path.sep)) file = path.join(rootAbs, 'index.html');
  let stat = fs.statSync(file, { throwIfNoEntry: false }) ?? null;
  if (!stat || !stat.isFile()) {
    file = path.join(rootAbs, 'index.html');
    try {
      stat = fs.statSync(file);
    } catch {
      return plainReply(res, 503, `The UI is not built (${root} is empty). Run \`npm run build:web\` first.`);
    }
  }
  res.writeHead(200, {
    'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
    'content-length': String(stat.size),
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'x-frame-options': 'DENY',
    'cache-control': path.basename(file) === 'index.html' ? 'no-store' : 'max-age=3600',
  });
  if (req.method === 'HEAD') return void res.end();
  const stream = fs.createReadStream(file);
  // a file removed or unreadable mid-way ends this response, not the process
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
