import type { V1ConfigMap, V1Deployment, V1Lease, V1Secret } from '@kubernetes/client-node';
import { kubeError, kubeStatusCode, MANAGED_BY_LABEL, retryOnConflict, type KubeClients } from '../../adapters/kube';

/**
 * The few Kubernetes calls the tenants capability makes, in the platform namespace.
 * Reads of one object return null on 404; every failure is a contract error that
 * names the verb and resource (403). `calls` counts requests so the reconcile and
 * the bench can show that listing is O(1) in the number of tenants.
 */
export interface TenantKube {
  readonly namespace: string;
  readonly calls: { count: number };
  getLease(name: string): Promise<V1Lease | null>;
  createLease(body: V1Lease): Promise<V1Lease>;
  replaceLease(name: string, body: V1Lease): Promise<V1Lease>;
  deleteLease(name: string, resourceVersion?: string): Promise<void>;
  listLeases(labelSelector: string): Promise<V1Lease[]>;
  getSecret(name: string): Promise<V1Secret | null>;
  createSecret(body: V1Secret): Promise<V1Secret>;
  replaceSecret(name: string, body: V1Secret): Promise<V1Secret>;
  /** With preconditions the delete fails (409) if the object is not exactly the one that was read. */
  deleteSecret(name: string, preconditions?: { uid?: string; resourceVersion?: string }): Promise<void>;
  listSecrets(labelSelector: string): Promise<V1Secret[]>;
  getConfigMap(name: string): Promise<V1ConfigMap | null>;
  createConfigMap(body: V1ConfigMap): Promise<V1ConfigMap>;
  replaceConfigMap(name: string, body: V1ConfigMap): Promise<V1ConfigMap>;
  listConfigMaps(labelSelector: string): Promise<V1ConfigMap[]>;
  listDeployments(labelSelector: string): Promise<V1Deployment[]>;
  replaceDeployment(name: string, body: V1Deployment): Promise<V1Deployment>;
  deleteDeployment(name: string): Promise<void>;
  scaleDeployment(name: string, replicas: number): Promise<void>;
}

const orNull = async <T>(p: Promise<T>): Promise<T | null> => {
  try {
    return await p;
  } catch (error) {
    if (kubeStatusCode(error) === 404) return null;
    throw error;
  }
};
const ignore404 = async (p: Promise<unknown>): Promise<void> => {
  await orNull(p);
};

