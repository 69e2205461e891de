import type { ClusterRuntime } from '../core/cluster-runtime';
import type { Logger } from '../core/logger';
import { errorText } from '../core/saga';
import type { BackupService } from './service';

/**
 * The console's own runner of due backup schedules, one timer per online cluster (the
 * CronJob runs them when no console is open; a slot claimed in gatehouse_control is run
 * once, by whoever claims it first).
 */
export class BackupScheduler {
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; running: boolean }>();

  constructor(
    private readonly service: BackupService,
    private readonly everyMs: number,
    private readonly log?: Logger,
  ) {}

  start(cluster: ClusterRuntime): void {
    if (this.everyMs <= 0 || this.timers.has(cluster.clusterId)) return;
    const entry = { timer: setInterval(() => void this.tick(cluster), this.everyMs), running: false };
    entry.timer.unref();
    this.timers.set(cluster.clusterId, entry);
    cluster.onClose(() => this.stop(cluster.clusterId));
  }

  stop(clusterId: string): void {
    const e = this.timers.get(clusterId);
    if (e) clearInterval(e.timer);
    this.timers.delete(clusterId);
  }

  stopAll(): void {
    for (const id of [...this.timers.keys()]) this.stop(id);
  }

  private async tick(cluster: ClusterRuntime): Promise<void> {
    const e = this.timers.get(cluster.clusterId);
    if (!e || e.running) return;
    e.running = true;
    try {
      const ran = await this.service.runDue(cluster);
      if (ran.length) this.log?.info({ cluster: cluster.clusterId, ran }, 'scheduled backups');
      const drilled = await this.service.drill(cluster);
      if (drilled.length)
        this.log?.info({ cluster: cluster.clusterId, drilled: drilled.map((b) => [b.id, b.verification.state]) }, 'restore drills');
    } catch (error) {
      // Not configured or unreachable: the next tick tries again; the page shows why.
      this.log?.debug?.({ cluster: cluster.clusterId, error: errorText(error) }, 'scheduled backups skipped');
    } finally {
      e.running = false;
    }
  }
}
