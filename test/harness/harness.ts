// Orchestration: `up`, `down`, `status` on top of the per-concern modules.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureBinaries, pins } from './build';
import { ensurePki } from './certs';
import {
  type Layout,
  apiserverSpec,
  controllerManagerSpec,
  etcdSpec,
  kwokSpec,
  schedulerSpec,
  waitApiserverReady,
  waitEtcdHealthy,
} from './components';
import { FAKE_NODE_NAMES, OPERATOR_SERVICE_ACCOUNT, PG_ADMIN_USER, PG_DATABASE, PLATFORM_NAMESPACE, runPaths } from './config';
import { HarnessError } from './errors';
import { type KubeConn, kubeRequest } from './kubeapi';
import { writeKubeconfig } from './kubeconfig';
import { applyAll, devHarnessMarker, fakeNode, operatorToken, platformManifests, waitDeploymentsAvailable, waitNodesReady } from './platform';
import { assertPortsFree, freePorts } from './ports';
import { ensureDatabase, initPostgres, postgresDataDir, postgresSpec, waitPostgresReady } from './postgres';
import { type ProcessRecord, type ProcessSpec, isRunning, killGroupSync, startProcess, stopProcess, tail } from './processes';
import { type ComponentName, type HarnessState, type PostgresInfo, clearState, readState, writeState } from './state';

export type Log = (msg: string) => void;

/** Stop order: dependants first, etcd last (postgres is independent). */
export const STOP_ORDER: ComponentName[] = ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd', 'postgres'];

export function adminConn(state: HarnessState): KubeConn {
  const pki = join(state.runDir, 'pki');
  return { server: state.apiServer.url, caFile: state.apiServer.caFile, certFile: join(pki, 'admin.crt'), keyFile: join(pki, 'admin.key') };
}

export function postgresInfo(state: HarnessState): PostgresInfo {
  const { host, port, user, password, database } = state.postgres;
  return { host, port, user, password, database };
}

/** Components whose recorded process is gone (crashed, killed, or a stale pid file). */
export function deadComponents(state: HarnessState): ComponentName[] {
  return STOP_ORDER.filter((n) => {
    const rec = state.processes[n];
    return !rec || !isRunning(rec);
  });
}

async function healthy(state: HarnessState): Promise<boolean> {
  if (deadComponents(state).length > 0) return false;
  try {
    return (await kubeRequest(adminConn(state), 'GET', '/readyz', undefined, undefined, 3000)).status === 200;
  } catch {
    return false;
  }
}

/**
 * A crude cross-process lock so two `up`s (e.g. two vitest runs) do not race
 * on the same run folder. A lock left by a dead process is taken over.
 */
function acquireLock(file: string): () => void {
  mkdirSync(dirname(file), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(file, 'utf8'));
      let alive: boolean;
      try {
        process.kill(holder, 0);
        alive = holder !== process.pid;
      } catch {
        alive = false;
      }
      if (!alive) {
        rmSync(file, { force: true });
        continue;
      }
      if (attempt > 600) throw new HarnessError(`another harness command (pid ${holder}) holds ${file}; wait for it or remove the file`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
}

export interface UpOptions {
  log?: Log;
  /** Informative: recorded in harness.json. */
  owner?: string;
  /** Called after each component starts, with the state so far (signal handlers use it). */
  onProgress?: (state: HarnessState) => void;
}

/**
 * Brings the harness up, or returns the running one if it is healthy.
 * A half-dead previous run (stale harness.json/pid file) is torn down first.
 */
export async function up(opts: UpOptions = {}): Promise<HarnessState> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const paths = runPaths();
  const unlock = acquireLock(paths.lock);
  try {
    const existing = readState();
    if (existing) {
      if (await healthy(existing)) {
        log(`[up] harness already running (apiserver ${existing.apiServer.url}); nothing to do`);
        return existing;
      }
      const dead = deadComponents(existing);
      const why = dead.length
        ? `not running: ${dead.map((n) => `${n} (log: ${existing.processes[n]?.logFile ?? 'never started'})`).join(', ')}`
        : 'kube-apiserver not ready';
      log(`[up] stale harness (pid file ${paths.pidFile}): ${why}; stopping the survivors and starting fresh`);
      await stopAll(existing, log);
    }
    return await freshUp(opts, log);
  } finally {
    unlock();
  }
}

