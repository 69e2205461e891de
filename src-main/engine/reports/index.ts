// The daily report capability (docs/mail.md): build, preview, the console's once-a-day sender and the CronJob.
import { ContractError } from '../../../src-shared/contract';
import type { ReportConfig, ReportView } from '../../../src-shared/contract/mail';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { Logger } from '../core/logger';
import { errorText } from '../core/saga';
import { applyReportCronJob, deleteReportCronJob, readReportCronJob, reportJobImage } from './cronjob';
import { buildDailyReport, type BuiltReport, type ReportAlert, type ReportSources } from './report';
import { ReportStateStore, localClock, nextSendAt } from './state';

export { buildDailyReport, type ReportSources, type ReportAlert } from './report';
export { ReportStateStore, localClock, nextSendAt, claimable, REPORT_OBJECT } from './state';
export { reportCronJobManifest, REPORT_CRONJOB, REPORT_JOB_SECRET } from './cronjob';

export type RunOutcome =
  | { outcome: 'disabled' | 'not-due' | 'claimed-elsewhere'; day: string | null }
  | { outcome: 'sent'; day: string; messageId: string }
  | { outcome: 'failed'; day: string; error: string };

export interface ReportsOptions {
  /** Sends through the cluster's relay (engine/mail sendMail). */
  send(cluster: ClusterRuntime, msg: { to: string[]; subject: string; text: string; html?: string }): Promise<{ messageId: string }>;
  /** Whether the cluster has SMTP settings (for the view). */
  smtpConfigured(cluster: ClusterRuntime): Promise<boolean>;
  sources: ReportSources;
  /** Who claims a day ("console:<installation id>", "cronjob:<pod>"). */
  claimant: string;
  consoleVersion: string;
  /** Injectable for tests. */
  clock?: () => Date;
  /** How often the console looks whether the day's report is due (0: never; tests call runDue). */
  everyMs?: number;
  log?: Logger;
}

export function createReportsCapability(o: ReportsOptions) {
  const state = new ReportStateStore();
  const clock = o.clock ?? (() => new Date());
  const everyMs = o.everyMs ?? 60_000;
  let alertsOfDay: ReportSources['alertsOfDay'] = o.sources.alertsOfDay;
  const sources = (): ReportSources => ({ ...o.sources, ...(alertsOfDay ? { alertsOfDay } : {}) });
  const timers = new Map<string, { timer: NodeJS.Timeout; running: boolean }>();

  async function build(cluster: ClusterRuntime, config: ReportConfig, now: Date): Promise<BuiltReport> {
    return buildDailyReport(cluster, sources(), now, localClock(now, config.timeZone).day);
  }

  /** Sends the day's report if it is due and this console wins the claim; records the outcome in the cluster. */
  async function runDue(cluster: ClusterRuntime, by = o.claimant): Promise<RunOutcome> {
    const now = clock();
    const cur = await state.read(cluster);
    const c = cur.config;
    if (!c.enabled || c.recipients.length === 0) return { outcome: 'disabled', day: null };
    const { day, hour } = localClock(now, c.timeZone);
    if (hour < c.hour) return { outcome: 'not-due', day };
    if (!(await state.claim(cluster, day, by, now))) return { outcome: 'claimed-elsewhere', day };
    try {
      const report = await build(cluster, c, now);
      const { messageId } = await o.send(cluster, { to: c.recipients, subject: report.subject, text: report.text, html: report.html });
      await state.finish(cluster, day, { state: 'sent', messageId }, clock());
      o.log?.info({ cluster: cluster.clusterId, day, recipients: c.recipients.length }, 'daily report sent');
      return { outcome: 'sent', day, messageId };
    } catch (error) {
      const text = errorText(error);
      await state.finish(cluster, day, { state: 'failed', error: text }, clock()).catch(() => undefined);
      o.log?.warn({ cluster: cluster.clusterId, day, error: text }, 'daily report not sent');
      return { outcome: 'failed', day, error: text };
    }
  }

  async function tick(cluster: ClusterRuntime): Promise<void> {
    const e = timers.get(cluster.clusterId);
    if (!e || e.running) return;
    e.running = true;
    try {
      await runDue(cluster);
    } catch (error) {
      // unreachable cluster, RBAC: the next tick tries again; the page shows the state
      o.log?.debug?.({ cluster: cluster.clusterId, error: errorText(error) }, 'daily report check skipped');
    } finally {
      e.running = false;
    }
  }

  return {
    state,
    runDue,
    /** Provided by the alerts capability (wired in the composition root); absent: the section says so. */
    setAlertsProvider(fn: (cluster: ClusterRuntime, since: Date) => Promise<ReportAlert[]>) {
      alertsOfDay = fn;
    },
    async view(cluster: ClusterRuntime): Promise<ReportView> {
      const [cur, cronJob, smtpConfigured] = await Promise.all([
        state.read(cluster),
        readReportCronJob(cluster),
        o.smtpConfigured(cluster).catch(() => false),
      ]);
      return {
        config: cur.config,
        lastSent: cur.lastSent,
        nextAt: nextSendAt(cur, clock())?.toISOString() ?? null,
        smtpConfigured,
        cronJob,
        image: reportJobImage(o.consoleVersion),
      };
    },
    /** Saves the settings; applies the CronJob (and its Secret) when `inCluster`, removes them otherwise. */
    async set(cluster: ClusterRuntime, config: ReportConfig): Promise<ReportView> {
      await state.setConfig(cluster, config);
      if (config.inCluster) await applyReportCronJob(cluster, config, o.consoleVersion);
      else await deleteReportCronJob(cluster);
      return this.view(cluster);
    },
    async preview(cluster: ClusterRuntime) {
      const now = clock();
      const r = await build(cluster, (await state.read(cluster)).config, now);
      return { subject: r.subject, text: r.text, html: r.html, generatedAt: now.toISOString(), unavailable: r.unavailable };
    },
    /** Sends the report now, outside the daily schedule (not recorded as the day's report). */
    async sendNow(cluster: ClusterRuntime, to?: string[]) {
      const cur = await state.read(cluster);
      const recipients = to?.length ? to : cur.config.recipients;
      if (recipients.length === 0) {
        throw new ContractError('VALIDATION', 'The daily report has no recipients. Add at least one address, then send.');
      }
      const r = await build(cluster, cur.config, clock());
      const { messageId } = await o.send(cluster, { to: recipients, subject: r.subject, text: r.text, html: r.html });
      return { messageId, to: recipients, subject: r.subject };
    },
    /** The console's timer for one online cluster (the CronJob covers the time no console runs). */
    start(cluster: ClusterRuntime): void {
      if (everyMs <= 0 || timers.has(cluster.clusterId)) return;
      const entry = { timer: setInterval(() => void tick(cluster), everyMs), running: false };
      entry.timer.unref();
      timers.set(cluster.clusterId, entry);
      cluster.onClose(() => this.stop(cluster.clusterId));
    },
    stop(clusterId: string): void {
      const e = timers.get(clusterId);
      if (e) clearInterval(e.timer);
      timers.delete(clusterId);
    },
    stopAll(): void {
      for (const id of [...timers.keys()]) this.stop(id);
    },
  };
}

export type ReportsCapability = ReturnType<typeof createReportsCapability>;
