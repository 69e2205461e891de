// Fault injection for tests: stop/kill a component and start it again with the
// exact command line and ports recorded in harness.json. Works from any
// process (vitest workers included) because everything needed is on disk.
import { adminConn, postgresInfo } from './harness';
import { waitApiserverReady, waitEtcdHealthy } from './components';
import { HarnessError } from './errors';
import { removeStalePostmasterPid, waitPostgresReady } from './postgres';
import { assertPortsFree } from './ports';
import { type ProcessRecord, isRunning, startProcess, stopProcess } from './processes';
import { type ComponentName, type HarnessState, readState, writeState } from './state';

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
