// harness.json: the single source of truth about a running harness. The CLI
// writes it; tests read it (via vitest `inject('harness')` or from disk) and
// fault hooks update the pid of a component they restarted.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Pins } from './build';
import { runPaths } from './config';
import type { ProcessRecord } from './processes';

export type ComponentName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok' | 'postgres';

export interface PostgresInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface HarnessState {
  /** Bumped on incompatible changes to this file. */
  schema: 1;
  runDir: string;
  /**
   * kubeconfig cluster name (contexts are `<user>@<clusterName>`); absent in
   * files written before there were two clusters: then CLUSTER_NAME.
   */
  clusterName?: string;
  /**
   * The components this harness runs (the second cluster runs no controllers
   * or kwok); absent in older files: then all of them.
   */
  components?: ComponentName[];
  binDir: string;
  versions: Pins;
  startedAt: string;
  /** Whoever ran `up` (CLI or vitest global setup); informative only. */
  owner: { pid: number; command: string };
  apiServer: { url: string; port: number; caFile: string };
  etcd: { clientUrl: string; clientPort: number; peerPort: number; dataDir: string };
  kubeconfigs: { admin: string; operator: string };
  operator: { namespace: string; serviceAccount: string; tokenExpiresAt: string };
  platformNamespace: string;
  postgres: PostgresInfo & { dataDir: string; configFile: string };
  logsDir: string;
  processes: Partial<Record<ComponentName, ProcessRecord>>;
  /**
   * Private instances started by tests (faults.ts startPrivate*): stopped
   * first by `down` and listed in harness.pid so the watchdog kills them too.
   */
  extraProcesses?: Record<string, ProcessRecord>;
  ready?: { readyzMs: number; platformMs: number };
}

export function readState(root?: string): HarnessState | undefined {
  const file = runPaths(root).state;
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as HarnessState;
}

/** Atomic replace so a concurrent reader never sees a half-written file. */
export function writeState(state: HarnessState): void {
  const paths = runPaths(state.runDir);
  const tmp = `${paths.state}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, paths.state);
  // harness.pid: one "name pid" line per component, for humans and shell scripts.
  const lines = [...Object.values(state.extraProcesses ?? {}), ...Object.values(state.processes)].map((p) => `${p.name} ${p.pid}`);
  writeFileSync(paths.pidFile, lines.join('\n') + '\n');
}

export function clearState(root?: string): void {
  const paths = runPaths(root);
  rmSync(paths.state, { force: true });
  rmSync(paths.pidFile, { force: true });
}
