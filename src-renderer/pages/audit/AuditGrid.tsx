import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef, type FocusEvent, type KeyboardEvent } from 'react';
import type { AuditEntry } from '../../../src-shared/contract/audit';
import { exactTime } from '../../lib/format';

export const ROW_HEIGHT = 30;
const COLUMNS = [
  { id: 'seq', label: 'Seq' },
  { id: 'time', label: 'Time' },
  { id: 'actor', label: 'Actor' },
  { id: 'action', label: 'Action' },
  { id: 'target', label: 'Target' },
  { id: 'outcome', label: 'Outcome' },
] as const;

/**
 * The audit entries as an ARIA grid: column headers, one row per entry with its cells,
 * one focusable row at a time (roving tabindex). Arrow keys, Page Up/Down, Home/End move;
 * Enter opens the detail. Virtualized: only the rows in view exist in the DOM.
 */
export function AuditGrid({
  slots,
  total,
  rowAt,
  focused,
  onFocusRow,
  selectedSeq,
  onOpen,
  onRange,
  empty,
}: {
  /** Row slots known so far (a slot shows "Loading…" until its page arrives). */
  slots: number;
  total: number | null;
  rowAt(index: number): AuditEntry | undefined;
  focused: number;
  onFocusRow(index: number): void;
  selectedSeq: number | null;
  onOpen(entry: AuditEntry): void;
  /** The rows in view changed (to fetch and evict pages). */
  onRange(first: number, last: number): void;
  empty: boolean;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const wantFocus = useRef(false);
  const virtualizer = useVirtualizer({
    count: slots,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 15,
  });
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;
  useEffect(() => onRange(first, last), [first, last, slots, onRange]);

  // A reload of the rows (new entries at the top, a sync) takes the focused row out of the
  // DOM for a moment, and the browser's focus falls back to the page: while the keyboard is
  // in the grid, it is put back on the focused row once that is rendered again.
  const inGrid = useRef(false);
  const onFocusIn = () => {
    inGrid.current = true;
  };
  const onFocusOut = (e: FocusEvent<HTMLDivElement>) => {
    const left = e.target;
    queueMicrotask(() => {
      // Removed from the DOM (a reload): the keyboard is still "in" the grid.
      if (!left.isConnected) return;
      if (!scroller.current?.contains(document.activeElement)) inGrid.current = false;
    });
  };
  useEffect(() => {
    const active = document.activeElement;
    if (inGrid.current && (active === null || active === document.body)) wantFocus.current = true;
  });

  // The focused row may have been out of view (not in the DOM): scroll to it, then focus it.
  useEffect(() => {
    if (!wantFocus.current) return;
    virtualizer.scrollToIndex(focused, { align: 'auto' });
    const el = scroller.current?.querySelector<HTMLElement>(`[data-row-index="${focused}"]`);
    if (el) {
      el.focus({ preventScroll: true });
      wantFocus.current = false;
    }
  });

  const move = (to: number) => {
    const next = Math.max(0, Math.min(slots - 1, to));
    wantFocus.current = true;
    // The same index re-renders nothing, so the effect above would not run: focus it here.
    if (next === focused) scroller.current?.querySelector<HTMLElement>(`[data-row-index="${next}"]`)?.focus({ preventScroll: true });
    onFocusRow(next);
  };
  const page = Math.max(1, Math.floor((scroller.current?.clientHeight ?? 600) / ROW_HEIGHT) - 1);
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    // Moves start from the row that has the focus: a reload of the rows (new entries, a sync)
    // resets `focused` to the first row while the browser's focus stays where it was.
    const at = (e.target as HTMLElement).closest<HTMLElement>('[data-row-index]')?.dataset.rowIndex;
    const from = at === undefined ? focused : Number(at);
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(from + 1),
      ArrowUp: () => move(from - 1),
      PageDown: () => move(from + page),
      PageUp: () => move(from - page),
      Home: () => move(0),
      End: () => move(slots - 1),
      Enter: () => {
        const entry = rowAt(from);
        if (entry) onOpen(entry);
      },
    };
    const action = keys[e.key];
    if (action) {
      e.preventDefault();
      action();
    }
  };

  return (
    <div
      className="card audit-grid"
      role="grid"
      aria-label="Audit entries"
      aria-rowcount={(total ?? slots) + 1}
      aria-colcount={COLUMNS.length}
      data-testid="audit-table"
      onKeyDown={onKeyDown}
    >
      <div role="rowgroup" className="audit-grid-head">
        <div role="row" aria-rowindex={1} className="audit-grid-row">
          {COLUMNS.map((c, i) => (
            <div key={c.id} role="columnheader" aria-colindex={i + 1} className={`audit-cell audit-col-${c.id}`}>
              {c.label}
            </div>
          ))}
        </div>
      </div>
      <div role="rowgroup" className="audit-grid-body" ref={scroller} onFocus={onFocusIn} onBlur={onFocusOut}>
        <div role="presentation" style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {items.map((v) => {
            const e = rowAt(v.index);
            const isSelected = e !== undefined && e.seq === selectedSeq;
            return (
              <div
                key={v.key}
                role="row"
                aria-rowindex={v.index + 2}
                aria-selected={isSelected}
                tabIndex={v.index === focused ? 0 : -1}
                data-row-index={v.index}
                data-testid={e ? `audit-row-${e.seq}` : undefined}
                className={`audit-grid-row audit-grid-entry${isSelected ? ' selected' : ''}`}
                style={{ transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}
                onClick={() => {
                  onFocusRow(v.index);
                  if (e) onOpen(e);
                }}
              >
                {e ? (
                  <>
                    <div role="gridcell" aria-colindex={1} className="audit-cell audit-col-seq muted">
                      {e.seq}
                    </div>
                    <div role="gridcell" aria-colindex={2} className="audit-cell audit-col-time" title={e.at}>
                      {exactTime(e.at)}
                    </div>
                    <div
                      role="gridcell"
                      aria-colindex={3}
                      className="audit-cell audit-col-actor"
                      title={e.via ? `${e.actor} via token ${e.via.token_name}` : undefined}
                    >
                      {e.actor}
                      {e.via ? <span className="muted"> via token {e.via.token_name}</span> : null}
                    </div>
                    <div role="gridcell" aria-colindex={4} className="audit-cell audit-col-action">
                      {e.action}
                    </div>
                    <div role="gridcell" aria-colindex={5} className="audit-cell audit-col-target">
                      {e.target ?? '—'}
                    </div>
                    <div
                      role="gridcell"
                      aria-colindex={6}
                      className={`audit-cell audit-col-outcome${e.outcome === 'success' ? '' : ' audit-outcome-bad'}`}
                    >
                      {e.outcome}
                    </div>
                  </>
                ) : (
                  <div role="gridcell" aria-colindex={1} className="audit-cell muted">
                    Loading…
                  </div>
                )}
              </div>
            );
          })}
        </div>
        {empty && (
          <div role="row" aria-rowindex={2} className="audit-grid-row">
            <div role="gridcell" aria-colindex={1} aria-colspan={COLUMNS.length} className="audit-cell muted audit-empty">
              No entries match.
            </div>
          </div>
        )}
      </div>
    </div>
  );
}
