import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPaths } from '../harness/config';
import type { HarnessState } from '../harness/state';

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
  const { child, url } = await startBrowserMode(dataDir, home, state);
  const base = new URL(url);
  process.env.GATEHOUSE_E2E_OPEN_URL = url;
  process.env.GATEHOUSE_E2E_URL = base.origin;
  process.env.GATEHOUSE_E2E_DATA_DIR = dataDir;
  process.env.GATEHOUSE_E2E_HARNESS = runPaths(state.runDir).state;

  return async () => {
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
  };
}

function harnessUp(): HarnessState {
  const r = spawnSync(tsx, ['test/harness/cli.ts', 'up'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 30 * 60_000 });
  if (r.status !== 0) throw new Error(`The cluster harness did not come up (npm run cluster:up exited ${r.status ?? r.signal}); see its output above.`);
  const file = runPaths().state;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as HarnessState;
}

async function startBrowserMode(dataDir: string, home: string, state: HarnessState): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(tsx, ['src-main/serve/cli.ts', '--data-dir', dataDir, '--port', '0', '--dev'], {
    cwd: root,
    env: {
      ...process.env,
      // a private HOME: no ~/.kube/config of the machine, no real keychain entries
      HOME: home,
      KUBECONFIG: state.kubeconfigs.operator,
      GATEHOUSE_HOME: dataDir,
      // the operator is the OS user (admin); sign-in flows have their own specs
      GATEHOUSE_IDENTITY: 'os-user',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`browser mode did not print its URL within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`browser mode exited (${code}) before printing its URL:\n${output}`));
    });
  });
  // keep the server's own log visible when a test fails
  const log = fs.createWriteStream(path.join(root, 'test-results', 'e2e-server.log'));
  log.write(output);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return { child, url };
}
