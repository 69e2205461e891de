import { useEffect, useState } from 'react';
import type { UpgradeStatus } from '../../../src-shared/contract/workers';
import { client, errorShape } from '../../client';
import { useInvoke } from '../../lib/use-invoke';
import { exactTime } from '../../lib/format';
import { useApp } from '../../stores/app';
import { useReadOnly } from '../../stores/cluster';
import { toastError, toastSuccess } from '../../stores/toasts';
import { VirtualRows } from './VirtualRows';

const COMPONENTS = [
  ['backend', 'Backend'],
  ['frontend', 'Frontend'],
  ['login-workers', 'Login workers (shared and dedicated)'],
  ['agents', 'Agents (every pool)'],
  ['all', 'Everything'],
] as const;

const STATE_BADGE: Record<UpgradeStatus['state'], string> = {
  running: 'badge-warn',
  paused: '',
  done: 'badge-ok',
  stuck: 'badge-err',
  'rolled-back': 'badge-warn',
  failed: 'badge-err',
};

/** Set a new version, optionally one pool first; live rollout per Deployment; pause, resume, roll back. */
export function UpgradesPanel() {
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const canOperate = !readOnly && (role === 'operator' || role === 'admin');
  const pools = useInvoke('pools.list', {});
  const [form, setForm] = useState({ component: 'backend' as UpgradeStatus['component'], version: '', canaryPool: '', autoRollback: true });
  const [upgrade, setUpgrade] = useState<UpgradeStatus | null>(null);
  const [busy, setBusy] = useState(false);

  const refresh = async (id: string | null) => {
    try {
      setUpgrade((await client.invoke('upgrades.status', { operationId: id })).upgrade);
    } catch (e) {
      toastError('Could not read the upgrade', e);
    }
  };
  useEffect(() => void refresh(null), []);
  // Live: every progress event of an upgrade re-reads its status (at most a few per second).
  useEffect(() => {
    let pending = false;
    return client.subscribe('operation.progress', (e) => {
      if (e.kind !== 'platform.upgrade' || pending) return;
      pending = true;
      setTimeout(() => {
        pending = false;
        void refresh(e.operationId);
      }, 300);
    });
  }, []);

  const act = async (what: 'start' | 'pause' | 'resume' | 'rollback') => {
    setBusy(true);
    try {
      const s =
        what === 'start'
          ? await client.invoke('upgrades.start', {
              component: form.component,
              version: form.version,
              canaryPool: form.canaryPool || null,
              autoRollback: form.autoRollback,
            })
          : await client.invoke(`upgrades.${what}`, { operationId: upgrade!.operationId });
      setUpgrade(s);
      toastSuccess(
        what === 'start' ? `Upgrade to ${s.version} started` : `Upgrade ${what === 'rollback' ? 'rolled back' : `${what}d`}`,
        `${s.targets.length} Deployment(s)`,
      );
    } catch (e) {
      toastError(`Could not ${what} the upgrade`, errorShape(e));
    } finally {
      setBusy(false);
    }
  };
  const live = upgrade && (upgrade.state === 'running' || upgrade.state === 'paused' || upgrade.state === 'stuck');
  const done = upgrade ? upgrade.targets.filter((t) => t.state === 'done').length : 0;
  return (
    <div data-testid="upgrades-panel">
      <section className="card">
        <header className="card-header">
          <h2>New version</h2>
          <span className="muted">each Deployment is followed until rolled out; a rollout that stops moving is reported stuck</span>
        </header>
        <div className="card-body infra-form">
          <label className="field">
            <span>Component</span>
            <select
              className="input"
              value={form.component}
              onChange={(e) => setForm({ ...form, component: e.target.value as UpgradeStatus['component'] })}
              disabled={!canOperate}
              data-testid="upgrade-component"
            >
              {COMPONENTS.map(([id, label]) => (
                <option key={id} value={id}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Version (image tag)</span>
            <input
              className="input"
              value={form.version}
              onChange={(e) => setForm({ ...form, version: e.target.value.trim() })}
              placeholder="1.9.0"
              disabled={!canOperate}
              data-testid="upgrade-version"
            />
          </label>
          {(form.component === 'agents' || form.component === 'all') && (
            <label className="field">
              <span>Canary pool first</span>
              <select
                className="input"
                value={form.canaryPool}
                onChange={(e) => setForm({ ...form, canaryPool: e.target.value })}
                disabled={!canOperate}
              >
                <option value="">none</option>
                {(pools.data?.pools ?? []).map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name}
                  </option>
                ))}
              </select>
            </label>
          )}
          <label className="check">
            <input
              type="checkbox"
              checked={form.autoRollback}
              onChange={(e) => setForm({ ...form, autoRollback: e.target.checked })}
              disabled={!canOperate}
            />{' '}
            Roll back by itself when stuck
          </label>
          <button
            className="btn btn-primary"
            disabled={!canOperate || busy || !form.version || !!live}
            onClick={() => void act('start')}
            data-testid="upgrade-start"
          >
            Upgrade
          </button>
        </div>
      </section>
      {upgrade && (
        <section className="card" data-testid="upgrade-status">
          <header className="card-header">
            <h2>
              {upgrade.component} → {upgrade.version}
            </h2>
            <span className={`badge ${STATE_BADGE[upgrade.state]}`} data-testid="upgrade-state">
              {upgrade.state}
            </span>
            <span className="muted">
              {done}/{upgrade.targets.length} rolled out · started {exactTime(upgrade.startedAt)}
            </span>
            <span className="spacer" />
            <button
              className="btn btn-small"
              disabled={!canOperate || busy || upgrade.state !== 'running'}
              onClick={() => void act('pause')}
            >
              Pause
            </button>
            <button
              className="btn btn-small"
              disabled={!canOperate || busy || (upgrade.state !== 'paused' && upgrade.state !== 'stuck')}
              onClick={() => void act('resume')}
            >
              Resume
            </button>
            <button
              className="btn btn-small"
              disabled={!canOperate || busy || !(live || upgrade.state === 'done')}
              onClick={() => void act('rollback')}
              data-testid="upgrade-rollback"
            >
              Roll back
            </button>
          </header>
          <div className="card-body">
            {upgrade.error && (
              <div className="callout callout-err" style={{ marginBottom: 10 }}>
                {upgrade.error}
              </div>
            )}
            <VirtualRows
              rows={upgrade.targets}
              testId="upgrade-targets"
              label="Deployments of the upgrade"
              empty="Planning…"
              rowKey={(t) => t.deployment}
              columns={[
                { title: 'Deployment', width: 240 },
                { title: 'Wave', width: 80 },
                { title: 'State', width: 110 },
                { title: 'Rollout', width: 200 },
                { title: 'From', width: 230 },
                { title: 'Failing pods', width: 300 },
              ]}
              render={(t) => (
                <>
                  <td className="mono">{t.deployment}</td>
                  <td>{t.wave}</td>
                  <td>
                    <span
                      className={`badge ${t.state === 'done' ? 'badge-ok' : t.state === 'stuck' || t.state === 'failed' ? 'badge-err' : ''}`}
                    >
                      {t.state}
                    </span>
                  </td>
                  <td>{t.rollout ? `${t.rollout.updated} updated, ${t.rollout.available}/${t.rollout.desired} available` : '—'}</td>
                  <td className="mono muted">{t.from ?? '—'}</td>
                  <td className="muted">{t.failingPods.map((p) => `${p.name} (${p.reason ?? 'not ready'}, ${p.restarts}×)`).join(', ')}</td>
                </>
              )}
            />
          </div>
        </section>
      )}
    </div>
  );
}
