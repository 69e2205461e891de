import { useEffect, useMemo, useState } from 'react';
import type { CommandOutput, OperationProgress } from '../../../src-shared/contract';
import type { CredentialKind, FleetSummary, MaxAgePolicy } from '../../../src-shared/contract/secrets';
import { client, errorShape } from '../../client';
import { useInvoke } from '../../lib/use-invoke';
import { ago, exactTime, plural } from '../../lib/format';
import { useApp } from '../../stores/app';
import { useCluster, selectedContext, useReadOnly } from '../../stores/cluster';
import { toastError, toastSuccess } from '../../stores/toasts';
import { Modal } from '../../components/Modal';
import { Icon } from '../../shell/Icon';
import { duration, KIND_LABELS } from '../tenants/secrets/format';
import '../tenants/secrets/secrets.css';

type FleetStatus = CommandOutput<'rotation.fleet.status'>;
const POLICY_KINDS = ['jwt', 'login-worker', 'proxy', 'cp', 'database', 'bootstrap'] as const;
const ROTATABLE: CredentialKind[] = ['jwt', 'login-worker', 'proxy', 'cp', 'database'];
const SHOWN_ROWS = 300;

/** Secrets (fleet view): key age of every tenant against the max-age policy, fleet rotations and their progress. */
export default function SecretsPage() {
  const list = useCluster((s) => s.list);
  const current = selectedContext(list);
  const q = useInvoke('rotation.fleet.status', {}, current?.id ?? '', current !== undefined);
  const runs = useInvoke('rotation.fleet.list', {}, current?.id ?? '', current !== undefined);
  const reload = async () => {
    await Promise.all([q.reload(), runs.reload()]);
  };
  if (!current)
    return (
      <div className="empty-state">
        <h2>No cluster selected</h2>
        <p className="muted">Pick a cluster on the Clusters page first.</p>
      </div>
    );
  return (
    <div className="rotation" data-testid="secrets-page">
      <div className="page-header">
        <div>
          <h1>Secrets</h1>
          <div className="sub">Credential age and rotation across the tenants of {current.contextName}</div>
        </div>
        <span className="spacer" />
        {q.data && (
          <span className="muted" title={exactTime(q.data.readAt)}>
            Read {ago(q.data.readAt)}
          </span>
        )}
        <button className="btn" onClick={() => void reload()} disabled={q.loading}>
          <Icon name="refresh" /> Refresh
        </button>
      </div>
      {q.error && <div className="callout callout-err">{q.error.message}</div>}
      {q.data && <Alerts s={q.data} />}
      {q.data && <FleetRotate s={q.data} onDone={reload} />}
      {runs.data && runs.data.fleets.length > 0 && <Runs fleets={runs.data.fleets} onDone={reload} />}
      {q.data && <Policy policy={q.data.policy} onDone={reload} />}
      {q.data && <AgeTable s={q.data} />}
    </div>
  );
}

function Alerts({ s }: { s: FleetStatus }) {
  if (s.alerts.length === 0) {
    return (
      <div className="callout callout-ok" data-testid="rotation-alerts">
        Every credential is within its max-age policy.
      </div>
    );
  }
  return (
    <div className="callout callout-warn" data-testid="rotation-alerts">
      <strong>{plural(s.alerts.length, 'credential')} older than the policy allows.</strong>
      <ul className="missing-list">
        {s.alerts.slice(0, 12).map((a) => (
          <li key={`${a.slug}-${a.kind}`}>
            <a href={`#/tenants/${a.slug}/${a.kind === 'bootstrap' ? 'bootstrap' : a.kind === 'cp' ? 'cp-token' : 'secrets'}`}>{a.slug}</a>:{' '}
            {KIND_LABELS[a.kind]} is {duration(a.ageSeconds)} old (policy {a.maxAgeDays} days)
          </li>
        ))}
        {s.alerts.length > 12 && <li className="muted">… and {s.alerts.length - 12} more (see the table below)</li>}
      </ul>
    </div>
  );
}

