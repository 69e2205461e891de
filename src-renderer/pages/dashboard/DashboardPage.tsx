import { useEffect, useState } from 'react';
import type { Dashboard, WorkloadSummary } from '../../../src-shared/contract/dashboard';
import { client, errorShape } from '../../client';
import { useCluster, selectedContext } from '../../stores/cluster';
import { useApp } from '../../stores/app';
import { ago, exactTime, plural } from '../../lib/format';
import { navigate } from '../../lib/router';
import { ReadinessBar } from '../../components/ReadinessBar';
import { StateDot } from '../../shell/StateDot';
import { Icon } from '../../shell/Icon';
import { KeyAgeCard } from '../secrets/KeyAgeCard';
import { OverviewCards } from './OverviewCards';

const CONDITION_BADGE: Record<WorkloadSummary['condition'], string> = {
  available: 'badge-ok',
  progressing: 'badge-warn',
  degraded: 'badge-err',
  'scaled-down': '',
};

/** First look at the selected cluster: version, nodes, the overview cards, the platform's workloads; live through events. */
export default function DashboardPage() {
  const list = useCluster((s) => s.list);
  const clusterState = useCluster((s) => s.state);
  const select = useCluster((s) => s.select);
  const current = selectedContext(list);
  const [data, setData] = useState<Dashboard | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const selectedId = current?.id ?? null;
  const online = clusterState?.state;
  const reconnects = useApp((s) => s.reconnects);

  const load = async () => {
    setLoading(true);
    try {
      setData(await client.invoke('dashboard.get', {}));
      setError(null);
    } catch (e) {
      setError(errorShape(e).message);
    } finally {
      setLoading(false);
    }
  };

  // reload when the cluster changes or comes back online, and when the engine answers again (missed events)
  useEffect(() => {
    if (selectedId) void load();
    else setData(null);
  }, [selectedId, online, reconnects]);

  useEffect(
    () =>
      client.subscribe('workloads.changed', (ev) => {
        setData((d) => {
          if (!d || d.clusterId !== ev.clusterId || d.namespace !== ev.namespace) return d;
          const rest = d.deployments.filter((w) => w.name !== ev.deployment.name);
          const deployments = ev.change === 'deleted' ? rest : [...rest, ev.deployment].sort((a, b) => a.name.localeCompare(b.name));
          return { ...d, deployments, lastSyncAt: ev.at };
        });
      }),
    [],
  );

  if (!current) {
    const usable = (list?.contexts ?? []).filter((c) => c.status === 'ok').slice(0, 6);
    return (
      <div className="empty-state" data-testid="dashboard-empty">
        <h2>No cluster selected</h2>
        <p className="muted">Pick a kubeconfig context to see its platform.</p>
        <div className="row row-wrap" style={{ justifyContent: 'center' }}>
          {usable.map((c) => (
            <button key={c.id} className="btn btn-primary" onClick={() => void select(c.id)} title={c.server}>
              {c.contextName}
            </button>
          ))}
          <button className="btn" onClick={() => navigate('/clusters')}>
            Open Clusters
          </button>
        </div>
      </div>
    );
  }

  const deployments = data?.deployments ?? [];
  const readyWorkloads = deployments.filter((w) => w.desired > 0 && w.ready >= w.desired).length;
  return (
    <div data-testid="dashboard" className={data?.offline ? 'stale' : ''}>
      <div className="page-header">
        <div>
          <h1>Dashboard</h1>
          <div className="sub">
            {current.contextName} · namespace <code>{data?.namespace ?? '…'}</code>
          </div>
        </div>
        <span className="spacer" />
        {data && (
          <span className="muted" title={exactTime(data.lastSyncAt)} data-testid="dashboard-sync">
            {data.offline ? 'Cached copy from' : 'Synced'} {ago(data.lastSyncAt)}
          </span>
        )}
        <button className="btn" onClick={() => void load()} disabled={loading}>
          <Icon name="refresh" /> Refresh
        </button>
      </div>

      {data?.offline && (
        <div className="callout callout-warn" style={{ marginBottom: 14 }} data-testid="dashboard-offline">
          The cluster did not answer; this is the copy cached {ago(data.lastSyncAt)} ({exactTime(data.lastSyncAt)}).
          {data.error && clusterState?.state !== 'offline' && <span className="muted"> {data.error}</span>}
        </div>
      )}
      {error && !data && (
        <div className="callout callout-err" style={{ marginBottom: 14 }} data-testid="dashboard-error">
          {error}
        </div>
      )}

      <div className="stats">
        <div className="stat">
          <div className="stat-label">Kubernetes</div>
          <div className="stat-value mono" data-testid="server-version" style={{ fontSize: 18 }}>
            {data?.serverVersion ?? '—'}
          </div>
          <div className="stat-sub truncate" title={current.server}>
            {current.server}
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Nodes ready</div>
          <div className="stat-value" data-testid="node-count">
            {data ? (
              <>
                {data.nodes.ready}
                <small> / {data.nodes.total}</small>
              </>
            ) : (
              '—'
            )}
          </div>
          <div className="stat-sub">
            {data && data.nodes.ready < data.nodes.total ? `${data.nodes.total - data.nodes.ready} not ready` : 'all nodes ready'}
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Platform workloads</div>
          <div className="stat-value">
            {data ? (
              <>
                {readyWorkloads}
                <small> / {deployments.length} ready</small>
              </>
            ) : (
              '—'
            )}
          </div>
          <div className="stat-sub">
            {plural(
              deployments.reduce((n, w) => n + w.ready, 0),
              'pod',
            )}{' '}
            ready
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Connection</div>
          <div className="stat-value row" style={{ fontSize: 16 }}>
            <StateDot state={clusterState?.state ?? 'unknown'} />
            {clusterState?.state === 'online'
              ? 'Online'
              : clusterState?.state === 'expected-offline'
                ? 'Expected offline'
                : clusterState?.state === 'offline'
                  ? 'Offline'
                  : 'Unknown'}
          </div>
          <div className="stat-sub" title={exactTime(clusterState?.lastSyncAt)}>
            last sync {ago(clusterState?.lastSyncAt)}
          </div>
        </div>
        {!data?.offline && <KeyAgeCard clusterKey={`${selectedId}:${online}`} />}
      </div>

      <OverviewCards clusterKey={selectedId ?? ''} nodes={data ? data.nodes : null} />

      <section className="card">
        <header className="card-header">
          <h2>Deployments</h2>
          <span className="muted">in {data?.namespace ?? '…'}</span>
        </header>
        <div className="card-body flush">
          <table className="table" data-testid="workloads">
            <thead>
              <tr>
                <th>Name</th>
                <th>Status</th>
                <th style={{ width: 220 }}>Ready</th>
                <th className="num">Up to date</th>
                <th className="num">Available</th>
                <th>Images</th>
              </tr>
            </thead>
            <tbody>
              {deployments.map((w) => (
                <tr key={w.name} data-testid={`workload-${w.name}`}>
                  <td>
                    <strong>{w.name}</strong>
                    {w.message && w.condition !== 'available' && <div className="cell-sub">{w.message}</div>}
                  </td>
                  <td>
                    <span className={`badge ${CONDITION_BADGE[w.condition]}`} title={w.reason ?? ''}>
                      {w.condition}
                    </span>
                  </td>
                  <td>
                    <ReadinessBar ready={w.ready} desired={w.desired} />
                  </td>
                  <td className="num">{w.updated}</td>
                  <td className="num">{w.available}</td>
                  <td>
                    <span className="row row-wrap">
                      {w.images.map((i) => (
                        <span key={i.container} className="tag" title={`${i.container}: ${i.image}`}>
                          {i.image.split('/').pop()?.split(/[:@]/)[0]}:{i.tag.length > 20 ? `${i.tag.slice(0, 19)}…` : i.tag}
                        </span>
                      ))}
                    </span>
                  </td>
                </tr>
              ))}
              {data && deployments.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    No deployments in {data.namespace}. Check the platform namespace in the cluster profile.
                  </td>
                </tr>
              )}
              {!data && (
                <tr>
                  <td colSpan={6} className="muted">
                    {loading ? 'Reading the cluster…' : (error ?? '')}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}
