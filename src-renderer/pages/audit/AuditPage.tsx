import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AuditEntry, VerifyReport } from '../../../src-shared/contract/audit';
import { client, errorShape } from '../../client';
import { ago, exactTime } from '../../lib/format';
import { useInvoke } from '../../lib/use-invoke';
import { toastError, toastSuccess } from '../../stores/toasts';
import { AuditDetail } from './AuditDetail';

interface Filters {
  actor: string;
  action: string;
  tenant: string;
  outcome: '' | 'success' | 'failure' | 'denied' | 'invalid';
  from: string;
  to: string;
  text: string;
}
const EMPTY: Filters = { actor: '', action: '', tenant: '', outcome: '', from: '', to: '', text: '' };
const PAGE = 200;
const ROW = 30;

function queryInput(source: string, f: Filters, cursor: number | null) {
  const opt = (v: string) => (v.trim() ? v.trim() : undefined);
  const time = (v: string) => (v ? new Date(v).toISOString() : undefined);
  return {
    source,
    actor: opt(f.actor),
    action: opt(f.action),
    tenant: opt(f.tenant),
    outcome: f.outcome || undefined,
    from: time(f.from),
    to: time(f.to),
    text: opt(f.text),
    cursor,
    limit: PAGE,
    withTotal: cursor === null,
  };
}

/** The verification state of the source, always on screen. */
function VerifyBadge({ report, busy }: { report: VerifyReport | null; busy: boolean }) {
  if (busy) return <span className="badge">verifying…</span>;
  if (!report) return <span className="badge badge-warn">not verified yet</span>;
  return (
    <span
      className={`badge ${report.ok ? 'badge-ok' : 'badge-err'}`}
      title={`${report.message} (checked ${exactTime(report.checkedAt)})`}
      data-testid="audit-verify-state"
    >
      {report.ok
        ? `verified · ${report.checked.toLocaleString()} entries · ${ago(report.checkedAt)}`
        : `TAMPERED at entry ${report.firstBadSeq ?? '?'}: ${report.problem}`}
    </span>
  );
}

