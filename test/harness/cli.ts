// `npm run cluster:<cmd>` entry point (tsx test/harness/cli.ts <cmd>).
import { ensureBinaries } from './build';
import { SECOND_CLUSTER_NAME, runDir, runPaths, secondRunDir } from './config';
import { HarnessError } from './errors';
import { down, killAllSync, status, up } from './harness';
import { readState } from './state';

const USAGE = `usage: tsx test/harness/cli.ts <build|up|down|status>

  build    compile kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok
           from the Go module proxy into the binary cache (--force to rebuild)
  up       start etcd, the control plane, kwok and PostgreSQL; apply resources/platform
           --second: also start cluster B in <run folder>/cluster-b (own etcd,
           kube-apiserver, CA and PostgreSQL; no controllers, kwok or nodes)
  down     stop every harness process (cluster B too, if running)
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
      const root = runDir();
      const second = rest.includes('--second');
      // Ctrl-C during `up` must not leave half a cluster behind. Once `up`
      // returns, the processes are detached daemons and live until `down`.
      let starting = true;
      const abort = (sig: NodeJS.Signals) => {
        if (starting) {
          console.error(`\n[up] ${sig}: stopping the processes started so far`);
          if (second) killAllSync(secondRunDir(root));
          killAllSync(root);
        }
        process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
      };
      process.on('SIGINT', abort);
      process.on('SIGTERM', abort);
      const state = await up({ root, owner: 'cli' });
      const b = second
        ? await up({
            root: secondRunDir(root),
            clusterName: SECOND_CLUSTER_NAME,
            workloads: false,
            owner: 'cli --second',
            log: (m) => console.log(`[cluster B] ${m}`),
          })
        : undefined;
      starting = false;
      console.log(`\nexport KUBECONFIG=${state.kubeconfigs.admin}`);
      console.log(`operator kubeconfig: ${state.kubeconfigs.operator}`);
      console.log(`postgres: ${runPaths(root).postgresJson}`);
      if (b) {
        console.log(`cluster B: admin ${b.kubeconfigs.admin}, operator ${b.kubeconfigs.operator}, postgres ${b.postgres.configFile}`);
      }
      return 0;
    }
    case 'down': {
      const root = runDir();
      if (readState(secondRunDir(root))) await down({ root: secondRunDir(root), log: (m) => console.log(`[cluster B] ${m}`) });
      await down({ root });
      return 0;
    }
    case 'status': {
      const root = runDir();
      const ok = await status(root);
      if (readState(secondRunDir(root))) {
        console.log('\ncluster B:');
        return (await status(secondRunDir(root))) && ok ? 0 : 1;
      }
      return ok ? 0 : 1;
    }
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
