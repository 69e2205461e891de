import { useMemo, useState } from 'react';
import type { Health, InfraGroup, InfraPod, InfraWorkload } from '../../../src-shared/contract/infra';
import { useCluster, selectedContext } from '../../stores/cluster';
import { ago, exactTime, plural } from '../../lib/format';
import { navigate } from '../../lib/router';
import { useInvoke } from '../../lib/use-invoke';
import { useInfra } from './use-infra';
import { VirtualRows } from './VirtualRows';
import { PoolsPanel } from './PoolsPanel';
import { UpgradesPanel } from './UpgradesPanel';
import './infra.css';

export const GROUP_LABEL: Record<InfraGroup, string> = {
  backend: 'Backend',
  frontend: 'Frontend',
  'login-shared': 'Shared login worker',
  'login-dedicated': 'Dedicated login workers',
  'agent-pool': 'Agent pools',
  other: 'Other',
};
const GROUP_ORDER: InfraGroup[] = ['backend', 'frontend', 'login-shared', 'login-dedicated', 'agent-pool', 'other'];
const rank = (g: InfraGroup) => GROUP_ORDER.indexOf(g);

export const HealthBadge = ({ health }: { health: Health }) => <span className={`health health-${health}`}>{health}</span>;

const TABS = [
  ['workloads', 'Workloads'],
  ['pods', 'Pods'],
  ['pools', 'Agent pools'],
  ['upgrades', 'Upgrades'],
  ['database', 'Database'],
] as const;

type Filter = { text: string; group: InfraGroup | 'all'; problems: boolean };
const matches = (f: Filter, ...fields: (string | null)[]) => {
  if (!f.text) return true;
  const needle = f.text.toLowerCase();
  return fields.some((x) => x !== null && x.toLowerCase().includes(needle));
};

