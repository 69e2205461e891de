import { useEffect, useMemo, useState } from 'react';
import type { Alert, AlertsOverview } from '../../../src-shared/contract/alerts';
import { client } from '../../client';
import { useInvoke } from '../../lib/use-invoke';
import { ago, exactTime, plural } from '../../lib/format';
import { navigate } from '../../lib/router';
import { useNotificationPermission } from '../../lib/alert-notifications';
import { useApp } from '../../stores/app';
import { useCluster, selectedContext, useReadOnly } from '../../stores/cluster';
import { toastError, toastSuccess } from '../../stores/toasts';
import { Modal } from '../../components/Modal';
import { Icon } from '../../shell/Icon';
import { RULE_LABELS } from './labels';
import './alerts.css';

const STATE_BADGE: Record<Alert['state'], string> = {
  firing: 'badge-err',
  acknowledged: 'badge-warn',
  silenced: 'badge-info',
  resolved: 'badge-ok',
};
const SEVERITY_BADGE: Record<Alert['severity'], string> = { critical: 'badge-err', warning: 'badge-warn', info: 'badge-info' };
const SILENCE_CHOICES = [
  { hours: 1, label: '1 hour' },
  { hours: 4, label: '4 hours' },
  { hours: 24, label: '1 day' },
  { hours: 24 * 7, label: '1 week' },
];

type StateFilter = 'active' | Alert['state'] | 'all';

