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

/** A printed sign-in link: origin, the instance's base path, a single-use token. */
const LINK = /(http:\/\/127\.0\.0\.1:\d+\/[\w-]+\/\?token=[\w-]+)\r?\n/g; // whole lines only: a chunk may end mid-token

export interface BrowserMode {
  child: ChildProcess;
  /** The first sign-in link (single use). */
  url: string;
  /** Another single-use link, asked for the way an operator does on a headless machine (SIGUSR2). */
  freshUrl(): Promise<string>;
}

/** Browser mode as a child process, exactly as an operator starts it; resolves once it printed its first sign-in link. */
export async function startBrowserMode(o: ServeOptions): Promise<BrowserMode> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: o.home, KUBECONFIG: o.kubeconfig, GATEHOUSE_HOME: o.dataDir };
  // explicit both ways: --dev alone would mean os-user
  env.GATEHOUSE_IDENTITY = o.identity;
  const child = spawn(
    path.join(root, 'node_modules/.bin/tsx'),
    ['src-main/serve/cli.ts', '--data-dir', o.dataDir, '--port', '0', '--dev'],
    {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const links: string[] = [];
  const waiting: ((link: string) => void)[] = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const m of output.matchAll(LINK)) {
      if (links.includes(m[1] as string)) continue;
      links.push(m[1] as string);
      waiting.shift()?.(m[1] as string);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const nextLink = (timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`browser mode printed no sign-in link within ${timeoutMs / 1000} s:\n${output}`)),
        timeoutMs,
      );
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`browser mode exited (${code}) before printing a sign-in link:\n${output}`));
      };
      child.once('exit', onExit);
      waiting.push((link) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(link);
      });
    });
  const url = await nextLink(60_000);
  // the engine's own pid, as printed: tsx runs it in a child process of its own
  const pid = Number(/\(pid (\d+)\)/.exec(output)?.[1]);
  if (!Number.isInteger(pid)) throw new Error(`browser mode did not print its pid:\n${output}`);
  // keep the server's own log next to the results when a test fails
  fs.mkdirSync(path.join(root, 'test-results'), { recursive: true });
  const log = fs.createWriteStream(path.join(root, 'test-results', o.logName));
  log.write(output);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  // one request at a time: each SIGUSR2 prints exactly one link
  let queue: Promise<unknown> = Promise.resolve();
  const freshUrl = () => {
    const next = queue.then(() => {
      const link = nextLink(15_000);
      process.kill(pid, 'SIGUSR2');
      return link;
    });
    queue = next.catch(() => undefined);
    return next;
  };
  return { child, url, freshUrl };
}

export async function stopBrowserMode(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  if (child.exitCode === null) child.kill('SIGKILL');
}
