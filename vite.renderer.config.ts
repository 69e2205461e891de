import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import path from 'node:path';

/** Browser-mode build of the renderer (the same UI the desktop app loads). */
export default defineConfig({
  root: path.resolve(import.meta.dirname, 'src-renderer'),
  base: './',
  plugins: [react()],
  build: { outDir: path.resolve(import.meta.dirname, 'out/renderer'), emptyOutDir: true, sourcemap: true },
});
