import { useState } from 'react';
import { client } from '../../client';
import { useTenants } from '../../stores/tenants';
import { toastError, toastSuccess } from '../../stores/toasts';
import { ago } from '../../lib/format';
import { stepLabel } from '../../components/StepList';
import { Icon } from '../../shell/Icon';

/** Operations a crash or failure left half-done: the operator chooses resume or roll back. */
export function UnfinishedOperations() {
  const unfinished = useTenants((s) => s.unfinished);
  const here = useTenants((s) => s.clusterUid);
  const [busy, setBusy] = useState<string | null>(null);
  if (unfinished.length === 0) return null;

  const act = async (id: string, how: 'resume' | 'rollback') => {
    setBusy(id);
    try {
      const op = await client.invoke(how === 'resume' ? 'operations.resume' : 'operations.rollback', { operationId: id });
      toastSuccess(how === 'resume' ? 'Operation finished' : 'Operation rolled back', `${op.kind} ${op.target}: ${op.status}`);
    } catch (e) {
      toastError(how === 'resume' ? 'Could not resume' : 'Could not roll back', e);
    } finally {
      setBusy(null);
      void useTenants.getState().loadUnfinished();
      void useTenants.getState().load();
    }
  };

  return (
    <section className="card danger-zone" data-testid="unfinished-operations">
      <header className="card-header">
        <Icon name="alert" />
        <h2>Unfinished operations</h2>
        <span className="muted">A previous run stopped part-way, on any cluster; each runs only on its own cluster.</span>
      </header>
      <div className="card-body flush">
        <table className="table">
          <tbody>
            {unfinished.map((op) => (
              <tr key={op.id}>
                <td>
                  <strong>{op.kind}</strong> <code>{op.target}</code>{' '}
                  <span
                    className={`badge ${op.clusterId === here ? '' : 'badge-warn'}`}
                    title={`kube-system UID ${op.clusterId ?? '?'}`}
                    data-testid="operation-cluster"
                  >
                    on {op.clusterName ?? 'unknown cluster'}
                    {op.clusterId !== here && ' (not the selected cluster)'}
                  </span>
                  <div className="cell-sub">
                    {op.status} · started {ago(op.createdAt)}
                    {op.actor && ` by ${op.actor}`}
                    {op.failedStep && ` · stopped at "${stepLabel(op.failedStep)}"`}
                    {op.error && ` · ${op.error}`}
                  </div>
                  {op.notices.map((n) => (
                    <div key={n} className="cell-sub warn-icon">
                      {n}
                    </div>
                  ))}
                </td>
                <td className="cell-sub">
                  {op.steps.filter((s) => s.status === 'done').length}/{op.steps.length} steps done
                </td>
                <td>
                  <span className="actions">
                    <button className="btn btn-small btn-primary" disabled={busy !== null} onClick={() => void act(op.id, 'resume')}>
                      Resume
                    </button>
                    {op.canRollback && (
                      <button className="btn btn-small" disabled={busy !== null} onClick={() => void act(op.id, 'rollback')}>
                        Roll back
                      </button>
                    )}
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
