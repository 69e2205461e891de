import type { KubeClients } from '../../../src-main/adapters/kube';
import { ClusterScope } from '../../../src-main/engine/clusters/scope';
import type { PipelineDeps } from '../../../src-main/ipc/pipeline';

/** The cluster half of the pipeline's deps for unit tests: one selected context leading to one cluster. */
export function clusterDeps(
  opts: { online?: boolean; contextId?: string | null; uid?: string; lastSyncAt?: string | null } = {},
): Pick<PipelineDeps, 'selectedContext' | 'clusterState' | 'resolveCluster' | 'knownClusterUid'> {
  const contextId = opts.contextId === undefined ? 'prod' : opts.contextId;
  const uid = opts.uid ?? 'uid-prod';
  const scope = new ClusterScope(uid, {
    contextId: contextId ?? 'none',
    contextName: contextId ?? 'none',
    kube: {} as KubeClients,
    namespace: 'iam-system',
    pgAdmin: async () => null,
  });
  return {
    selectedContext: () => contextId,
    clusterState: () => ({ online: opts.online ?? true, lastSyncAt: opts.lastSyncAt ?? null }),
    resolveCluster: async () => scope,
    knownClusterUid: () => (contextId ? uid : null),
  };
}
