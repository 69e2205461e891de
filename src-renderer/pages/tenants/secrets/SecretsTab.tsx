import { useState } from 'react';
import type { CommandOutput } from '../../../../src-shared/contract';
import type { CredentialEntryView, KindStatus, SigningAlgorithm } from '../../../../src-shared/contract/secrets';
import { client, errorShape } from '../../../client';
import { useInvoke } from '../../../lib/use-invoke';
import { exactTime, shortDate } from '../../../lib/format';
import { useApp } from '../../../stores/app';
import { useReadOnly } from '../../../stores/cluster';
import { toastError, toastSuccess } from '../../../stores/toasts';
import { ConfirmTyped } from '../../../components/ConfirmTyped';
import { StepList, useOperationProgress } from '../../../components/StepList';
import { duration, KIND_LABELS, PHASE_LABELS } from './format';
import './secrets.css';

type Status = CommandOutput<'rotation.status'>;
type Kind = KindStatus['kind'];

const PLANNED: Record<string, string[]> = {
  jwt: ['reserve', 'stage', 'roll-staged', 'caches', 'promote', 'roll-promoted', 'window', 'release'],
  token: ['reserve', 'stage', 'roll-staged', 'caches', 'promote', 'roll-promoted', 'window', 'retire-previous', 'roll-retired', 'release'],
  database: ['reserve', 'stage', 'login', 'switch', 'roll', 'verify', 'expire-old', 'release'],
};
const planned = (kind: Kind) => (kind === 'jwt' ? PLANNED.jwt! : kind === 'database' ? PLANNED.database! : PLANNED.token!);

const EXPLAIN: Record<Kind, string> = {
  jwt: 'The backend signs with the current key and accepts next, current and previous. A previous key stays accepted for the overlap window, then it can be retired.',
  'login-worker':
    'Presented by the backend to the login worker. Old and new are both accepted until every workload that presents it has rolled.',
  proxy: 'Presented by the proxy to the backend. Old and new are both accepted until every workload that presents it has rolled.',
  cp: 'Presented by the control plane (this console) to the tenant API. Old and new are both accepted until every workload has rolled.',
  database:
    'Moves the backend to the other of two login roles; the old password stays valid until no backend session uses it, then it is removed.',
};

/** Tenant → Secrets: each credential's id, age, phase and rollout, with rotate / retire / emergency revoke. */
export default function SecretsTab({ slug, kinds = ['jwt', 'login-worker', 'proxy', 'database'] }: { slug: string; kinds?: Kind[] }) {
  const q = useInvoke('rotation.status', { slug }, slug);
  const s = q.data;
  return (
    <div className="rotation" data-testid="secrets-tab">
      {q.error && <div className="callout callout-err">{q.error.message}</div>}
      {s && <WindowCard s={s} slug={slug} reload={q.reload} />}
      {s && s.kinds.filter((k) => kinds.includes(k.kind)).map((k) => <KindCard key={k.kind} slug={slug} k={k} s={s} reload={q.reload} />)}
    </div>
  );
}

function WindowCard({ s, slug, reload }: { s: Status; slug: string; reload(): Promise<void> }) {
  const role = useApp((st) => st.operator?.role);
  const [editing, setEditing] = useState(false);
  const w = s.window;
  return (
    <section className="card" data-testid="overlap-window">
      <header className="card-header">
        <h2>Overlap window</h2>
        <span className="muted">how long a demoted signing key stays accepted</span>
        <span className="spacer" />
        {role === 'admin' && !editing && (
          <button className="btn btn-small" onClick={() => setEditing(true)} data-testid="edit-lifetimes">
            Edit lifetimes
          </button>
        )}
      </header>
      <div className="card-body">
        <p className="window-sum">
          <strong data-testid="window-total">{duration(w.seconds)}</strong> = longest lifetime {duration(w.longestLifetimeSeconds)} + JWKS
          cache max-age {duration(w.jwksMaxAgeSeconds)} + margin {duration(w.marginSeconds)}
          <span className="muted">
            {' '}
            ({s.lifetimesSource === 'secret' ? 'lifetimes from the tenant Secret' : 'platform default lifetimes'})
          </span>
        </p>
        {editing && <LifetimesForm slug={slug} s={s} onDone={async () => (setEditing(false), await reload())} />}
        <div className="workloads-line" data-testid="rollout-state">
          {s.workloads.length === 0 ? (
            <span className="muted">
              No dedicated workload: only the shared backend reads this Secret (through its watch); nothing is rolled per tenant.
            </span>
          ) : (
            s.workloads.map((wl) => (
              <span
                key={wl.name}
                className={`badge ${wl.revision === null ? '' : wl.complete && wl.upToDate ? 'badge-ok' : 'badge-warn'}`}
                title={
                  wl.revision === null
                    ? 'started with whatever the Secret held then; the next rotation rolls it'
                    : wl.upToDate
                      ? 'runs the Secret’s current revision'
                      : 'not rolled to the current revision yet'
                }
              >
                {wl.name} {wl.updated}/{wl.desired} updated, {wl.available} available
                {wl.revision === null ? ' (not rolled by a rotation yet)' : wl.upToDate ? '' : ' (behind the Secret)'}
              </span>
            ))
          )}
        </div>
      </div>
    </section>
  );
}

