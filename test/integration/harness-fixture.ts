// Helpers for integration tests running against the local cluster harness
// started by global-setup.ts. Import from test files only (uses vitest inject).
//
//   const h = harness();                       // paths, kubeconfigs, pg config
//   const ns = await uniqueNamespace('secrets'); // fresh namespace, console RBAC bound
//   const db = uniqueDbPrefix();                // e.g. t_k3x9q2_ (prefix for your DBs/schemas)
//   await killApiServer(); await startApiServer();   // shared: every running file sees it
//   const api = await privateApiServer();              // yours alone: api.kill(), api.start()
//   const b = await secondCluster();            // cluster B: own etcd, API server, CA, PostgreSQL
//   kubeConfig('operator', b); await pgClient(undefined, b); await uniqueNamespace('x', b);
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import { inject } from 'vitest';
import { CONSOLE_ROLE, SECOND_CLUSTER_NAME, runDir, runPaths, secondRunDir } from '../harness/config';
import {
  type PrivateApiServer,
  type PrivatePostgres,
  killComponent,
  startComponent,
  startPrivateApiServer,
  startPrivatePostgres,
  stopComponent,
} from '../harness/faults';
import { adminConn, up } from '../harness/harness';
import { type HarnessInfo, toInfo } from '../harness/info';
import { kubeJson } from '../harness/kubeapi';
import { readState } from '../harness/state';

export type { HarnessInfo } from '../harness/info';
export type { PrivateApiServer, PrivatePostgres } from '../harness/faults';

/**
 * Connection info of the running harness. Comes from the global setup via
 * `inject('harness')`; falls back to harness.json in GATEHOUSE_HARNESS_DIR
 * (or the default run folder) so helpers also work from scripts.
 */
export function harness(): HarnessInfo {
  let provided: HarnessInfo | undefined;
  try {
    provided = inject('harness');
  } catch {
    provided = undefined; // not inside a vitest worker
  }
  if (provided) return provided;
  const state = readState(runDir());
  if (!state) {
    throw new Error(
      'No cluster harness: run the integration project (its globalSetup is test/integration/global-setup.ts) ' +
        'or start one with `npm run cluster:up` and set GATEHOUSE_HARNESS_REUSE=1. See docs/testing.md.',
    );
  }
  return toInfo(state);
}

let second: Promise<HarnessInfo> | undefined;

/**
 * Cluster B: a second cluster, independent of harness() (own etcd, so its own
 * kube-system UID; own kube-apiserver, CA and ServiceAccount keys, so A's
 * credentials are refused; own PostgreSQL), seeded like A (iam-system, console
 * RBAC, operator ServiceAccount + kubeconfig, the platform objects). It runs no
 * controller-manager, scheduler or kwok: API objects are real, but nothing
 * rolls out (Deployments stay at 0 available) and no nodes exist.
 *
 * Started on first use in the run (≈ 4–10 s; call it in beforeAll), in
 * <run folder>/cluster-b; later calls, in this file or any other, get the running
 * one in well under a second. The global setup stops it at the end of the run.
 */
export function secondCluster(): Promise<HarnessInfo> {
  second ??= startSecondCluster().catch((err: unknown) => {
    second = undefined;
    throw err;
  });
  return second;
}

async function startSecondCluster(): Promise<HarnessInfo> {
  const root = secondRunDir(harness().runDir);
  // Start-up progress goes to a file: test output is no place for it.
  const logFile = join(runPaths(root).logs, 'up.log');
  mkdirSync(runPaths(root).logs, { recursive: true });
  const log = (m: string) => appendFileSync(logFile, `${new Date().toISOString()} ${m}\n`);
  // up() is idempotent and locked per run folder: the first caller of the run starts B, the others reuse it.
  const state = await up({ root, clusterName: SECOND_CLUSTER_NAME, workloads: false, owner: `vitest worker (pid ${process.pid})`, log });
  return toInfo(state);
}

/** @kubernetes/client-node KubeConfig for the admin (system:masters) or the least-privilege operator (of `h`, default cluster A). */
export function kubeConfig(who: 'admin' | 'operator' = 'operator', h: HarnessInfo = harness()): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(h.kubeconfigs[who]);
  return kc;
}

