import { useState } from 'react';
import type { ContractErrorShape, CommandOutput } from '../../../src-shared/contract';
import type { ReportView } from '../../../src-shared/contract/mail';
import { client, errorShape } from '../../client';
import { ago, exactTime } from '../../lib/format';
import { navigate } from '../../lib/router';
import { useInvoke } from '../../lib/use-invoke';
import { useApp } from '../../stores/app';
import { useReadOnly } from '../../stores/cluster';
import { toastSuccess } from '../../stores/toasts';

const ZONES = [
  'Etc/UTC',
  'Europe/London',
  'Europe/Berlin',
  'Europe/Paris',
  'America/New_York',
  'America/Chicago',
  'America/Los_Angeles',
  'Asia/Tokyo',
  'Asia/Singapore',
  'Australia/Sydney',
];
const splitAddresses = (s: string) =>
  s
    .split(/[\s,;]+/)
    .map((a) => a.trim())
    .filter(Boolean);

/** Settings → Daily report: hour, time zone, recipients, enable, the in-cluster CronJob, preview, send now. */
export function ReportTab() {
  const q = useInvoke('mail.report.get', {});
  if (q.error) return <div className="callout callout-err">{q.error.message}</div>;
  if (!q.data) return <div className="loading">Loading…</div>;
  return <ReportForm view={q.data} onSaved={q.reload} />;
}