/** Alerts of the selected cluster: what fires now, acknowledge, silence, the history of transitions and notifications. */
export default function AlertsPage() {
  const list = useCluster((s) => s.list);
  const current = selectedContext(list);
  const q = useInvoke('alerts.list', { includeResolved: true }, current?.id ?? '', current !== undefined && current !== null);
  const [stateFilter, setStateFilter] = useState<StateFilter>('active');
  const [severity, setSeverity] = useState('');
  const [rule, setRule] = useState('');
  const [query, setQuery] = useState('');
  const [silencing, setSilencing] = useState<Alert | null>(null);
  const [evaluating, setEvaluating] = useState(false);
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const canAct = (role === 'operator' || role === 'admin') && !readOnly;
  const { reload } = q;

  // Live: every evaluation, acknowledgement or silence of this cluster publishes alerts.changed.
  useEffect(
    () =>
      client.subscribe('alerts.changed', (ev) => {
        if (!q.data || ev.clusterId === q.data.clusterId) void reload();
      }),
    [reload, q.data?.clusterId],
  );

  const data = q.data;
  const shown = useMemo(() => {
    const text = query.trim().toLowerCase();
    return (data?.alerts ?? []).filter(
      (a) =>
        (stateFilter === 'all' || (stateFilter === 'active' ? a.state !== 'resolved' : a.state === stateFilter)) &&
        (!severity || a.severity === severity) &&
        (!rule || a.rule === rule) &&
        (!text || a.summary.toLowerCase().includes(text) || a.subject.toLowerCase().includes(text)),
    );
  }, [data, stateFilter, severity, rule, query]);

  if (!current)
    return (
      <div className="empty-state">
        <h2>No cluster selected</h2>
        <p className="muted">Pick a cluster on the Clusters page first.</p>
      </div>
    );

  const counts = { firing: 0, acknowledged: 0, silenced: 0, resolved: 0 };
  for (const a of data?.alerts ?? []) counts[a.state]++;

  const evaluate = async () => {
    setEvaluating(true);
    try {
      await client.invoke('alerts.evaluate', {});
      await reload();
    } catch (e) {
      toastError('Evaluation failed', e);
    } finally {
      setEvaluating(false);
    }
  };
  const acknowledge = async (a: Alert) => {
    try {
      await client.invoke('alerts.acknowledge', { fingerprint: a.fingerprint, note: '' });
      toastSuccess('Alert acknowledged', 'No more notifications for it until it resolves and fires again.');
      await reload();
    } catch (e) {
      toastError('Acknowledge failed', e);
    }
  };
  const unsilence = async (a: Alert) => {
    try {
      await client.invoke('alerts.silence', { fingerprint: a.fingerprint, hours: 0 });
      toastSuccess('Silence lifted');
      await reload();
    } catch (e) {
      toastError('Could not lift the silence', e);
    }
  };

  return (
    <div className="alerts-page" data-testid="alerts-page">
      <div className="page-header">
        <div>
          <h1>Alerts</h1>
          <div className="sub">Rules evaluated by this console for {current.contextName}; notified on the desktop and by mail</div>
        </div>
        <span className="spacer" />
        {data && (
          <span className="muted" title={exactTime(data.lastEvaluatedAt)} data-testid="alerts-evaluated">
            {data.lastEvaluatedAt ? `Evaluated ${ago(data.lastEvaluatedAt)}` : 'Not evaluated yet'}
          </span>
        )}
        <button className="btn" onClick={() => void evaluate()} disabled={evaluating || !canAct} data-testid="alerts-evaluate">
          <Icon name="refresh" /> {evaluating ? 'Evaluating…' : 'Evaluate now'}
        </button>
        <a className="btn" href="#/settings/alerts" onClick={(e) => (e.preventDefault(), navigate('/settings/alerts'))}>
          Rules
        </a>
      </div>

      {q.error && <div className="callout callout-err">{q.error.message}</div>}
      {data && <DeliveryNotes data={data} />}
      {data && data.sourceErrors.length > 0 && (
        <div className="callout callout-warn" data-testid="alerts-source-errors">
          <strong>Some sources could not be read in the last evaluation; their alerts keep their last state.</strong>
          <ul className="missing-list">
            {data.sourceErrors.map((e) => (
              <li key={e.source}>
                {e.source}: {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}

      <div className="stats">
        <Count label="Firing" value={counts.firing} tone={counts.firing ? 'err' : 'ok'} testId="count-firing" />
        <Count label="Acknowledged" value={counts.acknowledged} testId="count-acknowledged" />
        <Count label="Silenced" value={counts.silenced} testId="count-silenced" />
        <Count label="Resolved (kept)" value={counts.resolved} testId="count-resolved" />
      </div>

      <section className="card">
        <div className="toolbar">
          <span className="search">
            <Icon name="search" size={14} />
            <input
              type="search"
              placeholder="Search summary or subject  ( / )"
              value={query}
              onChange={(e) => setQuery(e.target.value)}
              data-search
              aria-label="Search alerts"
            />
          </span>
          <select
            value={stateFilter}
            onChange={(e) => setStateFilter(e.target.value as StateFilter)}
            aria-label="Filter by state"
            data-testid="alerts-filter-state"
          >
            <option value="active">Active (not resolved)</option>
            <option value="firing">Firing</option>
            <option value="acknowledged">Acknowledged</option>
            <option value="silenced">Silenced</option>
            <option value="resolved">Resolved</option>
            <option value="all">All</option>
          </select>
          <select value={severity} onChange={(e) => setSeverity(e.target.value)} aria-label="Filter by severity">
            <option value="">All severities</option>
            <option value="critical">critical</option>
            <option value="warning">warning</option>
            <option value="info">info</option>
          </select>
          <select value={rule} onChange={(e) => setRule(e.target.value)} aria-label="Filter by rule">
            <option value="">All rules</option>
            {Object.entries(RULE_LABELS).map(([k, v]) => (
              <option key={k} value={k}>
                {v}
              </option>
            ))}
          </select>
          <span className="spacer" />
          <span className="muted">{plural(shown.length, 'alert')}</span>
        </div>
        <div className="card-body flush">
          <table className="table" data-testid="alerts-table">
            <thead>
              <tr>
                <th style={{ width: 90 }}>Severity</th>
                <th style={{ width: 130 }}>State</th>
                <th>Alert</th>
                <th style={{ width: 120 }}>Since</th>
                <th style={{ width: 210 }}>Actions</th>
              </tr>
            </thead>
            <tbody>
              {shown.slice(0, 500).map((a) => (
                <tr key={a.fingerprint} data-testid={`alert-${a.fingerprint}`}>
                  <td>
                    <span className={`badge ${SEVERITY_BADGE[a.severity]}`}>{a.severity}</span>
                  </td>
                  <td>
                    <span className={`badge ${STATE_BADGE[a.state]}`} data-testid="alert-state">
                      {a.state}
                    </span>
                    {a.state === 'silenced' && a.silencedUntil && (
                      <div className="cell-sub" title={exactTime(a.silencedUntil)}>
                        until {new Date(a.silencedUntil).toLocaleString()}
                      </div>
                    )}
                    {a.state === 'acknowledged' && a.acknowledgedBy && <div className="cell-sub">by {a.acknowledgedBy}</div>}
                  </td>
                  <td>
                    <div>
                      <a href={a.link} data-testid="alert-summary">
                        {a.summary}
                      </a>
                    </div>
                    <div className="cell-sub">
                      {RULE_LABELS[a.rule]} · {a.subject}
                    </div>
                  </td>
                  <td title={exactTime(a.lastFiredAt)}>
                    {ago(a.lastFiredAt)}
                    {a.resolvedAt && <div className="cell-sub">resolved {ago(a.resolvedAt)}</div>}
                  </td>
                  <td>
                    <span className="row">
                      {a.state === 'firing' && (
                        <button className="btn btn-small" disabled={!canAct} onClick={() => void acknowledge(a)} data-testid="alert-ack">
                          <Icon name="check" size={13} /> Acknowledge
                        </button>
                      )}
                      {a.state !== 'resolved' && a.state !== 'silenced' && (
                        <button className="btn btn-small" disabled={!canAct} onClick={() => setSilencing(a)} data-testid="alert-silence">
                          Silence…
                        </button>
                      )}
                      {a.state === 'silenced' && (
                        <button
                          className="btn btn-small"
                          disabled={!canAct}
                          onClick={() => void unsilence(a)}
                          data-testid="alert-unsilence"
                        >
                          Lift silence
                        </button>
                      )}
                    </span>
                  </td>
                </tr>
              ))}
              {data && shown.length === 0 && (
                <tr>
                  <td colSpan={5} className="muted" data-testid="alerts-empty">
                    {data.alerts.length === 0
                      ? data.lastEvaluatedAt
                        ? 'No alerts: every rule holds.'
                        : 'The rules have not been evaluated yet for this cluster. Use Evaluate now.'
                      : 'No alert matches the filters.'}
                  </td>
                </tr>
              )}
              {!data && !q.error && (
                <tr>
                  <td colSpan={5} className="muted">
                    Loading…
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>

      {data && <History data={data} />}
      {silencing && <SilenceDialog alert={silencing} onClose={() => setSilencing(null)} onDone={reload} />}
    </div>
  );
}

function Count({ label, value, tone, testId }: { label: string; value: number; tone?: 'ok' | 'err'; testId: string }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={testId} style={tone === 'err' ? { color: 'var(--err)' } : undefined}>
        {value.toLocaleString()}
      </div>
    </div>
  );
}

function DeliveryNotes({ data }: { data: AlertsOverview }) {
  const permission = useNotificationPermission((s) => s.permission);
  const request = useNotificationPermission((s) => s.request);
  const mail = data.delivery.mail;
  return (
    <div className="alerts-delivery" data-testid="alerts-delivery">
      <span>
        <strong>Desktop:</strong>{' '}
        {permission === 'granted' ? (
          'notifications on'
        ) : permission === 'unsupported' ? (
          'this browser has no notifications; new alerts show as messages here'
        ) : permission === 'denied' ? (
          'blocked in the browser settings; new alerts show as messages here'
        ) : (
          <button className="btn btn-small" onClick={() => void request()} data-testid="alerts-enable-notifications">
            Enable desktop notifications
          </button>
        )}
      </span>
      <span>
        <strong>Mail:</strong>{' '}
        {mail === 'ready' ? (
          'to the alert address'
        ) : mail === 'no-smtp' ? (
          <>
            no SMTP relay for this cluster — <a href="#/settings/smtp">configure SMTP</a>
          </>
        ) : mail === 'no-address' ? (
          <>
            no alert address — <a href="#/settings/alerts">set one in Settings → Alerts</a>
          </>
        ) : (
          'unknown (the cluster did not answer)'
        )}
        {data.delivery.mailError && <span className="err-text"> · last mail failed: {data.delivery.mailError}</span>}
      </span>
      {data.delivery.lastNotifiedAt && (
        <span className="muted" title={exactTime(data.delivery.lastNotifiedAt)}>
          last notification {ago(data.delivery.lastNotifiedAt)}
        </span>
      )}
    </div>
  );
}

function History({ data }: { data: AlertsOverview }) {
  const [open, setOpen] = useState(true);
  return (
    <section className="card" data-testid="alerts-history">
      <header className="card-header">
        <h2>History</h2>
        <span className="muted">fired, resolved, acknowledged, silenced and notified — newest first, durable on this workstation</span>
        <span className="spacer" />
        <button className="btn btn-small" onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? 'Hide' : 'Show'}
        </button>
      </header>
      {open && (
        <div className="card-body flush">
          <table className="table">
            <thead>
              <tr>
                <th style={{ width: 170 }}>When</th>
                <th style={{ width: 120 }}>Event</th>
                <th>Alert</th>
                <th>Detail</th>
              </tr>
            </thead>
            <tbody>
              {data.history.slice(0, 100).map((h, i) => (
                <tr key={`${h.at}-${h.fingerprint}-${h.event}-${i}`}>
                  <td title={exactTime(h.at)}>{new Date(h.at).toLocaleString()}</td>
                  <td>{h.event}</td>
                  <td className="wrap-anywhere">
                    {RULE_LABELS[h.rule]} · <span className="mono">{h.fingerprint.slice(h.rule.length + 1)}</span>
                  </td>
                  <td className="wrap-anywhere muted">{h.detail ?? ''}</td>
                </tr>
              ))}
              {data.history.length === 0 && (
                <tr>
                  <td colSpan={4} className="muted">
                    Nothing yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function SilenceDialog({ alert, onClose, onDone }: { alert: Alert; onClose(): void; onDone(): Promise<void> }) {
  const [hours, setHours] = useState(4);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    try {
      const out = await client.invoke('alerts.silence', { fingerprint: alert.fingerprint, hours });
      toastSuccess('Alert silenced', out.silencedUntil ? `Until ${new Date(out.silencedUntil).toLocaleString()}.` : undefined);
      await onDone();
      onClose();
    } catch (e) {
      toastError('Silence failed', e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      title="Silence alert"
      onClose={onClose}
      testId="silence-dialog"
      footer={
        <>
          <button className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" onClick={() => void submit()} disabled={busy} data-testid="silence-confirm">
            Silence
          </button>
        </>
      }
    >
      <p>{alert.summary}</p>
      <p className="muted">
        No desktop notification or mail for this alert until the silence ends; it stays on this page and in the history. The silence is
        audited.
      </p>
      <div className="field">
        <label htmlFor="silence-hours">Silence for</label>
        <select id="silence-hours" value={hours} onChange={(e) => setHours(Number(e.target.value))} data-testid="silence-hours">
          {SILENCE_CHOICES.map((c) => (
            <option key={c.hours} value={c.hours}>
              {c.label}
            </option>
          ))}
        </select>
      </div>
    </Modal>
  );
}
