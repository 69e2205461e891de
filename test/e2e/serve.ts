import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServeOptions {
  dataDir: string;
  /** A private HOME: no ~/.kube/config of the machine, no real keychain entries. */
  home: string;
  kubeconfig: string;
  /** 'os-user': the OS user acts as admin; 'sign-in': operators must sign in. */
  identity: 'os-user' | 'sign-in';
  logName: string;
}

/** Browser mode as a child process, exactly as an operator starts it; resolves with the printed token URL. */
export async function startBrowserMode(o: ServeOptions): Promise<{ child: ChildProcess; url: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: o.home, KUBECONFIG: o.kubeconfig, GATEHOUSE_HOME: o.dataDir };
  // explicit both ways: --dev alone would mean os-user
  env.GATEHOUSE_IDENTITY = o.identity;
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['src-main/serve/cli.ts', '--data-dir', o.dataDir, '--port', '0', '--dev'], {
    cwd: root,
    env,
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
  // keep the server's own log next to the results when a test fails
  fs.mkdirSync(path.join(root, 'test-results'), { recursive: true });
  const log = fs.createWriteStream(path.join(root, 'test-results', o.logName));
  log.write(output);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return { child, url };
}

export async function stopBrowserMode(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  if (child.exitCode === null) child.kill('SIGKILL');
}
