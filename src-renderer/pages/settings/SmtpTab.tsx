import { useEffect, useState } from 'react';
import type { ContractErrorShape } from '../../../src-shared/contract';
import type { SmtpSettings, SmtpStage, SmtpTestResult, SmtpView } from '../../../src-shared/contract/mail';
import { client, errorShape } from '../../client';
import { ago, exactTime } from '../../lib/format';
import { useApp } from '../../stores/app';
import { useReadOnly } from '../../stores/cluster';
import { toastSuccess } from '../../stores/toasts';
import { Icon } from '../../shell/Icon';

type Tls = SmtpSettings['tls'];
interface Draft {
  host: string;
  port: string;
  username: string;
  from: string;
  tls: Tls;
  ca: 'system' | 'custom';
  caPem: string;
  /** '' = keep the saved password (or none). */
  password: string;
  changingPassword: boolean;
  clearPassword: boolean;
}

const DEFAULT_PORT: Record<Tls, number> = { starttls: 587, tls: 465, none: 25 };
const TLS_LABELS: Record<Tls, string> = {
  starttls: 'STARTTLS: plain connection upgraded to TLS (usually port 587)',
  tls: 'Implicit TLS: TLS from the first byte (usually port 465)',
  none: 'None: no encryption (trusted network only, usually port 25)',
};
const STATUS_BADGE: Record<SmtpStage['status'], string> = { ok: 'badge-ok', failed: 'badge-err', skipped: 'badge-info', 'not-run': '' };
const STATUS_TEXT: Record<SmtpStage['status'], string> = { ok: 'passed', failed: 'failed', skipped: 'skipped', 'not-run': 'not run' };

const fromView = (v: SmtpView): Draft => ({
  host: v.settings?.host ?? '',
  port: String(v.settings?.port ?? 587),
  username: v.settings?.username ?? '',
  from: v.settings?.from ?? '',
  tls: v.settings?.tls ?? 'starttls',
  ca: v.settings?.ca ?? 'system',
  caPem: v.settings?.caPem ?? '',
  password: '',
  changingPassword: !v.passwordSet,
  clearPassword: false,
});

const toSettings = (d: Draft): SmtpSettings => ({
  host: d.host.trim(),
  port: Number(d.port),
  username: d.username.trim(),
  from: d.from.trim(),
  tls: d.tls,
  ca: d.tls === 'none' ? 'system' : d.ca,
  caPem: d.tls !== 'none' && d.ca === 'custom' ? d.caPem.trim() : null,
});

