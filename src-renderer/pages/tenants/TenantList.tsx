import { useDeferredValue, useEffect, useMemo, useState } from 'react';
import { isCommandName } from '../../../src-shared/contract';
import { useTenants } from '../../stores/tenants';
import { useCluster, useReadOnly } from '../../stores/cluster';
import { ago, exactTime, plural } from '../../lib/format';
import { Icon } from '../../shell/Icon';
import { navigate } from '../../lib/router';
import { TenantsTable } from './TenantsTable';
import { NewTenantDialog } from './NewTenantDialog';
import { UnfinishedOperations } from './UnfinishedOperations';
import { DriftPanel } from './DriftPanel';

/** Tenants of the selected cluster: search, filters, the virtualized table, drift and unfinished operations. */
export function TenantList() {
  const { tenants, drift, refreshedAt, fromCache, loaded, loading, error, load, reconcile, loadUnfinished } = useTenants();
  const clusterId = useCluster((s) => s.list?.selectedId ?? null);
  const readOnly = useReadOnly();
  const [query, setQuery] = useState('');
  const [status, setStatus] = useState('');
  const [tier, setTier] = useState('');
  const [creating, setCreating] = useState(false);
  // typing stays responsive at 5,000 rows: the filter runs on the deferred value
  const deferredQuery = useDeferredValue(query);

  useEffect(() => {
    if (!clusterId) return;
    void load();
    void loadUnfinished();
  }, [clusterId, load, loadUnfinished]);

  const statuses = useMemo(() => [...new Set(tenants.map((t) => t.status))].sort(), [tenants]);
  const tiers = useMemo(() => [...new Set(tenants.map((t) => t.tier))].sort(), [tenants]);
  const rows = useMemo(() => {
    const q = deferredQuery.trim().toLowerCase();
    return tenants.filter(
      (t) =>
        (!status || t.status === status) && (!tier || t.tier === tier) && (!q || t.slug.includes(q) || t.name.toLowerCase().includes(q)),
    );
  }, [tenants, deferredQuery, status, tier]);

  if (!clusterId) return <div className="empty-state">Select a cluster to see its tenants.</div>;
  return (
    <div data-testid="tenants-page">
      <div className="page-header">
        <div>
          <h1>Tenants</h1>
          <div className="sub" title={exactTime(refreshedAt)}>
            {plural(tenants.length, 'tenant')} · {fromCache ? 'cached' : 'refreshed'} {ago(refreshedAt)}
          </div>
        </div>
        <span className="spacer" />
        <button
          className="btn"
          onClick={() => void reconcile()}
          disabled={loading || readOnly}
          title="Rebuild the list from the cluster and the database server"
        >
          <Icon name="refresh" /> Reconcile
        </button>
        {isCommandName('tenants.create') && (
          <button className="btn btn-primary" onClick={() => setCreating(true)} disabled={readOnly} data-testid="new-tenant">
            <Icon name="plus" /> New tenant
          </button>
        )}
      </div>
      <UnfinishedOperations />
      {drift.length > 0 && <DriftPanel drift={drift} />}
      {error && (
        <div className="callout callout-err row" style={{ marginBottom: 14 }} data-testid="tenants-error">
          <span className="spacer">{error}</span>
          <button className="btn btn-small" onClick={() => navigate('/clusters')}>
            Open cluster profile
          </button>
        </div>
      )}
      <section className="card">
        <div className="toolbar">
          <span className="search">
            <Icon name="search" size={14} />
            <input
              type="search"
              placeholder="Search slug or name  ( / )"
              value={query}
              onChange={(e) => setQuery(e.target.value)}
              data-search
              aria-label="Search tenants"
              data-testid="tenant-search"
            />
          </span>
          <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="Filter by status" data-testid="filter-status">
            <option value="">All statuses</option>
            {statuses.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
          <select value={tier} onChange={(e) => setTier(e.target.value)} aria-label="Filter by tier" data-testid="filter-tier">
            <option value="">All tiers</option>
            {tiers.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
          <span className="spacer" />
          <span className="muted" data-testid="tenant-count">
            {rows.length === tenants.length
              ? plural(tenants.length, 'tenant')
              : `${rows.length.toLocaleString()} of ${tenants.length.toLocaleString()}`}
          </span>
        </div>
        {!loaded ? (
          <div className="loading">Reading tenants…</div>
        ) : error && tenants.length === 0 ? (
          <div className="empty-state muted">No tenant list until the cluster profile has a database connection.</div>
        ) : (
          <TenantsTable rows={rows} />
        )}
      </section>
      {creating && <NewTenantDialog onClose={() => setCreating(false)} />}
    </div>
  );
}
