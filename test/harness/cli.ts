// `npm run cluster:<cmd>` entry point (tsx test/harness/cli.ts <cmd>).
import { ensureBinaries } from './build';
import { runPaths } from './config';
import { HarnessError } from './errors';
import { down, killAllSync, status, up } from './harness';

const USAGE = `usage: tsx test/harness/cli.ts <build|up|down|status>

  build    compile kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok
           from the Go module proxy into the binary cache (--force to rebuild)
  up       start etcd, the control plane, kwok and PostgreSQL; apply resources/platform
  down     stop every harness process
  status   show what is running

environment:
  GATEHOUSE_HARNESS_CACHE  binary cache root   (default ~/.cache/gatehouse-harness)
  GATEHOUSE_HARNESS_DIR    run folder          (default <cache>/run)
  GATEHOUSE_PG_BIN         PostgreSQL bin dir  (default /usr/lib/postgresql/15/bin)`;

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'build': {
      const t = Date.now();
      const dir = await ensureBinaries({ force: rest.includes('--force') });
      console.log(`[build] binaries ready in ${dir} (${((Date.now() - t) / 1000).toFixed(1)}s)`);
      return 0;
    }
    case 'up': {
      // Ctrl-C during `up` must not leave half a cluster behind. Once `up`
      // returns, the processes are detached daemons and live until `down`.
      let starting = true;
      const abort = (sig: NodeJS.Signals) => {
        if (starting) {
          console.error(`\n[up] ${sig}: stopping the processes started so far`);
          killAllSync();
        }
        process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
      };
      process.on('SIGINT', abort);
      process.on('SIGTERM', abort);
      const state = await up({ owner: 'cli' });
      starting = false;
      const p = runPaths();
      console.log(`\nexport KUBECONFIG=${state.kubeconfigs.admin}`);
      console.log(`operator kubeconfig: ${state.kubeconfigs.operator}`);
      console.log(`postgres: ${p.postgresJson}`);
      return 0;
    }
    case 'down':
      await down();
      return 0;
    case 'status':
      return (await status()) ? 0 : 1;
    default:
      console.error(USAGE);
      return cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof HarnessError) console.error(`error: ${err.message}`);
    else console.error(err);
    process.exit(1);
  },
);
