import { useCallback, useEffect, useRef, useState } from 'react';
import type { AuditEntry, VerifyReport } from '../../../src-shared/contract/audit';
import { client, errorShape } from '../../client';
import { useInvoke } from '../../lib/use-invoke';
import { useApp } from '../../stores/app';
import { toastError, toastSuccess } from '../../stores/toasts';
import { AuditDetail } from './AuditDetail';
import { AuditGrid } from './AuditGrid';
import { AuditStatusPanel, VerifyBadge } from './AuditStatusPanel';
import { ExportDialog, ImportDialog } from './BundleDialogs';
import { PageCache } from './page-cache';
import { FoldersDialog } from './FoldersDialog';
import { SignersDialog } from './SignersDialog';
import './audit.css';

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
/** While the page is open it syncs by itself this often (a sync proves the log still extends what was seen). */
const SYNC_EVERY_MS = 30_000;

const time = (v: string) => (v ? new Date(v).toISOString() : undefined);
function queryInput(source: string, f: Filters, cursor: number | null) {
  const opt = (v: string) => (v.trim() ? v.trim() : undefined);
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

/**
 * Audit log review: verification state, witness and alarms always on screen; filters and
 * full-text search over a grid of any size (pages far from view are dropped); the entry in
 * full; signed bundles out and in. Syncs by itself when opened and while open.
 */
export default function AuditPage() {
  const isAdmin = useApp((s) => s.operator?.role === 'admin');
  const status = useInvoke('audit.status', {});
  // stable (useInvoke's reload is memoised): the timers below must not restart on every render
  const reloadStatus = status.reload;
  const [source, setSource] = useState<string | null>(null);
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const cache = useRef(new PageCache<AuditEntry>(PAGE));
  const generation = useRef(0);
  const view = useRef({ first: 0, last: 0 });
  const [, setVersion] = useState(0);
  const [total, setTotal] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [focused, setFocused] = useState(0);
  const [selected, setSelected] = useState<AuditEntry | null>(null);
  const [reports, setReports] = useState<Record<string, VerifyReport>>({});
  const [verifying, setVerifying] = useState(false);
  const [syncing, setSyncing] = useState(false);
  const [fresh, setFresh] = useState(0);
  const [dialog, setDialog] = useState<'export' | 'import' | 'signers' | 'folders' | null>(null);
  const st = status.data;

  // The source: this session's cluster when there is one, else the workstation log.
  useEffect(() => {
    if (st && source === null) setSource(st.clusterSource ?? 'workstation');
  }, [st, source]);

  const fetchPages = useCallback(() => {
    if (!source) return;
    const c = cache.current;
    const { first, last } = view.current;
    if (c.evict(first, last).length) setVersion((v) => v + 1);
    const mine = generation.current;
    for (const { page, cursor } of c.wanted(first, last)) {
      c.loadingStarted(page);
      client.invoke('audit.query', queryInput(source, filters, cursor)).then(
        (r) => {
          if (mine !== generation.current) return;
          c.put(page, r.entries, r.nextCursor);
          if (page === 0) setTotal(r.total);
          setError(null);
          setVersion((v) => v + 1);
        },
        (e: unknown) => {
          if (mine !== generation.current) return;
          c.loadingFailed(page);
          setError(errorShape(e).message);
        },
      );
    }
  }, [source, filters]);

  const reset = useCallback(() => {
    generation.current += 1;
    cache.current = new PageCache<AuditEntry>(PAGE);
    view.current = { first: 0, last: 0 };
    setTotal(null);
    setFocused(0);
    setFresh(0);
    setVersion((v) => v + 1);
    fetchPages();
  }, [fetchPages]);

  // a new source or filter set starts from the first page
  useEffect(() => {
    setSelected(null);
    reset();
  }, [reset]);

  const onRange = useCallback(
    (first: number, last: number) => {
      view.current = { first, last };
      fetchPages();
    },
    [fetchPages],
  );

  const verify = useCallback(async (which: string) => {
    setVerifying(true);
    try {
      const r = await client.invoke('audit.verify', { source: which });
      setReports((m) => ({ ...m, [which]: r }));
    } catch (e) {
      toastError('Verification could not run', e);
    } finally {
      setVerifying(false);
    }
  }, []);

  const sync = useCallback(
    async (quiet: boolean) => {
      setSyncing(true);
      try {
        const r = await client.invoke('audit.sync', {});
        if (!quiet) toastSuccess('Audit log synced', `${r.pulled.toLocaleString()} new entries. ${r.message}`);
        if (!r.consistent) toastError('The shared audit log changed under this console', new Error(r.message));
        if (r.pulled > 0) setFresh((n) => n + r.pulled);
      } catch (e) {
        if (!quiet) toastError('Sync failed', e);
      } finally {
        setSyncing(false);
        await reloadStatus();
      }
    },
    [reloadStatus],
  );

  // Opened: sync (when there is a cluster) and verify what is shown; while open: sync every 30 s.
  const opened = useRef<string | null>(null);
  useEffect(() => {
    if (!st || !source || opened.current === source) return;
    opened.current = source;
    void (async () => {
      if (st.cluster && source === st.clusterSource) await sync(true);
      await verify(source);
    })();
  }, [st, source, sync, verify]);
  useEffect(() => {
    if (!st?.cluster) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void sync(true);
    }, SYNC_EVERY_MS);
    return () => clearInterval(timer);
  }, [st?.cluster, sync]);

  // New entries at the top: shown at once when looking at the top, else offered.
  useEffect(() => {
    if (fresh > 0 && focused === 0 && view.current.first === 0) reset();
  }, [fresh, focused, reset]);

  const reload = reloadStatus;
  useEffect(() => {
    let pending: ReturnType<typeof setTimeout> | null = null;
    const off = client.subscribe('audit.changed', () => {
      pending ??= setTimeout(() => {
        pending = null;
        void reload();
      }, 500);
    });
    return () => {
      off();
      if (pending) clearTimeout(pending);
    };
  }, [reload]);

  const report = source ? (reports[source] ?? (source === st?.clusterSource ? st?.lastVerification : null) ?? null) : null;
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });
  const c = cache.current;
  return (
    <div className="audit-page" data-testid="audit-page">
      <div className="page-header">
        <h1 style={{ whiteSpace: 'nowrap' }}>Audit log</h1>
        <VerifyBadge report={report} busy={verifying} />
        <span className="spacer" />
        <button className="btn" onClick={() => source && void verify(source)} disabled={verifying || !source} data-testid="audit-verify">
          Verify
        </button>
        <button className="btn" onClick={() => void sync(false)} disabled={syncing || !st?.cluster} data-testid="audit-sync">
          {syncing ? 'Syncing…' : 'Sync'}
        </button>
        <button className="btn" onClick={() => setDialog('export')} disabled={!source} data-testid="audit-export">
          Export…
        </button>
        <button className="btn" onClick={() => setDialog('import')} data-testid="audit-import">
          Import…
        </button>
        <button className="btn" onClick={() => setDialog('folders')} data-testid="audit-folders">
          Folders…
        </button>
      </div>
      {st && source && (
        <AuditStatusPanel
          status={st}
          report={report}
          source={source}
          isAdmin={isAdmin}
          onManageSigners={() => setDialog('signers')}
          onShowSource={setSource}
          onChanged={() => void status.reload()}
        />
      )}
      <form
        className="row row-wrap"
        style={{ marginBottom: 10 }}
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <select value={source ?? ''} onChange={(e) => setSource(e.target.value)} aria-label="Source" data-testid="audit-source">
          {(st?.sources ?? []).map((s) => (
            <option key={s.source} value={s.source}>
              {s.label} · {s.count.toLocaleString()}
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
        <span className="muted" data-testid="audit-total">
          {total !== null ? `${total.toLocaleString()} matching` : 'counting…'}
        </span>
        {fresh > 0 && (
          <button className="btn btn-small" type="button" onClick={reset}>
            {fresh.toLocaleString()} new — show
          </button>
        )}
      </form>
      {error && <p className="field-error">{error}</p>}
      <div className="audit-body">
        <AuditGrid
          slots={c.slots()}
          total={total}
          rowAt={(i) => c.get(i)}
          focused={focused}
          onFocusRow={setFocused}
          selectedSeq={selected?.seq ?? null}
          onOpen={setSelected}
          onRange={onRange}
          empty={c.done && c.slots() === 0}
        />
        {selected && source && (
          <AuditDetail
            source={source}
            entry={selected}
            onClose={() => {
              setSelected(null);
              // back to the row the detail was opened from
              document.querySelector<HTMLElement>(`[data-row-index="${focused}"]`)?.focus();
            }}
          />
        )}
      </div>
      {dialog === 'export' && source && (
        <ExportDialog source={source} range={{ from: time(filters.from), to: time(filters.to) }} onClose={() => setDialog(null)} />
      )}
      {dialog === 'import' && (
        <ImportDialog
          isAdmin={isAdmin}
          onClose={() => setDialog(null)}
          onImported={(b) => {
            void status.reload();
            setSource(`bundle:${b.id}`);
          }}
        />
      )}
      {dialog === 'folders' && (
        <FoldersDialog
          isAdmin={isAdmin}
          cluster={st?.cluster ?? null}
          checkpointFolder={st?.witnessFile?.folder ?? null}
          onClose={() => setDialog(null)}
          onChanged={() => void status.reload()}
        />
      )}
      {dialog === 'signers' && <SignersDialog isAdmin={isAdmin} onClose={() => setDialog(null)} onChanged={() => void status.reload()} />}
    </div>
  );
}
