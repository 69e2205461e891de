import { useRef, type ReactNode } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';

/** A fixed-height virtualized table body: only the rows on screen are in the DOM (10,000 pods stay cheap). */
export function VirtualRows<T>({
  rows,
  columns,
  render,
  rowKey,
  testId,
  label,
  rowHeight = 32,
  empty,
}: {
  rows: T[];
  columns: { title: string; width: number; numeric?: boolean }[];
  render: (row: T) => ReactNode;
  rowKey: (row: T) => string;
  testId: string;
  label: string;
  rowHeight?: number;
  empty: string;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => rowHeight,
    overscan: 15,
  });
  const items = virtualizer.getVirtualItems();
  const padTop = items[0]?.start ?? 0;
  const padBottom = items.length ? virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0) : 0;
  return (
    <div className="virtual-scroll infra-scroll" ref={scrollRef} data-testid={testId} role="region" aria-label={label} tabIndex={0}>
      <table className="table table-fixed infra-table" aria-rowcount={rows.length}>
        <colgroup>
          {columns.map((c) => (
            <col key={c.title} style={{ width: c.width }} />
          ))}
        </colgroup>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.title} className={c.numeric ? 'num' : ''}>
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {padTop > 0 && (
            <tr aria-hidden="true">
              <td colSpan={columns.length} style={{ height: padTop, padding: 0, border: 0 }} />
            </tr>
          )}
          {items.map((vi) => {
            const row = rows[vi.index]!;
            return (
              <tr key={rowKey(row)} style={{ height: rowHeight }}>
                {render(row)}
              </tr>
            );
          })}
          {padBottom > 0 && (
            <tr aria-hidden="true">
              <td colSpan={columns.length} style={{ height: padBottom, padding: 0, border: 0 }} />
            </tr>
          )}
        </tbody>
      </table>
      {rows.length === 0 && <div className="empty-state muted">{empty}</div>}
    </div>
  );
}
