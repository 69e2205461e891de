import { useApp } from '../stores/app';
import { selectedContext, useCluster } from '../stores/cluster';
import { ago, exactTime } from '../lib/format';
import { Icon } from './Icon';

/** Startup warnings, a lost engine, and an unreachable cluster (read-only with cached data). */
export function Banners() {
  const info = useApp((s) => s.info);
  const dismissed = useApp((s) => s.dismissedWarnings);
  const dismiss = useApp((s) => s.dismissWarnings);
  const engineUp = useApp((s) => s.engineUp);
  const state = useCluster((s) => s.state);
  const list = useCluster((s) => s.list);
  const refreshState = useCluster((s) => s.refreshState);
  const current = selectedContext(list);
  const warnings = info?.startupWarnings ?? [];

  return (
    <div className="banners">
      {!engineUp && (
        <div className="banner banner-error" role="alert">
          <Icon name="alert" />
          <span>Lost the connection to the console engine. Reconnecting… (in browser mode, check that `npm run serve` still runs)</span>
        </div>
      )}
      {current && state?.state === 'offline' && (
        <div className="banner banner-error" role="status" data-testid="offline-banner">
          <Icon name="alert" />
          <span>
            <strong>{current.contextName} is offline.</strong>{' '}
            {state.lastSyncAt ? (
              <>
                Showing cached data from <span title={exactTime(state.lastSyncAt)}>{ago(state.lastSyncAt)}</span>
              </>
            ) : (
              'Nothing cached yet (never synced)'
            )}
            ; the console is read-only until it answers.
            {state.error && <span className="banner-detail"> {state.error}</span>}
          </span>
          <button className="btn btn-small" onClick={() => void refreshState()}>
            Retry now
          </button>
        </div>
      )}
      {current && state?.state === 'expected-offline' && (
        <div className="banner banner-info" role="status" data-testid="offline-banner">
          <Icon name="server" />
          <span>
            <strong>{current.contextName} is marked expected offline</strong> (VPN-only).{' '}
            {state.lastSyncAt ? `Showing cached data from ${ago(state.lastSyncAt)}` : 'Nothing cached yet'}; read-only until it answers.
          </span>
          <button className="btn btn-small" onClick={() => void refreshState()}>
            Check now
          </button>
        </div>
      )}
      {!dismissed && warnings.length > 0 && (
        <div className="banner banner-warn" role="status" data-testid="startup-warnings">
          <Icon name="alert" />
          <span>
            {warnings.map((w) => (
              <span key={w} className="banner-line">
                {w}
              </span>
            ))}
          </span>
          <button className="icon-btn" aria-label="Dismiss" onClick={dismiss}>
            <Icon name="x" />
          </button>
        </div>
      )}
    </div>
  );
}
