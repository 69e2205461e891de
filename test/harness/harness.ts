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
import {
  CLUSTER_NAME,
  FAKE_NODE_NAMES,
  OPERATOR_SERVICE_ACCOUNT,
  PG_ADMIN_USER,
  PG_DATABASE,
  PLATFORM_NAMESPACE,
  type RunPaths,
  runDir,
  runPaths,
} from './config';
import { HarnessError } from './errors';
import { type KubeConn, kubeRequest } from './kubeapi';
import { writeKubeconfig } from './kubeconfig';
import {
  applyAll,
  devHarnessMarker,
  fakeNode,
  operatorToken,
  platformManifests,
  waitDeploymentsAvailable,
  waitNodesReady,
} from './platform';
import { assertPortsFree, freePorts } from './ports';
import { ensureDatabase, initPostgres, postgresDataDir, postgresSpec, waitPostgresReady } from './postgres';
import { type ProcessRecord, type ProcessSpec, isRunning, killGroupSync, startProcess, stopProcess, tail } from './processes';
import { type ComponentName, type HarnessState, type PostgresInfo, clearState, readState, writeState } from './state';

export type Log = (msg: string) => void;

/** Stop order: dependants first, etcd last (postgres is independent). */
export const STOP_ORDER: ComponentName[] = ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd', 'postgres'];
/** What a harness started with `workloads: false` runs: API objects and a database, no pods. */
export const API_ONLY_COMPONENTS: ComponentName[] = ['kube-apiserver', 'etcd', 'postgres'];

/** The components `state` is meant to run (files of older harness versions: all). */
export function expectedComponents(state: HarnessState): ComponentName[] {
  const wanted = state.components ?? STOP_ORDER;
  return STOP_ORDER.filter((n) => wanted.includes(n));
}

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
  return expectedComponents(state).filter((n) => {
    const rec = state.processes[n];
    return !rec || !isRunning(rec);
  });
}

async function healthy(state: HarnessState): Promise<boolean> {
  // No `ready`: the `up` that wrote this file died half way (platform not applied, kubeconfigs missing).
  if (!state.ready || deadComponents(state).length > 0) return false;
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
  /** Run folder; default runDir() (GATEHOUSE_HARNESS_DIR or <cache>/run). */
  root?: string;
  /**
   * kubeconfig cluster name (contexts `admin@<name>`, `gatehouse@<name>`) and CA
   * name; default CLUSTER_NAME. Give a second harness its own so kubeconfigs can be merged.
   */
  clusterName?: string;
  /**
   * true (default): controller-manager, scheduler, kwok and fake nodes; `up`
   * waits until the platform Deployments are available. false: etcd,
   * kube-apiserver and PostgreSQL only; every API object is real (namespaces,
   * RBAC, ServiceAccount tokens, Secrets, Leases), but nothing reconciles:
   * Deployments stay at 0 available, no pods, deleted namespaces stay Terminating.
   */
  workloads?: boolean;
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
  const paths = runPaths(opts.root ?? runDir());
  const clusterName = opts.clusterName ?? CLUSTER_NAME;
  const components = opts.workloads === false ? STOP_ORDER.filter((n) => API_ONLY_COMPONENTS.includes(n)) : STOP_ORDER;
  const unlock = acquireLock(paths.lock);
  try {
    const existing = readState(paths.root);
    if (existing) {
      // A harness of another kind in this folder (e.g. API-only where a full one is asked for) is replaced.
      const sameKind = (existing.clusterName ?? CLUSTER_NAME) === clusterName && expectedComponents(existing).join() === components.join();
      if (sameKind && (await healthy(existing))) {
        log(`[up] harness already running (apiserver ${existing.apiServer.url}); nothing to do`);
        return existing;
      }
      const dead = deadComponents(existing);
      const why = !sameKind
        ? `it runs ${expectedComponents(existing).join(', ')} as "${existing.clusterName ?? CLUSTER_NAME}", ${components.join(', ')} as "${clusterName}" was asked for`
        : dead.length
          ? `not running: ${dead.map((n) => `${n} (log: ${existing.processes[n]?.logFile ?? 'never started'})`).join(', ')}`
          : !existing.ready
            ? 'its start-up never finished'
            : 'kube-apiserver not ready';
      log(`[up] stale harness (pid file ${paths.pidFile}): ${why}; stopping the survivors and starting fresh`);
      await stopAll(existing, log);
    }
    return await freshUp(paths, { clusterName, workloads: opts.workloads !== false, components }, opts, log);
  } finally {
    unlock();
  }
}

