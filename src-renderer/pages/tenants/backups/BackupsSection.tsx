import { useEffect, useState } from 'react';
import type { BackupSummary } from '../../../../src-shared/contract/backups';
import { client } from '../../../client';
import { ConfirmTyped } from '../../../components/ConfirmTyped';
import { useInvoke } from '../../../lib/use-invoke';
import { ago, exactTime } from '../../../lib/format';
import { useApp } from '../../../stores/app';
import { useReadOnly } from '../../../stores/cluster';
import { toastError, toastSuccess } from '../../../stores/toasts';
import { REASON_LABEL, VerifiedBadge, bytes } from './format';
import { DownloadDialog } from './ArchiveDialogs';
import { RestoreDialog } from './RestoreDialog';
import { ScheduleCard } from './ScheduleCard';

/** Tenant → Backups: list (size, age, verified state, who), take, verify, restore, download, schedule and retention. */
export default function BackupsSection({ slug }: { slug: string }) {
  const status = useInvoke('backups.status', {}, slug);
  const list = useInvoke('backups.list', { slug }, slug);
  const schedules = useInvoke('backups.schedules.list', {}, slug);
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const [busy, setBusy] = useState<string | null>(null);
  const [verifyAfter, setVerifyAfter] = useState(true);
  const [restoring, setRestoring] = useState<BackupSummary | null>(null);
  const [deleting, setDeleting] = useState<BackupSummary | null>(null);
  const [download, setDownload] = useState<BackupSummary | null>(null);

  useEffect(
    () =>
      client.subscribe('backups.changed', (e) => {
        if (e.tenant === slug || e.tenant === null) void list.reload();
      }),
    [slug, list.reload],
  );

  const configured = status.data?.configured ?? false;
  const take = async () => {
    setBusy('take');
    try {
      const r = await client.invoke('backups.take', { slug, verify: verifyAfter });
      const res = r.results[0];
      if (res?.ok) toastSuccess('Backup taken', `${res.backup?.id}${verifyAfter ? ' — verified by a restore' : ''}`);
      else toastError('Backup failed', { code: 'UNAVAILABLE', message: res?.error ?? 'unknown error' });
    } catch (e) {
      toastError('Backup failed', e);
    } finally {
      setBusy(null);
      await list.reload();
    }
  };
  const verify = async (b: BackupSummary) => {
    setBusy(`verify-${b.id}`);
    try {
      const r = await client.invoke('backups.verify', { backupId: b.id });
      if (r.verification.state === 'passed') toastSuccess('Backup verified', r.verification.message ?? undefined);
      else toastError('Verification failed', { code: 'VALIDATION', message: r.verification.message ?? 'unknown reason' });
    } catch (e) {
      toastError('Could not verify', e);
    } finally {
      setBusy(null);
      await list.reload();
    }
  };
  const remove = async (b: BackupSummary, confirm: string) => {
    setDeleting(null);
    try {
      await client.invoke('backups.delete', { backupId: b.id, confirm });
      toastSuccess('Backup deleted', b.id);
    } catch (e) {
      toastError('Could not delete the backup', e);
    } finally {
      await list.reload();
    }
  };

  const backups = list.data?.backups ?? [];
  const all = schedules.data?.schedules ?? [];
  return (
    <div style={{ display: 'flex', flexDirection: 'column', gap: 16 }} data-testid="backups-section">
      {status.data && !configured && (
        <div className="callout callout-warn" data-testid="backups-not-configured">
          {status.data.reason} <a href="#/backups">Set up backups</a>
        </div>
      )}
      <section className="card">
        <header className="card-header">
          <h2>Backups</h2>
          <span className="muted">{status.data ? status.data.target.description : ''}</span>
          <span className="spacer" />
          <label className="check">
            <input type="checkbox" checked={verifyAfter} onChange={(e) => setVerifyAfter(e.target.checked)} /> verify after
          </label>
          <button
            className="btn btn-primary"
            disabled={!configured || busy !== null || readOnly}
            onClick={() => void take()}
            data-testid="backup-take"
          >
            {busy === 'take' ? 'Backing up…' : 'Take backup'}
          </button>
        </header>
        <div className="card-body flush">
          {list.error && <div className="callout callout-err">{list.error.message}</div>}
          {list.data?.fromCache && (
            <div className="callout callout-warn">The catalog in gatehouse_control is unreachable: this is the local copy.</div>
          )}
          {backups.length === 0 && !list.loading ? (
            <div className="empty-state muted" data-testid="backups-empty">
              No backups of this tenant yet.
            </div>
          ) : (
            <table className="table" data-testid="backups-table">
              <thead>
                <tr>
                  <th>Taken</th>
                  <th>Why</th>
                  <th>Who</th>
                  <th className="num">Size</th>
                  <th className="num">Rows</th>
                  <th>Verified</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {backups.map((b) => (
                  <tr key={b.id} data-testid={`backup-row-${b.id}`}>
                    <td title={`${exactTime(b.createdAt)}\n${b.id}\nmanifest sha256 ${b.manifestSha256}`}>
                      {ago(b.createdAt)}
                      <div className="cell-sub mono">{b.id}</div>
                    </td>
                    <td>
                      <span className="tag">{REASON_LABEL[b.reason]}</span>
                      {b.imported && <span className="tag">imported</span>}
                      {b.note && (
                        <div className="cell-sub truncate" title={b.note}>
                          {b.note}
                        </div>
                      )}
                    </td>
                    <td className="truncate">{b.actor}</td>
                    <td className="num">{bytes(b.storedBytes)}</td>
                    <td className="num">{b.rows.toLocaleString()}</td>
                    <td>
                      <VerifiedBadge b={b} />
                    </td>
                    <td>
                      <span className="row">
                        <button
                          className="btn btn-small"
                          disabled={busy !== null || readOnly}
                          onClick={() => void verify(b)}
                          data-testid={`backup-verify-${b.id}`}
                        >
                          {busy === `verify-${b.id}` ? 'Verifying…' : 'Verify'}
                        </button>
                        <button
                          className="btn btn-small"
                          disabled={busy !== null || readOnly}
                          onClick={() => setRestoring(b)}
                          data-testid={`backup-restore-${b.id}`}
                        >
                          Restore…
                        </button>
                        <button
                          className="btn btn-small"
                          disabled={busy !== null || readOnly}
                          onClick={() => setDownload(b)}
                          data-testid={`backup-download-${b.id}`}
                        >
                          Download…
                        </button>
                        {role === 'admin' && (
                          <button
                            className="btn btn-small btn-danger"
                            disabled={busy !== null || readOnly}
                            onClick={() => setDeleting(b)}
                            title="Delete this backup"
                          >
                            Delete
                          </button>
                        )}
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </section>
      <ScheduleCard scope={slug} schedules={all} reload={schedules.reload} inherited={all.find((s) => s.scope === '*') ?? null} />
      {restoring && <RestoreDialog backup={restoring} onClose={() => setRestoring(null)} onDone={() => void list.reload()} />}
      {deleting && (
        <ConfirmTyped
          title={`Delete backup ${deleting.id}`}
          expected={deleting.id}
          action="Delete backup"
          onClose={() => setDeleting(null)}
          onConfirm={(t) => void remove(deleting, t)}
        >
          <div className="callout callout-err">
            The backup is removed from storage and the catalog.{deleting.verification.state === 'passed' && ' It is a verified backup.'}
          </div>
        </ConfirmTyped>
      )}
      {download && <DownloadDialog backup={download} onClose={() => setDownload(null)} />}
    </div>
  );
}
