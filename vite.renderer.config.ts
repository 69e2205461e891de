import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import path from 'node:path';

/** Browser-mode build of the renderer (the same UI the desktop app loads). */
export default defineConfig({
  root: path.resolve(__dirname, 'src-renderer'),
  base: './',
  plugins: [react()],
  build: { outDir: path.resolve(__dirname, 'out/renderer'), emptyOutDir: true, sourcemap: true },
});
