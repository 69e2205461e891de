import type { Alert } from '../../../src-shared/contract/alerts';
import type { AlertStore } from './store';

/** Grafana's (and Alertmanager's) defaults: the anchor the issue names. */
export const GROUPING_DEFAULTS = { groupWaitMs: 30_000, groupIntervalMs: 5 * 60_000, repeatIntervalMs: 4 * 3_600_000 };
export type GroupingTimes = typeof GROUPING_DEFAULTS;

export interface DueNotification {
  groupKey: string;
  alerts: Alert[];
  /** 'new': alerts not in the last notification of the group; 'repeat': the same ones after the repeat interval. */
  reason: 'new' | 'repeat';
}

/**
 * Decides which groups (one per rule, like grouping by alertname) are due a notification at `now`.
 * Only firing alerts (not acknowledged, not silenced) are notified. A group remembers what it last
 * sent, even after its alerts resolve: an alert that flaps (fires, resolves, fires…) is in that set
 * already and waits for the repeat interval instead of sending a notification per flap.
 */
export function dueNotifications(
  store: AlertStore,
  clusterId: string,
  now: Date,
  times: GroupingTimes = GROUPING_DEFAULTS,
): DueNotification[] {
  const byGroup = new Map<string, Alert[]>();
  for (const a of store.list(clusterId, now, true)) {
    if (!byGroup.has(a.rule)) byGroup.set(a.rule, []);
    if (a.state === 'firing') byGroup.get(a.rule)!.push(a);
  }
  const t = now.getTime();
  const due: DueNotification[] = [];
  for (const [key, firing] of byGroup) {
    const g = store.group(clusterId, key);
    if (firing.length === 0) {
      if (g.pending_since) store.saveGroup(clusterId, { ...g, pending_since: null });
      continue;
    }
    const sent = new Set<string>(JSON.parse(g.last_sent_set) as string[]);
    const fresh = firing.some((a) => !sent.has(a.fingerprint));
    const lastSent = g.last_sent_at ? Date.parse(g.last_sent_at) : null;
    let reason: DueNotification['reason'] | null = null;
    if (fresh) {
      const pending = g.pending_since ? Date.parse(g.pending_since) : t;
      if (!g.pending_since) store.saveGroup(clusterId, { ...g, pending_since: now.toISOString() });
      // The first notification of a group waits group_wait (to collect its siblings); later ones group_interval.
      const waitedEnough = t - pending >= times.groupWaitMs;
      const spaced = lastSent === null || t - lastSent >= times.groupIntervalMs;
      if (waitedEnough && spaced) reason = 'new';
    } else if (lastSent !== null && t - lastSent >= times.repeatIntervalMs) reason = 'repeat';
    if (!reason) continue;
    store.saveGroup(clusterId, {
      group_key: key,
      pending_since: null,
      last_sent_at: now.toISOString(),
      last_sent_set: JSON.stringify([...new Set([...sent, ...firing.map((a) => a.fingerprint)])].slice(-500)),
    });
    due.push({ groupKey: key, alerts: firing, reason });
  }
  return due;
}
