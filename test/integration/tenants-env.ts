// Builds a real TenantService for integration tests: the harness API server (through
// the least-privilege operator kubeconfig, in a namespace of its own) and a real
// PostgreSQL (the harness one, or a private throwaway server for fault tests).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig, RbacAuthorizationV1Api, CoreV1Api, type V1PolicyRule } from '@kubernetes/client-node';
import { kubeClients } from '../../src-main/adapters/kube';
import type { PgConnectionConfig } from '../../src-main/adapters/postgres';
import { openLocalStore, type Sqlite } from '../../src-main/adapters/sqlite';
import { ContractError } from '../../src-shared/contract';
import { ClusterScope } from '../../src-main/engine/clusters/scope';
import { EventBus } from '../../src-main/engine/core/events';
import { SagaRunner } from '../../src-main/engine/core/saga';
import { tenantsMigrations } from '../../src-main/engine/tenants';
import { TenantService, type TenantServiceOptions } from '../../src-main/engine/tenants/service';
import { readState, type HarnessState } from '../harness/state';
import { freePorts } from '../harness/ports';
import { initPostgres, postgresSpec, waitPostgresReady } from '../harness/postgres';
import { startProcess, stopProcess, type ProcessRecord } from '../harness/processes';
import { CONSOLE_ROLE, PG_ADMIN_USER, PLATFORM_NAMESPACE } from '../harness/config';

/** The running harness, or the reason tests must skip (printed by the caller). */
export function harnessOrReason(): { state: HarnessState } | { reason: string } {
  const state = readState();
  // The integration project's global setup always provides a harness or fails the run; never pass by skipping.
  if (!state)
    throw new Error('no harness is running: run the integration project (npx vitest run --project integration) or `npm run cluster:up`');
  return { state };
}

export const uniqueSlug = (prefix = 't'): string => `${prefix}${randomBytes(4).toString('hex')}`;

export interface Rules {
  /** Permissions removed from the copied console Role, as "verb resource" (403 tests). */
  deny?: string[];
}

/** A namespace with a copy of the console Role bound to the operator ServiceAccount, like uniqueNamespace() of the fixture. */
export async function operatorNamespace(
  state: HarnessState,
  prefix: string,
  rules: Rules = {},
): Promise<{ namespace: string; remove(): Promise<void> }> {
  const admin = new KubeConfig();
  admin.loadFromFile(state.kubeconfigs.admin);
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const namespace = `${prefix}-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { 'gatehouse.io/test': 'tenants' } } } });
  const role = await rbac.readNamespacedRole({ name: CONSOLE_ROLE, namespace: PLATFORM_NAMESPACE });
  const deny = new Set(rules.deny ?? []);
  // Split rules per resource so one verb of one resource can be removed.
  const copied: V1PolicyRule[] = (role.rules ?? []).flatMap((r) =>
    (r.resources ?? [])
      .map((res) => ({ ...r, resources: [res], verbs: r.verbs.filter((v) => !deny.has(`${v} ${res}`)) }))
      .filter((x) => x.verbs.length > 0),
  );
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name: CONSOLE_ROLE }, rules: copied } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: CONSOLE_ROLE },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CONSOLE_ROLE },
      subjects: [{ kind: 'ServiceAccount', name: state.operator.serviceAccount, namespace: state.operator.namespace }],
    },
  });
  return { namespace, remove: async () => void (await core.deleteNamespace({ name: namespace }).catch(() => undefined)) };
}

export const harnessPg = (state: HarnessState): PgConnectionConfig => ({
  host: state.postgres.host,
  port: state.postgres.port,
  user: state.postgres.user,
  password: state.postgres.password,
  database: state.postgres.database,
});

export interface TenantTestEngine {
  service: TenantService;
  saga: SagaRunner;
  bus: EventBus;
  db: Sqlite;
  runtime: ClusterScope;
  close(): Promise<void>;
}

/** The tenants capability as createEngine builds it, over the operator kubeconfig. */
export function buildTenantEngine(opts: {
  kubeconfig: string;
  namespace: string;
  pg: PgConnectionConfig;
  dataDir: string;
  consoleId: string;
  tenants?: Partial<TenantServiceOptions>;
}): TenantTestEngine {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const { db } = openLocalStore(opts.dataDir, [
    { id: 100, name: 'settings', store: 'state' as const, sql: 'CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)' },
    ...tenantsMigrations,
  ]);
  const kc = new KubeConfig();
  kc.loadFromFile(opts.kubeconfig);
  const runtime = new ClusterScope(`test:${opts.namespace}`, {
    contextId: `test:${opts.namespace}`,
    contextName: 'harness',
    kube: kubeClients(kc),
    namespace: opts.namespace,
    pgAdmin: async () => ({ ...opts.pg, ssl: false }),
  });
  const bus = new EventBus();
  // Operations resume only on their own cluster: this engine knows exactly one.
  const saga = new SagaRunner(db, bus, async (uid) => {
    if (uid !== runtime.clusterId) throw new ContractError('UNAVAILABLE', `cluster ${uid} is not reachable from this test engine`);
    return runtime;
  });
  const service = new TenantService({ db, bus, saga, consoleId: opts.consoleId, ...opts.tenants });
  return {
    service,
    saga,
    bus,
    db,
    runtime,
    async close() {
      await service.close();
      await runtime.close();
      db.close();
    },
  };
}

export const tempDataDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-tenants-'));

/** A throwaway PostgreSQL this test may kill without disturbing anyone else's tests. */
export async function privatePostgres(): Promise<{
  config: PgConnectionConfig;
  current(): ProcessRecord | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-tenants-pg-'));
  fs.chmodSync(root, 0o755);
  const dataDir = path.join(root, 'data');
  const { password } = initPostgres(dataDir);
  const [port] = await freePorts(1);
  const spec = postgresSpec({ dataDir, port: port!, logFile: path.join(root, 'postgres.log') });
  const config: PgConnectionConfig = { host: '127.0.0.1', port: port!, user: PG_ADMIN_USER, password, database: 'postgres' };
  let proc: ProcessRecord | undefined;
  const start = async () => {
    proc = startProcess(spec);
    await waitPostgresReady({ ...config }, proc);
  };
  await start();
  return {
    config,
    current: () => proc,
    start,
    stop: async () => {
      if (proc) await stopProcess(proc, { signal: 'SIGKILL', graceMs: 5_000 });
      proc = undefined;
    },
    destroy: async () => {
      if (proc) await stopProcess(proc, { signal: 'SIGTERM', graceMs: 10_000 });
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
