// Fault injection for tests: stop/kill a component and start it again with the
// exact command line and ports recorded in harness.json. Works from any
// process (vitest workers included) because everything needed is on disk.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { waitApiserverReady, waitEtcdHealthy } from './components';
import { HarnessError } from './errors';
import { adminConn, postgresInfo } from './harness';
import { assertPortsFree, freePorts } from './ports';
import { initPostgres, postgresDataDir, postgresSpec, removeStalePostmasterPid, waitPostgresReady } from './postgres';
import { type ProcessRecord, type ProcessSpec, isRunning, startProcess, stopProcess } from './processes';
import { type ComponentName, type HarnessState, type PostgresInfo, readState, writeState } from './state';

function load(root?: string): HarnessState {
  const state = readState(root);
  if (!state) throw new HarnessError('no running harness (harness.json missing); was the vitest global setup run?');
  return state;
}

function record(state: HarnessState, name: ComponentName): ProcessRecord {
  const rec = state.processes[name];
  if (!rec) throw new HarnessError(`${name} is not part of this harness`);
  return rec;
}

/** SIGTERM (graceful shutdown) and wait until the process group is gone. */
export async function stopComponent(name: ComponentName, root?: string): Promise<void> {
  await stopProcess(record(load(root), name), { signal: 'SIGTERM', graceMs: 20_000 });
}

/** SIGKILL: simulates a crash (no graceful shutdown, no cleanup). */
export async function killComponent(name: ComponentName, root?: string): Promise<void> {
  await stopProcess(record(load(root), name), { signal: 'SIGKILL', graceMs: 5_000 });
}

/**
 * Starts a stopped component again (same binary, args and ports) and waits
 * until it serves. A no-op if it is already running.
 */