function ReportForm({ view, onSaved }: { view: ReportView; onSaved(): Promise<void> }) {
  const [enabled, setEnabled] = useState(view.config.enabled);
  const [hour, setHour] = useState(view.config.hour);
  const [timeZone, setTimeZone] = useState(view.config.timeZone);
  const [recipients, setRecipients] = useState(view.config.recipients.join(', '));
  const [inCluster, setInCluster] = useState(view.config.inCluster);
  const [busy, setBusy] = useState<'save' | 'preview' | 'send' | null>(null);
  const [error, setError] = useState<ContractErrorShape | null>(null);
  const [preview, setPreview] = useState<CommandOutput<'mail.report.preview'> | null>(null);
  const [format, setFormat] = useState<'html' | 'text'>('html');
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const isAdmin = role === 'admin';
  const canSend = (role === 'operator' || role === 'admin') && !readOnly;

  const run = async (what: 'save' | 'preview' | 'send') => {
    setBusy(what);
    setError(null);
    try {
      if (what === 'save') {
        await client.invoke('mail.report.set', {
          enabled,
          hour,
          timeZone: timeZone.trim(),
          recipients: splitAddresses(recipients),
          inCluster,
        });
        toastSuccess(
          'Daily report saved',
          enabled ? `Sent at ${String(hour).padStart(2, '0')}:00 ${timeZone}.` : 'The daily report is off.',
        );
        await onSaved();
      } else if (what === 'preview') {
        setPreview(await client.invoke('mail.report.preview', {}));
      } else {
        const out = await client.invoke('mail.report.send', {});
        toastSuccess('Daily report sent', `To ${out.to.join(', ')}.`);
      }
    } catch (e) {
      setError(errorShape(e));
    } finally {
      setBusy(null);
    }
  };
  const last = view.lastSent;
  return (
    <>
      {!view.smtpConfigured && (
        <div className="callout callout-warn" style={{ marginBottom: 14 }}>
          No SMTP relay is configured: the report cannot be sent.{' '}
          <a href="#/settings/smtp" onClick={(e) => (e.preventDefault(), navigate('/settings/smtp'))}>
            Configure SMTP
          </a>
        </div>
      )}
      <section className="card" data-testid="report-form">
        <header className="card-header">
          <h2>Daily report</h2>
          <span className="muted">
            tenants, users, license use, backups, alerts and the audit summary of the last 24 hours, as HTML and plain text
          </span>
        </header>
        <div className="card-body">
          <label className="check">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} data-testid="report-enabled" /> Send the
            daily report
          </label>
          <div className="form-grid" style={{ marginTop: 12 }}>
            <div className="field">
              <label htmlFor="report-hour">Hour</label>
              <select id="report-hour" value={hour} onChange={(e) => setHour(Number(e.target.value))}>
                {Array.from({ length: 24 }, (_, h) => (
                  <option key={h} value={h}>
                    {String(h).padStart(2, '0')}:00
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="report-tz">Time zone</label>
              <input id="report-tz" list="report-tz-list" value={timeZone} onChange={(e) => setTimeZone(e.target.value)} />
              <datalist id="report-tz-list">
                {ZONES.map((z) => (
                  <option key={z} value={z} />
                ))}
              </datalist>
            </div>
          </div>
          <div className="field" style={{ marginTop: 12 }}>
            <label htmlFor="report-recipients">Recipients</label>
            <textarea
              id="report-recipients"
              rows={2}
              value={recipients}
              onChange={(e) => setRecipients(e.target.value)}
              placeholder="ops@example.com, cto@example.com"
              data-testid="report-recipients"
            />
            <span className="field-hint">Separated by commas or new lines; up to 50.</span>
          </div>
          <label className="check" style={{ marginTop: 12 }}>
            <input type="checkbox" checked={inCluster} onChange={(e) => setInCluster(e.target.checked)} /> Also send it from a CronJob in
            the cluster when no console is running
          </label>
          <div className="field-hint" style={{ marginLeft: 24 }}>
            CronJob <code>{view.cronJob.name}</code> runs <code>{view.image}</code>; consoles and the CronJob claim each day in the cluster,
            so the report goes out once.
          </div>
          {error && (
            <div className="callout callout-err" style={{ marginTop: 12 }} data-testid="report-error">
              {error.message}
            </div>
          )}
          <div className="row row-wrap" style={{ marginTop: 14 }}>
            <button className="btn" onClick={() => void run('preview')} disabled={busy !== null} data-testid="report-preview">
              {busy === 'preview' ? 'Building…' : 'Preview'}
            </button>
            <button
              className="btn"
              onClick={() => void run('send')}
              disabled={!canSend || busy !== null || !view.smtpConfigured || view.config.recipients.length === 0}
              data-testid="report-send"
            >
              {busy === 'send' ? 'Sending…' : 'Send now'}
            </button>
            <span className="spacer" />
            <button
              className="btn btn-primary"
              onClick={() => void run('save')}
              disabled={!isAdmin || readOnly || busy !== null}
              title={isAdmin ? undefined : 'Saving needs the admin role'}
              data-testid="report-save"
            >
              {busy === 'save' ? 'Saving…' : 'Save'}
            </button>
          </div>
        </div>
      </section>
      <section className="card" data-testid="report-status">
        <header className="card-header">
          <h2>Sending</h2>
        </header>
        <div className="card-body">
          <table className="kv-table">
            <tbody>
              <tr>
                <th scope="row">Last report</th>
                <td>
                  {last ? (
                    <>
                      <span
                        className={`badge ${last.state === 'sent' ? 'badge-ok' : last.state === 'failed' ? 'badge-err' : 'badge-warn'}`}
                      >
                        {last.state}
                      </span>{' '}
                      {last.day}, <span title={exactTime(last.at)}>{ago(last.at)}</span> by {last.by}
                      {last.attempts > 1 ? ` (attempt ${last.attempts})` : ''}
                      {last.error ? <div className="field-error">{last.error}</div> : null}
                    </>
                  ) : (
                    'never sent'
                  )}
                </td>
              </tr>
              <tr>
                <th scope="row">Next</th>
                <td>
                  {view.nextAt ? <span title={exactTime(view.nextAt)}>{new Date(view.nextAt).toLocaleString()}</span> : 'off'} (while this
                  console runs)
                </td>
              </tr>
              <tr>
                <th scope="row">CronJob</th>
                <td>
                  {view.cronJob.exists
                    ? `${view.cronJob.name}: "${view.cronJob.schedule ?? ''}" ${view.cronJob.timeZone ?? ''}`
                    : 'not applied'}
                </td>
              </tr>
            </tbody>
          </table>
        </div>
      </section>
      {preview && (
        <section className="card" data-testid="report-preview-card">
          <header className="card-header">
            <h2>Preview</h2>
            <span className="muted">{preview.subject}</span>
            <span className="spacer" />
            <div className="tabs report-format" role="tablist">
              {(['html', 'text'] as const).map((f) => (
                <button key={f} role="tab" className="tab" aria-selected={format === f} onClick={() => setFormat(f)}>
                  {f === 'html' ? 'HTML' : 'Plain text'}
                </button>
              ))}
            </div>
          </header>
          <div className="card-body">
            {preview.unavailable.length > 0 && (
              <div className="callout" style={{ marginBottom: 10 }}>
                Not in this report: {preview.unavailable.map((u) => `${u.section} (${u.reason})`).join('; ')}
              </div>
            )}
            {format === 'html' ? (
              <iframe
                className="report-frame"
                title="Daily report preview (HTML)"
                sandbox=""
                srcDoc={preview.html}
                data-testid="report-preview-html"
              />
            ) : (
              <pre className="report-text" data-testid="report-preview-text">
                {preview.text}
              </pre>
            )}
          </div>
        </section>
      )}
    </>
  );
}
