import { useState } from 'react';
import type { TenantSummary } from '../../../src-shared/contract/tenants';
import { client, errorShape } from '../../client';
import { useApp } from '../../stores/app';
import { useReadOnly } from '../../stores/cluster';
import { useTenants } from '../../stores/tenants';
import { toastError, toastSuccess } from '../../stores/toasts';
import { ConfirmTyped } from '../../components/ConfirmTyped';
import { StepList, useOperationProgress } from '../../components/StepList';
import { Modal } from '../../components/Modal';
import { navigate } from '../../lib/router';

const DELETE_STEPS = ['reserve', 'mark-deleting', 'final-backup', 'workloads', 'database', 'secret', 'registry', 'license', 'release'];

/** Suspend / resume, and delete with typed confirmation of the slug; delete shows its steps live and the leftover scan. */
export function DangerZone({ tenant, reload }: { tenant: TenantSummary; reload(): Promise<void> }) {
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const [confirming, setConfirming] = useState(false);
  const [finalBackup, setFinalBackup] = useState(true);
  const [deleting, setDeleting] = useState<null | { state: 'running' } | { state: 'done' | 'failed'; message: string; leftovers: { kind: string; name: string }[] }>(null);
  const [busy, setBusy] = useState(false);
  const live = useOperationProgress('tenant.delete', tenant.slug, deleting !== null);
  const suspended = tenant.status === 'suspended';

  const toggleSuspend = async () => {
    setBusy(true);
    try {
      const r = await client.invoke(suspended ? 'tenants.resume' : 'tenants.suspend', { slug: tenant.slug });
      toastSuccess(suspended ? 'Tenant resumed' : 'Tenant suspended', r.scaled.length ? r.scaled.map((s) => `${s.name} → ${s.replicas}`).join(', ') : undefined);
      await reload();
    } catch (e) {
      toastError(suspended ? 'Could not resume' : 'Could not suspend', e);
    } finally {
      setBusy(false);
    }
  };

  const remove = async (confirm: string) => {
    setConfirming(false);
    setDeleting({ state: 'running' });
    try {
      const r = await client.invoke('tenants.delete', { slug: tenant.slug, confirm, finalBackup });
      setDeleting({ state: 'done', message: r.leftovers.length ? 'Deleted, but the leftover scan found objects still there:' : 'Deleted. The leftover scan found nothing behind.', leftovers: r.leftovers });
      void useTenants.getState().load();
    } catch (e) {
      setDeleting({ state: 'failed', message: `${errorShape(e).message} (${errorShape(e).code})`, leftovers: [] });
    }
  };

  const admin = role === 'admin';
  return (
    <section className="card danger-zone" data-testid="danger-zone">
      <div className="danger-row">
        <div>
          <strong>{suspended ? 'Resume tenant' : 'Suspend tenant'}</strong>
          <div className="muted">{suspended ? 'Mark active in the registry and scale dedicated workloads back up.' : 'Mark suspended in the registry and scale dedicated workloads to zero. Data is kept.'}</div>
        </div>
        <button className="btn" disabled={busy || readOnly} onClick={() => void toggleSuspend()} data-testid="suspend-toggle">
          {suspended ? 'Resume' : 'Suspend'}
        </button>
      </div>
      <div className="danger-row">
        <div>
          <strong>Delete tenant</strong>
          <div className="muted">Drops the database and role, deletes Secret tenant-{tenant.slug} and dedicated workloads, removes the registry entry. Admin only.</div>
          <label className="check" style={{ marginTop: 6 }}>
            <input type="checkbox" checked={finalBackup} onChange={(e) => setFinalBackup(e.target.checked)} /> Take a final backup first
          </label>
        </div>
        <button className="btn btn-danger" disabled={!admin || readOnly} onClick={() => setConfirming(true)} data-testid="delete-tenant" title={admin ? '' : 'Needs the admin role'}>
          Delete tenant
        </button>
      </div>
      {confirming && (
        <ConfirmTyped title={`Delete tenant ${tenant.slug}`} expected={tenant.slug} action="Delete tenant" onClose={() => setConfirming(false)} onConfirm={(t) => void remove(t)}>
          <div className="callout callout-err">
            This permanently deletes <strong>{tenant.name}</strong>: its database, users, applications and credentials. It cannot be undone{finalBackup ? ' (a final backup is taken first)' : ''}.
          </div>
        </ConfirmTyped>
      )}
      {deleting && (
        <Modal
          title={`Deleting ${tenant.slug}`}
          onClose={() => (deleting.state === 'done' ? navigate('/tenants') : setDeleting(null))}
          testId="delete-progress"
          footer={
            deleting.state !== 'running' ? (
              <button className="btn btn-primary" onClick={() => (deleting.state === 'done' ? navigate('/tenants') : setDeleting(null))} data-testid="delete-close">
                {deleting.state === 'done' ? 'Back to tenants' : 'Close'}
              </button>
            ) : undefined
          }
        >
          <StepList steps={live} planned={deleting.state === 'running' ? DELETE_STEPS : []} />
          {deleting.state !== 'running' && (
            <div className={`callout ${deleting.state === 'done' && deleting.leftovers.length === 0 ? 'callout-ok' : 'callout-err'}`} data-testid={`delete-${deleting.state}`}>
              {deleting.message}
              {deleting.leftovers.length > 0 && (
                <ul className="missing-list">
                  {deleting.leftovers.map((l) => (
                    <li key={`${l.kind}/${l.name}`}>
                      {l.kind} <code>{l.name}</code>
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
        </Modal>
      )}
    </section>
  );
}