function LifetimesForm({ slug, s, onDone }: { slug: string; s: Status; onDone(): Promise<void> }) {
  const [v, setV] = useState(s.lifetimes);
  const [busy, setBusy] = useState(false);
  const field = (key: keyof typeof v, label: string) => (
    <div className="field">
      <label htmlFor={`lt-${key}`}>{label} (s)</label>
      <input id={`lt-${key}`} type="number" min={0} value={v[key]} onChange={(e) => setV({ ...v, [key]: Number(e.target.value) })} />
    </div>
  );
  const save = async () => {
    setBusy(true);
    try {
      const r = await client.invoke('rotation.lifetimes.set', { slug, lifetimes: v });
      toastSuccess('Lifetimes saved', `Overlap window now ${duration(r.window.seconds)}; workloads rolled.`);
      await onDone();
    } catch (e) {
      toastError('Could not save the lifetimes', e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="lifetimes-form">
      <div className="form-grid">
        {field('accessSeconds', 'Access token')}
        {field('refreshSeconds', 'Refresh token')}
        {field('offlineIdleSeconds', 'Offline session idle')}
        {field('jwksMaxAgeSeconds', 'JWKS cache max-age')}
      </div>
      <div className="row">
        <button className="btn btn-primary" disabled={busy} onClick={() => void save()}>
          {busy ? 'Saving…' : 'Save and roll out'}
        </button>
        <button className="btn" onClick={() => void onDone()}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function KindCard({ slug, k, s, reload }: { slug: string; k: KindStatus; s: Status; reload(): Promise<void> }) {
  const role = useApp((st) => st.operator?.role);
  const readOnly = useReadOnly();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [alg, setAlg] = useState<SigningAlgorithm | ''>('');
  const [revoking, setRevoking] = useState<CredentialEntryView | null>(null);
  const steps = useOperationProgress(`rotation.${k.kind}`, slug, busy);
  const canOperate = (role === 'operator' || role === 'admin') && !readOnly;

  const rotate = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await client.invoke('rotation.rotate', { slug, kind: k.kind, ...(k.kind === 'jwt' && alg ? { algorithm: alg } : {}) });
      toastSuccess(`${KIND_LABELS[k.kind]} rotated`, r.id ? `Now in use: ${r.id}` : undefined);
    } catch (e) {
      setError(errorShape(e).message);
    } finally {
      setBusy(false);
      await reload();
    }
  };
  const retire = async (e: CredentialEntryView) => {
    setBusy(true);
    try {
      await client.invoke('rotation.retire', { slug, kind: k.kind as 'jwt', id: e.id });
      toastSuccess(`${e.id} retired`);
    } catch (err) {
      toastError(`Could not retire ${e.id}`, err);
    } finally {
      setBusy(false);
      await reload();
    }
  };
  const revoke = async (e: CredentialEntryView, typed: string) => {
    setBusy(true);
    try {
      await client.invoke('rotation.revoke', { slug, kind: k.kind as 'jwt', id: e.id, confirm: typed });
      toastSuccess(`${e.id} revoked`, 'Tokens it signed no longer verify.');
      setRevoking(null);
    } catch (err) {
      toastError(`Could not revoke ${e.id}`, err);
    } finally {
      setBusy(false);
      await reload();
    }
  };
  const now = Date.now();
  const current = k.entries.find((e) => e.state === 'current');
  return (
    <section className="card kind-card" data-testid={`kind-${k.kind}`}>
      <header className="card-header">
        <h2>{KIND_LABELS[k.kind]}</h2>
        {k.legacy && (
          <span
            className="badge badge-info"
            title="Stored in the layout before key sets (still read by every backend); the first rotation converts it."
          >
            pre-key-set layout
          </span>
        )}
        <span className={`badge ${k.phase === 'stable' ? '' : 'badge-warn'}`} data-testid={`phase-${k.kind}`}>
          {PHASE_LABELS[k.phase]}
        </span>
        {k.overdue && (
          <span className="badge badge-err" data-testid={`overdue-${k.kind}`}>
            older than {k.maxAgeDays} days
          </span>
        )}
        <span className="spacer" />
        {k.kind === 'jwt' && (
          <select
            value={alg}
            onChange={(e) => setAlg(e.target.value as SigningAlgorithm | '')}
            aria-label="Algorithm of the new key"
            disabled={busy}
          >
            <option value="">same algorithm ({current?.alg ?? 'ES256'})</option>
            <option value="ES256">ES256</option>
            <option value="EdDSA">EdDSA</option>
            <option value="HS256">HS256</option>
          </select>
        )}
        <button
          className="btn btn-primary"
          disabled={busy || !canOperate || k.operationId !== null}
          onClick={() => void rotate()}
          data-testid={`rotate-${k.kind}`}
        >
          {busy ? 'Rotating…' : 'Rotate'}
        </button>
      </header>
      <div className="card-body">
        <p className="muted kind-explain">{EXPLAIN[k.kind]}</p>
        <table className="kv-table">
          <tbody>
            <tr>
              <td>In use</td>
              <td className="mono" data-testid={`current-${k.kind}`}>
                {k.currentId ?? '—'}
                {k.databaseUser ? ` (login ${k.databaseUser})` : ''}
              </td>
            </tr>
            <tr>
              <td>Age</td>
              <td title={exactTime(k.since)} data-testid={`age-${k.kind}`}>
                {duration(k.ageSeconds)}
                {k.maxAgeDays !== null ? <span className="muted"> · policy {k.maxAgeDays} days</span> : null}
              </td>
            </tr>
            {k.operationId && (
              <tr>
                <td>Unfinished</td>
                <td>
                  Operation <code>{k.operationId}</code> is part-way; resume or roll it back under{' '}
                  <a href="#/tenants">Tenants → Unfinished operations</a>.
                </td>
              </tr>
            )}
          </tbody>
        </table>
        {k.entries.length > 0 && (
          <table className="table entries" data-testid={`entries-${k.kind}`}>
            <thead>
              <tr>
                <th>Id</th>
                {k.kind === 'jwt' && <th>Alg</th>}
                <th>State</th>
                <th>Created</th>
                <th>Retire after</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {k.entries.map((e) => {
                const due = e.state === 'previous' && e.retireAfter !== null && Date.parse(e.retireAfter) <= now;
                return (
                  <tr key={e.id} data-testid={`entry-${e.id}`}>
                    <td className="mono">
                      {e.id}
                      {e.legacy ? <span className="muted"> (legacy)</span> : null}
                    </td>
                    {k.kind === 'jwt' && <td>{e.alg}</td>}
                    <td>
                      <span className={`badge state-${e.state}`}>
                        {e.state}
                        {e.revoked ? ' (revoked)' : ''}
                      </span>
                    </td>
                    <td title={exactTime(e.created)}>{shortDate(e.created)}</td>
                    <td title={exactTime(e.retireAfter)}>
                      {e.state === 'previous' ? (e.retireAfter ? (due ? 'now' : exactTime(e.retireAfter)) : 'after the rollout') : '—'}
                    </td>
                    <td className="actions">
                      {e.state === 'previous' && (
                        <button
                          className="btn btn-small"
                          disabled={busy || !canOperate || !due}
                          title={due ? 'The overlap window has ended' : 'The overlap window has not ended'}
                          onClick={() => void retire(e)}
                          data-testid={`retire-${e.id}`}
                        >
                          Retire
                        </button>
                      )}
                      {e.state !== 'retired' && role === 'admin' && (
                        <button
                          className="btn btn-small btn-danger"
                          disabled={busy || readOnly}
                          onClick={() => setRevoking(e)}
                          data-testid={`revoke-${e.id}`}
                        >
                          Emergency revoke
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        {steps.length > 0 && <StepList steps={steps} planned={planned(k.kind)} />}
        {error && (
          <div className="callout callout-err" data-testid={`rotate-error-${k.kind}`}>
            {error}
          </div>
        )}
      </div>
      {revoking && (
        <ConfirmTyped
          title={`Emergency revoke of ${revoking.id}`}
          expected={revoking.id}
          action="Revoke now"
          busy={busy}
          onClose={() => setRevoking(null)}
          onConfirm={(typed) => void revoke(revoking, typed)}
        >
          <p>
            {revoking.state === 'current'
              ? 'A fresh entry becomes current in the same write. Everything signed or presented with this one stops working at once: sessions it signed are logged out.'
              : 'It stops being accepted at once, before its overlap window ends: sessions it signed are logged out.'}{' '}
            The revoke is written to the audit log. Use it when the {KIND_LABELS[k.kind]?.toLowerCase()} leaked.
          </p>
          <p className="muted">Window: {duration(s.window.seconds)}.</p>
        </ConfirmTyped>
      )}
    </section>
  );
}
