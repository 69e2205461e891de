import { useState, type ReactNode } from 'react';
import type { CommandOutput, ContractErrorShape } from '../../../src-shared/contract';
import type { AlertRules } from '../../../src-shared/contract/alerts';
import { client, errorShape } from '../../client';
import { useInvoke } from '../../lib/use-invoke';
import { useApp } from '../../stores/app';
import { useReadOnly } from '../../stores/cluster';
import { toastSuccess } from '../../stores/toasts';
import { RULE_LABELS } from '../alerts/labels';
import '../alerts/alerts.css';

type RulesView = CommandOutput<'alerts.rules.get'>;

/** Settings → Alerts: the rules, their thresholds, the alert address and the grouping timings (ConfigMap gatehouse-alert-rules). */
export function AlertsTab() {
  const q = useInvoke('alerts.rules.get', {});
  if (q.error) return <div className="callout callout-err">{q.error.message}</div>;
  if (!q.data) return <div className="loading">Loading…</div>;
  return <RulesForm view={q.data} onSaved={q.reload} />;
}

const num = (v: string, fallback: number) => (v.trim() === '' || !Number.isFinite(Number(v)) ? fallback : Math.trunc(Number(v)));

function RulesForm({ view, onSaved }: { view: RulesView; onSaved(): Promise<void> }) {
  const [r, setR] = useState<AlertRules>(view.rules);
  const [address, setAddress] = useState(view.rules.alertEmail ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ContractErrorShape | null>(null);
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const canEdit = role === 'admin' && !readOnly;

  const rule = <K extends keyof AlertRules['rules']>(k: K, patch: Partial<AlertRules['rules'][K]>) =>
    setR((cur) => ({ ...cur, rules: { ...cur.rules, [k]: { ...cur.rules[k], ...patch } } }));
  const grouping = (patch: Partial<AlertRules['grouping']>) => setR((cur) => ({ ...cur, grouping: { ...cur.grouping, ...patch } }));

  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      await client.invoke('alerts.rules.set', { rules: { ...r, alertEmail: address.trim() ? address.trim() : null } });
      toastSuccess('Alert rules saved', `Stored in ConfigMap ${view.configMap} of ${view.namespace}.`);
      await onSaved();
    } catch (e) {
      setError(errorShape(e));
    } finally {
      setBusy(false);
    }
  };

  const enabled = (k: keyof AlertRules['rules']) => (
    <input
      type="checkbox"
      checked={r.rules[k].enabled}
      onChange={(e) => rule(k, { enabled: e.target.checked })}
      disabled={!canEdit}
      aria-label={`${RULE_LABELS[k]} enabled`}
      data-testid={`rule-${k}-enabled`}
    />
  );
  const row = (k: keyof AlertRules['rules'], params: ReactNode) => (
    <>
      <div className="rule-name">
        {enabled(k)} {RULE_LABELS[k]}
      </div>
      <div className="rule-params">{params}</div>
    </>
  );
  const numberInput = (id: string, value: number, onChange: (n: number) => void, min: number, max: number) => (
    <input
      id={id}
      type="number"
      min={min}
      max={max}
      value={value}
      disabled={!canEdit}
      onChange={(e) => onChange(num(e.target.value, value))}
      data-testid={id}
    />
  );

  return (
    <>
      {view.delivery.mail === 'no-smtp' && (
        <div className="callout callout-warn" style={{ marginBottom: 14 }}>
          No SMTP relay is configured for this cluster: alerts are shown on the desktop only. <a href="#/settings/smtp">Configure SMTP</a>
        </div>
      )}
      <section className="card" data-testid="alert-rules-form">
        <header className="card-header">
          <h2>Delivery</h2>
          <span className="muted">
            stored in ConfigMap <code>{view.configMap}</code> of <code>{view.namespace}</code>
            {view.stored ? '' : ' (not saved yet: these are the defaults)'}
          </span>
        </header>
        <div className="card-body">
          <div className="form-grid">
            <div className="field">
              <label htmlFor="alert-email">Alert address</label>
              <input
                id="alert-email"
                type="email"
                value={address}
                onChange={(e) => setAddress(e.target.value)}
                placeholder="oncall@example.com"
                disabled={!canEdit}
                data-testid="alert-email"
              />
              <span className="field-hint">Empty: no mail, desktop notifications only.</span>
            </div>
            <div className="field">
              <label htmlFor="alert-every">Evaluate every (seconds)</label>
              {numberInput('alert-every', r.evaluateEverySeconds, (n) => setR({ ...r, evaluateEverySeconds: n }), 10, 3600)}
              <span className="field-hint">While this console runs and the cluster is online.</span>
            </div>
          </div>
          <h3 style={{ marginTop: 16 }}>Grouping</h3>
          <p className="muted" style={{ marginTop: 0 }}>
            One group per rule. A group's first notification waits the group wait (to collect its siblings), later ones at least the group
            interval, and the same alerts are repeated after the repeat interval. Defaults are Grafana's: 30 s, 5 min, 4 h.
          </p>
          <div className="form-grid">
            <div className="field">
              <label htmlFor="group-wait">Group wait (s)</label>
              {numberInput('group-wait', r.grouping.groupWaitSeconds, (n) => grouping({ groupWaitSeconds: n }), 0, 3600)}
            </div>
            <div className="field">
              <label htmlFor="group-interval">Group interval (s)</label>
              {numberInput('group-interval', r.grouping.groupIntervalSeconds, (n) => grouping({ groupIntervalSeconds: n }), 10, 86400)}
            </div>
            <div className="field">
              <label htmlFor="repeat-interval">Repeat interval (s)</label>
              {numberInput('repeat-interval', r.grouping.repeatIntervalSeconds, (n) => grouping({ repeatIntervalSeconds: n }), 60, 604800)}
            </div>
          </div>
        </div>
      </section>

      <section className="card">
        <header className="card-header">
          <h2>Rules</h2>
          <span className="muted">evaluated by the console; each one's source is read once per cycle</span>
        </header>
        <div className="card-body rule-grid">
          {row(
            'license_expiring',
            <>
              <label htmlFor="license-days">Warn</label>
              {numberInput('license-days', r.rules.license_expiring.daysBefore, (n) => rule('license_expiring', { daysBefore: n }), 1, 365)}
              <span className="muted">days before the verified license expires (read offline; critical under 7 days)</span>
            </>,
          )}
          {row(
            'capacity',
            <>
              <label htmlFor="cap-warn">Warning at</label>
              {numberInput('cap-warn', r.rules.capacity.warnPercent, (n) => rule('capacity', { warnPercent: n }), 1, 100)}
              <label htmlFor="cap-crit">% · critical at</label>
              {numberInput('cap-crit', r.rules.capacity.criticalPercent, (n) => rule('capacity', { criticalPercent: n }), 1, 100)}
              <span>% of the license's tenants and users</span>
              <label className="check">
                <input
                  type="checkbox"
                  checked={r.rules.capacity.perTenant}
                  disabled={!canEdit}
                  onChange={(e) => rule('capacity', { perTenant: e.target.checked })}
                />{' '}
                and of each tenant's user cap
              </label>
            </>,
          )}
          {row(
            'backup_failing',
            <>
              <span>A scheduled tenant with no backup, or one older than its schedule (+2 h) and than</span>
              {numberInput('backup-hours', r.rules.backup_failing.maxAgeHours, (n) => rule('backup_failing', { maxAgeHours: n }), 1, 2160)}
              <span>hours</span>
            </>,
          )}
          {row('restore_drill_failing', <span className="muted">The newest verification (restore into a scratch database) failed.</span>)}
          {row(
            'key_age',
            <span className="muted">
              A credential older than the max-age policy (ConfigMap <code>gatehouse-rotation-policy</code>, edited on the{' '}
              <a href="#/secrets">Secrets</a> page).
            </span>,
          )}
          {row('rollout_stuck', <span className="muted">A stuck worker upgrade, or a platform Deployment that is degraded.</span>)}
          {row('drift', <span className="muted">Registry, Secret and database of a tenant disagree (Tenants → drift).</span>)}
          {row(
            'db_connections',
            <>
              <span>PostgreSQL connections at</span>
              {numberInput('db-warn', r.rules.db_connections.warnPercent, (n) => rule('db_connections', { warnPercent: n }), 1, 100)}
              <span>% of max_connections (critical at 95 %)</span>
            </>,
          )}
          {row(
            'audit_alarm',
            <span className="muted">An unresolved audit verification alarm (the chain, the witness, a checkpoint).</span>,
          )}
        </div>
      </section>
      {error && (
        <div className="callout callout-err" style={{ marginBottom: 12 }} data-testid="alert-rules-error">
          {error.message}
        </div>
      )}
      <div className="row">
        <button className="btn btn-primary" onClick={() => void save()} disabled={!canEdit || busy} data-testid="alert-rules-save">
          {busy ? 'Saving…' : 'Save rules'}
        </button>
        {!canEdit && (
          <span className="muted">{readOnly ? 'The cluster is offline: read-only.' : 'Only an admin can change the rules.'}</span>
        )}
      </div>
    </>
  );
}
