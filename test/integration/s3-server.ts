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
  /** The network to the bucket goes away: connections are cut, new ones refused (the server itself stays healthy). */
  kill(): Promise<void>;
  /** The network comes back, on the same address. */
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

/**
 * s3rver behind a loopback TCP proxy: cutting the proxy is "the bucket unreachable
 * mid-upload" without SIGKILLing s3rver, whose file store is not crash-safe (a killed
 * s3rver lists its half-written object as an InternalError forever).
 */
export async function startS3Server(): Promise<S3Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-s3-'));
  const [backend, front] = await freePorts(2);
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'node_modules/s3rver/bin/s3rver.js'),
      '-d',
      dir,
      '-a',
      '127.0.0.1',
      '-p',
      String(backend),
      '-s',
      '--configure-bucket',
      S3_BUCKET,
    ],
    {
      stdio: 'ignore',
    },
  );
  await waitListening(backend!, child);
  const sockets = new Set<net.Socket>();
  let proxy: net.Server | null = null;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const srv = net.createServer((client) => {
        const upstream = net.connect({ host: '127.0.0.1', port: backend! });
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.once('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.once('close', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
      });
      srv.once('error', reject);
      srv.listen({ host: '127.0.0.1', port: front! }, () => {
        proxy = srv;
        resolve();
      });
    });
  const kill = async () => {
    const srv = proxy;
    proxy = null;
    for (const s of sockets) s.destroy();
    if (srv) await new Promise<void>((res) => srv.close(() => res()));
  };
  await start();
  return {
    endpoint: `http://127.0.0.1:${front}`,
    dir,
    kill,
    start,
    async dispose() {
      await kill();
      await new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGKILL');
      });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
