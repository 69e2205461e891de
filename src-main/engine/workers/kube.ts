import type { V1ConfigMap, V1Deployment, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import { kubeError, kubeStatusCode, type KubeClients } from '../../adapters/kube';

/**
 * The Kubernetes calls of the workers capability, in the platform namespace. Reads of one
 * object answer null on 404; failures are contract errors naming verb and resource (403 →
 * FORBIDDEN "cannot `create services` …"). `calls` counts requests (tests and bench).
 */
export interface WorkersKube {
  readonly namespace: string;
  readonly calls: { count: number };
  getDeployment(name: string): Promise<V1Deployment | null>;
  listDeployments(labelSelector: string): Promise<V1Deployment[]>;
  createDeployment(body: V1Deployment): Promise<V1Deployment>;
  replaceDeployment(name: string, body: V1Deployment): Promise<V1Deployment>;
  /** With preconditions the delete fails (409) unless it is exactly the object that was read. */
  deleteDeployment(name: string, preconditions?: { uid?: string; resourceVersion?: string }): Promise<void>;
  scaleDeployment(name: string, replicas: number): Promise<void>;
  getService(name: string): Promise<V1Service | null>;
  createService(body: V1Service): Promise<V1Service>;
  deleteService(name: string, preconditions?: { uid?: string; resourceVersion?: string }): Promise<void>;
  getConfigMap(name: string): Promise<V1ConfigMap | null>;
  listConfigMaps(labelSelector: string): Promise<V1ConfigMap[]>;
  createConfigMap(body: V1ConfigMap): Promise<V1ConfigMap>;
  replaceConfigMap(name: string, body: V1ConfigMap): Promise<V1ConfigMap>;
  deleteConfigMap(name: string): Promise<void>;
  getSecret(name: string): Promise<V1Secret | null>;
  createSecret(body: V1Secret): Promise<V1Secret>;
  replaceSecret(name: string, body: V1Secret): Promise<V1Secret>;
  deleteSecret(name: string, preconditions?: { uid?: string; resourceVersion?: string }): Promise<void>;
  listPods(labelSelector: string): Promise<V1Pod[]>;
}

const orNull = async <T>(p: Promise<T>): Promise<T | null> => {
  try {
    return await p;
  } catch (error) {
    if (kubeStatusCode(error) === 404 || (error as { kubeStatus?: number }).kubeStatus === 404) return null;
    throw error;
  }
};

export function workersKube(kube: KubeClients, namespace: string): WorkersKube {
  const calls = { count: 0 };
  async function call<T>(verb: string, resource: string, name: string | undefined, fn: () => Promise<T>): Promise<T> {
    calls.count++;
    try {
      return await fn();
    } catch (error) {
      throw Object.assign(kubeError(error, { verb, resource, namespace, ...(name ? { name } : {}) }), {
        kubeStatus: kubeStatusCode(error),
      });
    }
  }
  const ns = { namespace };
  const pre = (p?: { uid?: string; resourceVersion?: string }) => (p ? { body: { preconditions: p } } : {});
  return {
    namespace,
    calls,
    getDeployment: (name) => orNull(call('get', 'deployments', name, () => kube.apps.readNamespacedDeployment({ name, ...ns }))),
    listDeployments: async (labelSelector) =>
      (await call('list', 'deployments', undefined, () => kube.apps.listNamespacedDeployment({ ...ns, labelSelector }))).items,
    createDeployment: (body) =>
      call('create', 'deployments', body.metadata?.name, () => kube.apps.createNamespacedDeployment({ ...ns, body })),
    replaceDeployment: (name, body) =>
      call('update', 'deployments', name, () => kube.apps.replaceNamespacedDeployment({ name, ...ns, body })),
    deleteDeployment: async (name, p) => {
      await orNull(call('delete', 'deployments', name, () => kube.apps.deleteNamespacedDeployment({ name, ...ns, ...pre(p) })));
    },
    scaleDeployment: async (name, replicas) => {
      await call('update', 'deployments/scale', name, () =>
        kube.apps.replaceNamespacedDeploymentScale({ name, ...ns, body: { metadata: { name, namespace }, spec: { replicas } } }),
      );
    },
    getService: (name) => orNull(call('get', 'services', name, () => kube.core.readNamespacedService({ name, ...ns }))),
    createService: (body) => call('create', 'services', body.metadata?.name, () => kube.core.createNamespacedService({ ...ns, body })),
    deleteService: async (name, p) => {
      await orNull(call('delete', 'services', name, () => kube.core.deleteNamespacedService({ name, ...ns, ...pre(p) })));
    },
    getConfigMap: (name) => orNull(call('get', 'configmaps', name, () => kube.core.readNamespacedConfigMap({ name, ...ns }))),
    listConfigMaps: async (labelSelector) =>
      (await call('list', 'configmaps', undefined, () => kube.core.listNamespacedConfigMap({ ...ns, labelSelector }))).items,
    createConfigMap: (body) =>
      call('create', 'configmaps', body.metadata?.name, () => kube.core.createNamespacedConfigMap({ ...ns, body })),
    replaceConfigMap: (name, body) => call('update', 'configmaps', name, () => kube.core.replaceNamespacedConfigMap({ name, ...ns, body })),
    deleteConfigMap: async (name) => {
      await orNull(call('delete', 'configmaps', name, () => kube.core.deleteNamespacedConfigMap({ name, ...ns })));
    },
    deleteSecret: async (name, p) => {
      await orNull(call('delete', 'secrets', name, () => kube.core.deleteNamespacedSecret({ name, ...ns, ...pre(p) })));
    },
    getSecret: (name) => orNull(call('get', 'secrets', name, () => kube.core.readNamespacedSecret({ name, ...ns }))),
    createSecret: (body) => call('create', 'secrets', body.metadata?.name, () => kube.core.createNamespacedSecret({ ...ns, body })),
    replaceSecret: (name, body) => call('update', 'secrets', name, () => kube.core.replaceNamespacedSecret({ name, ...ns, body })),
    listPods: async (labelSelector) =>
      (await call('list', 'pods', undefined, () => kube.core.listNamespacedPod({ ...ns, labelSelector }))).items,
  };
}
