import type { ClusterState } from '../../../src-shared/contract/clusters';

export interface MonitorDeps {
  /** The selected cluster now, or null; `error` set when the selection cannot be used (context removed…). */
  selected(): { clusterId: string; expectedOffline: boolean; error: string | null } | null;
  /** Reaches the cluster; throws an error whose message is fit for the operator. */
  check(clusterId: string): Promise<void>;
  lastSync(clusterId: string): string | null;
  recordSync(clusterId: string, at: string): void;
  publish(state: ClusterState): void;
  intervalMs?: number;
}

const same = (a: ClusterState, b: ClusterState) => a.clusterId === b.clusterId && a.state === b.state && a.error === b.error;

/**
 * Keeps the connection state of the selected cluster: checked every interval and on
 * demand. Offline (or expected-offline) makes the pipeline refuse mutations; the
 * last successful contact is kept so the read-only view can say how old it is.
 */
export class ConnectionMonitor {
  private current: ClusterState = { clusterId: null, state: 'unknown', lastSyncAt: null, checkedAt: null, error: null };
  private running: Promise<ClusterState> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: MonitorDeps) {
    this.current = this.initial();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh(), this.deps.intervalMs ?? 15_000);
    this.timer.unref();
    void this.refresh();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  state(): ClusterState {
    const selected = this.deps.selected();
    // The selection changed since the last check: report "unknown" for the new one until checked.
    if ((selected?.clusterId ?? null) !== this.current.clusterId) this.set(this.initial());
    return this.current;
  }

  /** What the command pipeline needs; a cluster not yet checked is given the benefit of the doubt. */
  pipelineState(): { clusterId: string | null; online: boolean; lastSyncAt: string | null } {
    const s = this.state();
    const online = s.clusterId === null || s.state === 'online' || (s.state === 'unknown' && s.error === null);
    return { clusterId: s.clusterId, online, lastSyncAt: s.lastSyncAt };
  }

  /** The selection or its context changed: forget the old state and check now. */
  reset(): Promise<ClusterState> {
    this.set(this.initial());
    return this.refresh();
  }

  /** A successful read elsewhere (dashboard, a watch event) proves the cluster answers. */
  markOnline(clusterId: string): void {
    if (this.current.clusterId !== clusterId) return;
    const at = new Date().toISOString();
    this.deps.recordSync(clusterId, at);
    this.set({ ...this.current, state: 'online', lastSyncAt: at, checkedAt: at, error: null });
  }

  /** Checks now; concurrent callers share one check. */
  refresh(): Promise<ClusterState> {
    this.running ??= this.runCheck().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private initial(): ClusterState {
    const selected = this.deps.selected();
    if (!selected) return { clusterId: null, state: 'unknown', lastSyncAt: null, checkedAt: null, error: null };
    return {
      clusterId: selected.clusterId,
      state: 'unknown',
      lastSyncAt: this.deps.lastSync(selected.clusterId),
      checkedAt: null,
      error: selected.error,
    };
  }

  private async runCheck(): Promise<ClusterState> {
    const selected = this.deps.selected();
    if (!selected || selected.error) {
      this.set(this.initial());
      return this.current;
    }
    const { clusterId, expectedOffline } = selected;
    let next: ClusterState;
    try {
      await this.deps.check(clusterId);
      const at = new Date().toISOString();
      this.deps.recordSync(clusterId, at);
      next = { clusterId, state: 'online', lastSyncAt: at, checkedAt: at, error: null };
    } catch (error) {
      next = {
        clusterId,
        state: expectedOffline ? 'expected-offline' : 'offline',
        lastSyncAt: this.deps.lastSync(clusterId),
        checkedAt: new Date().toISOString(),
        error: error instanceof Error ? error.message : String(error),
      };
    }
    // The operator may have selected another cluster while this one was being checked.
    if ((this.deps.selected()?.clusterId ?? null) !== clusterId) return this.state();
    this.set(next, true);
    return this.current;
  }

  private set(next: ClusterState, checked = false): void {
    const changed = !same(this.current, next);
    this.current = next;
    if (changed || checked) this.deps.publish(next);
  }
}
