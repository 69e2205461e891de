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
// A second, independent cluster (cluster B) is started only by the tests that
// ask for it (`secondCluster()` in harness-fixture.ts), in <run folder>/cluster-b;
// this setup stops it at the end of the run like the main one, and the watchdog
// covers it too.
//
// Tests get connection info with `inject('harness')` (see harness-fixture.ts);
// GATEHOUSE_HARNESS_DIR is also exported for subprocesses.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { goVersion, requireBinaries } from '../harness/build';
import { HARNESS_SRC, SECOND_CLUSTER_DIR, cacheRoot, runDir, secondRunDir } from '../harness/config';
import { HarnessError } from '../harness/errors';
import { deadComponents, down, killAllSync, up } from '../harness/harness';
import { toInfo } from '../harness/info';
import { postgresDataDir } from '../harness/postgres';
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
    .filter((d) => !existsSync(join(d, 'harness.json')) && !existsSync(join(secondRunDir(d), 'harness.json')))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const dir of finished.slice(3)) rmSync(dir, { recursive: true, force: true });
}

/** Empties a finished run folder but for logs/ (its own and the second cluster's). */
function keepOnlyLogs(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    if (entry === 'logs') continue;
    if (entry === SECOND_CLUSTER_DIR) keepOnlyLogs(join(dir, entry));
    else rmSync(join(dir, entry), { recursive: true, force: true });
  }
}

/** PostgreSQL's folder when it lives outside the run folder (we run as root), else '-'. */
function pgOutside(root: string): string {
  const dataDir = postgresDataDir(root);
  return dataDir.startsWith(root) ? '-' : dirname(dataDir);
}

/**
 * Kills both clusters if this vitest process dies without running teardown.
 * Started before the main cluster, so a runner killed during start-up leaves
 * nothing behind either; cluster B is covered whenever a test starts it.
 */
function startWatchdog(root: string, keepLogsOnly: boolean): void {
  const second = secondRunDir(root);
  const args = [
    join(HARNESS_SRC, 'watchdog.sh'),
    String(process.pid),
    keepLogsOnly ? '1' : '0',
    root,
    pgOutside(root),
    second,
    pgOutside(second),
  ];
  const child = spawn('/bin/sh', args, { detached: true, stdio: 'ignore' });
  child.unref();
}

/** Stops cluster B (if a test started it), then the main cluster. */
async function downBoth(root: string): Promise<void> {
  const second = secondRunDir(root);
  if (readState(second)) await down({ root: second, log: (m) => log(`[cluster B] ${m}`) });
  await down({ root, log });
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
  }
  const root = privateDir ?? runDir();
  // Workers and subprocesses (tenants-env, crash children) find the harness through it.
  process.env.GATEHOUSE_HARNESS_DIR = root;
  const existing = readState(root);
  if (existing && !reuse) {
    log(`replacing the harness running in ${existing.runDir} (set GATEHOUSE_HARNESS_REUSE=1 to keep using it)`);
    await downBoth(root);
  }
  const owned = !reuse;
  if (owned) {
    startWatchdog(root, !!privateDir);
    // Ctrl-C / kill of the runner: vitest may exit without calling teardown.
    const killBoth = () => {
      killAllSync(secondRunDir(root));
      killAllSync(root);
    };
    const onSignal = (sig: NodeJS.Signals) => {
      killBoth();
      if (privateDir) keepOnlyLogs(privateDir);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('exit', killBoth);
  }
  const reused = reuse && !!existing && deadComponents(existing).length === 0;
  const t = Date.now();
  const state = await up({ root, log, owner: `vitest (pid ${process.pid})` });
  log(reused ? `reusing harness at ${state.apiServer.url}` : `harness up in ${Date.now() - t} ms (${state.apiServer.url})`);

  const stop = async () => {
    if (!owned) {
      log('leaving the reused harness running, and cluster B if a test started it (npm run cluster:down stops both)');
      return;
    }
    await downBoth(root);
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