function FleetRotate({ s, onDone }: { s: FleetStatus; onDone(): Promise<void> }) {
  const role = useApp((st) => st.operator?.role);
  const readOnly = useReadOnly();
  const [kind, setKind] = useState<CredentialKind>('jwt');
  const [concurrency, setConcurrency] = useState(8);
  const [asking, setAsking] = useState(false);
  const [running, setRunning] = useState(false);
  const [progress, setProgress] = useState<{ done: number; total: number; failed: { slug: string; message: string }[] } | null>(null);
  const [result, setResult] = useState<FleetSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const tenants = s.tenants.length;

  useEffect(() => {
    if (!running) return;
    return client.subscribe('operation.progress', (p: OperationProgress) => {
      if (p.kind !== 'rotation.fleet') return;
      setProgress((prev) => {
        const base = prev ?? { done: 0, total: p.total ?? 0, failed: [] };
        const failed =
          p.status === 'failed' && p.target !== '*'
            ? [...base.failed.filter((f) => f.slug !== p.target), { slug: p.target, message: p.message ?? 'failed' }]
            : base.failed;
        return { done: p.done ?? base.done, total: p.total ?? base.total, failed };
      });
    });
  }, [running]);

  const run = async () => {
    setAsking(false);
    setRunning(true);
    setProgress(null);
    setResult(null);
    setError(null);
    try {
      const r = await client.invoke('rotation.fleet.rotate', { kind, concurrency });
      setResult(r);
      if (r.status === 'done') toastSuccess('Fleet rotation finished', `${r.done} of ${r.total} tenants rotated.`);
    } catch (e) {
      setError(errorShape(e).message);
    } finally {
      setRunning(false);
      await onDone();
    }
  };
  const canOperate = (role === 'operator' || role === 'admin') && !readOnly;
  const pct = progress && progress.total ? Math.round((progress.done / progress.total) * 100) : 0;
  return (
    <section className="card" data-testid="fleet-rotate">
      <header className="card-header">
        <h2>Rotate for every tenant</h2>
        <span className="muted">each tenant in its own resumable operation; one failure never stops the others</span>
      </header>
      <div className="card-body">
        <div className="row row-wrap">
          <select
            value={kind}
            onChange={(e) => setKind(e.target.value as CredentialKind)}
            aria-label="Credential kind"
            data-testid="fleet-kind"
          >
            {ROTATABLE.map((k) => (
              <option key={k} value={k}>
                {KIND_LABELS[k]}
              </option>
            ))}
          </select>
          <label htmlFor="fleet-conc">at most</label>
          <input
            id="fleet-conc"
            type="number"
            min={1}
            max={16}
            value={concurrency}
            onChange={(e) => setConcurrency(Number(e.target.value))}
            style={{ width: 70 }}
          />
          <span>at once</span>
          <button
            className="btn btn-primary"
            disabled={!canOperate || running || tenants === 0}
            onClick={() => setAsking(true)}
            data-testid="fleet-start"
          >
            {running ? 'Rotating…' : `Rotate for ${plural(tenants, 'tenant')}`}
          </button>
        </div>
        {(running || progress) && (
          <div className="fleet-progress" data-testid="fleet-progress">
            <div className="bar">
              <div className="bar-track">
                <div className="bar-fill" style={{ width: `${pct}%` }} />
              </div>
              <span className="bar-text">{progress ? `${progress.done} / ${progress.total}` : 'starting…'}</span>
            </div>
            {progress?.failed.map((f) => (
              <div key={f.slug} className="callout callout-err">
                <a href={`#/tenants/${f.slug}/secrets`}>{f.slug}</a>: {f.message}
              </div>
            ))}
          </div>
        )}
        {result && (
          <div className={`callout ${result.status === 'done' ? 'callout-ok' : 'callout-warn'}`} data-testid="fleet-result">
            {result.done} of {result.total} rotated{result.failed ? `, ${result.failed} failed (resume below once fixed)` : ''}
            {result.skipped ? `, ${result.skipped} skipped` : ''}.
          </div>
        )}
        {error && <div className="callout callout-err">{error}</div>}
      </div>
      {asking && (
        <Modal
          title={`Rotate ${KIND_LABELS[kind]?.toLowerCase()} for every tenant`}
          onClose={() => setAsking(false)}
          testId="fleet-confirm"
          footer={
            <>
              <button className="btn" onClick={() => setAsking(false)}>
                Cancel
              </button>
              <button className="btn btn-primary" onClick={() => void run()} data-testid="fleet-confirm-start">
                Start
              </button>
            </>
          }
        >
          <p>
            {plural(tenants, 'tenant')}, {concurrency} at a time. Each tenant&apos;s workloads roll twice; nobody is logged out. A tenant
            whose rollout gets stuck stops at a safe phase and is listed with the reason.
          </p>
        </Modal>
      )}
    </section>
  );
}