/** Workloads and pods of the platform, live from the engine's LIST + WATCH; PostgreSQL status (#/infrastructure/<tab>). */
export default function InfrastructurePage({ segments }: { segments: string[] }) {
  const tab = segments[0] ?? 'workloads';
  const list = useCluster((s) => s.list);
  const selected = selectedContext(list)?.id ?? null;
  const online = useCluster((s) => s.state?.state);
  const view = useInfra(selected !== null);
  const [filter, setFilter] = useState<Filter>({ text: '', group: 'all', problems: false });

  // Recomputed once per applied frame of batches (view.version), not per event.
  const workloads = useMemo(() => {
    const all = [...view.workloads.values(), ...view.missing];
    return all
      .filter(
        (w) =>
          (filter.group === 'all' || w.group === filter.group) &&
          (!filter.problems || w.health !== 'Healthy') &&
          matches(filter, w.name, w.tenant, w.pool, w.version),
      )
      .sort((a, b) => rank(a.group) - rank(b.group) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }, [view.version, view.missing, filter]);
  const pods = useMemo(() => {
    const all: InfraPod[] = [];
    for (const p of view.pods.values()) {
      if (
        (filter.group === 'all' || p.group === filter.group) &&
        (!filter.problems || !p.ready || p.restarts > 0) &&
        matches(filter, p.name, p.workload, p.tenant, p.node, p.version)
      )
        all.push(p);
    }
    return all.sort((a, b) => rank(a.group) - rank(b.group) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }, [view.version, filter]);
  const summary = useMemo(() => {
    let ready = 0;
    let agents = 0;
    let restarting = 0;
    for (const p of view.pods.values()) {
      if (p.ready) ready++;
      if (p.ready && p.group === 'agent-pool') agents++;
      if (p.restarts > 0) restarting++;
    }
    const health: Partial<Record<Health, number>> = {};
    for (const w of view.workloads.values()) health[w.health] = (health[w.health] ?? 0) + 1;
    return {
      ready,
      agents,
      restarting,
      health,
      versions: [...new Set([...view.workloads.values()].filter((w) => w.group === 'backend').map((w) => w.version ?? '?'))],
    };
  }, [view.version]);

  if (!selected) return <div className="empty-state">Select a cluster to see its infrastructure.</div>;
  return (
    <div data-testid="infrastructure-page">
      <div className="page-header">
        <div>
          <h1>Infrastructure</h1>
          <div className="sub muted" data-testid="infra-live">
            {view.clusterId && online === 'online' ? <span className="live-dot" aria-hidden="true" /> : null}
            namespace <code>{view.namespace ?? '…'}</code> · live from LIST + WATCH
            {view.stats &&
              ` (${view.stats.lists} lists, ${view.stats.watches} watches${view.stats.relists ? `, ${view.stats.relists} re-lists` : ''})`}
            {view.lastAt && <span title={exactTime(view.lastAt)}> · updated {ago(view.lastAt)}</span>}
          </div>
        </div>
      </div>
      {view.error && <div className="callout callout-err page-callout">{view.error}</div>}
      <div className="stats" data-testid="infra-summary">
        <div className="stat">
          <div className="stat-label">Pods ready</div>
          <div className="stat-value" data-testid="pods-ready">
            {summary.ready.toLocaleString()}
            <small> / {view.pods.size.toLocaleString()}</small>
          </div>
          <div className="stat-sub">{summary.restarting ? `${plural(summary.restarting, 'pod')} restarted` : 'no restarts'}</div>
        </div>
        <div className="stat">
          <div className="stat-label">Workloads</div>
          <div className="stat-value">{view.workloads.size.toLocaleString()}</div>
          <div className="stat-sub">
            {(['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Unknown'] as Health[])
              .filter((h) => summary.health[h])
              .map((h) => `${summary.health[h]!.toLocaleString()} ${h.toLowerCase()}`)
              .join(' · ')}
            {view.missing.length ? ` · ${view.missing.length} missing` : ''}
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Connected agents</div>
          <div className="stat-value">{summary.agents.toLocaleString()}</div>
          <div className="stat-sub">ready pods of the agent pools</div>
        </div>
        <div className="stat">
          <div className="stat-label">Backend version</div>
          <div className="stat-value">{summary.versions.join(', ') || '—'}</div>
          <div className="stat-sub">what actually runs</div>
        </div>
      </div>
      <div className="tabs" role="tablist">
        {TABS.map(([id, label]) => (
          <button
            key={id}
            role="tab"
            className="tab"
            aria-selected={tab === id}
            onClick={() => navigate(`/infrastructure/${id}`)}
            data-testid={`infra-tab-${id}`}
          >
            {label}
          </button>
        ))}
      </div>
      {(tab === 'workloads' || tab === 'pods') && (
        <div className="infra-filters">
          <input
            type="search"
            className="input"
            placeholder="Filter: name, tenant, pool, node, version"
            value={filter.text}
            onChange={(e) => setFilter({ ...filter, text: e.target.value })}
            data-testid="infra-filter"
            aria-label="Filter"
          />
          <select
            className="input"
            value={filter.group}
            onChange={(e) => setFilter({ ...filter, group: e.target.value as Filter['group'] })}
            aria-label="Group"
            data-testid="infra-group"
          >
            <option value="all">All groups</option>
            {GROUP_ORDER.map((g) => (
              <option key={g} value={g}>
                {GROUP_LABEL[g]}
              </option>
            ))}
          </select>
          <label className="check">
            <input
              type="checkbox"
              checked={filter.problems}
              onChange={(e) => setFilter({ ...filter, problems: e.target.checked })}
              data-testid="infra-problems"
            />
            Problems only
          </label>
          <span className="muted" data-testid="infra-count">
            {tab === 'pods'
              ? `${pods.length.toLocaleString()} of ${plural(view.pods.size, 'pod')}`
              : `${workloads.length.toLocaleString()} workloads`}
          </span>
        </div>
      )}
      {tab === 'workloads' && <WorkloadTable rows={workloads} />}
      {tab === 'pods' && <PodTable rows={pods} />}
      {tab === 'pools' && <PoolsPanel />}
      {tab === 'upgrades' && <UpgradesPanel />}
      {tab === 'database' && <DatabaseCard />}
    </div>
  );
}

export function WorkloadTable({ rows }: { rows: InfraWorkload[] }) {
  return (
    <VirtualRows
      rows={rows}
      testId="infra-workloads"
      label="Workloads"
      empty="No workload matches."
      rowKey={(w) => `${w.health === 'Missing' ? 'missing:' : ''}${w.name}`}
      columns={[
        { title: 'Workload', width: 260 },
        { title: 'Group', width: 170 },
        { title: 'Health', width: 120 },
        { title: 'Ready', width: 90, numeric: true },
        { title: 'Updated', width: 90, numeric: true },
        { title: 'Version', width: 110 },
        { title: 'Tenant / pool', width: 150 },
        { title: 'Why', width: 320 },
      ]}
      render={(w) => (
        <>
          <td className="mono" title={w.image ?? ''}>
            {w.name}
          </td>
          <td>{GROUP_LABEL[w.group]}</td>
          <td>
            <HealthBadge health={w.health} />
          </td>
          <td className="num">{w.health === 'Missing' ? '—' : `${w.ready}/${w.desired}`}</td>
          <td className="num">{w.health === 'Missing' ? '—' : w.updated}</td>
          <td>{w.version ? <span className="tag">{w.version}</span> : '—'}</td>
          <td>{w.tenant ? <a href={`#/tenants/${w.tenant}/workers`}>{w.tenant}</a> : (w.pool ?? '')}</td>
          <td className="muted" title={w.message ?? ''}>
            {w.message ?? ''}
          </td>
        </>
      )}
    />
  );
}

export function PodTable({ rows }: { rows: InfraPod[] }) {
  return (
    <VirtualRows
      rows={rows}
      testId="infra-pods"
      label="Pods"
      empty="No pod matches."
      rowKey={(p) => p.uid}
      columns={[
        { title: 'Pod', width: 300 },
        { title: 'Workload', width: 220 },
        { title: 'Ready', width: 80 },
        { title: 'Phase', width: 110 },
        { title: 'Restarts', width: 90, numeric: true },
        { title: 'Version', width: 100 },
        { title: 'Node', width: 140 },
        { title: 'Why', width: 180 },
      ]}
      render={(p) => (
        <>
          <td className="mono" title={p.image ?? ''}>
            {p.name}
          </td>
          <td className="mono">{p.workload ?? '—'}</td>
          <td>{p.ready ? <span className="badge badge-ok">ready</span> : <span className="badge badge-err">not ready</span>}</td>
          <td>{p.phase}</td>
          <td className="num" data-testid="pod-restarts">
            {p.restarts}
          </td>
          <td>{p.version ? <span className="tag">{p.version}</span> : '—'}</td>
          <td className="mono">{p.node ?? '—'}</td>
          <td className="muted">{p.reason ?? ''}</td>
        </>
      )}
    />
  );
}

const bytes = (n: number) =>
  n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`;
const duration = (s: number) =>
  s >= 86400
    ? `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`
    : s >= 3600
      ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
      : `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;

function DatabaseCard() {
  const q = useInvoke('infra.database', {});
  const d = q.data;
  return (
    <section className="card" data-testid="infra-database">
      <header className="card-header">
        <h2>PostgreSQL</h2>
        <span className="spacer" />
        <button className="btn btn-small" onClick={() => void q.reload()} disabled={q.loading}>
          {q.loading ? 'Reading…' : 'Refresh'}
        </button>
      </header>
      <div className="card-body">
        {q.error && <div className="callout callout-err">{q.error.message}</div>}
        {d && !d.reachable && <div className="callout callout-err">{d.error}</div>}
        {d?.reachable && (
          <table className="kv-table infra-kv">
            <tbody>
              <tr>
                <td>Version</td>
                <td>{d.version}</td>
              </tr>
              <tr>
                <td>Up since</td>
                <td>
                  {exactTime(d.startedAt)} ({d.uptimeSeconds !== null ? duration(d.uptimeSeconds) : '—'})
                </td>
              </tr>
              <tr>
                <td>Connections</td>
                <td>
                  {d.connections && (
                    <>
                      <span className="rollout-bar">
                        <span style={{ width: `${Math.min(100, (100 * d.connections.used) / Math.max(1, d.connections.max))}%` }} />
                      </span>
                      {d.connections.used} of {d.connections.max}
                    </>
                  )}
                </td>
              </tr>
              <tr>
                <td>Databases</td>
                <td>
                  {d.totalBytes !== null ? `${bytes(d.totalBytes)} in total` : '—'}; largest:{' '}
                  {d.databases
                    .slice(0, 5)
                    .map((x) => `${x.name} ${bytes(x.bytes)}`)
                    .join(', ')}
                </td>
              </tr>
              <tr>
                <td>Longest transaction</td>
                <td>
                  {d.longestTransaction
                    ? `${duration(d.longestTransaction.seconds)} in ${d.longestTransaction.database ?? '?'} (${d.longestTransaction.state ?? '?'})`
                    : 'none open'}
                </td>
              </tr>
              <tr>
                <td>Replication</td>
                <td>
                  {d.replication.role}
                  {d.replication.replicas.length
                    ? `: ${d.replication.replicas.map((r) => `${r.name} ${r.state}${r.lagBytes !== null ? `, ${bytes(r.lagBytes)} behind` : ''}`).join('; ')}`
                    : ' (no replicas)'}
                </td>
              </tr>
              <tr>
                <td>Read</td>
                <td>{ago(d.at)}</td>
              </tr>
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}
