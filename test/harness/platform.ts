// Cluster content: fake nodes for kwok, the platform manifests from
// resources/platform/, and the operator ServiceAccount token.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { FAKE_NODE_NAMES, OPERATOR_SERVICE_ACCOUNT, PLATFORM_MANIFESTS_DIR, PLATFORM_NAMESPACE } from './config';
import { type KubeConn, type KubeObject, ResourceMapper, applyObject, kubeJson } from './kubeapi';
import { type ProcessRecord, waitFor } from './processes';

/** All YAML documents of resources/platform/*.yaml, in file-name order (00-namespace first). */
export function platformManifests(dir = PLATFORM_MANIFESTS_DIR): KubeObject[] {
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  return files.flatMap((f) =>
    parseAllDocuments(readFileSync(join(dir, f), 'utf8'))
      .map((d) => d.toJS() as KubeObject | null)
      .filter((o): o is KubeObject => !!o && typeof o === 'object' && 'kind' in o),
  );
}

/**
 * Node objects kwok will adopt (annotation kwok.x-k8s.io/node=fake). kwok's
 * node-initialize stage fills in status (Ready, capacity, addresses).
 * No taints: every node is fake, so plain manifests schedule unchanged.
 */
export function fakeNode(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
    },
    spec: {},
  };
}

/**
 * Marks this cluster as the local development harness: a console started with --dev accepts
 * test-signed licenses only on a cluster whose kube-system namespace carries this label and whose
 * API server is on loopback (src-main/engine/license/kube-targets.ts DEV_HARNESS_LABEL, docs/license.md).
 */
export function devHarnessMarker(): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system', labels: { 'gatehouse.io/dev-harness': 'true' } } };
}

export async function applyAll(conn: KubeConn, objects: KubeObject[]): Promise<void> {
  const mapper = new ResourceMapper(conn);
  for (const obj of objects) await applyObject(conn, mapper, obj);
}

interface NodeList {
  items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
}

/** `kwok` (optional): fail fast with its log if it dies instead of timing out. */
export async function waitNodesReady(
  conn: KubeConn,
  names: readonly string[] = FAKE_NODE_NAMES,
  kwok?: ProcessRecord,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    `${names.length} kwok nodes Ready`,
    async () => {
      const list = await kubeJson<NodeList>(conn, 'GET', '/api/v1/nodes');
      return names.every((n) =>
        list.items.some((i) => i.metadata.name === n && i.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')),
      );
    },
    { timeoutMs, intervalMs: 500, proc: kwok },
  );
}

interface DeploymentList {
  items: {
    metadata: { name: string; generation?: number };
    spec: { replicas?: number };
    status?: { observedGeneration?: number; availableReplicas?: number; updatedReplicas?: number };
  }[];
}

/** Every Deployment in `namespace` rolled out with all replicas available. */
export async function waitDeploymentsAvailable(
  conn: KubeConn,
  namespace = PLATFORM_NAMESPACE,
  kwok?: ProcessRecord,
  timeoutMs = 120_000,
): Promise<void> {
  let pending: string[] = [];
  await waitFor(
    `Deployments in ${namespace} to become available`,
    async () => {
      const list = await kubeJson<DeploymentList>(conn, 'GET', `/apis/apps/v1/namespaces/${namespace}/deployments`);
      pending = list.items
        .filter((d) => {
          const want = d.spec.replicas ?? 1;
          const s = d.status ?? {};
          return (
            (s.observedGeneration ?? 0) < (d.metadata.generation ?? 0) ||
            (s.availableReplicas ?? 0) < want ||
            (s.updatedReplicas ?? 0) < want
          );
        })
        .map((d) => d.metadata.name);
      return list.items.length > 0 && pending.length === 0;
    },
    { timeoutMs, intervalMs: 500, proc: kwok },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)} (not available: ${pending.join(', ') || 'none listed'})`);
  });
}

/**
 * A long-lived token for the console's ServiceAccount via the TokenRequest API
 * (no legacy Secret-based tokens). One year: a harness never lives that long.
 */
export async function operatorToken(conn: KubeConn): Promise<{ token: string; expiresAt: string }> {
  const path = `/api/v1/namespaces/${PLATFORM_NAMESPACE}/serviceaccounts/${OPERATOR_SERVICE_ACCOUNT}/token`;
  // The ServiceAccount admission may lag right after apply; retry briefly.
  let res: { status: { token: string; expirationTimestamp: string } } | undefined;
  await waitFor(
    'operator ServiceAccount token',
    async () => {
      res = await kubeJson(conn, 'POST', path, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 365 * 24 * 3600 },
      });
      return true;
    },
    { timeoutMs: 30_000 },
  );
  if (!res) throw new Error('TokenRequest returned nothing');
  return { token: res.status.token, expiresAt: res.status.expirationTimestamp };
}
