import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import path from 'node:path';
import { META_CONTENT_SECURITY_POLICY } from './src-main/serve/csp.js';

/**
 * What keeps the renderer inside its CSP, for both builds (this one and electron.vite.config.ts):
 * - the <meta> tag is written from the one policy source (src-main/serve/csp.ts), so the
 *   tag and the headers of Electron and browser mode cannot drift apart;
 * - `zod` resolves to src-renderer/zod-jitless.ts (zod without its eval-probing JIT).
 */
export function rendererCsp(): Plugin {
  return {
    name: 'gatehouse-renderer-csp',
    config: () => ({
      resolve: { alias: [{ find: /^zod$/, replacement: path.resolve(import.meta.dirname, 'src-renderer/zod-jitless.ts') }] },
    }),
    transformIndexHtml: () => [
      { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: META_CONTENT_SECURITY_POLICY }, injectTo: 'head-prepend' },
    ],
  };
}

/** Browser-mode build of the renderer (the same UI the desktop app loads). */
export default defineConfig({
  root: path.resolve(import.meta.dirname, 'src-renderer'),
  base: './',
  plugins: [react(), rendererCsp()],
  build: { outDir: path.resolve(import.meta.dirname, 'out/renderer'), emptyOutDir: true, sourcemap: true },
});
