// vitest globalSetup for the `integration` project: one real cluster +
// PostgreSQL per test run, shared by all test files.
//
//   GATEHOUSE_HARNESS_REUSE=1  use the harness already running in the run
//                              folder (GATEHOUSE_HARNESS_DIR, default the one of
//                              `npm run cluster:up`), start one there if there is
//                              none, and leave it running afterwards.
//   otherwise                  start a fresh harness in a private run folder
//                              (<cache>/runs/vitest-<pid>, or GATEHOUSE_HARNESS_DIR
//                              if set) and stop + delete it when the run ends.
//                              Private folders let several runs (worktrees,
//                              engineers on one box) proceed side by side.
//
// Tests get connection info with `inject('harness')` (see harness-fixture.ts);
// GATEHOUSE_HARNESS_DIR is also exported for subprocesses.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { goVersion, requireBinaries } from '../harness/build';
import { HARNESS_SRC, cacheRoot, runPaths } from '../harness/config';
import { HarnessError } from '../harness/errors';
import { deadComponents, down, killAllSync, up } from '../harness/harness';
import { toInfo } from '../harness/info';
import { readState } from '../harness/state';

function log(msg: string): void {
  console.log(`[harness] ${msg}`);
}

/** Kills the harness if this vitest process dies without running teardown. */
function startWatchdog(privateDir: string | undefined): void {
  const p = runPaths();
  const child = spawn('/bin/sh', [join(HARNESS_SRC, 'watchdog.sh'), String(process.pid), p.state, p.pidFile, privateDir ?? ''], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Fail loudly (never skip) when prerequisites are missing: a green run
  // without a cluster would hide every integration regression.
  try {
    goVersion();
    requireBinaries();
  } catch (err) {
    const msg = err instanceof HarnessError ? err.message : String(err);
    throw new Error(`Integration tests need the local cluster harness.\n${msg}\nSee docs/testing.md.`);
  }

  const reuse = process.env.GATEHOUSE_HARNESS_REUSE === '1';
  let privateDir: string | undefined;
  if (!reuse && !process.env.GATEHOUSE_HARNESS_DIR) {
    privateDir = join(cacheRoot(), 'runs', `vitest-${process.pid}`);
    // Set before anything reads runDir(); workers inherit it too.
    process.env.GATEHOUSE_HARNESS_DIR = privateDir;
  }
  const existing = readState();
  if (existing && !reuse) {
    log(`replacing the harness running in ${existing.runDir} (set GATEHOUSE_HARNESS_REUSE=1 to keep using it)`);
    await down(log);
  }
  const reused = reuse && !!existing && deadComponents(existing).length === 0;
  const t = Date.now();
  const state = await up({ log, owner: `vitest (pid ${process.pid})` });
  log(reused ? `reusing harness at ${state.apiServer.url}` : `harness up in ${Date.now() - t} ms (${state.apiServer.url})`);

  const owned = !reuse;
  if (owned) {
    startWatchdog(privateDir);
    // Ctrl-C / kill of the runner: vitest may exit without calling teardown.
    const onSignal = (sig: NodeJS.Signals) => {
      killAllSync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('exit', () => killAllSync());
  }

  process.env.GATEHOUSE_HARNESS_DIR = state.runDir;
  project.provide('harness', toInfo(state));

  return async () => {
    if (owned) {
      await down(log);
      if (privateDir) rmSync(privateDir, { recursive: true, force: true });
    } else log('leaving the reused harness running (npm run cluster:down stops it)');
  };
}
