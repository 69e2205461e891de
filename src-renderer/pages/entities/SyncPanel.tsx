import { Fragment, useEffect, useState } from 'react';
import type { ApplyResult, FleetPlan, PlanChange, TenantPlan, TenantSyncStatus } from '../../../src-shared/contract/entities';
import { client, errorShape } from '../../client';
import { useReadOnly } from '../../stores/cluster';
import { toastError, toastSuccess } from '../../stores/toasts';
import { plural } from '../../lib/format';
import { Icon } from '../../shell/Icon';

const STATUS: Record<TenantSyncStatus, { label: string; badge: string }> = {
  'in-sync': { label: 'in sync', badge: 'badge-ok' },
  pending: { label: 'pending', badge: 'badge-info' },
  drift: { label: 'drift', badge: 'badge-warn' },
  conflict: { label: 'conflict', badge: 'badge-err' },
  'schema-behind': { label: 'schema behind', badge: 'badge-warn' },
  error: { label: 'error', badge: 'badge-err' },
};
const ORDER: TenantSyncStatus[] = ['drift', 'conflict', 'error', 'schema-behind', 'pending', 'in-sync'];

const show = (v: string | string[] | null) => (v === null ? '—' : Array.isArray(v) ? (v.length ? v.join(', ') : '—') : v);

function ChangeList({ changes }: { changes: PlanChange[] }) {
  return (
    <ul className="entities-changes">
      {changes.map((c) => (
        <li key={`${c.entity}/${c.id}`} data-testid="plan-change">
          <span className={`tag entities-action-${c.action}`}>{c.action}</span> {c.entity} <code>{c.label}</code>
          {c.drift && (
            <span className="badge badge-warn" title="The tenant's row differs from what the console last wrote">
              drift
            </span>
          )}
          {c.changes.length > 0 && (
            <ul>
              {c.changes.map((f) => (
                <li key={f.field} className="cell-sub" data-testid="plan-field">
                  {f.field}: <del>{show(f.from)}</del> → <ins>{show(f.to)}</ins>
                </li>
              ))}
            </ul>
          )}
        </li>
      ))}
    </ul>
  );
}

function TenantDetails({ t }: { t: TenantPlan }) {
  return (
    <div className="entities-details">
      {t.error && <div className="callout callout-err">{t.error}</div>}
      {t.conflicts.map((c) => (
        <div key={c} className="callout callout-err">
          {c}
        </div>
      ))}
      {!t.protection.ok && (
        <div className="callout callout-warn" data-testid="protection-problems">
          The database protection of system rows is damaged: {t.protection.problems.join('; ')}. Repair restores it.
        </div>
      )}
      {t.drift.length > 0 && <p className="muted">Drift: {t.drift.map((d) => `${d.label} (${d.kind})`).join(', ')}</p>}
      {t.changes.length > 0 ? (
        <ChangeList changes={t.changes} />
      ) : (
        !t.error && t.conflicts.length === 0 && <p className="muted">Nothing to change.</p>
      )}
    </div>
  );
}

/**
 * Plan before apply: what each tenant would change (field by field, normalised), drift with a
 * repair, conflicts with tenant-owned rows; then the fan-out with live progress and per-tenant results.
 */
