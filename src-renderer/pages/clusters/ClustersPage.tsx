import { useEffect, useState } from 'react';
import type { ConnectionTest } from '../../../src-shared/contract/clusters';
import { client, errorShape } from '../../client';
import { useApp } from '../../stores/app';
import { useCluster } from '../../stores/cluster';
import { toastSuccess } from '../../stores/toasts';
import { StateDot } from '../../shell/StateDot';
import { Icon } from '../../shell/Icon';
import { ago, exactTime } from '../../lib/format';
import { ProfileForm } from './ProfileForm';
import { SourcesCard } from './SourcesCard';
import { ApprovalsCard } from './ApprovalsCard';

/** Kubeconfig contexts (broken ones included, with the reason), connection test and the cluster profile. */
export default function ClustersPage() {
  const list = useCluster((s) => s.list);
  const state = useCluster((s) => s.state);
  const select = useCluster((s) => s.select);
  const load = useCluster((s) => s.load);
  const [focusId, setFocusId] = useState<string | null>(null);
  const [tests, setTests] = useState<Record<string, ConnectionTest | { error: string }>>({});
  const [testing, setTesting] = useState<string | null>(null);
  const focus = list?.contexts.find((c) => c.id === (focusId ?? list.selectedId)) ?? null;

  useEffect(() => {
    void load();
  }, [load]);

  const test = async (clusterId: string) => {
    setFocusId(clusterId);
    setTesting(clusterId);
    try {
      const result = await client.invoke('clusters.test', { clusterId });
      setTests((t) => ({ ...t, [clusterId]: result }));
      if (result.ok)
        toastSuccess(
          'Connection works',
          `Kubernetes ${result.serverVersion.gitVersion}; all ${result.permissionsChecked} permissions granted.`,
        );
    } catch (e) {
      setTests((t) => ({ ...t, [clusterId]: { error: errorShape(e).message } }));
    } finally {
      setTesting(null);
    }
  };

  const result = focus ? tests[focus.id] : undefined;
  return (
    <div data-testid="clusters-page">
      <div className="page-header">
        <div>
          <h1>Clusters</h1>
          <div className="sub">Contexts from your kubeconfig files; edits to those files are picked up without a restart.</div>
        </div>
      </div>

      <section className="card">
        <header className="card-header">
          <h2>Contexts</h2>
          <span className="muted">{list ? `${list.contexts.length} found` : ''}</span>
        </header>
        <div className="card-body flush" style={{ overflowX: 'auto' }}>
          <table className="table" data-testid="contexts-table">
            <thead>
              <tr>
                <th>Context</th>
                <th>Cluster</th>
                <th>Server</th>
                <th>User</th>
                <th>Source file</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list?.contexts.map((c) => (
                <tr
                  key={c.id}
                  data-testid={`context-${c.contextName}`}
                  className={focus?.id === c.id ? 'row-focus' : ''}
                  onClick={() => setFocusId(c.id)}
                >
                  <td className="wrap-anywhere" style={{ minWidth: 160 }}>
                    <span className="row row-wrap">
                      <strong>{c.contextName}</strong>
                      {c.selected && <span className="badge badge-info">selected</span>}
                      {c.current && (
                        <span className="badge" title="current-context of its file">
                          current
                        </span>
                      )}
                    </span>
                  </td>
                  <td>{c.clusterName}</td>
                  <td className="mono truncate" style={{ maxWidth: 200 }} title={c.server}>
                    {c.server || '—'}
                  </td>
                  <td className="truncate" style={{ maxWidth: 160 }} title={c.userName}>
                    {c.userName}
                  </td>
                  <td className="mono truncate" style={{ maxWidth: 180 }} title={c.sourceFile}>
                    {c.sourceFile.split('/').slice(-2).join('/')}
                  </td>
                  <td>
                    {c.status === 'error' ? (
                      <span className="row" title={c.error ?? ''}>
                        <StateDot state="error" />
                        <span className="cell-sub" style={{ color: 'var(--err)' }}>
                          {c.error}
                        </span>
                      </span>
                    ) : c.selected ? (
                      <span className="row">
                        <StateDot state={state?.state ?? 'unknown'} /> {state?.state ?? 'unknown'}
                      </span>
                    ) : (
                      <span className="muted">usable</span>
                    )}
                  </td>
                  <td>
                    <span className="actions">
                      <button
                        className="btn btn-small"
                        disabled={c.status === 'error' || testing !== null}
                        onClick={() => void test(c.id)}
                        data-testid={`test-${c.contextName}`}
                      >
                        {testing === c.id ? 'Testing…' : 'Test'}
                      </button>
                      <button
                        className="btn btn-small btn-primary"
                        disabled={c.status === 'error' || c.selected}
                        onClick={() => void select(c.id)}
                        data-testid={`select-${c.contextName}`}
                      >
                        Select
                      </button>
                    </span>
                  </td>
                </tr>
              ))}
              {list && list.contexts.length === 0 && (
                <tr>
                  <td colSpan={7} className="muted">
                    No contexts. Set KUBECONFIG, create ~/.kube/config, or add a kubeconfig file below.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>

      {focus && (
        <div className="two-col">
          <section className="card" data-testid="connection-test">
            <header className="card-header">
              <h2>Connection test</h2>
              <span className="muted truncate">{focus.contextName}</span>
              <span className="spacer" />
              <button className="btn btn-small" disabled={focus.status === 'error' || testing !== null} onClick={() => void test(focus.id)}>
                <Icon name="refresh" size={14} /> {testing === focus.id ? 'Testing…' : 'Run test'}
              </button>
            </header>
            <div className="card-body">
              <TestResult result={result} />
            </div>
          </section>
          <ProfileForm clusterId={focus.id} contextName={focus.contextName} key={focus.id} />
        </div>
      )}

      <ApprovalsCard approvals={list?.approvals ?? []} />

      <SourcesCard sources={list?.sources ?? []} electron={useApp.getState().info?.mode === 'electron'} />
    </div>
  );
}

function TestResult({ result }: { result: ConnectionTest | { error: string } | undefined }) {
  if (!result)
    return (
      <p className="muted">
        Reaches the API server, reads its version and asks the server (SelfSubjectAccessReview) about every permission Gatehouse needs.
      </p>
    );
  if ('error' in result) {
    return (
      <div className="callout callout-err" data-testid="test-error">
        {result.error}
      </div>
    );
  }
  return (
    <div data-testid="test-result">
      <table className="kv-table" style={{ marginBottom: 10 }}>
        <tbody>
          <tr>
            <td>Server version</td>
            <td className="mono">
              {result.serverVersion.gitVersion} ({result.serverVersion.platform})
            </td>
          </tr>
          <tr>
            <td>Platform namespace</td>
            <td className="mono">{result.namespace}</td>
          </tr>
          <tr>
            <td>Permissions</td>
            <td>
              {result.permissionsChecked - result.missing.length} of {result.permissionsChecked} granted
            </td>
          </tr>
          <tr>
            <td>Tested</td>
            <td title={exactTime(result.testedAt)}>{ago(result.testedAt)}</td>
          </tr>
        </tbody>
      </table>
      {result.missing.length === 0 ? (
        <div className="callout callout-ok" data-testid="permissions-ok">
          <Icon name="check" size={14} /> Every permission Gatehouse needs is granted.
        </div>
      ) : (
        <div className="callout callout-warn" data-testid="permissions-missing">
          <strong>These credentials lack {result.missing.length} permission(s):</strong>
          <ul className="missing-list">
            {result.missing.map((m) => (
              <li key={`${m.verb}/${m.group}/${m.resource}/${m.subresource}/${m.namespace ?? ''}`}>{m.text}</li>
            ))}
          </ul>
          <span className="muted">Ask a cluster admin to grant them (a Role/ClusterRole bound to this user or service account).</span>
        </div>
      )}
    </div>
  );
}
