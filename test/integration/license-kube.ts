// Helpers for the license integration tests: a namespace of their own on the real harness API
// server, with the console's Role bound to the least-privilege operator ServiceAccount.
import { CoreV1Api, KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { kubeClients } from '../../src-main/adapters/kube';
import type { ClusterRuntime } from '../../src-main/engine/core/cluster-runtime';
import { ClusterScope } from '../../src-main/engine/clusters/scope';
import { deleteNamespace, harness, kubeConfig, uniqueNamespace } from './harness-fixture';

/** True when a harness is reachable (global setup or `npm run cluster:up` + GATEHOUSE_HARNESS_REUSE=1). */
/** The integration project's global setup provides a harness or fails the run: a missing one is an error, never a skip. */
export function harnessAvailable(): boolean {
  harness();
  return true;
}

/** A fresh namespace with the console Role bound to the least-privilege operator; admin client to seed and inspect. */
export async function licenseNamespace() {
  const namespace = await uniqueNamespace('license');
  const core = kubeConfig('admin').makeApiClient(CoreV1Api);
  const operatorConfig: KubeConfig = kubeConfig('operator');
  const operator: ClusterRuntime = new ClusterScope(`harness:${namespace}`, {
    contextId: `harness:${namespace}`,
    contextName: 'harness',
    kube: kubeClients(operatorConfig),
    namespace,
    pgAdmin: async () => null,
  });
  return { namespace, adminCore: core, operator, cleanup: () => deleteNamespace(namespace).catch(() => undefined) };
}

export function tenantSecret(slug: string, extra: Partial<V1Secret> = {}): V1Secret {
  return {
    metadata: { name: `tenant-${slug}`, labels: { 'app.kubernetes.io/managed-by': 'gatehouse', 'gatehouse.io/tenant': slug } },
    type: 'Opaque',
    stringData: { DATABASE_URL: `postgres://tenant_${slug}@db/tenant_${slug}`, CP_TOKEN: `cp-${slug}` },
    ...extra,
  };
}

/** data + resourceVersion of every Secret in the namespace: "untouched" means this is identical. */
export async function snapshot(core: CoreV1Api, namespace: string) {
  const list = await core.listNamespacedSecret({ namespace });
  return Object.fromEntries(list.items.map((s) => [s.metadata?.name ?? '', { rv: s.metadata?.resourceVersion, data: s.data ?? {} }]));
}

export const decode = (s: V1Secret, key: string) =>
  s.data?.[key] === undefined ? undefined : Buffer.from(s.data[key]!, 'base64').toString('utf8');