export function SyncPanel({ revision, clusterId }: { revision: number; clusterId: string }) {
  const readOnly = useReadOnly();
  const [plan, setPlan] = useState<FleetPlan | null>(null);
  const [planning, setPlanning] = useState(false);
  const [planError, setPlanError] = useState<string | null>(null);
  const [filter, setFilter] = useState<TenantSyncStatus | ''>('');
  const [open, setOpen] = useState<string | null>(null);
  const [applying, setApplying] = useState(false);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [result, setResult] = useState<ApplyResult | null>(null);

  const runPlan = async () => {
    setPlanning(true);
    setPlanError(null);
    try {
      setPlan(await client.invoke('entities.plan', {}));
    } catch (e) {
      setPlanError(`${errorShape(e).message} (${errorShape(e).code})`);
    } finally {
      setPlanning(false);
    }
  };
  // a new revision (an edit, here or by another operator) makes the shown plan stale: plan again
  useEffect(() => {
    void runPlan();
  }, [revision, clusterId]);
  useEffect(
    () =>
      client.subscribe('operation.progress', (e) => {
        if (e.kind === 'entities.sync' && e.step === 'sync-tenants' && e.total !== undefined)
          setProgress({ done: e.done ?? 0, total: e.total });
      }),
    [],
  );

  const apply = async (slugs: string[]) => {
    if (!plan) return;
    setApplying(true);
    setProgress(null);
    setResult(null);
    try {
      const r = await client.invoke('entities.apply', { revision: plan.revision, slugs });
      setResult(r);
      if (r.status === 'done')
        toastSuccess(
          slugs?.length === 1 && plan.tenants.find((t) => t.slug === slugs[0])?.status === 'drift'
            ? `Tenant ${slugs[0]} repaired`
            : 'Definitions applied',
          `${r.summary.applied} applied, ${r.summary.unchanged} unchanged, ${r.summary.skipped} skipped`,
        );
      else
        toastError('Some tenants were not synced', {
          code: 'CONFLICT',
          message: `${r.summary.failed} failed; fix the cause, then resume the operation under Tenants → Unfinished operations.`,
        });
    } catch (e) {
      toastError('Apply failed', e);
    } finally {
      setApplying(false);
      void runPlan();
    }
  };

  // the fleet's apply targets what the plan says needs it; a tenant changed since is caught by the next plan
  const needing = plan ? plan.tenants.filter((t) => t.status === 'pending' || t.status === 'drift').map((t) => t.slug) : [];
  const toApply = needing.length;
  const rows = plan
    ? [...plan.tenants]
        .filter((t) => !filter || t.status === filter)
        .sort((a, b) => ORDER.indexOf(a.status) - ORDER.indexOf(b.status) || a.slug.localeCompare(b.slug))
    : [];
  return (
    <section className="card" data-testid="sync-panel">
      <header className="card-header">
        <Icon name="refresh" />
        <h2>Sync into tenants</h2>
        <span className="muted">
          {plan ? `plan of revision ${plan.revision} · ${plural(plan.tenants.length, 'tenant')}` : planning ? 'planning…' : ''}
        </span>
        <span className="spacer" />
        <button className="btn" onClick={() => void runPlan()} disabled={planning || applying} data-testid="plan-again">
          {planning ? 'Planning…' : 'Plan again'}
        </button>
        <button
          className="btn btn-primary"
          onClick={() => void apply(needing)}
          disabled={!plan || planning || toApply === 0 || applying || readOnly}
          data-testid="apply-fleet"
        >
          {applying ? 'Applying…' : `Apply to ${plural(toApply, 'tenant')}`}
        </button>
      </header>
      <div className="card-body">
        {planError && (
          <div className="callout callout-err" data-testid="plan-error">
            {planError}
          </div>
        )}
        {plan && (
          <div className="row-wrap entities-summary" data-testid="plan-summary">
            <button className={`badge ${filter === '' ? 'badge-info' : ''}`} onClick={() => setFilter('')}>
              all {plan.tenants.length}
            </button>
            {ORDER.filter((s) => plan.summary[s] > 0).map((s) => (
              <button
                key={s}
                className={`badge ${STATUS[s].badge}`}
                onClick={() => setFilter(filter === s ? '' : s)}
                data-testid={`summary-${s}`}
                aria-pressed={filter === s}
              >
                {STATUS[s].label} {plan.summary[s]}
              </button>
            ))}
          </div>
        )}
        {applying && progress && (
          <div className="entities-progress" data-testid="apply-progress">
            <span className="bar-track">
              <span className="bar-fill" style={{ width: `${progress.total ? (100 * progress.done) / progress.total : 0}%` }} />
            </span>{' '}
            {progress.done} / {progress.total}
          </div>
        )}
        {result && (
          <div className={`callout ${result.status === 'done' ? 'callout-ok' : 'callout-err'}`} data-testid="apply-result">
            Operation <code>{result.operationId}</code>: {result.summary.applied} applied, {result.summary.unchanged} unchanged,{' '}
            {result.summary.skipped} skipped, {result.summary.failed} failed.
            {result.results
              .filter((r) => r.status === 'failed')
              .map((r) => (
                <div key={r.slug} className="cell-sub">
                  <code>{r.slug}</code>: {r.message}
                </div>
              ))}
            {result.status !== 'done' && (
              <div className="cell-sub">
                Resume the operation (Tenants → Unfinished operations) once the cause is fixed: it retries only the failed tenants.
              </div>
            )}
          </div>
        )}
      </div>
      {plan && plan.tenants.length === 0 && (
        <div className="empty-state muted">
          No tenant databases on this cluster yet. New tenants receive the definitions when they are created.
        </div>
      )}
      {rows.length > 0 && (
        <div className="card-body flush">
          <table className="table" data-testid="plan-table">
            <thead>
              <tr>
                <th>Tenant</th>
                <th>Status</th>
                <th>Changes</th>
                <th>Applied revision</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((t) => (
                <Fragment key={t.slug}>
                  <tr className="clickable" onClick={() => setOpen(open === t.slug ? null : t.slug)} data-testid={`plan-row-${t.slug}`}>
                    <td>
                      <code>{t.slug}</code>
                    </td>
                    <td>
                      <span className={`badge ${STATUS[t.status].badge}`} data-testid="plan-status">
                        {STATUS[t.status].label}
                      </span>
                    </td>
                    <td className="cell-sub">
                      {t.changes.length ? plural(t.changes.length, 'change') : '—'}
                      {t.drift.length > 0 && ` · ${plural(t.drift.length, 'drifted row')}`}
                    </td>
                    <td className="cell-sub">{t.appliedRevision ?? 'never'}</td>
                    <td>
                      {t.status === 'drift' && (
                        <button
                          className="btn btn-small btn-primary"
                          disabled={planning || applying || readOnly}
                          onClick={(e) => {
                            e.stopPropagation();
                            void apply([t.slug]);
                          }}
                          data-testid={`repair-${t.slug}`}
                        >
                          Repair
                        </button>
                      )}
                    </td>
                  </tr>
                  {open === t.slug && (
                    <tr>
                      <td colSpan={5}>
                        <TenantDetails t={t} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
