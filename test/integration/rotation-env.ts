// Builds the rotation capability for integration tests (real API server through the
// least-privilege operator kubeconfig, real PostgreSQL) and the tenant fixtures it works on:
// a tenant Secret (any layout) and dedicated Deployments that kwok really rolls on cluster A.
import fs from 'node:fs';
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { importJWK, jwtVerify, createLocalJWKSet, decodeProtectedHeader, type JWK } from 'jose';
import { kubeClients, type KubeClients } from '../../src-main/adapters/kube';
import type { PgConnectionConfig } from '../../src-main/adapters/postgres';
import { openLocalStore, type Sqlite } from '../../src-main/adapters/sqlite';
import { ContractError } from '../../src-shared/contract';
import { ClusterScope } from '../../src-main/engine/clusters/scope';
import { EventBus } from '../../src-main/engine/core/events';
import { SagaRunner, sagaMigrations } from '../../src-main/engine/core/saga';
import { RotationService } from '../../src-main/engine/rotation/service';
import { rotationMigrations } from '../../src-main/engine/rotation/fleet';
import type { RotationOptions } from '../../src-main/engine/rotation/saga';

export interface RotationTestEngine {
  service: RotationService;
  saga: SagaRunner;
  bus: EventBus;
  db: Sqlite;
  runtime: ClusterScope;
  /** Moves the service's clock forward (the overlap window without waiting for it). */
  clock: { offsetMs: number };
  close(): Promise<void>;
}

export function buildRotationEngine(opts: {
  kubeconfig: string;
  namespace: string;
  pg?: PgConnectionConfig;
  dataDir: string;
  consoleId: string;
  options?: Partial<Omit<RotationOptions, 'consoleId'>>;
  /** Bench hook: wrap the Kubernetes clients (to count requests). */
  wrapKube?: (kube: KubeClients) => KubeClients;
}): RotationTestEngine {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const { db } = openLocalStore(opts.dataDir, [...sagaMigrations, ...rotationMigrations]);
  const kc = new KubeConfig();
  kc.loadFromFile(opts.kubeconfig);
  const runtime = new ClusterScope(`test:${opts.namespace}`, {
    contextId: `test:${opts.namespace}`,
    contextName: 'harness',
    kube: opts.wrapKube ? opts.wrapKube(kubeClients(kc)) : kubeClients(kc),
    namespace: opts.namespace,
    pgAdmin: async () => (opts.pg ? { ...opts.pg, ssl: false } : null),
  });
  const bus = new EventBus();
  const saga = new SagaRunner(db, bus, async (uid) => {
    if (uid !== runtime.clusterId) throw new ContractError('UNAVAILABLE', `cluster ${uid} is not reachable from this test engine`);
    return runtime;
  });
  const clock = { offsetMs: 0 };
  const service = new RotationService({
    db,
    bus,
    saga,
    consoleId: opts.consoleId,
    options: {
      rolloutTimeoutMs: 60_000,
      sharedReloadMs: 0,
      pollMs: 200,
      now: () => new Date(Date.now() + clock.offsetMs),
      ...opts.options,
    },
  });
  return {
    service,
    saga,
    bus,
    db,
    runtime,
    clock,
    async close() {
      await runtime.close();
      db.close();
    },
  };
}

export function apis(kubeconfig: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

/** Short lifetimes so the derived window stays small: 60 s access, no refresh, 1 s JWKS cache → 121 s. */
export const TEST_LIFETIMES = { accessSeconds: 60, refreshSeconds: 0, offlineIdleSeconds: 0, jwksMaxAgeSeconds: 1 };

export async function createTenantSecret(core: CoreV1Api, namespace: string, slug: string, data: Record<string, string>): Promise<void> {
  await core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: `tenant-${slug}`, labels: { 'app.kubernetes.io/managed-by': 'gatehouse', 'gatehouse.io/tenant': slug } },
      type: 'Opaque',
      stringData: data,
    },
  });
}

export async function readSecretData(core: CoreV1Api, namespace: string, slug: string): Promise<Record<string, string>> {
  const s = await core.readNamespacedSecret({ name: `tenant-${slug}`, namespace });
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

/** A dedicated workload of the tenant (label gatehouse.io/tenant), kwok runs its pods. */
export async function createWorkload(
  apps: AppsV1Api,
  namespace: string,
  name: string,
  slug: string,
  o: { replicas?: number; nodeSelector?: Record<string, string> } = {},
): Promise<void> {
  const labels = { 'app.kubernetes.io/name': name };
  const body: V1Deployment = {
    metadata: { name, labels: { 'gatehouse.io/tenant': slug, ...labels } },
    spec: {
      replicas: o.replicas ?? 1,
      selector: { matchLabels: labels },
      // Surge one, never go below the desired count: a stuck new pod keeps the old ones serving.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels },
        spec: {
          containers: [{ name: 'app', image: 'ghcr.io/justiam/login-worker:1.8.2' }],
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
        },
      },
    },
  };
  await apps.createNamespacedDeployment({ namespace, body });
}

export async function waitAvailable(apps: AppsV1Api, namespace: string, name: string, timeoutMs = 60_000): Promise<V1Deployment> {
  const started = Date.now();
  for (;;) {
    const d = await apps.readNamespacedDeployment({ name, namespace });
    const want = d.spec?.replicas ?? 1;
    const s = d.status ?? {};
    if (
      (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
      (s.updatedReplicas ?? 0) >= want &&
      (s.availableReplicas ?? 0) >= want &&
      (s.replicas ?? 0) <= want
    )
      return d;
    if (Date.now() - started > timeoutMs) throw new Error(`deployment ${name} not available after ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface StoredKey {
  kid: string;
  alg: string;
  state: string;
  jwk: JWK | null;
}
const keysOf = (data: Record<string, string>): StoredKey[] => (JSON.parse(data.JWT_KEYS ?? '{"keys":[]}') as { keys: StoredKey[] }).keys;

/** Signs like the backend does: with the current key of the Secret's key set. */
export async function signLikeBackend(data: Record<string, string>, sub: string): Promise<string> {
  const { SignJWT } = await import('jose');
  const current = keysOf(data).find((k) => k.state === 'current')!;
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: current.alg, kid: current.kid })
    .setIssuedAt()
    .sign(await importJWK(current.jwk!, current.alg));
}

/**
 * Verifies like the backend and its relying parties: asymmetric keys against the published
 * JWKS, HS256 against the accepted (next/current/previous) secrets of the key set.
 */
export async function verifyLikeBackend(data: Record<string, string>, token: string): Promise<boolean> {
  const { alg, kid } = decodeProtectedHeader(token);
  try {
    if (alg === 'HS256') {
      const key = keysOf(data).find((k) => k.kid === kid && k.state !== 'retired' && k.jwk);
      if (!key) return false;
      await jwtVerify(token, await importJWK(key.jwk!, 'HS256'));
    } else {
      await jwtVerify(token, createLocalJWKSet(JSON.parse(data.JWKS ?? '{"keys":[]}') as { keys: JWK[] }));
    }
    return true;
  } catch {
    return false;
  }
}

/** Every byte of a data directory (SQLite files, WAL, logs): secrets must never be found there. */
export function localBytes(dataDir: string): string {
  let out = '';
  for (const name of fs.readdirSync(dataDir, { recursive: true }) as string[]) {
    const file = `${dataDir}/${name}`;
    if (fs.statSync(file).isFile()) out += fs.readFileSync(file).toString('latin1');
  }
  return out;
}
