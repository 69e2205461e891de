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
    // The previous cluster's rows go before anything else happens.
    onSelectionChanged.forEach((fn) => fn());
    try {
      const state = await client.invoke('clusters.select', { clusterId });
      set({ state });
      set({ list: await client.invoke('clusters.list', {}) });
    } catch (e) {
      toastError('Could not switch cluster', e);
    }
  },
}));

/** Stores that hold one cluster's rows clear them the moment this window switches. */
const onSelectionChanged = new Set<() => void>();
export function whenSelectionChanges(fn: () => void): void {
  onSelectionChanged.add(fn);
}

let wired = false;
/** Live updates: kubeconfig edits and online/offline transitions arrive as events. */
export function wireClusterEvents() {
  if (wired) return;
  wired = true;
  // Broadcasts carry no session's selection: keep this window's own choice.
  client.subscribe('clusters.changed', (list) =>
    useCluster.setState((s) => {
      const own = s.list?.selectedId ?? null;
      return { list: { ...list, selectedId: own, contexts: list.contexts.map((c) => ({ ...c, selected: c.id === own })) } };
    }),
  );
  // Every context in use by some session reports its state: show only this window's.
  client.subscribe('cluster.state', (state) => {
    if (state.clusterId === (useCluster.getState().list?.selectedId ?? null)) useCluster.setState({ state });
  });
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
