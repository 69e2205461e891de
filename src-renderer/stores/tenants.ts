import { create } from 'zustand';
import type { Drift, OperationSummary, TenantSummary } from '../../src-shared/contract/tenants';
import { isCommandName } from '../../src-shared/contract';
import { client, onEngineBack } from '../client';
import { toastError } from './toasts';
import { whenSelectionChanges } from './cluster';

interface TenantsStore {
  /** The cluster (kube-system UID) the rows belong to; live updates of any other cluster are ignored. */
  clusterUid: string | null;
  tenants: TenantSummary[];
  drift: Drift[];
  refreshedAt: string | null;
  fromCache: boolean;
  loaded: boolean;
  loading: boolean;
  error: string | null;
  unfinished: OperationSummary[];
  load(opts?: { refresh?: boolean }): Promise<void>;
  reconcile(): Promise<void>;
  loadUnfinished(): Promise<void>;
}

/** The tenant list of the selected cluster; the engine serves it from its cache and refreshes by WATCH. */
export const useTenants = create<TenantsStore>((set) => ({
  clusterUid: null,
  tenants: [],
  drift: [],
  refreshedAt: null,
  fromCache: false,
  loaded: false,
  loading: false,
  error: null,
  unfinished: [],
  async load(opts = {}) {
    wireTenantEvents();
    set({ loading: true });
    try {
      // Served from the engine's cache (kept live by WATCH); stats are refreshed in the background there.
      const list = await client.invoke('tenants.list', { refresh: opts.refresh ?? false, stats: false });
      set({
        clusterUid: list.clusterId,
        tenants: list.tenants,
        drift: list.drift,
        refreshedAt: list.refreshedAt,
        fromCache: list.fromCache,
        loaded: true,
        error: null,
      });
    } catch (e) {
      set({ error: (e as Error).message, loaded: true });
    } finally {
      set({ loading: false });
    }
  },
  async reconcile() {
    set({ loading: true });
    try {
      const list = await client.invoke('tenants.reconcile', {});
      set({
        clusterUid: list.clusterId,
        tenants: list.tenants,
        drift: list.drift,
        refreshedAt: list.refreshedAt,
        fromCache: list.fromCache,
        error: null,
      });
    } catch (e) {
      toastError('Could not rebuild the tenant list', e);
    } finally {
      set({ loading: false });
    }
  },
  async loadUnfinished() {
    if (!isCommandName('operations.unfinished')) return;
    try {
      const { operations } = await client.invoke('operations.unfinished', {});
      set({ unfinished: operations });
    } catch {
      // the banner is a convenience; the list itself reports its own errors
    }
  },
}));

let wired = false;
/** Live updates: the engine's WATCH publishes `tenants.changed` deltas; apply those of the selected cluster. */
function wireTenantEvents() {
  if (wired || !isCommandName('tenants.list')) return;
  wired = true;
  // Another cluster's rows must never show, not even for a moment: clear on switch, reload after.
  whenSelectionChanges(() =>
    useTenants.setState({ clusterUid: null, tenants: [], drift: [], refreshedAt: null, fromCache: false, loaded: false, error: null }),
  );
  client.subscribe('tenants.changed', (e) => {
    if (e.clusterId !== useTenants.getState().clusterUid) return;
    useTenants.setState((s) => {
      const bySlug = new Map(s.tenants.map((t) => [t.slug, t]));
      for (const slug of e.removed) bySlug.delete(slug);
      for (const t of e.upserted) bySlug.set(t.slug, t);
      return {
        tenants: [...bySlug.values()].sort((a, b) => a.slug.localeCompare(b.slug)),
        drift: e.drift,
        refreshedAt: e.refreshedAt,
        fromCache: false,
      };
    });
  });
  // deltas sent while the connection was down are lost: read the list again
  onEngineBack(() => {
    if (!useTenants.getState().loaded) return;
    void useTenants.getState().load();
    void useTenants.getState().loadUnfinished();
  });
}
