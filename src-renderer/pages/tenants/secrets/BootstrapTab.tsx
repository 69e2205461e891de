import { useState } from 'react';
import { client } from '../../../client';
import { useInvoke } from '../../../lib/use-invoke';
import { exactTime } from '../../../lib/format';
import { useApp } from '../../../stores/app';
import { useReadOnly } from '../../../stores/cluster';
import { toastError, toastSuccess } from '../../../stores/toasts';
import { ConfirmTyped } from '../../../components/ConfirmTyped';
import { CopyButton } from '../../../components/CopyButton';
import { duration } from './format';
import './secrets.css';

/** Tenant → Bootstrap token: the Terraform token, shown once when issued, stored only as a hash, with an expiry. */
export default function BootstrapTab({ slug }: { slug: string }) {
  const q = useInvoke('rotation.status', { slug }, slug);
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const [days, setDays] = useState(30);
  const [busy, setBusy] = useState(false);
  const [issued, setIssued] = useState<{ token: string; id: string; expires: string } | null>(null);
  const [revoking, setRevoking] = useState(false);
  const b = q.data?.bootstrap;
  const admin = role === 'admin';

  const issue = async () => {
    setBusy(true);
    try {
      const r = await client.invoke('rotation.bootstrap.issue', { slug, expiresInDays: days });
      setIssued({ token: r.token, id: r.id, expires: r.expires });
      toastSuccess('Bootstrap token issued', 'Copy it now: it is not shown again.');
    } catch (e) {
      toastError('Could not issue the bootstrap token', e);
    } finally {
      setBusy(false);
      await q.reload();
    }
  };
  const revoke = async (typed: string) => {
    setBusy(true);
    try {
      const r = await client.invoke('rotation.bootstrap.revoke', { slug, confirm: typed });
      toastSuccess('Bootstrap token revoked', r.revokedId ? `${r.revokedId} no longer works.` : 'There was none.');
      setRevoking(false);
      setIssued(null);
    } catch (e) {
      toastError('Could not revoke the bootstrap token', e);
    } finally {
      setBusy(false);
      await q.reload();
    }
  };

  return (
    <div className="rotation" data-testid="bootstrap-tab">
      {q.error && <div className="callout callout-err">{q.error.message}</div>}
      <section className="card">
        <header className="card-header">
          <h2>Terraform bootstrap token</h2>
          {b?.present && (
            <span className={`badge ${b.expired ? 'badge-err' : b.overdue ? 'badge-warn' : 'badge-ok'}`} data-testid="bootstrap-state">
              {b.expired ? 'expired' : 'active'}
            </span>
          )}
          {b && !b.present && (
            <span className="badge" data-testid="bootstrap-state">
              none
            </span>
          )}
        </header>
        <div className="card-body">
          <p className="muted kind-explain">
            Terraform uses it once to configure the tenant. The console shows it when it is issued and never again: only its SHA-256 is
            kept, in Secret tenant-{slug}. Issuing a new one replaces the old one.
          </p>
          {b && (
            <table className="kv-table">
              <tbody>
                <tr>
                  <td>Token</td>
                  <td className="mono" data-testid="bootstrap-id">
                    {b.present ? b.id : '—'}
                  </td>
                </tr>
                {b.present && (
                  <tr>
                    <td>Issued</td>
                    <td title={exactTime(b.created)}>
                      {b.legacy
                        ? 'at tenant creation (never shown to anyone)'
                        : `${exactTime(b.created)}${b.createdBy ? ` by ${b.createdBy}` : ''}`}{' '}
                      · age {duration(b.ageSeconds)}
                    </td>
                  </tr>
                )}
                {b.present && (
                  <tr>
                    <td>Expires</td>
                    <td data-testid="bootstrap-expires">{b.expires ? exactTime(b.expires) : 'never (issue a new one to set an expiry)'}</td>
                  </tr>
                )}
                {b.revoked && !b.present && (
                  <tr>
                    <td>Revoked</td>
                    <td>{exactTime(b.revoked)}</td>
                  </tr>
                )}
              </tbody>
            </table>
          )}
          {issued && (
            <div className="callout callout-warn issued-token" data-testid="issued-token">
              <div>
                <strong>Copy the token now.</strong> It is not stored anywhere and will not be shown again.
              </div>
              <div className="secret-box">
                <code data-testid="issued-token-value">{issued.token}</code>
                <CopyButton value={issued.token} />
                <button className="btn btn-small" onClick={() => setIssued(null)}>
                  I stored it
                </button>
              </div>
              <div className="muted">Expires {exactTime(issued.expires)}.</div>
            </div>
          )}
          <div className="row">
            <label htmlFor="bt-days">Expires in</label>
            <input
              id="bt-days"
              type="number"
              min={1}
              max={365}
              value={days}
              onChange={(e) => setDays(Number(e.target.value))}
              style={{ width: 80 }}
            />
            <span>days</span>
            <button
              className="btn btn-primary"
              disabled={busy || !admin || readOnly}
              onClick={() => void issue()}
              data-testid="issue-bootstrap"
            >
              {b?.present ? 'Issue a new token' : 'Issue token'}
            </button>
            <button
              className="btn btn-danger"
              disabled={busy || !admin || readOnly || !b?.present}
              onClick={() => setRevoking(true)}
              data-testid="revoke-bootstrap"
            >
              Revoke
            </button>
            {!admin && <span className="muted">Needs the admin role (you are {role ?? 'not signed in'}).</span>}
          </div>
        </div>
      </section>
      {revoking && (
        <ConfirmTyped
          title="Revoke the bootstrap token"
          expected={slug}
          action="Revoke"
          busy={busy}
          onClose={() => setRevoking(false)}
          onConfirm={(typed) => void revoke(typed)}
        >
          <p>Terraform runs using this token will be refused from the next rollout on. The revoke is written to the audit log.</p>
        </ConfirmTyped>
      )}
    </div>
  );
}
