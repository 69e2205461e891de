// vitest globalSetup for the `integration` project: one real cluster +
// PostgreSQL per test run, shared by all test files.
//
//   GATEHOUSE_HARNESS_REUSE=1  use the harness already running in the run
//                              folder (GATEHOUSE_HARNESS_DIR, default the one of
//                              `npm run cluster:up`), start one there if there is
//                              none, and leave it running afterwards.
//   otherwise                  start a fresh harness in a private run folder
//                              (<cache>/runs/vitest-<pid>, or GATEHOUSE_HARNESS_DIR
//                              if set) and stop it when the run ends; only its
//                              logs/ are kept (the three newest runs).
//                              Private folders let several runs (worktrees,
//                              engineers on one box) proceed side by side.
//
// Tests get connection info with `inject('harness')` (see harness-fixture.ts);
// GATEHOUSE_HARNESS_DIR is also exported for subprocesses.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { goVersion, requireBinaries } from '../harness/build';
import { HARNESS_SRC, cacheRoot, runPaths } from '../harness/config';
import { HarnessError } from '../harness/errors';
import { deadComponents, down, killAllSync, up } from '../harness/harness';
import { toInfo } from '../harness/info';
import { type HarnessState, readState } from '../harness/state';

function log(msg: string): void {
  console.log(`[harness] ${msg}`);
}

/**
 * Private run folders keep their logs/ after teardown for post-mortems. Keep
 * the three newest of finished runs, delete older ones and anything but logs.
 */
function pruneOldRuns(): void {
  const root = join(cacheRoot(), 'runs');
  if (!existsSync(root)) return;
  const finished = readdirSync(root)
    .filter((d) => /^vitest-\d+$/.test(d))
    .map((d) => join(root, d))
    .filter((d) => !existsSync(join(d, 'harness.json')))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const dir of finished.slice(3)) rmSync(dir, { recursive: true, force: true });
}

function keepOnlyLogs(dir: string): void {
  for (const entry of readdirSync(dir)) if (entry !== 'logs') rmSync(join(dir, entry), { recursive: true, force: true });
}

/** Kills the harness if this vitest process dies without running teardown. */
function startWatchdog(privateDir: string | undefined, pgDataDir: string): void {
  const p = runPaths();
  // The PostgreSQL data dir lives outside the run folder when we run as root.
  const pgOutside = pgDataDir.startsWith(p.root) ? '' : dirname(pgDataDir);
  const args = [join(HARNESS_SRC, 'watchdog.sh'), String(process.pid), p.state, p.pidFile, privateDir ?? '', pgOutside];
  const child = spawn('/bin/sh', args, {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
}

interface Shared {
  state: HarnessState;
  users: number;
  stop: () => Promise<void>;
}

/**
 * Several vitest projects may list this file as globalSetup (e.g. a separate
 * `integration-faults` project with a later sequence.groupOrder). They run in
 * the same process, so they share one harness, ref-counted on globalThis (each
 * project may load its own copy of this module).
 */
const SHARED_KEY = Symbol.for('gatehouse.harness.shared');
type WithShared = typeof globalThis & { [SHARED_KEY]?: Promise<Shared> };

async function start(): Promise<Shared> {
  // Fail loudly (never skip) when prerequisites are missing: a green run
  // without a cluster would hide every integration regression.
  try {
    goVersion();
    requireBinaries();
  } catch (err) {
    const msg = err instanceof HarnessError ? err.message : String(err);
    throw new Error(`Integration tests need the local cluster harness.\n${msg}\nSee docs/testing.md.`, { cause: err });
  }

  const reuse = process.env.GATEHOUSE_HARNESS_REUSE === '1';
  let privateDir: string | undefined;
  if (!reuse && !process.env.GATEHOUSE_HARNESS_DIR) {
    pruneOldRuns();
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
  process.env.GATEHOUSE_HARNESS_DIR = state.runDir;

  const owned = !reuse;
  if (owned) {
    startWatchdog(privateDir, state.postgres.dataDir);
    // Ctrl-C / kill of the runner: vitest may exit without calling teardown.
    const onSignal = (sig: NodeJS.Signals) => {
      killAllSync();
      if (privateDir) keepOnlyLogs(privateDir);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('exit', () => killAllSync());
  }

  const stop = async () => {
    if (!owned) {
      log('leaving the reused harness running (npm run cluster:down stops it)');
      return;
    }
    await down(log);
    if (privateDir) {
      keepOnlyLogs(privateDir);
      log(`logs of this run: ${join(privateDir, 'logs')}`);
    }
  };
  return { state, users: 0, stop };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const g = globalThis as WithShared;
  g[SHARED_KEY] ??= start();
  let shared: Shared;
  try {
    shared = await g[SHARED_KEY];
  } catch (err) {
    delete g[SHARED_KEY];
    throw err;
  }
  shared.users++;
  project.provide('harness', toInfo(shared.state));

  return async () => {
    if (--shared.users > 0) return;
    delete g[SHARED_KEY];
    await shared.stop();
  };
}
