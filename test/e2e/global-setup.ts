import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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
  /** Where the console lives: origin + the instance's base path (no token). */
  GATEHOUSE_E2E_URL: string;
  /** Test-only: GET here returns a fresh single-use sign-in link (fixtures.ts openUrl()). */
  GATEHOUSE_E2E_LINKS: string;
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
  const { child, url, freshUrl } = await startBrowserMode({ dataDir, home, kubeconfig: state.kubeconfigs.operator, identity: 'os-user', logName: 'e2e-server.log' });
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
  };
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

function harnessUp(): HarnessState {
  const r = spawnSync(tsx, ['test/harness/cli.ts', 'up'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 30 * 60_000 });
  if (r.status !== 0) throw new Error(`The cluster harness did not come up (npm run cluster:up exited ${r.status ?? r.signal}); see its output above.`);
  const file = runPaths().state;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as HarnessState;
}