async function freshUp(opts: UpOptions, log: Log): Promise<HarnessState> {
  const paths = runPaths();
  const t0 = Date.now();
  const binDir = await ensureBinaries({ log });
  const versions = pins();

  // Every `up` starts from empty data: tests must not depend on leftovers.
  for (const d of [paths.etcdData, paths.pki, join(paths.root, 'kubeconfigs')]) rmSync(d, { recursive: true, force: true });
  mkdirSync(paths.logs, { recursive: true });
  const pki = ensurePki(paths.pki);

  const [etcdClient, etcdPeer, apiserver, controllerManager, scheduler, kwok, pgPort] = await freePorts(7);
  const ports = {
    etcdClient: etcdClient!,
    etcdPeer: etcdPeer!,
    apiserver: apiserver!,
    controllerManager: controllerManager!,
    scheduler: scheduler!,
    kwok: kwok!,
    postgres: pgPort!,
  };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const kcDir = join(paths.root, 'kubeconfigs');
  mkdirSync(kcDir, { recursive: true });
  const componentKubeconfigs = {
    'kube-controller-manager': join(kcDir, 'kube-controller-manager.kubeconfig'),
    'kube-scheduler': join(kcDir, 'kube-scheduler.kubeconfig'),
    kwok: join(kcDir, 'kwok.kubeconfig'),
  };
  for (const [name, file] of Object.entries(componentKubeconfigs)) {
    const c = pki.clients[name as keyof typeof pki.clients];
    writeKubeconfig(file, { server, caFile: pki.caCert, name, user: { certFile: c.cert, keyFile: c.key } });
  }
  writeKubeconfig(paths.adminKubeconfig, {
    server,
    caFile: pki.caCert,
    name: 'admin',
    user: { certFile: pki.clients.admin.cert, keyFile: pki.clients.admin.key },
  });

  const layout: Layout = { binDir, runDir: paths.root, logs: paths.logs, etcdData: paths.etcdData, pki, ports, componentKubeconfigs };
  const pgDataDir = postgresDataDir(paths.root);
  const pgInfo: PostgresInfo = { host: '127.0.0.1', port: ports.postgres, user: PG_ADMIN_USER, password: '', database: PG_DATABASE };

  const state: HarnessState = {
    schema: 1,
    runDir: paths.root,
    binDir,
    versions,
    startedAt: new Date().toISOString(),
    owner: { pid: process.pid, command: opts.owner ?? process.argv.slice(1).join(' ') },
    apiServer: { url: server, port: ports.apiserver, caFile: pki.caCert },
    etcd: {
      clientUrl: `http://127.0.0.1:${ports.etcdClient}`,
      clientPort: ports.etcdClient,
      peerPort: ports.etcdPeer,
      dataDir: paths.etcdData,
    },
    kubeconfigs: { admin: paths.adminKubeconfig, operator: paths.operatorKubeconfig },
    operator: { namespace: PLATFORM_NAMESPACE, serviceAccount: OPERATOR_SERVICE_ACCOUNT, tokenExpiresAt: '' },
    platformNamespace: PLATFORM_NAMESPACE,
    postgres: { ...pgInfo, dataDir: pgDataDir, configFile: paths.postgresJson },
    logsDir: paths.logs,
    processes: {},
  };

  const start = async (spec: ProcessSpec): Promise<ProcessRecord> => {
    await assertPortsFree(spec.ports ?? [], spec.name);
    const rec = startProcess(spec);
    state.processes[spec.name as ComponentName] = rec;
    writeState(state);
    opts.onProgress?.(state);
    return rec;
  };

  try {
    // PostgreSQL is independent of the cluster: bring it up concurrently.
    const pgReady = (async () => {
      const { password } = initPostgres(pgDataDir);
      pgInfo.password = password;
      state.postgres.password = password;
      const rec = await start(postgresSpec({ dataDir: pgDataDir, port: ports.postgres, logFile: join(paths.logs, 'postgres.log') }));
      await waitPostgresReady(pgInfo, rec);
      await ensureDatabase(pgInfo);
      writeFileSync(paths.postgresJson, JSON.stringify(pgInfo, null, 2) + '\n', { mode: 0o600 });
      log(`[up] postgres ready on 127.0.0.1:${ports.postgres} (${Date.now() - t0} ms)`);
    })();
    // Avoid an unhandled rejection while the cluster part is still starting.
    pgReady.catch(() => {});

    const etcd = await start(etcdSpec(layout));
    await waitEtcdHealthy(ports.etcdClient, etcd).catch((err: unknown) => {
      throw new HarnessError(`etcd did not become healthy: ${String(err)}\n  log: ${etcd.logFile}`);
    });
    log(`[up] etcd healthy on 127.0.0.1:${ports.etcdClient} (${Date.now() - t0} ms)`);

    const api = await start(apiserverSpec(layout));
    const conn = adminConn(state);
    await waitApiserverReady(conn, api).catch((err: unknown) => {
      const etcdRec = state.processes.etcd;
      if (etcdRec && !isRunning(etcdRec)) {
        throw new HarnessError(`etcd crashed while the apiserver was starting; see ${etcdRec.logFile}:\n${tail(etcdRec.logFile)}`);
      }
      throw err;
    });
    const readyzMs = Date.now() - t0;
    log(`[up] kube-apiserver ready at ${server} (${readyzMs} ms)`);

    await start(controllerManagerSpec(layout));
    await start(schedulerSpec(layout));
    const kwokRec = await start(kwokSpec(layout));

    await applyAll(conn, [...FAKE_NODE_NAMES.map(fakeNode), devHarnessMarker()]);
    await applyAll(conn, platformManifests());
    const tok = await operatorToken(conn);
    state.operator.tokenExpiresAt = tok.expiresAt;
    writeKubeconfig(paths.operatorKubeconfig, {
      server,
      caFile: pki.caCert,
      name: OPERATOR_SERVICE_ACCOUNT,
      namespace: PLATFORM_NAMESPACE,
      user: { token: tok.token },
    });

    await waitNodesReady(conn, FAKE_NODE_NAMES, kwokRec);
    log(`[up] ${FAKE_NODE_NAMES.length} kwok nodes Ready (${Date.now() - t0} ms)`);
    await waitDeploymentsAvailable(conn, PLATFORM_NAMESPACE, kwokRec);
    const platformMs = Date.now() - t0;
    log(`[up] platform deployments available in ${PLATFORM_NAMESPACE} (${platformMs} ms)`);
    await pgReady;
    state.ready = { readyzMs, platformMs };
    writeState(state);
    log(`[up] harness ready in ${Date.now() - t0} ms; state: ${paths.state}`);
    return state;
  } catch (err) {
    log(`[up] failed; stopping what was started (logs kept in ${paths.logs})`);
    await stopAll(state, log).catch(() => {});
    throw err;
  }
}

