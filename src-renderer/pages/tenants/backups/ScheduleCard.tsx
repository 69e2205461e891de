import { useEffect, useState } from 'react';
import type { CommandOutput } from '../../../../src-shared/contract';
import { client } from '../../../client';
import { ago, exactTime } from '../../../lib/format';
import { useApp } from '../../../stores/app';
import { useReadOnly } from '../../../stores/cluster';
import { toastError, toastSuccess } from '../../../stores/toasts';

type View = CommandOutput<'backups.schedules.list'>['schedules'][number];

/** Schedule (cron, UTC) and retention of one scope: a tenant, or "*" for every tenant without its own. */
export function ScheduleCard({
  scope,
  schedules,
  reload,
  inherited,
}: {
  scope: string;
  schedules: View[];
  reload(): Promise<void>;
  inherited?: View | null;
}) {
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const current = schedules.find((s) => s.scope === scope) ?? null;
  const [cron, setCron] = useState(current?.cron ?? '30 2 * * *');
  const [keepLast, setKeepLast] = useState(current?.retention.keepLast ?? 7);
  const [daily, setDaily] = useState(current?.retention.daily ?? 7);
  const [weekly, setWeekly] = useState(current?.retention.weekly ?? 4);
  const [monthly, setMonthly] = useState(current?.retention.monthly ?? 6);
  const [verify, setVerify] = useState(current?.verify ?? true);
  const [enabled, setEnabled] = useState(current?.enabled ?? true);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!current) return;
    setCron(current.cron);
    setKeepLast(current.retention.keepLast);
    setDaily(current.retention.daily);
    setWeekly(current.retention.weekly);
    setMonthly(current.retention.monthly);
    setVerify(current.verify);
    setEnabled(current.enabled);
  }, [current]);
  const admin = role === 'admin';

  const save = async () => {
    setBusy(true);
    try {
      const r = await client.invoke('backups.schedules.set', {
        scope,
        cron,
        enabled,
        verify,
        retention: { keepLast, daily, weekly, monthly },
      });
      toastSuccess(
        'Schedule saved',
        r.cronJob.exists ? `CronJob ${r.cronJob.name} runs it when no console is open.` : (r.cronJob.note ?? undefined),
      );
      await reload();
    } catch (e) {
      toastError('Could not save the schedule', e);
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    setBusy(true);
    try {
      await client.invoke('backups.schedules.remove', { scope });
      toastSuccess('Schedule removed');
      await reload();
    } catch (e) {
      toastError('Could not remove the schedule', e);
    } finally {
      setBusy(false);
    }
  };
  const num = (label: string, v: number, set: (n: number) => void, id: string) => (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} type="number" min={0} value={v} onChange={(e) => set(Number(e.target.value))} disabled={!admin} />
    </div>
  );
  return (
    <section className="card" data-testid={`schedule-${scope === '*' ? 'all' : scope}`}>
      <header className="card-header">
        <h2>{scope === '*' ? 'Schedule for all tenants' : 'Schedule and retention'}</h2>
        {current && <span className={`badge ${current.enabled ? 'badge-ok' : ''}`}>{current.enabled ? 'active' : 'paused'}</span>}
      </header>
      <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 10 }}>
        {!current && inherited && (
          <div className="muted">
            Covered by the all-tenants schedule (<code>{inherited.cron}</code>, keep {inherited.retention.keepLast}). A schedule here
            replaces it for this tenant.
          </div>
        )}
        <div className="form-grid">
          <div className="field">
            <label htmlFor={`cron-${scope}`}>Cron (UTC: minute hour day month weekday)</label>
            <input
              id={`cron-${scope}`}
              className="mono"
              value={cron}
              onChange={(e) => setCron(e.target.value)}
              disabled={!admin}
              data-testid="schedule-cron"
            />
          </div>
          {num('Keep last', keepLast, setKeepLast, `keep-${scope}`)}
          {num('Daily', daily, setDaily, `daily-${scope}`)}
          {num('Weekly', weekly, setWeekly, `weekly-${scope}`)}
          {num('Monthly', monthly, setMonthly, `monthly-${scope}`)}
        </div>
        <label className="check">
          <input type="checkbox" checked={verify} onChange={(e) => setVerify(e.target.checked)} disabled={!admin} /> Restore drill: verify
          each scheduled backup by restoring it into a scratch database
        </label>
        <label className="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} disabled={!admin} /> Enabled
        </label>
        <div className="muted">Pruning never deletes the newest verified backup, nor the final backup of a delete.</div>
        {current && (
          <table className="kv-table">
            <tbody>
              <tr>
                <td>Next run</td>
                <td title={exactTime(current.nextRunAt)}>{current.nextRunAt ?? '—'}</td>
              </tr>
              <tr>
                <td>Last run</td>
                <td title={exactTime(current.lastRunAt)}>
                  {current.lastRunAt ? `${ago(current.lastRunAt)}: ${current.lastOutcome ?? ''}` : 'never'}
                </td>
              </tr>
              <tr>
                <td>CronJob</td>
                <td data-testid="schedule-cronjob">
                  {current.cronJob.exists ? <code>{current.cronJob.name}</code> : (current.cronJob.note ?? 'not created')}
                </td>
              </tr>
            </tbody>
          </table>
        )}
        <div className="row">
          <button className="btn btn-primary" disabled={busy || !admin || readOnly} onClick={() => void save()} data-testid="schedule-save">
            Save schedule
          </button>
          {current && (
            <button className="btn" disabled={busy || !admin || readOnly} onClick={() => void remove()}>
              Remove
            </button>
          )}
          {!admin && <span className="muted">Schedules need the admin role.</span>}
        </div>
      </div>
    </section>
  );
}
