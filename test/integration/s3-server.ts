// A real S3-compatible server on loopback for the backup tests: s3rver (MIT, from the npm
// registry; MinIO is AGPL), run as its own process so a test can kill it mid-upload.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../harness/ports';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const S3_BUCKET = 'gatehouse-backups';
/** s3rver's fixed credentials. */
export const S3_ACCESS_KEY = 'S3RVER';
export const S3_SECRET_KEY = 'S3RVER';

export interface S3Server {
  endpoint: string;
  dir: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

async function waitListening(port: number, child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`s3rver exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => (s.destroy(), res(true)));
      s.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error('s3rver did not start listening');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startS3Server(): Promise<S3Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-s3-'));
  const [port] = await freePorts(1);
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn(process.execPath, [path.join(root, 'node_modules/s3rver/bin/s3rver.js'), '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s', '--configure-bucket', S3_BUCKET], {
      stdio: 'ignore',
    });
    await waitListening(port!, child);
  };
  const kill = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((res) => {
      c.once('exit', () => res());
      c.kill('SIGKILL');
    });
  };
  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dir,
    kill,
    start,
    async dispose() {
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