/** Stops every recorded component (process groups, SIGTERM then SIGKILL) and clears the state. */
export async function stopAll(state: HarnessState, log: Log = () => {}): Promise<void> {
  for (const rec of Object.values(state.extraProcesses ?? {})) {
    await stopProcess(rec, { graceMs: 10_000 });
    log(`[down] stopped ${rec.name} (pid ${rec.pid})`);
  }
  for (const name of STOP_ORDER) {
    const rec = state.processes[name];
    if (!rec) continue;
    await stopProcess(rec, { graceMs: 10_000 });
    log(`[down] stopped ${name} (pid ${rec.pid})`);
  }
  clearState(state.runDir);
  // A data dir outside the run folder (root => /tmp) would otherwise accumulate.
  if (state.postgres.dataDir && !state.postgres.dataDir.startsWith(state.runDir)) {
    rmSync(dirname(state.postgres.dataDir), { recursive: true, force: true });
  }
}

export async function down(log: Log = (m) => console.log(m)): Promise<void> {
  const paths = runPaths();
  const state = readState();
  if (!state) {
    log(`[down] no harness state in ${paths.root}; nothing to stop`);
    return;
  }
  await stopAll(state, log);
  log('[down] harness stopped');
}

/** Synchronous last-resort kill (process 'exit', SIGINT handlers): SIGKILL every group. */
export function killAllSync(root?: string): void {
  const state = readState(root);
  if (!state) return;
  for (const rec of Object.values(state.extraProcesses ?? {})) killGroupSync(rec);
  for (const name of STOP_ORDER) {
    const rec = state.processes[name];
    if (rec) killGroupSync(rec);
  }
  clearState(state.runDir);
}

export async function status(log: Log = (m) => console.log(m)): Promise<boolean> {
  const paths = runPaths();
  const state = readState();
  if (!state) {
    log(`harness: not running (no ${paths.state})`);
    return false;
  }
  const ok = await healthy(state);
  log(`harness: ${ok ? 'running' : 'DEGRADED'}  (run dir ${state.runDir}, started ${state.startedAt})`);
  log(`versions: kubernetes ${state.versions.kubernetes}, etcd ${state.versions.etcd}, kwok ${state.versions.kwok}`);
  for (const name of STOP_ORDER) {
    const rec = state.processes[name];
    const st = !rec ? 'not started' : isRunning(rec) ? `running  pid ${rec.pid}` : `DEAD     pid ${rec.pid} (stale; see ${rec.logFile})`;
    log(`  ${name.padEnd(24)} ${st}${rec?.ports?.length ? `  ports ${rec.ports.join(',')}` : ''}`);
  }
  for (const rec of Object.values(state.extraProcesses ?? {})) {
    log(
      `  ${rec.name.padEnd(24)} ${isRunning(rec) ? 'running ' : 'stopped '} pid ${rec.pid}  ports ${(rec.ports ?? []).join(',')}  (private, started by a test)`,
    );
  }
  log(`apiserver:   ${state.apiServer.url}`);
  log(`kubeconfigs: admin=${state.kubeconfigs.admin}`);
  log(`             operator=${state.kubeconfigs.operator} (ServiceAccount ${state.operator.namespace}/${state.operator.serviceAccount})`);
  log(`postgres:    ${state.postgres.user}@127.0.0.1:${state.postgres.port}/${state.postgres.database} (${state.postgres.configFile})`);
  log(`logs:        ${state.logsDir}`);
  if (!existsSync(state.binDir)) log(`warning: binaries folder ${state.binDir} is gone`);
  return ok;
}