export function tenantKube(kube: KubeClients, namespace: string): TenantKube {
  const calls = { count: 0 };
  /** Every request passes here: counted, and its failure named after the verb and resource. */
  async function call<T>(verb: string, resource: string, name: string | undefined, fn: () => Promise<T>): Promise<T> {
    calls.count++;
    try {
      return await fn();
    } catch (error) {
      if (kubeStatusCode(error) === 404 && (verb === 'get' || verb === 'delete')) throw error;
      throw Object.assign(kubeError(error, { verb, resource, namespace, ...(name ? { name } : {}) }), {
        kubeStatus: kubeStatusCode(error),
      });
    }
  }
  const ns = { namespace };
  return {
    namespace,
    calls,
    getLease: (name) => orNull(call('get', 'leases', name, () => kube.coordination.readNamespacedLease({ name, ...ns }))),
    createLease: (body) => call('create', 'leases', body.metadata?.name, () => kube.coordination.createNamespacedLease({ ...ns, body })),
    replaceLease: (name, body) => call('update', 'leases', name, () => kube.coordination.replaceNamespacedLease({ name, ...ns, body })),
    deleteLease: (name, resourceVersion) =>
      ignore404(
        call('delete', 'leases', name, () =>
          kube.coordination.deleteNamespacedLease({
            name,
            ...ns,
            ...(resourceVersion ? { body: { preconditions: { resourceVersion } } } : {}),
          }),
        ),
      ),
    listLeases: async (labelSelector) =>
      (await call('list', 'leases', undefined, () => kube.coordination.listNamespacedLease({ ...ns, labelSelector }))).items,
    getSecret: (name) => orNull(call('get', 'secrets', name, () => kube.core.readNamespacedSecret({ name, ...ns }))),
    createSecret: (body) => call('create', 'secrets', body.metadata?.name, () => kube.core.createNamespacedSecret({ ...ns, body })),
    replaceSecret: (name, body) => call('update', 'secrets', name, () => kube.core.replaceNamespacedSecret({ name, ...ns, body })),
    deleteSecret: (name, preconditions) =>
      ignore404(
        call('delete', 'secrets', name, () =>
          kube.core.deleteNamespacedSecret({ name, ...ns, ...(preconditions ? { body: { preconditions } } : {}) }),
        ),
      ),
    listSecrets: async (labelSelector) =>
      (await call('list', 'secrets', undefined, () => kube.core.listNamespacedSecret({ ...ns, labelSelector }))).items,
    getConfigMap: (name) => orNull(call('get', 'configmaps', name, () => kube.core.readNamespacedConfigMap({ name, ...ns }))),
    createConfigMap: (body) =>
      call('create', 'configmaps', body.metadata?.name, () => kube.core.createNamespacedConfigMap({ ...ns, body })),
    replaceConfigMap: (name, body) => call('update', 'configmaps', name, () => kube.core.replaceNamespacedConfigMap({ name, ...ns, body })),
    listConfigMaps: async (labelSelector) =>
      (await call('list', 'configmaps', undefined, () => kube.core.listNamespacedConfigMap({ ...ns, labelSelector }))).items,
    listDeployments: async (labelSelector) =>
      (await call('list', 'deployments', undefined, () => kube.apps.listNamespacedDeployment({ ...ns, labelSelector }))).items,
    replaceDeployment: (name, body) =>
      call('update', 'deployments', name, () => kube.apps.replaceNamespacedDeployment({ name, ...ns, body })),
    deleteDeployment: (name) => ignore404(call('delete', 'deployments', name, () => kube.apps.deleteNamespacedDeployment({ name, ...ns }))),
    scaleDeployment: async (name, replicas) => {
      await call('update', 'deployments/scale', name, () =>
        kube.apps.replaceNamespacedDeploymentScale({ name, ...ns, body: { metadata: { name, namespace }, spec: { replicas } } }),
      );
    },
  };
}

/** True for a CONFLICT produced from a Kubernetes 409 (create of an existing name, stale resourceVersion). */
export const isKubeConflict = (error: unknown): boolean =>
  (error as { kubeStatus?: number } | null)?.kubeStatus === 409 || kubeStatusCode(error) === 409;

/**
 * Sets one data key of a settings ConfigMap in the platform namespace (created, labelled
 * managed-by gatehouse, when missing), written with the resourceVersion it read: a
 * concurrent edit fails with 409 and the whole read-modify-write is retried. `onRead` sees
 * each read, so the caller can record the value it replaced.
 */
export async function writeConfigMapKey(
  kube: Pick<TenantKube, 'namespace' | 'getConfigMap' | 'createConfigMap' | 'replaceConfigMap'>,
  name: string,
  key: string,
  value: string,
  onRead?: (cm: V1ConfigMap | null) => void | Promise<void>,
): Promise<void> {
  await retryOnConflict(async () => {
    const cm = await kube.getConfigMap(name);
    await onRead?.(cm);
    const body: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      ...(cm ?? {}),
      metadata: {
        ...(cm?.metadata ?? {}),
        name,
        namespace: kube.namespace,
        labels: { ...(cm?.metadata?.labels ?? {}), ...MANAGED_BY_LABEL },
      },
      data: { ...(cm?.data ?? {}), [key]: value },
    };
    if (cm) await kube.replaceConfigMap(name, body);
    else await kube.createConfigMap(body);
  });
}
