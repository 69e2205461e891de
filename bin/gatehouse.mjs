#!/usr/bin/env node
// `gatehouse serve [--data-dir D] [--host H --allow-remote] [--port P] [--reset-local-state] [--session-idle-minutes N] [--session-max-hours N]`: browser mode.
// `gatehouse restore-local-state [--data-dir D]`: put back the automatic copy of the durable state.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [sub, ...rest] = process.argv.slice(2);
const scripts = { serve: 'src-main/serve/cli.ts', 'restore-local-state': 'src-main/serve/restore-local-state.ts' };
if (sub !== undefined && !(sub in scripts)) {
  console.error('usage: gatehouse serve [--data-dir DIR] [--port N] [--host ADDR --allow-remote] [--dev] [--reset-local-state] [--session-idle-minutes N] [--session-max-hours N]\n       gatehouse restore-local-state [--data-dir DIR]');
  process.exit(2);
}
const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, scripts[sub ?? 'serve']), ...rest], { stdio: 'inherit', cwd: root });
// `kill -USR2` (a fresh sign-in link) and `kill` sent to this wrapper reach the console
for (const sig of process.platform === 'win32' ? ['SIGTERM'] : ['SIGUSR2', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));
