import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot, runPaths } from '../harness/config';
import { deadComponents } from '../harness/harness';
import { readState, type HarnessState } from '../harness/state';
import { startBrowserMode, stopBrowserMode } from './serve';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');

/** What the specs read from process.env (set here, inherited by the workers). */
export interface E2eEnv {
  /** Where the console lives: origin + the instance's base path (no token). */
  GATEHOUSE_E2E_URL: string;
  /** Test-only: GET here returns a fresh single-use sign-in link (fixtures.ts openUrl()). */
  GATEHOUSE_E2E_LINKS: string;
  GATEHOUSE_E2E_DATA_DIR: string;
  GATEHOUSE_E2E_HARNESS: string;
}

/**
 * Brings up the local cluster harness, then browser mode as a child process
 * exactly as an operator starts it, with KUBECONFIG pointing at the harness's
 * least-privilege operator kubeconfig.
 *
 * The harness: one you started (`npm run cluster:up`) and that is healthy is
 * used as it is and left running. Otherwise the suite starts its own in a
 * private run folder (<cache>/runs/e2e-<pid>, so a concurrent run elsewhere
 * neither reuses nor stops it) and stops it at the end; a watchdog stops it if
 * the runner dies without tearing down. Only its logs/ are kept.
 */
export default async function globalSetup() {
  if (!fs.existsSync(path.join(root, 'out/renderer/index.html'))) {
    throw new Error('The UI is not built: run `npm run build:web` (npm run test:e2e does it for you).');
  }
  const harness = await harnessForRun();
  const state = harness.state;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-'));
  const dataDir = path.join(home, 'data');
  // the operator is the OS user (admin) here; signin.spec.ts starts its own server in sign-in mode
  const { child, url, freshUrl } = await startBrowserMode({
    dataDir,
    home,
    kubeconfig: state.kubeconfigs.operator,
    identity: 'os-user',
    logName: 'e2e-server.log',
  });
  // Sign-in links are single-use and the server prints them only to its own stdout (here):
  // workers ask this loopback broker, which asks the server with SIGUSR2 as an operator would.
  const first = [url];
  const broker = await linkBroker(async () => first.pop() ?? (await freshUrl()));
  const base = new URL(url);
  base.search = '';
  process.env.GATEHOUSE_E2E_URL = base.href;
  process.env.GATEHOUSE_E2E_LINKS = broker.url;
  process.env.GATEHOUSE_E2E_DATA_DIR = dataDir;
  process.env.GATEHOUSE_E2E_HARNESS = runPaths(state.runDir).state;

  return async () => {
    await broker.close();
    await stopBrowserMode(child);
    fs.rmSync(home, { recursive: true, force: true });
    harness.stop();
  };
}

const log = (msg: string) => console.log(`[e2e harness] ${msg}`);

/** Finished private runs keep only logs/; keep the three newest. */
function pruneOldRuns() {
  const runs = path.join(cacheRoot(), 'runs');
  if (!fs.existsSync(runs)) return;
  const finished = fs
    .readdirSync(runs)
    .filter((d) => /^e2e-\d+$/.test(d) && !fs.existsSync(path.join(runs, d, 'harness.json')))
    .map((d) => path.join(runs, d))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  for (const dir of finished.slice(3)) fs.rmSync(dir, { recursive: true, force: true });
}

/** A loopback endpoint at a random path that answers each GET with a fresh sign-in link. */
async function linkBroker(mint: () => Promise<string>): Promise<{ url: string; close(): Promise<void> }> {
  const secretPath = `/${crypto.randomBytes(16).toString('hex')}`;
  const server = http.createServer((req, res) => {
    if (req.url !== secretPath) return void res.writeHead(404).end();
    mint().then(
      (link) => res.writeHead(200, { 'content-type': 'text/plain' }).end(link),
      (error: unknown) => res.writeHead(503, { 'content-type': 'text/plain' }).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}${secretPath}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function harnessForRun(): Promise<{ state: HarnessState; stop(): void }> {
  const yours = readState();
  if (yours && deadComponents(yours).length === 0) {
    log(`using the running harness in ${yours.runDir}; left running afterwards (npm run cluster:down stops it)`);
    return { state: yours, stop: () => log(`left the harness in ${yours.runDir} running (npm run cluster:down stops it)`) };
  }
  pruneOldRuns();
  const privateDir = path.join(cacheRoot(), 'runs', `e2e-${process.pid}`);
  const env = { ...process.env, GATEHOUSE_HARNESS_DIR: privateDir };
  const up = spawnSync(tsx, ['test/harness/cli.ts', 'up'], {
    cwd: root,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 30 * 60_000,
  });
  if (up.status !== 0) {
    // `up` stops what it started when it fails; a leftover would be the watchdog's, so stop it here
    spawnSync(tsx, ['test/harness/cli.ts', 'down'], { cwd: root, env, stdio: 'ignore' });
    throw new Error(
      `The cluster harness did not come up (tsx test/harness/cli.ts up exited ${up.status ?? up.signal}); see its output above.`,
    );
  }
  const state = readState(privateDir)!;
  const paths = runPaths(privateDir);
  // the runner killed without teardown (SIGKILL, OOM): the same watchdog as the integration suite's
  const pgOutside = state.postgres.dataDir.startsWith(privateDir) ? '' : path.dirname(state.postgres.dataDir);
  spawn('/bin/sh', [path.join(root, 'test/harness/watchdog.sh'), String(process.pid), paths.state, paths.pidFile, privateDir, pgOutside], {
    detached: true,
    stdio: 'ignore',
  }).unref();
  log(`started a harness for this run in ${privateDir}; it is stopped at the end`);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    const down = spawnSync(tsx, ['test/harness/cli.ts', 'down'], {
      cwd: root,
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 120_000,
    });
    for (const entry of fs.existsSync(privateDir) ? fs.readdirSync(privateDir) : []) {
      if (entry !== 'logs') fs.rmSync(path.join(privateDir, entry), { recursive: true, force: true });
    }
    log(
      down.status === 0
        ? `stopped the harness of this run (logs: ${paths.logs})`
        : `could not stop the harness in ${privateDir}: run GATEHOUSE_HARNESS_DIR=${privateDir} npm run cluster:down`,
    );
  };
  // Ctrl-C of the runner: Playwright may exit without running the teardown
  process.once('exit', stop);
  return { state, stop };
}