/** A connected pg client as the harness admin role of `h` (default cluster A; caller must `end()` it). */
export async function pgClient(database?: string, h: HarnessInfo = harness()): Promise<pg.Client> {
  const { host, port, user, password, database: db } = h.postgres;
  const client = new pg.Client({ host, port, user, password, database: database ?? db });
  await client.connect();
  return client;
}

function suffix(): string {
  return randomBytes(4).toString('hex');
}

function conn(h: HarnessInfo) {
  const state = readState(h.runDir);
  if (!state) throw new Error('harness.json disappeared: the harness was stopped');
  return adminConn(state);
}

interface Role {
  rules: unknown[];
}

/**
 * Creates `<prefix>-<random>` (admin credentials) and gives the operator
 * ServiceAccount exactly the console Role's permissions in it: the rules are
 * copied from iam-system/gatehouse-console, so tests exercise the real RBAC.
 */
export async function uniqueNamespace(prefix = 'test', h: HarnessInfo = harness()): Promise<string> {
  const c = conn(h);
  const name = `${prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40)}-${suffix()}`;
  await kubeJson(c, 'POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'gatehouse.test/harness': 'true' } },
  });
  const role = await kubeJson<Role>(c, 'GET', `/apis/rbac.authorization.k8s.io/v1/namespaces/${h.platformNamespace}/roles/${CONSOLE_ROLE}`);
  await kubeJson(c, 'POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${name}/roles`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: CONSOLE_ROLE, namespace: name },
    rules: role.rules,
  });
  await kubeJson(c, 'POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${name}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: CONSOLE_ROLE, namespace: name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CONSOLE_ROLE },
    subjects: [{ kind: 'ServiceAccount', name: h.operator.serviceAccount, namespace: h.operator.namespace }],
  });
  return name;
}

/** Deletes a namespace made by uniqueNamespace (optional: the cluster is thrown away anyway; on cluster B it stays Terminating, no namespace controller). */
export async function deleteNamespace(name: string, h: HarnessInfo = harness()): Promise<void> {
  await kubeJson(conn(h), 'DELETE', `/api/v1/namespaces/${name}`);
}

/**
 * A prefix for databases/roles/schemas owned by one test file, e.g.
 * `t_1a2b3c4d_`. Lower-case and identifier-safe; unique per call.
 */
export function uniqueDbPrefix(): string {
  return `t_${suffix()}_`;
}

// Fault hooks. stop* = SIGTERM (graceful), kill* = SIGKILL (crash). start*
// restarts with the identical command line and ports and resolves once the
// component serves again (/readyz, or a successful PostgreSQL query).
// They act on cluster A unless given another cluster's info (secondCluster()).

/** Run folder of `h`; anything else (e.g. the suite vitest hands to `afterAll(startApiServer)`) means cluster A. */
function target(h: unknown): string {
  const root = (h as Partial<HarnessInfo> | undefined)?.runDir;
  return typeof root === 'string' ? root : harness().runDir;
}

export const stopApiServer = (h?: HarnessInfo): Promise<void> => stopComponent('kube-apiserver', target(h));
export const killApiServer = (h?: HarnessInfo): Promise<void> => killComponent('kube-apiserver', target(h));
export const startApiServer = (h?: HarnessInfo): Promise<void> => startComponent('kube-apiserver', target(h));
export const stopPostgres = (h?: HarnessInfo): Promise<void> => stopComponent('postgres', target(h));
export const killPostgres = (h?: HarnessInfo): Promise<void> => killComponent('postgres', target(h));
export const startPostgres = (h?: HarnessInfo): Promise<void> => startComponent('postgres', target(h));

// Private instances for fault tests (see test/harness/faults.ts): killing the
// shared API server or PostgreSQL breaks whatever other test files are doing
// at that moment (the integration project runs files in parallel). Prefer
// these unless the test is about the shared instance itself; call dispose()
// in afterAll (`down` cleans up forgotten ones).
/** A second kube-apiserver on the etcd of `h` (default A): same objects, same credentials, own port/kubeconfigs. */
export const privateApiServer = (h?: HarnessInfo): Promise<PrivateApiServer> => startPrivateApiServer(target(h));
/** A separate PostgreSQL server: `info` has {host, port, user, password, database: 'postgres'}. */
export const privatePostgres = (h?: HarnessInfo): Promise<PrivatePostgres> => startPrivatePostgres(target(h));
