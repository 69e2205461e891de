import type { V1ConfigMap } from '@kubernetes/client-node';
import { ReportConfig, ReportLastSent, type ReportLastSent as LastSent } from '../../../src-shared/contract/mail';
import { MANAGED_BY_LABEL, kubeError, kubeStatusCode, retryOnConflict } from '../../adapters/kube';
import type { ClusterRuntime } from '../core/cluster-runtime';

/**
 * The daily report's settings and its sending record, per cluster, in ConfigMap
 * `gatehouse-daily-report` of the platform namespace (docs/mail.md): enabled, hour, timeZone,
 * recipients (comma-separated), inCluster, and `last-sent` (JSON). Every console of the
 * cluster and its CronJob claim a day by replacing the ConfigMap with the resourceVersion
 * they read: one wins, the others see the claim, so the report goes out once per day even
 * across restarts and several consoles.
 */
export const REPORT_OBJECT = 'gatehouse-daily-report';
const COMPONENT = { 'app.kubernetes.io/component': 'daily-report' } as const;

/** Retry a failed day at most this often, this many times; a claim older than STALE_SENDING is taken over (a crash mid-send). */
export const RETRY_AFTER_MS = 10 * 60_000;
export const STALE_SENDING_MS = 30 * 60_000;
export const MAX_ATTEMPTS = 3;

export const DEFAULT_REPORT_CONFIG: ReportConfig = { enabled: false, hour: 7, timeZone: 'Etc/UTC', recipients: [], inCluster: false };

export interface ReportState {
  config: ReportConfig;
  lastSent: LastSent | null;
  version: string | null;
}

/** The local calendar day and hour of an instant in a time zone. */
export function localClock(at: Date, timeZone: string): { day: string; hour: number } {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  return { day: `${get('year')}-${get('month')}-${get('day')}`, hour: Number(get('hour')) % 24 };
}

/** Whether `day` may be claimed now, given the last record. */
export function claimable(last: LastSent | null, day: string, now: Date): boolean {
  if (!last || last.day !== day) return true;
  const age = now.getTime() - new Date(last.at).getTime();
  if (last.state === 'sent') return false;
  if (last.attempts >= MAX_ATTEMPTS) return false;
  return last.state === 'failed' ? age >= RETRY_AFTER_MS : age >= STALE_SENDING_MS;
}

/** The next instant (top of an hour) the console will send, or null when disabled. */
export function nextSendAt(state: Pick<ReportState, 'config' | 'lastSent'>, now: Date): Date | null {
  const c = state.config;
  if (!c.enabled || c.recipients.length === 0) return null;
  const today = localClock(now, c.timeZone);
  if (today.hour >= c.hour && claimable(state.lastSent, today.day, now)) return now;
  const t = new Date(now.getTime());
  t.setUTCMinutes(0, 0, 0);
  for (let i = 0; i < 50; i++) {
    t.setUTCHours(t.getUTCHours() + 1);
    const l = localClock(t, c.timeZone);
    if (l.hour === c.hour && (l.day !== today.day || claimable(state.lastSent, l.day, t))) return new Date(t);
  }
  return null;
}

function parse(cm: V1ConfigMap | null): ReportState {
  if (!cm) return { config: DEFAULT_REPORT_CONFIG, lastSent: null, version: null };
  const d = cm.data ?? {};
  const config = ReportConfig.safeParse({
    enabled: d.enabled === 'true',
    hour: Number(d.hour ?? DEFAULT_REPORT_CONFIG.hour),
    timeZone: d.timeZone ?? 'Etc/UTC',
    recipients: (d.recipients ?? '')
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean),
    inCluster: d.inCluster === 'true',
  });
  let lastSent: LastSent | null;
  try {
    lastSent = d['last-sent'] ? ReportLastSent.parse(JSON.parse(d['last-sent'])) : null;
  } catch {
    // an unreadable record counts as none: at worst one extra report, never a silent stop
    lastSent = null;
  }
  return {
    config: config.success ? config.data : { ...DEFAULT_REPORT_CONFIG, enabled: false },
    lastSent,
    version: cm.metadata?.resourceVersion ?? null,
  };
}

