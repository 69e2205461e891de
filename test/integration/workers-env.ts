// Builds the workers capability for integration tests: the harness API server through the
// least-privilege operator kubeconfig, in a namespace of its own, with tenants seeded the way
// the tenant create saga leaves them (registry entry + Secret) and the shared login worker.
import fs from 'node:fs';
import { KubeConfig, AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { kubeClients } from '../../src-main/adapters/kube';
import { openLocalStore, type Sqlite } from '../../src-main/adapters/sqlite';
import { ContractError } from '../../src-shared/contract';
import { ClusterScope } from '../../src-main/engine/clusters/scope';
import { EventBus } from '../../src-main/engine/core/events';
import { SagaRunner } from '../../src-main/engine/core/saga';
import { tenantsMigrations } from '../../src-main/engine/tenants';
import { tenantSecret } from '../../src-main/engine/tenants/material';
import { WorkersService, type WorkersServiceOptions } from '../../src-main/engine/workers/service';
import type { HarnessState } from '../harness/state';

export interface WorkersTestEngine {
  service: WorkersService;
  saga: SagaRunner;
  bus: EventBus;
  db: Sqlite;
  runtime: ClusterScope;
  /** Cluster-admin clients for seeding and for looking behind the console's back. */
  admin: { core: CoreV1Api; apps: AppsV1Api };
  seedTenant(slug: string, tier: string): Promise<void>;
  close(): Promise<void>;
}

export async function buildWorkersEngine(opts: {
  state: HarnessState;
  namespace: string;
  dataDir: string;
  workers?: Partial<WorkersServiceOptions>;
}): Promise<WorkersTestEngine> {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const { db } = openLocalStore(opts.dataDir, [
    { id: 100, name: 'settings', store: 'state' as const, sql: 'CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)' },
    ...tenantsMigrations,
  ]);
  const kc = new KubeConfig();
  kc.loadFromFile(opts.state.kubeconfigs.operator);
  const runtime = new ClusterScope(`test:${opts.namespace}`, {
    contextId: `test:${opts.namespace}`,
    contextName: 'harness',
    kube: kubeClients(kc),
    namespace: opts.namespace,
    pgAdmin: async () => null,
  });
  const bus = new EventBus();
  const saga = new SagaRunner(db, bus, async (uid) => {
    if (uid !== runtime.clusterId) throw new ContractError('UNAVAILABLE', `cluster ${uid} is not reachable from this test engine`);
    return runtime;
  });
  const service = new WorkersService({
    saga,
    bus,
    consoleId: 'console-w',
    rollout: { periodMs: 250, stuckPeriods: 40, timeoutMs: 90_000 },
    ...opts.workers,
  });
  const adminKc = new KubeConfig();
  adminKc.loadFromFile(opts.state.kubeconfigs.admin);
  const admin = { core: adminKc.makeApiClient(CoreV1Api), apps: adminKc.makeApiClient(AppsV1Api) };
  // The platform's shared login worker: its image is what dedicated workers run.
  const platform = await admin.apps.readNamespacedDeployment({ name: 'login-worker-shared', namespace: opts.state.platformNamespace });
  await admin.apps.createNamespacedDeployment({
    namespace: opts.namespace,
    body: { metadata: { name: 'login-worker-shared', labels: platform.metadata?.labels ?? {} }, spec: platform.spec! },
  });
  return {
    service,
    saga,
    bus,
    db,
    runtime,
    admin,
    async seedTenant(slug, tier) {
      const p = service.ports(runtime);
      await p.registry.put(slug, {
        name: `Tenant ${slug}`,
        tier,
        status: 'active',
        created: new Date().toISOString(),
        schema: 1,
        users: null,
      });
      await p.tenantKube.createSecret(tenantSecret(slug, opts.namespace, { TENANT_SLUG: slug, LOGIN_WORKER_TOKEN: 'test-token' }));
    },
    async close() {
      await runtime.close();
      db.close();
    },
  };
}