interface Kind {
  clusterName: string;
  workloads: boolean;
  components: ComponentName[];
}

async function freshUp(paths: RunPaths, kind: Kind, opts: UpOptions, log: Log): Promise<HarnessState> {
  const t0 = Date.now();
  const { clusterName } = kind;
  const binDir = await ensureBinaries({ log });
  const versions = pins();

  // Every `up` starts from empty data: tests must not depend on leftovers.
  for (const d of [paths.etcdData, paths.pki, join(paths.root, 'kubeconfigs')]) rmSync(d, { recursive: true, force: true });
  mkdirSync(paths.logs, { recursive: true });
  const pki = ensurePki(paths.pki, `${clusterName}-ca`);

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
  for (const [name, file] of kind.workloads ? Object.entries(componentKubeconfigs) : []) {
    const c = pki.clients[name as keyof typeof pki.clients];
    writeKubeconfig(file, { server, caFile: pki.caCert, name, cluster: clusterName, user: { certFile: c.cert, keyFile: c.key } });
  }
  writeKubeconfig(paths.adminKubeconfig, {
    server,
    caFile: pki.caCert,
    name: 'admin',
    cluster: clusterName,
    user: { certFile: pki.clients.admin.cert, keyFile: pki.clients.admin.key },
  });

  const layout: Layout = { binDir, runDir: paths.root, logs: paths.logs, etcdData: paths.etcdData, pki, ports, componentKubeconfigs };
  const pgDataDir = postgresDataDir(paths.root);
  const pgInfo: PostgresInfo = { host: '127.0.0.1', port: ports.postgres, user: PG_ADMIN_USER, password: '', database: PG_DATABASE };

  const state: HarnessState = {
    schema: 1,
    runDir: paths.root,
    clusterName,
    components: kind.components,
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

    const kwokRec = kind.workloads ? await startWorkloads(layout, start) : undefined;
    if (kwokRec) await applyAll(conn, FAKE_NODE_NAMES.map(fakeNode));
    await applyAll(conn, [devHarnessMarker()]);
    await applyAll(conn, platformManifests());
    const tok = await operatorToken(conn);
    state.operator.tokenExpiresAt = tok.expiresAt;
    writeKubeconfig(paths.operatorKubeconfig, {
      server,
      caFile: pki.caCert,
      name: OPERATOR_SERVICE_ACCOUNT,
      namespace: PLATFORM_NAMESPACE,
      cluster: clusterName,
      user: { token: tok.token },
    });

    if (kwokRec) {
      await waitNodesReady(conn, FAKE_NODE_NAMES, kwokRec);
      log(`[up] ${FAKE_NODE_NAMES.length} kwok nodes Ready (${Date.now() - t0} ms)`);
      await waitDeploymentsAvailable(conn, PLATFORM_NAMESPACE, kwokRec);
      log(`[up] platform deployments available in ${PLATFORM_NAMESPACE} (${Date.now() - t0} ms)`);
    } else {
      log(`[up] platform objects applied in ${PLATFORM_NAMESPACE}; no controllers or nodes: nothing rolls out (${Date.now() - t0} ms)`);
    }
    const platformMs = Date.now() - t0;
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

/** controller-manager, scheduler and kwok; resolves with kwok's record (node readiness waits watch it). */
async function startWorkloads(layout: Layout, start: (spec: ProcessSpec) => Promise<ProcessRecord>): Promise<ProcessRecord> {
  await start(controllerManagerSpec(layout));
  await start(schedulerSpec(layout));
  return start(kwokSpec(layout));
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

export async function down(opts: { root?: string; log?: Log } = {}): Promise<void> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const paths = runPaths(opts.root ?? runDir());
  const state = readState(paths.root);
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

export async function status(root = runDir(), log: Log = (m) => console.log(m)): Promise<boolean> {
  const paths = runPaths(root);
  const state = readState(root);
  if (!state) {
    log(`harness: not running (no ${paths.state})`);
    return false;
  }
  const ok = await healthy(state);
  log(
    `harness: ${ok ? 'running' : 'DEGRADED'}  (run dir ${state.runDir}, cluster ${state.clusterName ?? CLUSTER_NAME}, started ${state.startedAt})`,
  );
  log(`versions: kubernetes ${state.versions.kubernetes}, etcd ${state.versions.etcd}, kwok ${state.versions.kwok}`);
  const expected = expectedComponents(state);
  for (const name of STOP_ORDER) {
    const rec = state.processes[name];
    if (!rec && !expected.includes(name)) {
      log(`  ${name.padEnd(24)} not run here (API objects only: no nodes, nothing rolls out)`);
      continue;
    }
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
