import { memo, useEffect, useMemo, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { CommandInput, CommandOutput, OperationProgress } from '../../../../src-shared/contract';
import { client } from '../../../client';
import { useInvoke } from '../../../lib/use-invoke';
import { navigate } from '../../../lib/router';
import { ago, exactTime, plural } from '../../../lib/format';
import { useReadOnly } from '../../../stores/cluster';
import { toastError, toastSuccess } from '../../../stores/toasts';
import { ImportArchivePicker } from './ArchiveDialogs';
import { KeyCard, TargetCard } from './BackupSetup';
import { ScheduleCard } from './ScheduleCard';
import { bytes } from './format';

type Row = CommandOutput<'backups.overview'>['rows'][number];
const ROW_HEIGHT = 40;
const HEALTH: Record<Row['health'], { label: string; cls: string }> = {
  failed: { label: 'verify failed', cls: 'badge-err' },
  never: { label: 'no backup', cls: 'badge-err' },
  unverified: { label: 'never verified', cls: 'badge-warn' },
  ok: { label: 'verified', cls: 'badge-ok' },
};

/** #/backups: every tenant's last backup and last verified restore (failures first), setup, all-tenant backup, import. */
export default function BackupsPage() {
  const overview = useInvoke('backups.overview', {});
  const status = useInvoke('backups.status', {});
  const schedules = useInvoke('backups.schedules.list', {});
  const runs = useInvoke('backups.runs', {});
  const readOnly = useReadOnly();
  const [statusOverride, setStatus] = useState<CommandOutput<'backups.status'> | null>(null);
  const [filter, setFilter] = useState('');
  const [concurrency, setConcurrency] = useState(2);
  const [verify, setVerify] = useState(false);
  const [run, setRun] = useState<null | { done: number; total: number; failed: string[]; finished: boolean }>(null);
  const [busy, setBusy] = useState(false);
  const current = statusOverride ?? status.data ?? null;

  useEffect(() => client.subscribe('backups.changed', () => void overview.reload()), [overview.reload]);
  const reloadRuns = runs.reload;
  useEffect(
    () =>
      client.subscribe('operation.progress', (p: OperationProgress) => {
        if (p.kind !== 'backups.take') return;
        setRun((prev) => {
          const failed = prev?.failed ?? [];
          return {
            done: p.done ?? prev?.done ?? 0,
            total: p.total ?? prev?.total ?? 0,
            failed: p.status === 'failed' && p.target !== '*' ? [...failed, `${p.target}: ${p.message ?? 'failed'}`] : failed,
            finished: p.target === '*' && p.status !== 'running',
          };
        });
        if (p.target === '*') void reloadRuns();
      }),
    [reloadRuns],
  );

  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return (overview.data?.rows ?? []).filter((r) => !f || r.tenant.includes(f));
  }, [overview.data, filter]);
  const counts = useMemo(() => {
    const c = { failed: 0, never: 0, unverified: 0, ok: 0 };
    for (const r of overview.data?.rows ?? []) c[r.health]++;
    return c;
  }, [overview.data]);

  const takeAll = async () => {
    setBusy(true);
    setRun({ done: 0, total: 0, failed: [], finished: false });
    try {
      const r = await client.invoke('backups.take', { all: true, concurrency, verify });
      toastSuccess('All-tenant backup finished', `${r.summary.ok} ok, ${r.summary.failed} failed`);
    } catch (e) {
      toastError('All-tenant backup failed', e);
    } finally {
      setBusy(false);
      await overview.reload();
    }
  };
  const resume = async (runId: string) => {
    setBusy(true);
    setRun({ done: 0, total: 0, failed: [], finished: false });
    try {
      const r = await client.invoke('backups.runs.resume', { runId });
      toastSuccess('Backup run resumed and finished', `${r.summary.ok} ok, ${r.summary.failed} failed`);
    } catch (e) {
      toastError('The backup run was not resumed', e);
    } finally {
      setBusy(false);
      await Promise.all([overview.reload(), runs.reload()]);
    }
  };
  const importFile = async (source: CommandInput<'backups.import'>['source']) => {
    setBusy(true);
    try {
      const b = await client.invoke('backups.import', { source });
      if (!b) return; // the dialog was cancelled
      toastSuccess('Backup imported and verified', `${b.tenant} ${b.id}`);
    } catch (e) {
      toastError('Import refused', e);
    } finally {
      setBusy(false);
      await overview.reload();
    }
  };
  const rescan = async () => {
    setBusy(true);
    try {
      const r = await client.invoke('backups.rescan', {});
      toastSuccess(
        'Catalog rescanned',
        `${r.found} manifests, ${r.added} added${r.refused.length ? `, ${r.refused.length} refused (${r.refused[0]!.reason})` : ''}`,
      );
    } catch (e) {
      toastError('Rescan failed', e);
    } finally {
      setBusy(false);
      await overview.reload();
    }
  };

  const configured = current?.configured ?? false;
  return (
    <div data-testid="backups-page" style={{ display: 'flex', flexDirection: 'column', gap: 16 }}>
      <div className="page-header">
        <div>
          <h1>Backups</h1>
          <div className="sub">
            {overview.data
              ? `${plural(overview.data.rows.length, 'tenant')}: ${counts.failed} failed, ${counts.never} without backup, ${counts.unverified} never verified, ${counts.ok} verified`
              : ''}
          </div>
        </div>
      </div>
      {current && !configured && (
        <div className="callout callout-warn" data-testid="backups-not-configured">
          {current.reason}
        </div>
      )}
      {overview.error && <div className="callout callout-err">{overview.error.message}</div>}
      {overview.data?.fromCache && (
        <div className="callout callout-warn">The catalog in gatehouse_control is unreachable: this is the local copy.</div>
      )}

      <section className="card">
        <header className="card-header">
          <h2>Last backup and last verified restore per tenant</h2>
          <span className="spacer" />
          <input
            className="search"
            placeholder="Filter tenants"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            aria-label="Filter tenants"
            data-testid="backups-filter"
          />
        </header>
        <OverviewTable rows={rows} />
      </section>

      <section className="card">
        <header className="card-header">
          <h2>Back up all tenants</h2>
        </header>
        <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 10 }}>
          <div className="row row-wrap">
            <label className="check">
              Concurrency
              <input
                type="number"
                min={1}
                max={16}
                value={concurrency}
                onChange={(e) => setConcurrency(Number(e.target.value))}
                style={{ width: 60 }}
                aria-label="Concurrency"
              />
            </label>
            <label className="check">
              <input type="checkbox" checked={verify} onChange={(e) => setVerify(e.target.checked)} /> verify each by a restore
            </label>
            <button
              className="btn btn-primary"
              disabled={!configured || busy || readOnly}
              onClick={() => void takeAll()}
              data-testid="backup-all"
            >
              Back up all tenants
            </button>
          </div>
          {run && (
            <div data-testid="backup-all-progress">
              <div className="bar">
                <div className="bar-track">
                  <div className="bar-fill" style={{ width: `${run.total ? (100 * run.done) / run.total : 0}%` }} />
                </div>
                <span className="bar-text">
                  {run.done} / {run.total}
                  {run.finished ? ' — finished' : ''}
                </span>
              </div>
              {run.failed.length > 0 && (
                <ul className="missing-list">
                  {run.failed.map((f) => (
                    <li key={f}>{f}</li>
                  ))}
                </ul>
              )}
            </div>
          )}
          {(runs.data?.runs.length ?? 0) > 0 && (
            <div data-testid="backup-runs">
              <div className="field-label">Recent runs on this console</div>
              <table className="table">
                <tbody>
                  {runs.data!.runs.slice(0, 5).map((r) => (
                    <tr key={r.runId} data-testid={`backup-run-${r.status}`}>
                      <td title={exactTime(r.createdAt)}>{ago(r.createdAt)}</td>
                      <td>{r.reason === 'schedule' ? 'schedule' : r.actor}</td>
                      <td>
                        <span
                          className={`badge ${r.status === 'done' ? 'badge-ok' : r.status === 'running' ? 'badge-info' : r.status === 'interrupted' ? 'badge-warn' : 'badge-err'}`}
                        >
                          {r.status}
                        </span>
                      </td>
                      <td>
                        {r.counts.done} of {r.counts.total} backed up
                        {r.counts.failed ? `, ${r.counts.failed} failed` : ''}
                        {r.counts.pending > 0 && r.status !== 'running' ? `, ${r.counts.pending} not reached` : ''}
                      </td>
                      <td>
                        {(r.status === 'interrupted' || r.status === 'partial') && (
                          <button
                            className="btn btn-small"
                            disabled={!configured || busy || readOnly}
                            onClick={() => void resume(r.runId)}
                            data-testid="backup-run-resume"
                          >
                            Resume ({r.counts.total - r.counts.done} left)
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      </section>

      {schedules.data && <ScheduleCard scope="*" schedules={schedules.data.schedules} reload={schedules.reload} />}

      <div className="two-col">
        {current && <TargetCard status={current} onChange={setStatus} />}
        {current && <KeyCard status={current} onChange={setStatus} />}
      </div>

      <section className="card">
        <header className="card-header">
          <h2>Import a backup file</h2>
          <span className="spacer" />
          <button
            className="btn"
            disabled={busy || readOnly}
            onClick={() => void rescan()}
            title="Rebuild the catalog from the manifests in storage"
          >
            Rescan storage
          </button>
        </header>
        <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 10 }}>
          <div className="muted">
            A file downloaded on another site (air-gapped transfer). It is authenticated with a key this console holds, checked file by
            file, and verified by a restore before it is listed.
          </div>
          <ImportArchivePicker disabled={busy || readOnly} onImport={(source) => void importFile(source)} />
        </div>
      </section>
    </div>
  );
}

/** Virtualized: 5,000 tenants scroll smoothly (only the rows in view are in the DOM). */
function OverviewTable({ rows }: { rows: Row[] }) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const padTop = items[0]?.start ?? 0;
  const padBottom = items.length ? virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0) : 0;
  return (
    <div
      className="virtual-scroll"
      ref={scrollRef}
      style={{ maxHeight: 420 }}
      data-testid="backups-overview"
      role="region"
      aria-label="Backups per tenant"
      tabIndex={0}
    >
      <table className="table table-fixed" aria-rowcount={rows.length}>
        <colgroup>
          <col style={{ width: 240 }} />
          <col style={{ width: 150 }} />
          <col style={{ width: 200 }} />
          <col style={{ width: 200 }} />
          <col style={{ width: 90 }} />
          <col style={{ width: 100 }} />
        </colgroup>
        <thead>
          <tr>
            <th>Tenant</th>
            <th>State</th>
            <th>Last backup</th>
            <th>Last verified restore</th>
            <th className="num">Backups</th>
            <th className="num">Stored</th>
          </tr>
        </thead>
        <tbody>
          {padTop > 0 && (
            <tr aria-hidden="true">
              <td colSpan={6} style={{ height: padTop, padding: 0, border: 0 }} />
            </tr>
          )}
          {items.map((vi) => (
            <OverviewRow key={rows[vi.index]!.tenant} row={rows[vi.index]!} />
          ))}
          {padBottom > 0 && (
            <tr aria-hidden="true">
              <td colSpan={6} style={{ height: padBottom, padding: 0, border: 0 }} />
            </tr>
          )}
        </tbody>
      </table>
      {rows.length === 0 && <div className="empty-state muted">No tenants.</div>}
    </div>
  );
}

const OverviewRow = memo(function OverviewRow({ row }: { row: Row }) {
  const open = () => navigate(`/tenants/${row.tenant}/backups`);
  const h = HEALTH[row.health];
  const failedMsg = row.lastBackup?.verification.state === 'failed' ? row.lastBackup.verification.message : null;
  return (
    <tr
      className="clickable"
      style={{ height: ROW_HEIGHT }}
      tabIndex={0}
      onClick={open}
      onKeyDown={(e) => e.key === 'Enter' && open()}
      data-testid={`backups-row-${row.tenant}`}
    >
      <td className="tenant-slug truncate">{row.tenant}</td>
      <td>
        <span className={`badge ${h.cls}`} title={failedMsg ?? ''}>
          {h.label}
        </span>
      </td>
      <td title={exactTime(row.lastBackup?.createdAt)}>
        {row.lastBackup ? `${ago(row.lastBackup.createdAt)} (${row.lastBackup.reason})` : '—'}
      </td>
      <td title={exactTime(row.lastVerified?.verification.at)}>
        {row.lastVerified ? `${ago(row.lastVerified.verification.at)} · backup ${ago(row.lastVerified.createdAt)}` : '—'}
      </td>
      <td className="num">{row.backups}</td>
      <td className="num">{bytes(row.storedBytes)}</td>
    </tr>
  );
});
