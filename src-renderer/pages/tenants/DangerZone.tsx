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
import { useInvoke } from '../../lib/use-invoke';

const DELETE_STEPS = ['reserve', 'mark-deleting', 'final-backup', 'workloads', 'database', 'secret', 'registry', 'license', 'release'];

/** Suspend / resume, and delete with typed confirmation of the slug; delete shows its steps live and the leftover scan. */
export function DangerZone({ tenant, reload }: { tenant: TenantSummary; reload(): Promise<void> }) {
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const [confirming, setConfirming] = useState(false);
  // The final backup is offered only where one can really be taken (key escrowed, tools present).
  const backups = useInvoke('backups.status', {}, tenant.slug);
  const canBackUp = backups.data?.configured === true;
  const [wantFinalBackup, setFinalBackup] = useState(true);
  const finalBackup = canBackUp && wantFinalBackup;
  const [deleting, setDeleting] = useState<
    null | { state: 'running' } | { state: 'done' | 'failed'; message: string; leftovers: { kind: string; name: string }[] }
  >(null);
  const [busy, setBusy] = useState(false);
  // What the running delete was asked for: a skipped final backup is never shown as a done step.
  const [deletingWithBackup, setDeletingWithBackup] = useState(false);
  const live = useOperationProgress('tenant.delete', tenant.slug, deleting !== null);
  const suspended = tenant.status === 'suspended';

  const toggleSuspend = async () => {
    setBusy(true);
    try {
      const r = await client.invoke(suspended ? 'tenants.resume' : 'tenants.suspend', { slug: tenant.slug });
      toastSuccess(
        suspended ? 'Tenant resumed' : 'Tenant suspended',
        r.scaled.length ? r.scaled.map((s) => `${s.name} → ${s.replicas}`).join(', ') : undefined,
      );
      await reload();
    } catch (e) {
      toastError(suspended ? 'Could not resume' : 'Could not suspend', e);
    } finally {
      setBusy(false);
    }
  };

  const remove = async (confirm: string) => {
    setConfirming(false);
    setDeletingWithBackup(finalBackup);
    setDeleting({ state: 'running' });
    try {
      const r = await client.invoke('tenants.delete', { slug: tenant.slug, confirm, finalBackup });
      setDeleting({
        state: 'done',
        message: r.leftovers.length
          ? 'Deleted, but the leftover scan found objects still there:'
          : 'Deleted. The leftover scan found nothing behind.',
        leftovers: r.leftovers,
      });
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
          <div className="muted">
            {suspended
              ? 'Mark active in the registry and scale dedicated workloads back up.'
              : 'Mark suspended in the registry and scale dedicated workloads to zero. Data is kept.'}
          </div>
        </div>
        <button className="btn" disabled={busy || readOnly} onClick={() => void toggleSuspend()} data-testid="suspend-toggle">
          {suspended ? 'Resume' : 'Suspend'}
        </button>
      </div>
      <div className="danger-row">
        <div>
          <strong>Delete tenant</strong>
          <div className="muted">
            Drops the database and role, deletes Secret tenant-{tenant.slug} and dedicated workloads, removes the registry entry. Admin
            only.
          </div>
          <label
            className="check"
            style={{ marginTop: 6 }}
            title={canBackUp ? 'A backup verified by a restore; the database is not dropped unless it verifies.' : ''}
          >
            <input
              type="checkbox"
              checked={finalBackup}
              disabled={!canBackUp}
              onChange={(e) => setFinalBackup(e.target.checked)}
              data-testid="final-backup"
            />{' '}
            Take a final backup first
            {canBackUp ? ' (verified by a restore)' : ''}
          </label>
          {backups.data && !canBackUp && (
            <div className="muted" data-testid="final-backup-unavailable">
              No final backup: backups are not configured on this cluster. {backups.data.reason} <a href="#/backups">Set up backups</a>
            </div>
          )}
        </div>
        <button
          className="btn btn-danger"
          disabled={!admin || readOnly}
          onClick={() => setConfirming(true)}
          data-testid="delete-tenant"
          title={admin ? '' : 'Needs the admin role'}
        >
          Delete tenant
        </button>
      </div>
      {confirming && (
        <ConfirmTyped
          title={`Delete tenant ${tenant.slug}`}
          expected={tenant.slug}
          action="Delete tenant"
          onClose={() => setConfirming(false)}
          onConfirm={(t) => void remove(t)}
        >
          <div className="callout callout-err">
            This permanently deletes <strong>{tenant.name}</strong>: its database, users, applications and credentials. It cannot be undone
            {finalBackup ? ' (a final backup is taken first)' : ''}.
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
              <button
                className="btn btn-primary"
                onClick={() => (deleting.state === 'done' ? navigate('/tenants') : setDeleting(null))}
                data-testid="delete-close"
              >
                {deleting.state === 'done' ? 'Back to tenants' : 'Close'}
              </button>
            ) : undefined
          }
        >
          <StepList
            steps={live.filter((x) => deletingWithBackup || x.name !== 'final-backup')}
            planned={deleting.state === 'running' ? DELETE_STEPS.filter((x) => deletingWithBackup || x !== 'final-backup') : []}
          />
          {deleting.state !== 'running' && (
            <div
              className={`callout ${deleting.state === 'done' && deleting.leftovers.length === 0 ? 'callout-ok' : 'callout-err'}`}
              data-testid={`delete-${deleting.state}`}
            >
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
