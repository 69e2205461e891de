#!/usr/bin/env node
// `gatehouse serve [--data-dir D] [--host H --allow-remote] [--port P]`: browser mode.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [sub, ...rest] = process.argv.slice(2);
if (sub !== 'serve' && sub !== undefined) {
  console.error('usage: gatehouse serve [--data-dir DIR] [--port N] [--host ADDR --allow-remote] [--dev]');
  process.exit(2);
}
const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src-main/serve/cli.ts'), ...rest], { stdio: 'inherit', cwd: root });
child.on('exit', (code) => process.exit(code ?? 0));
