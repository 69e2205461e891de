// Where the harness keeps things, and which knobs the environment can turn.
// Everything path-related lives here so the CLI, vitest global setup and the
// test fixtures agree on the same folders without passing them around.
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/harness/ (this folder), resolved from the module URL so cwd does not matter. */
export const HARNESS_SRC = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HARNESS_SRC, '..', '..');
/** Wrapper Go modules that pin the Kubernetes / etcd / kwok versions. */
export const KUBE_BUILD_DIR = join(HARNESS_SRC, 'kube-build');
/** Manifests applied into the cluster by `up` (namespace, RBAC, deployments). */
export const PLATFORM_MANIFESTS_DIR = join(REPO_ROOT, 'resources', 'platform');
export const KWOK_CONFIG_FILE = join(HARNESS_SRC, 'kwok', 'kwok.yaml');

export const PLATFORM_NAMESPACE = 'iam-system';
export const OPERATOR_SERVICE_ACCOUNT = 'gatehouse';
/** The Role in console-rbac.yaml; uniqueNamespace() copies its rules. */
export const CONSOLE_ROLE = 'gatehouse-console';
export const FAKE_NODE_NAMES = ['kwok-node-0', 'kwok-node-1', 'kwok-node-2'] as const;

export const PG_ADMIN_USER = 'gatehouse_admin';
export const PG_DATABASE = 'gatehouse';

/** Root of the per-version binary cache (GATEHOUSE_HARNESS_CACHE overrides). */
export function cacheRoot(): string {
  return process.env.GATEHOUSE_HARNESS_CACHE
    ? resolve(process.env.GATEHOUSE_HARNESS_CACHE)
    : join(homedir(), '.cache', 'gatehouse-harness');
}

/**
 * Default run folder (kubeconfigs, certs, data dirs, logs, harness.json) when
 * a caller names none: GATEHOUSE_HARNESS_DIR, else <cache>/run. The harness
 * functions take an explicit folder; this default serves the CLI and scripts.
 */
export function runDir(): string {
  return process.env.GATEHOUSE_HARNESS_DIR ? resolve(process.env.GATEHOUSE_HARNESS_DIR) : join(cacheRoot(), 'run');
}

/** kubeconfig cluster name of the main harness; contexts are `<user>@<name>`. */
export const CLUSTER_NAME = 'gatehouse-harness';
/**
 * The second, independent cluster (own etcd, kube-apiserver, PKI and
 * PostgreSQL) lives in this sub-folder of the main run folder, so it is found
 * from the main one alone and cleaned up with it.
 */
export const SECOND_CLUSTER_DIR = 'cluster-b';
export const SECOND_CLUSTER_NAME = 'gatehouse-harness-b';

export function secondRunDir(mainRoot: string): string {
  return join(mainRoot, SECOND_CLUSTER_DIR);
}

export interface RunPaths {
  root: string;
  state: string;
  pidFile: string;
  lock: string;
  logs: string;
  pki: string;
  etcdData: string;
  adminKubeconfig: string;
  operatorKubeconfig: string;
  postgresJson: string;
}

export function runPaths(root = runDir()): RunPaths {
  return {
    root,
    state: join(root, 'harness.json'),
    pidFile: join(root, 'harness.pid'),
    lock: join(root, 'up.lock'),
    logs: join(root, 'logs'),
    pki: join(root, 'pki'),
    etcdData: join(root, 'etcd-data'),
    adminKubeconfig: join(root, 'admin.kubeconfig'),
    operatorKubeconfig: join(root, 'operator.kubeconfig'),
    postgresJson: join(root, 'postgres.json'),
  };
}

/** Directory holding the Debian PostgreSQL server binaries (GATEHOUSE_PG_BIN overrides). */
export function postgresBinDir(): string {
  return process.env.GATEHOUSE_PG_BIN ?? '/usr/lib/postgresql/15/bin';
}
