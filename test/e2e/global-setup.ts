import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPaths } from '../harness/config';
import type { HarnessState } from '../harness/state';
import { startBrowserMode, stopBrowserMode } from './serve';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');

/** What the specs read from process.env (set here, inherited by the workers). */
export interface E2eEnv {
  GATEHOUSE_E2E_URL: string;
  GATEHOUSE_E2E_OPEN_URL: string;
  GATEHOUSE_E2E_DATA_DIR: string;
  GATEHOUSE_E2E_HARNESS: string;
}

/**
 * Brings up the local cluster harness (reuses a healthy running one), then
 * browser mode as a child process exactly as an operator starts it, with
 * KUBECONFIG pointing at the harness's least-privilege operator kubeconfig.
 */
export default async function globalSetup() {
  if (!fs.existsSync(path.join(root, 'out/renderer/index.html'))) {
    throw new Error('The UI is not built: run `npm run build:web` (npm run test:e2e does it for you).');
  }
  const state = harnessUp();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-'));
  const dataDir = path.join(home, 'data');
  // the operator is the OS user (admin) here; signin.spec.ts starts its own server in sign-in mode
  const { child, url } = await startBrowserMode({ dataDir, home, kubeconfig: state.kubeconfigs.operator, identity: 'os-user', logName: 'e2e-server.log' });
  const base = new URL(url);
  process.env.GATEHOUSE_E2E_OPEN_URL = url;
  process.env.GATEHOUSE_E2E_URL = base.origin;
  process.env.GATEHOUSE_E2E_DATA_DIR = dataDir;
  process.env.GATEHOUSE_E2E_HARNESS = runPaths(state.runDir).state;

  return async () => {
    await stopBrowserMode(child);
    fs.rmSync(home, { recursive: true, force: true });
  };
}

function harnessUp(): HarnessState {
  const r = spawnSync(tsx, ['test/harness/cli.ts', 'up'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 30 * 60_000 });
  if (r.status !== 0) throw new Error(`The cluster harness did not come up (npm run cluster:up exited ${r.status ?? r.signal}); see its output above.`);
  const file = runPaths().state;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as HarnessState;
}

