#!/usr/bin/env node
// `gatehouse serve [--data-dir D] [--host H --allow-remote] [--port P] [--reset-local-state] [--session-idle-minutes N] [--session-max-hours N]`: browser mode.
// `gatehouse restore-local-state [--data-dir D]`: put back the automatic copy of the durable state.
// `gatehouse tenants|backups|license|audit|operations|login|logout|whoami …`: the CLI (docs/cli.md).
// Plain JavaScript that any Node parses, so an old Node gets the sentence below instead of a syntax error.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `gatehouse: Node.js 24 or newer is required; this is Node.js ${process.versions.node}. Install it (npm i -g node@24 --prefix ~/.local/node24 && export PATH=~/.local/node24/bin:$PATH) and run again.`,
  );
  process.exit(1);
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [sub, ...rest] = process.argv.slice(2);
const scripts = { serve: 'src-main/serve/cli.ts', 'restore-local-state': 'src-main/serve/restore-local-state.ts' };

// everything but `serve`, `restore-local-state` and no argument at all (serve) is the CLI, global options first or not
if (sub !== undefined && !(sub in scripts)) {
  // The CLI runs in this process (one Node start, not two), from a bundle rebuilt when a source changed
  // (bin/cli-bundle.mjs); without esbuild, through tsx's hooks (slower to start).
  // GATEHOUSE_CLI_TSX=1 skips the bundle (debugging the sources as they are)
  const { cliBundle } = await import('./cli-bundle.mjs');
  const bundle = process.env.GATEHOUSE_CLI_TSX === '1' ? null : await cliBundle(root);
  if (bundle) {
    await import(pathToFileURL(bundle).href);
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    await import(pathToFileURL(path.join(root, 'src-main/cli/entry.ts')).href);
  }
} else {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, scripts[sub ?? 'serve']), ...rest], {
    stdio: 'inherit',
    cwd: root,
  });
  // `kill -USR2` (a fresh sign-in link) and `kill` sent to this wrapper reach the console
  for (const sig of process.platform === 'win32' ? ['SIGTERM'] : ['SIGUSR2', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code) => process.exit(code ?? 0));
}
