#!/usr/bin/env node
// `npm start`: the desktop app when Electron's binary is available, otherwise browser mode.
import { spawn, spawnSync } from 'node:child_process';
import { findElectronBinary } from './electron-binary.mjs';

const args = process.argv.slice(2);
const electron = process.env.GATEHOUSE_FORCE_BROWSER === '1' ? { path: null, reason: 'GATEHOUSE_FORCE_BROWSER=1' } : findElectronBinary();
const run = (cmd, cmdArgs) => {
  const child = spawn(cmd, cmdArgs, { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code) => process.exit(code ?? 0));
};

if (electron.path) {
  const build = spawnSync('npx', ['electron-vite', 'build'], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
  run(electron.path, ['.', ...args]);
} else {
  console.log(`Gatehouse: desktop app unavailable: ${electron.reason}; starting browser mode instead.`);
  const build = spawnSync('npm', ['run', 'build:web', '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) process.exit(build.status ?? 1);
  run('npx', ['tsx', 'src-main/serve/cli.ts', ...args]);
}
