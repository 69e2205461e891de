import { useState } from 'react';
import type { BackupSummary } from '../../../../src-shared/contract/backups';
import { TenantSlug } from '../../../../src-shared/contract/tenants';
import { client, errorShape } from '../../../client';
import { Modal } from '../../../components/Modal';
import { StepList, useOperationProgress } from '../../../components/StepList';
import { navigate } from '../../../lib/router';
import { shortDate } from '../../../lib/format';
import { useApp } from '../../../stores/app';

const CLONE_STEPS = ['reserve', 'database', 'load', 'schema', 'secret', 'registry', 'release'];
const IN_PLACE_STEPS = ['reserve', 'suspend', 'safety-backup', 'staging', 'load', 'schema', 'swap', 'reopen', 'drop-previous', 'release'];

/**
 * Restore a backup: into a new tenant (new slug, new credentials), or over its own tenant
 * (admin only, typed confirmation of the slug; suspended meanwhile, safety backup first,
 * credentials kept). The saga's steps stream live.
 */
export function RestoreDialog({ backup, onClose, onDone }: { backup: BackupSummary; onClose(): void; onDone(): void }) {
  const role = useApp((s) => s.operator?.role);
  const [mode, setMode] = useState<'clone' | 'in-place'>('clone');
  const [slug, setSlug] = useState(`${backup.tenant}-restored`.slice(0, 40));
  const [confirm, setConfirm] = useState('');
  const [run, setRun] = useState<null | { state: 'running' } | { state: 'done' | 'failed'; message: string; target: string }>(null);
  const target = mode === 'clone' ? slug : backup.tenant;
  const kind = mode === 'clone' ? 'backup.restore.clone' : 'backup.restore.inplace';
  const live = useOperationProgress(kind, target, run !== null);
  const slugCheck = TenantSlug.safeParse(slug);
  const admin = role === 'admin';
  const armed = mode === 'clone' ? slugCheck.success : admin && confirm === backup.tenant;

  const start = async () => {
    setRun({ state: 'running' });
    try {
      if (mode === 'clone') {
        const r = await client.invoke('backups.restore.clone', { backupId: backup.id, slug });
        setRun({
          state: 'done',
          message: `Restored into the new tenant ${r.slug}.${r.notices.length ? ` ${r.notices.join(' ')}` : ''}`,
          target: r.slug,
        });
      } else {
        const r = await client.invoke('backups.restore.inPlace', { backupId: backup.id, slug: backup.tenant, confirm });
        setRun({
          state: 'done',
          message: `Restored over ${r.slug}. Safety backup taken first: ${r.safetyBackupId ?? 'none (no database)'}.${r.notices.length ? ` ${r.notices.join(' ')}` : ''}`,
          target: r.slug,
        });
      }
      onDone();
    } catch (e) {
      const err = errorShape(e);
      setRun({ state: 'failed', message: `${err.message} (${err.code})`, target });
    }
  };

  return (
    <Modal
      title={`Restore backup of ${shortDate(backup.createdAt)}`}
      onClose={() => (run?.state === 'running' ? undefined : onClose())}
      testId="restore-dialog"
      wide
      footer={
        run === null ? (
          <>
            <button className="btn" onClick={onClose}>
              Cancel
            </button>
            <button
              className={`btn ${mode === 'clone' ? 'btn-primary' : 'btn-danger'}`}
              disabled={!armed}
              onClick={() => void start()}
              data-testid="restore-start"
            >
              {mode === 'clone' ? 'Restore as new tenant' : 'Restore over tenant'}
            </button>
          </>
        ) : run.state !== 'running' ? (
          <>
            {run.state === 'done' && (
              <button className="btn" onClick={() => navigate(`/tenants/${run.target}`)} data-testid="restore-open">
                Open {run.target}
              </button>
            )}
            <button className="btn btn-primary" onClick={onClose} data-testid="restore-close">
              Close
            </button>
          </>
        ) : undefined
      }
    >
      {run === null ? (
        <div style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
          <p style={{ margin: 0 }}>
            Backup <code>{backup.id}</code> of <strong>{backup.tenant}</strong>: {backup.tables} tables, {backup.rows.toLocaleString()}{' '}
            rows, schema v{backup.schemaVersion}.
            {backup.verification.state !== 'passed' && (
              <span className="muted"> It was never verified by a restore; verify it first if you can.</span>
            )}
          </p>
          <label className="check">
            <input
              type="radio"
              name="restore-mode"
              checked={mode === 'clone'}
              onChange={() => setMode('clone')}
              data-testid="restore-mode-clone"
            />{' '}
            Into a new tenant (new slug, new credentials); the original is untouched
          </label>
          {mode === 'clone' && (
            <div className="field">
              <label htmlFor="restore-slug">New tenant slug</label>
              <input
                id="restore-slug"
                value={slug}
                onChange={(e) => setSlug(e.target.value)}
                spellCheck={false}
                autoComplete="off"
                data-testid="restore-slug"
              />
              {!slugCheck.success && <div className="field-error">{slugCheck.error.issues[0]?.message}</div>}
            </div>
          )}
          <label className="check" title={admin ? '' : 'Needs the admin role'}>
            <input
              type="radio"
              name="restore-mode"
              checked={mode === 'in-place'}
              disabled={!admin}
              onChange={() => setMode('in-place')}
              data-testid="restore-mode-in-place"
            />{' '}
            Over <strong>{backup.tenant}</strong> itself (admin only)
          </label>
          {mode === 'in-place' && (
            <>
              <div className="callout callout-err">
                The tenant is suspended while its data is replaced by this backup&apos;s. A safety backup of the current data is taken
                first; the tenant&apos;s database role, password and Secret are kept. Pending schema migrations are applied if the backup is
                older.
              </div>
              <div className="field">
                <label htmlFor="restore-confirm">
                  Type <code>{backup.tenant}</code> to confirm
                </label>
                <input
                  id="restore-confirm"
                  value={confirm}
                  onChange={(e) => setConfirm(e.target.value)}
                  spellCheck={false}
                  autoComplete="off"
                  data-testid="restore-confirm"
                />
              </div>
            </>
          )}
        </div>
      ) : (
        <>
          <StepList steps={live} planned={run.state === 'running' ? (mode === 'clone' ? CLONE_STEPS : IN_PLACE_STEPS) : []} />
          {run.state !== 'running' && (
            <div className={`callout ${run.state === 'done' ? 'callout-ok' : 'callout-err'}`} data-testid={`restore-${run.state}`}>
              {run.message}
            </div>
          )}
        </>
      )}
    </Modal>
  );
}