export async function startComponent(name: ComponentName, root?: string): Promise<void> {
  const state = load(root);
  const rec = record(state, name);
  let current = rec;
  const etcd = state.processes.etcd;
  if (name === 'kube-apiserver' && etcd && !isRunning(etcd)) {
    throw new HarnessError(`cannot start kube-apiserver: etcd (pid ${etcd.pid}) is not running; it probably crashed, see ${etcd.logFile}`);
  }
  if (!isRunning(rec)) {
    await assertPortsFree(rec.ports ?? [], name);
    if (name === 'postgres') removeStalePostmasterPid(state.postgres.dataDir);
    const { pid: _pid, startedAt: _startedAt, ...spec } = rec;
    current = startProcess(spec);
    // Re-read before writing: another component may have been restarted meanwhile.
    const fresh = readState(root) ?? state;
    fresh.processes[name] = current;
    writeState(fresh);
  }
  switch (name) {
    case 'kube-apiserver':
      await waitApiserverReady(adminConn(state), current);
      break;
    case 'postgres':
      await waitPostgresReady(postgresInfo(state), current);
      break;
    case 'etcd':
      await waitEtcdHealthy(state.etcd.clientPort, current);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------
// Private instances. The hooks above act on the one shared harness, so every
// test file running at that moment sees the outage. A test that only needs
// *some* API server or PostgreSQL to break can start its own instead:
//   - a second kube-apiserver on the shared etcd (same certificates, same
//     ServiceAccount keys, so the harness kubeconfigs/tokens work on it; it
//     sees the same objects), on its own port;
//   - a separate PostgreSQL server (own data dir, own port, own password).
// Both are recorded in harness.json (extraProcesses) so `down`, signals and
// the watchdog clean them up even if the test forgets to dispose() them.

export interface PrivateInstance {
  /** SIGTERM + wait until gone. */
  stop(): Promise<void>;
  /** SIGKILL (crash). */
  kill(): Promise<void>;
  /** Restart with the identical command line and port; resolves when serving. */
  start(): Promise<void>;
  /** Stop for good and forget it. */
  dispose(): Promise<void>;
}

export interface PrivateApiServer extends PrivateInstance {
  url: string;
  port: number;
  kubeconfigs: { admin: string; operator: string };
}

export interface PrivatePostgres extends PrivateInstance {
  info: PostgresInfo;
}

function updateExtra(root: string | undefined, rec: ProcessRecord | undefined, name: string): void {
  const state = load(root);
  state.extraProcesses ??= {};
  if (rec) state.extraProcesses[name] = rec;
  else delete state.extraProcesses[name];
  writeState(state);
}

function privateInstance(
  root: string | undefined,
  spec: ProcessSpec,
  waitReady: (rec: ProcessRecord) => Promise<void>,
  cleanup: () => void = () => {},
  beforeStart: () => void = () => {},
): PrivateInstance {
  let current: ProcessRecord | undefined;
  const start = async () => {
    if (current && isRunning(current)) return;
    await assertPortsFree(spec.ports ?? [], spec.name);
    beforeStart();
    current = startProcess(spec);
    updateExtra(root, current, spec.name);
    await waitReady(current);
  };
  return {
    start,
    stop: async () => {
      if (current) await stopProcess(current, { signal: 'SIGTERM', graceMs: 20_000 });
    },
    kill: async () => {
      if (current) await stopProcess(current, { signal: 'SIGKILL', graceMs: 5_000 });
    },
    dispose: async () => {
      if (current) await stopProcess(current, { graceMs: 10_000 });
      updateExtra(root, undefined, spec.name);
      cleanup();
    },
  };
}

/** A second kube-apiserver (shared etcd, own port) for fault tests that must not disturb other files. */
export async function startPrivateApiServer(root?: string): Promise<PrivateApiServer> {
  const state = load(root);
  const base = record(state, 'kube-apiserver');
  const [port] = await freePorts(1);
  if (!port) throw new HarnessError('no free port');
  const name = `kube-apiserver-private-${port}`;
  const { pid: _pid, startedAt: _startedAt, ...baseSpec } = base;
  const spec: ProcessSpec = {
    ...baseSpec,
    name,
    args: base.args.map((a) => (a.startsWith('--secure-port=') ? `--secure-port=${port}` : a)),
    ports: [port],
    logFile: join(state.logsDir, `${name}.log`),
  };
  const url = `https://127.0.0.1:${port}`;
  const kubeconfigs = {
    admin: join(state.runDir, 'kubeconfigs', `${name}-admin.kubeconfig`),
    operator: join(state.runDir, 'kubeconfigs', `${name}-operator.kubeconfig`),
  };
  for (const who of ['admin', 'operator'] as const) {
    const text = readFileSync(state.kubeconfigs[who], 'utf8').replace(state.apiServer.url, url);
    writeFileSync(kubeconfigs[who], text, { mode: 0o600 });
  }
  const conn = { ...adminConn(state), server: url };
  const inst = privateInstance(
    root,
    spec,
    (rec) => waitApiserverReady(conn, rec),
    () => {
      for (const f of Object.values(kubeconfigs)) rmSync(f, { force: true });
    },
  );
  await inst.start();
  return { ...inst, url, port, kubeconfigs };
}

/** A separate PostgreSQL server (own data, port and password) for fault tests. */
export async function startPrivatePostgres(root?: string): Promise<PrivatePostgres> {
  const state = load(root);
  const [port] = await freePorts(1);
  if (!port) throw new HarnessError('no free port');
  const name = `postgres-private-${port}`;
  const dataDir = postgresDataDir(join(state.runDir, name));
  const { password } = initPostgres(dataDir);
  const info: PostgresInfo = { host: '127.0.0.1', port, user: state.postgres.user, password, database: 'postgres' };
  const spec: ProcessSpec = { ...postgresSpec({ dataDir, port, logFile: join(state.logsDir, `${name}.log`) }), name };
  const inst = privateInstance(
    root,
    spec,
    (rec) => waitPostgresReady(info, rec),
    () => rmSync(dirname(dataDir), { recursive: true, force: true }),
    // Before the start, never after: the new postmaster's own lock file may be half written.
    () => removeStalePostmasterPid(dataDir),
  );
  await inst.start();
  return { ...inst, info };
}
