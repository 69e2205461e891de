/**
 * The renderer loads only its own scripts and styles and talks only to its own origin.
 * The one source of the policy: browser mode's response header, Electron's header
 * (src-main/electron/main.ts) and the <meta> tag the renderer build writes into
 * index.html (vite.renderer.config.ts) all come from here.
 *
 * `'self'` already admits the page's own ws:// origin (CSP Level 3), whichever
 * loopback address serves it; the explicit ws:// sources cover the WebSocket of
 * a page loaded from file:// or a dev server. No IPv6 literal: `ws://[::1]:*` is
 * not a valid host-source and Chromium logs an error for it on every load.
 */
const DIRECTIVES = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self' ws://127.0.0.1:* ws://localhost:*",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
];

export const CONTENT_SECURITY_POLICY = DIRECTIVES.join('; ');

/** Directives a <meta> tag cannot deliver: browsers ignore them there and log an error. */
const HEADER_ONLY = new Set(['frame-ancestors', 'report-uri', 'sandbox']);

/** The same policy for the renderer's <meta http-equiv="Content-Security-Policy">. */
export const META_CONTENT_SECURITY_POLICY = DIRECTIVES.filter((d) => !HEADER_ONLY.has(d.split(' ')[0]!)).join('; ');
