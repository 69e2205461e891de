// Random loopback ports, so several harnesses (two worktrees, CI shards) and a
// developer's real cluster tooling never collide on the default 6443/2379.
import { createServer } from 'node:net';
import { HarnessError } from './errors';

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolvePort) => {
    const srv = createServer();
    srv.once('error', () => resolvePort(undefined));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : undefined;
      srv.close(() => resolvePort(got));
    });
  });
}

/** Distinct free ports picked by the kernel (port 0), in one go to avoid duplicates. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) {
    const p = await tryListen(0);
    if (p !== undefined) out.add(p);
  }
  return [...out];
}

/** Fails with a clear message if something already listens on 127.0.0.1:port. */
export async function assertPortsFree(ports: readonly number[], owner: string): Promise<void> {
  for (const port of ports) {
    if ((await tryListen(port)) === undefined) {
      throw new HarnessError(
        `port 127.0.0.1:${port} (needed by ${owner}) is already in use. ` +
          `Another process took it, or a previous ${owner} still runs: check \`ss -ltnp 'sport = :${port}'\`, ` +
          'stop it or run `npm run cluster:down`, then retry.',
      );
    }
  }
}
