import { memo, useId, useRef, useState } from 'react';
import {
  createColumnHelper,
  createSortedRowModel,
  FlexRender,
  rowSortingFeature,
  sortFns,
  tableFeatures,
  useTable,
  type SortingState,
} from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { TenantSummary } from '../../../src-shared/contract/tenants';
import { navigate } from '../../lib/router';
import { ago, shortDate } from '../../lib/format';
import { StateDot } from '../../shell/StateDot';
import { Icon } from '../../shell/Icon';

const features = tableFeatures({ rowSortingFeature, sortedRowModel: createSortedRowModel(), sortFns });
const col = createColumnHelper<typeof features, TenantSummary>();
const ROW_HEIGHT = 36;

const count = (n: number | undefined | null) => (n === undefined || n === null ? '—' : n.toLocaleString());
const drifted = (t: TenantSummary) => !t.hasDatabase || !t.hasSecret || !t.inRegistry;

const columns = col.columns([
  col.accessor('slug', {
    header: 'Tenant',
    cell: (c) => (
      <span className="tenant-cell">
        <span className="tenant-slug">{c.row.original.slug}</span>
        <span className="cell-sub truncate">{c.row.original.name}</span>
      </span>
    ),
  }),
  col.accessor('status', {
    header: 'Status',
    cell: (c) => (
      <span className="row">
        <StateDot state={c.getValue()} />
        {c.getValue()}
        {drifted(c.row.original) && (
          <span
            className="drift-mark"
            title="Registry, Secret and database disagree: see Drift above"
            aria-label="drift"
            data-testid="drift-mark"
          >
            <Icon name="alert" size={14} />
          </span>
        )}
      </span>
    ),
  }),
  col.accessor('tier', { header: 'Tier', cell: (c) => <span className="badge">{c.getValue()}</span> }),
  col.accessor((t) => t.stats?.users ?? -1, {
    id: 'users',
    header: 'Users',
    // stats are read in the background: say how old they are
    cell: (c) => (
      <span title={c.row.original.statsAt ? `counted ${ago(c.row.original.statsAt)}` : 'not counted yet'}>
        {count(c.row.original.stats?.users)}
      </span>
    ),
  }),
  col.accessor((t) => t.stats?.groups ?? -1, { id: 'groups', header: 'Groups', cell: (c) => count(c.row.original.stats?.groups) }),
  col.accessor((t) => t.stats?.applications ?? -1, {
    id: 'applications',
    header: 'Apps',
    cell: (c) => count(c.row.original.stats?.applications),
  }),
  col.accessor((t) => t.backendVersion ?? '', {
    id: 'backendVersion',
    header: 'Backend',
    cell: (c) => (c.getValue() ? <span className="tag">{c.getValue()}</span> : '—'),
  }),
  col.accessor((t) => t.created ?? '', { id: 'created', header: 'Created', cell: (c) => shortDate(c.row.original.created) }),
]);
const NUMERIC = new Set(['users', 'groups', 'applications']);
const WIDTHS: Record<string, number> = {
  slug: 260,
  status: 150,
  tier: 100,
  users: 90,
  groups: 90,
  applications: 80,
  backendVersion: 110,
  created: 110,
};

/** The tenant table: sorted by TanStack Table, rows virtualized so 5,000 tenants scroll smoothly. */
export function TenantsTable({ rows }: { rows: TenantSummary[] }) {
  const [sorting, setSorting] = useState<SortingState>([{ id: 'slug', desc: false }]);
  const sortHintId = useId();
  const table = useTable({
    features,
    columns,
    data: rows,
    state: { sorting },
    onSortingChange: setSorting,
    getRowId: (t: TenantSummary) => t.slug,
  });
  const model = table.getRowModel().rows;
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: model.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const padTop = items[0]?.start ?? 0;
  const padBottom = items.length ? virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0) : 0;

  return (
    <div className="virtual-scroll" ref={scrollRef} data-testid="tenants-table" role="region" aria-label="Tenants" tabIndex={0}>
      {/* what activating a header does, read after its name */}
      <span hidden id={`${sortHintId}-asc`}>
        sort ascending
      </span>
      <span hidden id={`${sortHintId}-desc`}>
        sort descending
      </span>
      <span hidden id={`${sortHintId}-none`}>
        remove sorting
      </span>
      <table className="table table-fixed" aria-rowcount={model.length}>
        <colgroup>
          {table.getAllLeafColumns().map((c) => (
            <col key={c.id} style={{ width: WIDTHS[c.id] ?? 100 }} />
          ))}
        </colgroup>
        <thead>
          {table.getHeaderGroups().map((hg) => (
            <tr key={hg.id}>
              {hg.headers.map((h) => {
                const sorted = h.column.getIsSorted();
                const next = h.column.getNextSortingOrder();
                // the header is a button (Tab, Enter, Space); aria-sort only on the sorted column
                return (
                  <th
                    key={h.id}
                    className={`sortable ${NUMERIC.has(h.column.id) ? 'num' : ''}`}
                    aria-sort={sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : undefined}
                  >
                    <button
                      type="button"
                      className="sort-button"
                      onClick={h.column.getToggleSortingHandler()}
                      aria-describedby={`${sortHintId}-${next || 'none'}`}
                    >
                      <FlexRender header={h} />
                      <span className="sort-mark" aria-hidden="true">
                        {sorted === 'asc' ? ' ▲' : sorted === 'desc' ? ' ▼' : ''}
                      </span>
                    </button>
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody>
          {padTop > 0 && (
            <tr aria-hidden="true">
              <td colSpan={columns.length} style={{ height: padTop, padding: 0, border: 0 }} />
            </tr>
          )}
          {items.map((vi) => (
            <TenantRow key={model[vi.index]!.id} row={model[vi.index]!} />
          ))}
          {padBottom > 0 && (
            <tr aria-hidden="true">
              <td colSpan={columns.length} style={{ height: padBottom, padding: 0, border: 0 }} />
            </tr>
          )}
        </tbody>
      </table>
      {model.length === 0 && <div className="empty-state muted">No tenants match.</div>}
    </div>
  );
}

type TableRow = ReturnType<ReturnType<typeof useTable<typeof features, TenantSummary>>['getRowModel']>['rows'][number];

/** Rows keep their identity while scrolling, so memo skips the ones that stay in view. */
const TenantRow = memo(function TenantRow({ row }: { row: TableRow }) {
  const open = () => navigate(`/tenants/${row.original.slug}`);
  return (
    <tr
      className="clickable"
      style={{ height: ROW_HEIGHT }}
      data-testid={`tenant-row-${row.original.slug}`}
      tabIndex={0}
      onClick={open}
      onKeyDown={(e) => {
        if (e.key === 'Enter') open();
      }}
    >
      {row.getAllCells().map((cell) => (
        <td key={cell.id} className={NUMERIC.has(cell.column.id) ? 'num' : ''}>
          <FlexRender cell={cell} />
        </td>
      ))}
    </tr>
  );
});
