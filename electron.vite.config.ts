import { defineConfig, externalizeDepsPlugin } from 'electron-vite';
import react from '@vitejs/plugin-react';
import path from 'node:path';
import { rendererCsp } from './vite.renderer.config';

export default defineConfig({
  main: {
    plugins: [externalizeDepsPlugin()],
    build: { outDir: 'out/main', rollupOptions: { input: { index: path.resolve(import.meta.dirname, 'src-main/electron/main.ts') } } },
  },
  preload: {
    plugins: [externalizeDepsPlugin()],
    // a sandboxed preload must be CommonJS
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: path.resolve(import.meta.dirname, 'src-main/electron/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: path.resolve(import.meta.dirname, 'src-renderer'),
    plugins: [react(), rendererCsp()],
    build: { outDir: 'out/renderer', rollupOptions: { input: { index: path.resolve(import.meta.dirname, 'src-renderer/index.html') } } },
  },
});