/** Settings → SMTP: the relay form (password write-only), the staged test on the form's values, save. */
export function SmtpTab() {
  const [view, setView] = useState<SmtpView | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [loadError, setLoadError] = useState<ContractErrorShape | null>(null);
  const [error, setError] = useState<ContractErrorShape | null>(null);
  const [saving, setSaving] = useState(false);
  const [testing, setTesting] = useState(false);
  const [to, setTo] = useState('');
  const [result, setResult] = useState<SmtpTestResult | null>(null);
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const isAdmin = role === 'admin';
  const canTest = (role === 'operator' || role === 'admin') && !readOnly;

  useEffect(() => {
    let live = true;
    client.invoke('mail.smtp.get', {}).then(
      (v) => {
        if (!live) return;
        setView(v);
        setDraft(fromView(v));
        setTo((t) => t || v.operatorEmail || '');
      },
      (e: unknown) => live && setLoadError(errorShape(e)),
    );
    return () => {
      live = false;
    };
  }, []);

  if (loadError) return <div className="callout callout-err">{loadError.message}</div>;
  if (!view || !draft) return <div className="loading">Loading…</div>;
  const set = (patch: Partial<Draft>) => setDraft({ ...draft, ...patch });
  const fields = (error?.details?.fields ?? {}) as Record<string, string>;
  const fieldError = (name: string) => fields[`settings.${name}`] ?? fields[name];

  const save = async () => {
    setSaving(true);
    setError(null);
    try {
      const v = await client.invoke('mail.smtp.save', {
        settings: toSettings(draft),
        ...(draft.password ? { password: draft.password } : {}),
        clearPassword: draft.clearPassword,
        expectedVersion: view.version,
      });
      setView(v);
      setDraft(fromView(v));
      toastSuccess('SMTP settings saved', `ConfigMap and Secret ${v.objects.configMap} in ${v.objects.namespace}.`);
    } catch (e) {
      setError(errorShape(e));
    } finally {
      setSaving(false);
    }
  };

  const runTest = async () => {
    setTesting(true);
    setError(null);
    setResult(null);
    try {
      setResult(
        await client.invoke('mail.smtp.test', {
          settings: toSettings(draft),
          ...(draft.password ? { password: draft.password } : {}),
          to: to.trim(),
        }),
      );
    } catch (e) {
      setError(errorShape(e));
    } finally {
      setTesting(false);
    }
  };

  return (
    <>
      <section className="card" data-testid="smtp-form">
        <header className="card-header">
          <h2>SMTP relay</h2>
          <span className="muted">
            ConfigMap and Secret <code>{view.objects.configMap}</code> in <code>{view.objects.namespace}</code>, read by the platform
            backend
          </span>
          <span className="spacer" />
          {view.updatedAt && (
            <span className="muted" title={exactTime(view.updatedAt)}>
              saved {ago(view.updatedAt)}
              {view.updatedBy ? ` by ${view.updatedBy}` : ''}
            </span>
          )}
        </header>
        <div className="card-body">
          {!view.settings && (
            <div className="callout">No SMTP relay is configured for this cluster yet: tenants and the console cannot send mail.</div>
          )}
          <div className="form-grid">
            <div className="field">
              <label htmlFor="smtp-host">Host</label>
              <input
                id="smtp-host"
                value={draft.host}
                onChange={(e) => set({ host: e.target.value })}
                placeholder="smtp.example.com"
                aria-invalid={!!fieldError('host')}
              />
              {fieldError('host') && <span className="field-error">{fieldError('host')}</span>}
            </div>
            <div className="field">
              <label htmlFor="smtp-port">Port</label>
              <input
                id="smtp-port"
                type="number"
                min={1}
                max={65535}
                value={draft.port}
                onChange={(e) => set({ port: e.target.value })}
                aria-invalid={!!fieldError('port')}
              />
              {fieldError('port') && <span className="field-error">{fieldError('port')}</span>}
            </div>
            <div className="field">
              <label htmlFor="smtp-from">From address</label>
              <input
                id="smtp-from"
                type="email"
                value={draft.from}
                onChange={(e) => set({ from: e.target.value })}
                placeholder="noreply@example.com"
                aria-invalid={!!fieldError('from')}
              />
              <span className="field-hint">Every mail is sent from this address, never from an operator&apos;s.</span>
              {fieldError('from') && <span className="field-error">{fieldError('from')}</span>}
            </div>
            <div className="field">
              <label htmlFor="smtp-user">Username</label>
              <input
                id="smtp-user"
                value={draft.username}
                onChange={(e) => set({ username: e.target.value })}
                autoComplete="off"
                placeholder="empty: no AUTH"
              />
            </div>
            <div className="field">
              <span className="field-label" id="smtp-password-label">
                Password
              </span>
              {view.passwordSet && !draft.changingPassword ? (
                <div className="row">
                  <span className="badge badge-ok" data-testid="smtp-password-state">
                    set
                  </span>
                  <button className="btn btn-small" onClick={() => set({ changingPassword: true })} data-testid="smtp-password-change">
                    Change
                  </button>
                  <label className="check">
                    <input type="checkbox" checked={draft.clearPassword} onChange={(e) => set({ clearPassword: e.target.checked })} />{' '}
                    remove
                  </label>
                </div>
              ) : (
                <input
                  id="smtp-password"
                  type="password"
                  aria-labelledby="smtp-password-label"
                  autoComplete="new-password"
                  value={draft.password}
                  onChange={(e) => set({ password: e.target.value })}
                  placeholder={view.passwordSet ? 'blank: keep the saved one' : 'not set'}
                  data-testid="smtp-password"
                />
              )}
              <span className="field-hint">Stored in the Secret only; never shown, logged or audited.</span>
              {fieldError('password') && <span className="field-error">{fieldError('password')}</span>}
            </div>
          </div>
          <div className="form-grid" style={{ marginTop: 12 }}>
            <div className="field">
              <label htmlFor="smtp-tls">TLS</label>
              <select
                id="smtp-tls"
                value={draft.tls}
                onChange={(e) => {
                  const tls = e.target.value as Tls;
                  set({ tls, port: Number(draft.port) === DEFAULT_PORT[draft.tls] ? String(DEFAULT_PORT[tls]) : draft.port });
                }}
              >
                {(['starttls', 'tls', 'none'] as const).map((m) => (
                  <option key={m} value={m}>
                    {TLS_LABELS[m]}
                  </option>
                ))}
              </select>
            </div>
            {draft.tls !== 'none' && (
              <div className="field">
                <label htmlFor="smtp-ca">Trusted CA</label>
                <select id="smtp-ca" value={draft.ca} onChange={(e) => set({ ca: e.target.value as Draft['ca'] })}>
                  <option value="system">System CAs of this machine</option>
                  <option value="custom">Custom CA (PEM stored with the settings)</option>
                </select>
              </div>
            )}
          </div>
          {draft.tls !== 'none' && draft.ca === 'custom' && (
            <div className="field" style={{ marginTop: 12 }}>
              <label htmlFor="smtp-ca-pem">CA certificate (PEM)</label>
              <textarea
                id="smtp-ca-pem"
                rows={5}
                className="mono"
                value={draft.caPem}
                onChange={(e) => set({ caPem: e.target.value })}
                placeholder="-----BEGIN CERTIFICATE-----"
                aria-invalid={!!fieldError('caPem')}
              />
              {fieldError('caPem') && <span className="field-error">{fieldError('caPem')}</span>}
            </div>
          )}
          {draft.tls === 'none' && (
            <div className="callout callout-warn" style={{ marginTop: 12 }}>
              Without TLS, mail and the password cross the network in clear text.
            </div>
          )}
          {error && (
            <div className="callout callout-err" style={{ marginTop: 12 }} data-testid="smtp-error">
              {error.message}
            </div>
          )}
          <div className="row row-wrap" style={{ marginTop: 14 }}>
            <label htmlFor="smtp-test-to" className="field-label">
              Send the test to
            </label>
            <input
              id="smtp-test-to"
              type="email"
              value={to}
              onChange={(e) => setTo(e.target.value)}
              placeholder="you@example.com"
              style={{ width: 260 }}
              data-testid="smtp-test-to"
            />
            <button className="btn" onClick={() => void runTest()} disabled={!canTest || testing || !to.trim()} data-testid="smtp-test">
              <Icon name="refresh" /> {testing ? 'Testing…' : 'Run staged test'}
            </button>
            <span className="muted">uses the values in this form, not the saved ones</span>
            <span className="spacer" />
            <button
              className="btn btn-primary"
              onClick={() => void save()}
              disabled={!isAdmin || readOnly || saving}
              title={isAdmin ? undefined : 'Saving needs the admin role'}
              data-testid="smtp-save"
            >
              {saving ? 'Saving…' : 'Save'}
            </button>
          </div>
        </div>
      </section>
      {result && <TestResult result={result} />}
    </>
  );
}