function body(namespace: string, s: { config: ReportConfig; lastSent: LastSent | null }, resourceVersion?: string): V1ConfigMap {
  const data: Record<string, string> = {
    enabled: String(s.config.enabled),
    hour: String(s.config.hour),
    timeZone: s.config.timeZone,
    recipients: s.config.recipients.join(','),
    inCluster: String(s.config.inCluster),
  };
  if (s.lastSent) data['last-sent'] = JSON.stringify(s.lastSent);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: REPORT_OBJECT,
      namespace,
      labels: { ...MANAGED_BY_LABEL, ...COMPONENT },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    data,
  };
}

export class ReportStateStore {
  private async raw(cluster: ClusterRuntime): Promise<V1ConfigMap | null> {
    try {
      return await cluster.kube.core.readNamespacedConfigMap({ name: REPORT_OBJECT, namespace: cluster.namespace });
    } catch (error) {
      if (kubeStatusCode(error) === 404) return null;
      throw kubeError(error, { verb: 'get', resource: 'configmaps', namespace: cluster.namespace, name: REPORT_OBJECT });
    }
  }

  async read(cluster: ClusterRuntime): Promise<ReportState> {
    return parse(await this.raw(cluster));
  }

  /** Writes `next` over what was read at `version` (null: create); false on a conflict (someone else wrote first). */
  private async write(
    cluster: ClusterRuntime,
    next: { config: ReportConfig; lastSent: LastSent | null },
    version: string | null,
  ): Promise<boolean> {
    const ns = cluster.namespace;
    try {
      if (version)
        await cluster.kube.core.replaceNamespacedConfigMap({ name: REPORT_OBJECT, namespace: ns, body: body(ns, next, version) });
      else await cluster.kube.core.createNamespacedConfigMap({ namespace: ns, body: body(ns, next) });
      return true;
    } catch (error) {
      if (kubeStatusCode(error) === 409) return false;
      throw kubeError(error, { verb: version ? 'update' : 'create', resource: 'configmaps', namespace: ns, name: REPORT_OBJECT });
    }
  }

  async setConfig(cluster: ClusterRuntime, config: ReportConfig): Promise<ReportState> {
    await retryOnConflict(async () => {
      const cur = await this.read(cluster);
      if (!(await this.write(cluster, { config, lastSent: cur.lastSent }, cur.version)))
        throw Object.assign(new Error('conflict'), { kubeStatus: 409 });
    });
    return this.read(cluster);
  }

  /**
   * Claims the report of `day`: true when this caller won and must send it. A lost race
   * re-reads and decides again (the winner's claim makes it not claimable).
   */
  async claim(cluster: ClusterRuntime, day: string, by: string, now: Date): Promise<boolean> {
    for (let i = 0; i < 5; i++) {
      const cur = await this.read(cluster);
      if (!claimable(cur.lastSent, day, now)) return false;
      const attempts = cur.lastSent?.day === day ? cur.lastSent.attempts + 1 : 1;
      const lastSent: LastSent = { day, state: 'sending', at: now.toISOString(), by, attempts, messageId: null, error: null };
      if (await this.write(cluster, { config: cur.config, lastSent }, cur.version)) return true;
    }
    return false;
  }

  /** Records how a claimed day ended (sent with its message id, or failed with the reason). */
  async finish(
    cluster: ClusterRuntime,
    day: string,
    outcome: { state: 'sent'; messageId: string } | { state: 'failed'; error: string },
    now: Date,
  ): Promise<void> {
    await retryOnConflict(async () => {
      const cur = await this.read(cluster);
      const prev = cur.lastSent?.day === day ? cur.lastSent : null;
      const lastSent: LastSent = {
        day,
        state: outcome.state,
        at: now.toISOString(),
        by: prev?.by ?? 'unknown',
        attempts: prev?.attempts ?? 1,
        messageId: outcome.state === 'sent' ? outcome.messageId : null,
        error: outcome.state === 'failed' ? outcome.error.slice(0, 500) : null,
      };
      if (!(await this.write(cluster, { config: cur.config, lastSent }, cur.version)))
        throw Object.assign(new Error('conflict'), { kubeStatus: 409 });
    });
  }
}
