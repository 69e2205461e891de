import { useEffect, useState } from 'react';
import { useApp } from '../stores/app';
import { selectedContext, useCluster } from '../stores/cluster';
import { ago, exactTime } from '../lib/format';
import { StateDot, stateLabel } from './StateDot';

/** Bottom line: where the console points, whether it answers, who acts. */
export function StatusBar() {
  const info = useApp((s) => s.info);
  const operator = useApp((s) => s.operator);
  const engineUp = useApp((s) => s.engineUp);
  const list = useCluster((s) => s.list);
  const state = useCluster((s) => s.state);
  const current = selectedContext(list);
  // re-render every 15 s so "2 min ago" stays true
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 15_000);
    return () => clearInterval(t);
  }, []);

  // with the engine gone, the last known cluster state is stale: say unknown
  const clusterState = current ? (engineUp ? (state?.state ?? 'unknown') : 'unknown') : 'none';
  return (
    <footer className="statusbar" data-testid="statusbar">
      <span className="sb-item" title={current ? `${current.server}\n${current.sourceFile}` : ''}>
        <StateDot state={clusterState} />
        <span data-testid="sb-cluster">{current?.contextName ?? 'no cluster'}</span>
      </span>
      <span className={`sb-item sb-state sb-${clusterState}`} data-testid="sb-state">
        {stateLabel(clusterState)}
      </span>
      <span className="sb-item" title={exactTime(state?.lastSyncAt)} data-testid="sb-sync">
        Last sync {ago(state?.lastSyncAt)}
      </span>
      {!engineUp && <span className="sb-item sb-offline">Engine disconnected</span>}
      <span className="sb-spacer" />
      {info?.developmentMode && (
        <span className="badge badge-warn" data-testid="dev-badge" title="Test license keys are accepted">
          Development mode
        </span>
      )}
      <span className="sb-item" data-testid="sb-operator" title={operator ? `Signed in via ${operator.via}` : ''}>
        {operator ? (
          <>
            {operator.displayName} <span className="sb-role">{operator.role}</span>
          </>
        ) : (
          'not signed in'
        )}
      </span>
      {info && (
        <span className="sb-item sb-muted">
          {info.mode === 'electron' ? 'Desktop' : 'Browser mode'} · v{info.version}
        </span>
      )}
    </footer>
  );
}