/** Audit log review: filters, full-text search, a virtualized table over any number of entries, detail pane, verification. */
export default function AuditPage() {
  const status = useInvoke('audit.status', {});
  const bundles = useInvoke('audit.bundles', {});
  const [source, setSource] = useState('cluster');
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [rows, setRows] = useState<AuditEntry[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [cursor, setCursor] = useState<number | null>(null);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<AuditEntry | null>(null);
  const [report, setReport] = useState<VerifyReport | null>(null);
  const [verifying, setVerifying] = useState(false);
  const loading = useRef(false);
  const generation = useRef(0);

  const loadMore = useCallback(
    async (reset: boolean) => {
      if (loading.current && !reset) return;
      const mine = reset ? ++generation.current : generation.current;
      loading.current = true;
      try {
        const page = await client.invoke('audit.query', queryInput(source, filters, reset ? null : cursor));
        if (mine !== generation.current) return;
        setRows((r) => (reset ? page.entries : [...r, ...page.entries]));
        if (reset) setTotal(page.total);
        setCursor(page.nextCursor);
        setDone(page.nextCursor === null);
        setError(null);
      } catch (e) {
        if (mine === generation.current) setError(errorShape(e).message);
      } finally {
        if (mine === generation.current) loading.current = false;
      }
    },
    [source, filters, cursor],
  );

  // a new source or filter set starts from the first page
  useEffect(() => {
    setRows([]);
    setSelected(null);
    setDone(false);
    void loadMore(true);
  }, [source, filters]);

  useEffect(() => {
    if (source === 'cluster') setReport(status.data?.lastVerification ?? null);
    else setReport(null);
  }, [source, status.data]);

  useEffect(() => client.subscribe('audit.changed', () => void status.reload()), [status]);

  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length + (done ? 0 : 1),
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    overscan: 20,
  });
  const items = virtualizer.getVirtualItems();
  const last = items[items.length - 1];
  useEffect(() => {
    if (last && last.index >= rows.length - 1 && !done && rows.length > 0) void loadMore(false);
  }, [last, rows.length, done, loadMore]);

  const verify = async () => {
    setVerifying(true);
    try {
      setReport(await client.invoke('audit.verify', { source }));
      await status.reload();
    } catch (e) {
      toastError('Verification could not run', e);
    } finally {
      setVerifying(false);
    }
  };
  const sync = async () => {
    try {
      const r = await client.invoke('audit.sync', {});
      toastSuccess('Audit log synced', `${r.pulled.toLocaleString()} new entries`);
      await loadMore(true);
      await status.reload();
    } catch (e) {
      toastError('Sync failed', e);
    }
  };
  const exportBundle = async () => {
    const path = window.prompt('Folder to create for the bundle (on this machine):');
    if (!path) return;
    try {
      const r = await client.invoke('audit.export', {
        path,
        from: queryInput(source, filters, null).from,
        to: queryInput(source, filters, null).to,
      });
      toastSuccess('Bundle written', `${r.count.toLocaleString()} entries to ${r.path}`);
    } catch (e) {
      toastError('Export failed', e);
    }
  };
  const importBundle = async () => {
    const path = window.prompt('Bundle folder to import:');
    if (!path) return;
    try {
      const b = await client.invoke('audit.import', { path });
      toastSuccess('Bundle verified and imported', `${b.count.toLocaleString()} entries`);
      await bundles.reload();
      setSource(`bundle:${b.id}`);
    } catch (e) {
      const shape = errorShape(e);
      const signer = shape.details?.signer;
      if (typeof signer === 'string' && window.confirm(`${shape.message}\n\nTrust this signer key and import?\n${signer}`)) {
        try {
          const b = await client.invoke('audit.import', { path, trustSigner: signer });
          await bundles.reload();
          setSource(`bundle:${b.id}`);
        } catch (e2) {
          toastError('Import refused', e2);
        }
      } else toastError('Import refused', e);
    }
  };

  const st = status.data;
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });
  return (
    <div style={{ display: 'flex', flexDirection: 'column', height: '100%' }} data-testid="audit-page">
      <div className="page-header">
        <h1 style={{ whiteSpace: 'nowrap' }}>Audit log</h1>
        <VerifyBadge report={report} busy={verifying} />
        <span className="spacer" />
        {st && (
          <span className="sub" title={st.lastFlushError ?? ''}>
            shared log: {st.sharedStore}
            {st.pendingOutbox ? ` · ${st.pendingOutbox} waiting in outbox` : ''} · synced {ago(st.lastSyncAt)}
          </span>
        )}
        <button className="btn" onClick={() => void verify()} disabled={verifying}>
          Verify
        </button>
        <button className="btn" onClick={() => void sync()}>
          Sync
        </button>
        <button className="btn" onClick={() => void exportBundle()}>
          Export…
        </button>
        <button className="btn" onClick={() => void importBundle()}>
          Import…
        </button>
      </div>
      <form
        className="row row-wrap"
        style={{ marginBottom: 10 }}
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <select value={source} onChange={(e) => setSource(e.target.value)} aria-label="Source">
          <option value="cluster">Shared log (local copy)</option>
          {bundles.data?.bundles.map((b) => (
            <option key={b.id} value={`bundle:${b.id}`}>
              Bundle {b.id.slice(0, 8)} · {b.count.toLocaleString()} entries
            </option>
          ))}
        </select>
        <input
          placeholder="Search text…"
          aria-label="Full-text search"
          value={draft.text}
          onChange={set('text')}
          style={{ minWidth: 200 }}
        />
        <input placeholder="Actor" aria-label="Actor" value={draft.actor} onChange={set('actor')} />
        <input placeholder="Action (tenants.*)" aria-label="Action" value={draft.action} onChange={set('action')} />
        <input placeholder="Tenant" aria-label="Tenant" value={draft.tenant} onChange={set('tenant')} />
        <select value={draft.outcome} onChange={set('outcome')} aria-label="Outcome">
          <option value="">any outcome</option>
          <option value="success">success</option>
          <option value="failure">failure</option>
          <option value="denied">denied</option>
          <option value="invalid">invalid</option>
        </select>
        <input type="datetime-local" aria-label="From" value={draft.from} onChange={set('from')} />
        <input type="datetime-local" aria-label="To" value={draft.to} onChange={set('to')} />
        <button className="btn btn-primary" type="submit">
          Apply
        </button>
        <button
          className="btn"
          type="button"
          onClick={() => {
            setDraft(EMPTY);
            setFilters(EMPTY);
          }}
        >
          Clear
        </button>
        <span className="muted">{total !== null ? `${total.toLocaleString()} matching` : ''}</span>
      </form>
      {error && <p className="field-error">{error}</p>}
      <div style={{ display: 'flex', gap: 12, flex: 1, minHeight: 0 }}>
        <div
          ref={scroller}
          className="card"
          style={{ flex: 1, overflow: 'auto', marginBottom: 0 }}
          role="grid"
          aria-rowcount={total ?? rows.length}
          data-testid="audit-table"
        >
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {items.map((v) => {
              const e = rows[v.index];
              return (
                <div
                  key={v.key}
                  role="row"
                  onClick={() => e && setSelected(e)}
                  style={{
                    position: 'absolute',
                    top: 0,
                    left: 0,
                    right: 0,
                    height: ROW,
                    transform: `translateY(${v.start}px)`,
                    display: 'grid',
                    gridTemplateColumns: '56px 160px minmax(90px, 1fr) minmax(110px, 1fr) minmax(90px, 1.4fr) 64px',
                    gap: 8,
                    alignItems: 'center',
                    padding: '0 10px',
                    borderBottom: '1px solid var(--border)',
                    cursor: 'pointer',
                    background: selected && e && selected.seq === e.seq ? 'var(--info-soft)' : undefined,
                    whiteSpace: 'nowrap',
                    overflow: 'hidden',
                  }}
                >
                  {e ? (
                    <>
                      <span className="muted">{e.seq}</span>
                      <span title={e.at}>{exactTime(e.at)}</span>
                      <span style={{ overflow: 'hidden', textOverflow: 'ellipsis' }}>{e.actor}</span>
                      <span>{e.action}</span>
                      <span style={{ overflow: 'hidden', textOverflow: 'ellipsis' }}>{e.target ?? '—'}</span>
                      <span className={e.outcome === 'success' ? '' : 'field-error'}>{e.outcome}</span>
                    </>
                  ) : (
                    <span className="muted">Loading…</span>
                  )}
                </div>
              );
            })}
          </div>
          {done && rows.length === 0 && (
            <p className="muted" style={{ padding: 12 }}>
              No entries match.
            </p>
          )}
        </div>
        {selected && <AuditDetail source={source} entry={selected} onClose={() => setSelected(null)} />}
      </div>
    </div>
  );
}