function TestResult({ result }: { result: SmtpTestResult }) {
  return (
    <section className="card" data-testid="smtp-test-result">
      <header className="card-header">
        <h2>Staged test</h2>
        {result.ok ? (
          <span className="badge badge-ok">mail accepted</span>
        ) : (
          <span className="badge badge-err">failed at {result.stages.find((s) => s.stage === result.failedStage)?.label}</span>
        )}
        <span className="muted">
          From {result.from} to {result.to}
          {result.usedSavedPassword ? ' · with the saved password' : ''}
        </span>
      </header>
      <ol className="smtp-stages">
        {result.stages.map((s) => (
          <li key={s.stage} className={`smtp-stage smtp-stage-${s.status}`} data-testid={`smtp-stage-${s.stage}`} data-status={s.status}>
            <div className="row">
              <span className={`badge ${STATUS_BADGE[s.status]}`}>{STATUS_TEXT[s.status]}</span>
              <strong>{s.label}</strong>
              {s.durationMs !== null && <span className="muted">{s.durationMs} ms</span>}
              <span className="smtp-detail">{s.detail}</span>
            </div>
            {s.error && <div className="callout callout-err smtp-stage-error">{s.error}</div>}
            {s.certificate && (
              <table className="kv-table smtp-cert">
                <tbody>
                  <tr>
                    <th scope="row">Subject</th>
                    <td>{s.certificate.subject}</td>
                  </tr>
                  <tr>
                    <th scope="row">Issuer</th>
                    <td>{s.certificate.issuer}</td>
                  </tr>
                  <tr>
                    <th scope="row">Valid</th>
                    <td>
                      {s.certificate.validFrom} – {s.certificate.validTo}
                    </td>
                  </tr>
                  {s.certificate.altNames && (
                    <tr>
                      <th scope="row">Names</th>
                      <td>{s.certificate.altNames}</td>
                    </tr>
                  )}
                  <tr>
                    <th scope="row">Verification</th>
                    <td>{s.certificate.verificationError ?? 'verified'}</td>
                  </tr>
                  <tr>
                    <th scope="row">Protocol</th>
                    <td>{[s.certificate.protocol, s.certificate.cipher].filter(Boolean).join(' · ')}</td>
                  </tr>
                </tbody>
              </table>
            )}
            {s.transcript.length > 0 && (
              <details open={s.status === 'failed'}>
                <summary>Transcript ({s.transcript.length} lines)</summary>
                <pre className="smtp-transcript">{s.transcript.join('\n')}</pre>
              </details>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