function Runs({ fleets, onDone }: { fleets: FleetSummary[]; onDone(): Promise<void> }) {
  const readOnly = useReadOnly();
  const [busy, setBusy] = useState<string | null>(null);
  const resume = async (id: string) => {
    setBusy(id);
    try {
      const r = await client.invoke('rotation.fleet.resume', { fleetId: id });
      toastSuccess('Fleet rotation resumed', `${r.done} of ${r.total} done${r.failed ? `, ${r.failed} still failing` : ''}.`);
    } catch (e) {
      toastError('Could not resume the fleet rotation', e);
    } finally {
      setBusy(null);
      await onDone();
    }
  };
  return (
    <section className="card" data-testid="fleet-runs">
      <header className="card-header">
        <h2>Recent fleet rotations</h2>
      </header>
      <div className="card-body flush">
        <table className="table">
          <thead>
            <tr>
              <th>Started</th>
              <th>Kind</th>
              <th>Status</th>
              <th className="num">Done</th>
              <th className="num">Failed</th>
              <th>By</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {fleets.map((f) => (
              <tr key={f.fleetId} data-testid={`fleet-run-${f.fleetId}`}>
                <td title={exactTime(f.createdAt)}>{ago(f.createdAt)}</td>
                <td>{KIND_LABELS[f.kind]}</td>
                <td>
                  <span className={`badge ${f.status === 'done' ? 'badge-ok' : f.status === 'running' ? 'badge-info' : 'badge-warn'}`}>
                    {f.status}
                  </span>
                </td>
                <td className="num">
                  {f.done} / {f.total}
                </td>
                <td
                  className="num"
                  title={f.items
                    .filter((i) => i.status === 'failed')
                    .map((i) => `${i.slug}: ${i.error ?? ''}`)
                    .join('\n')}
                >
                  {f.failed}
                </td>
                <td>{f.actor ?? '—'}</td>
                <td className="actions">
                  {(f.status === 'partial' || f.status === 'interrupted') && (
                    <button className="btn btn-small" disabled={busy !== null || readOnly} onClick={() => void resume(f.fleetId)}>
                      {busy === f.fleetId ? 'Resuming…' : 'Resume'}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Policy({ policy, onDone }: { policy: MaxAgePolicy; onDone(): Promise<void> }) {
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const [v, setV] = useState(policy);
  const [busy, setBusy] = useState(false);
  useEffect(() => setV(policy), [policy]);
  const save = async () => {
    setBusy(true);
    try {
      await client.invoke('rotation.policy.set', { maxAgeDays: v });
      toastSuccess('Max-age policy saved', 'Every console of this cluster uses it.');
      await onDone();
    } catch (e) {
      toastError('Could not save the policy', e);
    } finally {
      setBusy(false);
    }
  };
  const admin = role === 'admin';
  return (
    <section className="card" data-testid="rotation-policy">
      <header className="card-header">
        <h2>Max-age policy</h2>
        <span className="muted">days; older credentials raise an alert (shared by every console of this cluster)</span>
      </header>
      <div className="card-body">
        <div className="policy-grid">
          {POLICY_KINDS.map((k) => (
            <div className="field" key={k}>
              <label htmlFor={`pol-${k}`}>{KIND_LABELS[k]}</label>
              <input
                id={`pol-${k}`}
                type="number"
                min={1}
                max={3650}
                disabled={!admin}
                value={v[k] ?? ''}
                placeholder="no limit"
                onChange={(e) => setV({ ...v, [k]: e.target.value === '' ? null : Number(e.target.value) })}
              />
            </div>
          ))}
        </div>
        {admin && (
          <button
            className="btn"
            disabled={busy || readOnly}
            onClick={() => void save()}
            data-testid="policy-save"
            style={{ marginTop: 10 }}
          >
            {busy ? 'Saving…' : 'Save policy'}
          </button>
        )}
      </div>
    </section>
  );
}

function AgeTable({ s }: { s: FleetStatus }) {
  const [filter, setFilter] = useState('');
  const rows = useMemo(() => s.tenants.filter((t) => t.slug.includes(filter.trim().toLowerCase())), [s.tenants, filter]);
  return (
    <section className="card" data-testid="age-table">
      <header className="card-header">
        <h2>Key age per tenant</h2>
        <span className="spacer" />
        <input
          className="search"
          placeholder="Filter by slug"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          aria-label="Filter tenants"
        />
      </header>
      <div className="card-body flush">
        <table className="table fleet-table">
          <thead>
            <tr>
              <th>Tenant</th>
              {POLICY_KINDS.map((k) => (
                <th key={k}>{KIND_LABELS[k]}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, SHOWN_ROWS).map((t) => (
              <tr key={t.slug} data-testid={`age-row-${t.slug}`}>
                <td>
                  <a href={`#/tenants/${t.slug}/secrets`}>{t.slug}</a>
                </td>
                {t.error ? (
                  <td colSpan={POLICY_KINDS.length} className="muted">
                    {t.error}
                  </td>
                ) : (
                  POLICY_KINDS.map((k) => {
                    const c = t.kinds.find((x) => x.kind === k);
                    return (
                      <td key={k} className={c?.overdue ? 'over' : ''} title={c?.currentId ?? ''}>
                        {c?.ageSeconds !== null && c?.ageSeconds !== undefined ? duration(c.ageSeconds) : '—'}
                        {c && c.phase !== 'stable' && c.phase !== 'active' && c.phase !== 'none' ? (
                          <span className="muted"> ({c.phase})</span>
                        ) : null}
                      </td>
                    );
                  })
                )}
              </tr>
            ))}
            {rows.length > SHOWN_ROWS && (
              <tr>
                <td colSpan={POLICY_KINDS.length + 1} className="muted">
                  Showing {SHOWN_ROWS} of {rows.length}; filter to narrow down.
                </td>
              </tr>
            )}
            {rows.length === 0 && (
              <tr>
                <td colSpan={POLICY_KINDS.length + 1} className="muted">
                  No tenant{filter ? ' matches' : ' on this cluster'}.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
