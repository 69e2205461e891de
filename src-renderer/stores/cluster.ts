import { create } from 'zustand';
import type { ClusterState, ClustersList } from '../../src-shared/contract/clusters';
import { client, onEngineBack } from '../client';
import { toastError } from './toasts';

interface ClusterStore {
  list: ClustersList | null;
  state: ClusterState | null;
  loading: boolean;
  load(): Promise<void>;
  refreshState(): Promise<void>;
  select(clusterId: string): Promise<void>;
}

/** The kubeconfig contexts, the selected one and its connection state; fed by events. */
export const useCluster = create<ClusterStore>((set) => ({
  list: null,
  state: null,
  loading: false,
  async load() {
    set({ loading: true });
    try {
      const [list, state] = await Promise.all([client.invoke('clusters.list', {}), client.invoke('clusters.state', {})]);
      set({ list, state });
    } catch (e) {
      toastError('Could not read the kubeconfig contexts', e);
    } finally {
      set({ loading: false });
    }
  },
  async refreshState() {
    try {
      set({ state: await client.invoke('clusters.state', { refresh: true }) });
    } catch (e) {
      toastError('Could not check the cluster', e);
    }
  },
  async select(clusterId) {
    try {
      const state = await client.invoke('clusters.select', { clusterId });
      set({ state });
      set({ list: await client.invoke('clusters.list', {}) });
    } catch (e) {
      toastError('Could not switch cluster', e);
    }
  },
}));

let wired = false;
/** Live updates: kubeconfig edits and online/offline transitions arrive as events. */
export function wireClusterEvents() {
  if (wired) return;
  wired = true;
  client.subscribe('clusters.changed', (list) => useCluster.setState({ list }));
  client.subscribe('cluster.state', (state) => useCluster.setState({ state }));
  // events sent while the connection was down are lost: read the list and the state again
  onEngineBack(() => {
    if (useCluster.getState().list) void useCluster.getState().load();
  });
}

export function selectedContext(list: ClustersList | null) {
  return list?.contexts.find((c) => c.id === list.selectedId) ?? null;
}

/** Writes go nowhere while the cluster does not answer: pages disable them. */
export const useReadOnly = () => useCluster((s) => s.state !== null && s.state.state !== 'online' && s.state.clusterId !== null);
