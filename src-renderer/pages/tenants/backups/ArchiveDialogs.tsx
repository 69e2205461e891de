import { useState } from 'react';
import type { CommandInput, CommandOutput } from '../../../../src-shared/contract';
import { client } from '../../../client';
import { Modal } from '../../../components/Modal';
import { ago } from '../../../lib/format';
import { useInvoke } from '../../../lib/use-invoke';
import { toastError, toastSuccess } from '../../../stores/toasts';
import { bytes } from './format';

type Location = CommandInput<'backups.download'>['destination'];
type BackupSummary = CommandOutput<'backups.list'>['backups'][number];
const SUFFIX = '.gatehouse-backup.tar';

/**
 * Where a downloaded archive goes: the desktop app asks with the native dialog (opened by
 * the engine); browser mode offers the export roots and one file name, never a path.
 */
export function DownloadDialog({ backup, onClose }: { backup: BackupSummary; onClose(): void }) {
  const places = useInvoke('backups.archives', {});
  const [root, setRoot] = useState('');
  const [name, setName] = useState(`${backup.tenant}-${backup.id}${SUFFIX}`);
  const [busy, setBusy] = useState(false);
  const roots = places.data?.roots ?? [];
  const chosen = roots.find((r) => r.id === (root || roots[0]?.id));
  const run = async (destination: Location) => {
    setBusy(true);
    try {
      const r = await client.invoke('backups.download', { backupId: backup.id, destination });
      if (!r.written) return; // the dialog was cancelled
      toastSuccess('Backup written', `${r.path} (${bytes(r.bytes)}, manifest sha256 ${r.manifestSha256.slice(0, 16)}…)`);
      onClose();
    } catch (e) {
      toastError('Could not write the backup file', e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      title="Download backup"
      onClose={onClose}
      testId="download-dialog"
      footer={
        <>
          <button className="btn" onClick={onClose}>
            Cancel
          </button>
          {chosen && (
            <button
              className="btn btn-primary"
              disabled={busy || !/\.tar$/.test(name.trim())}
              onClick={() => void run({ kind: 'folder', root: chosen.id, name: name.trim() })}
              data-testid="download-start"
            >
              {busy ? 'Writing…' : 'Write file'}
            </button>
          )}
        </>
      }
    >
      <p style={{ marginTop: 0 }}>
        The file is a tar archive of the backup as stored: still encrypted (age), with its manifest and a README on restoring it without
        Gatehouse. Import it on another site from Backups → Import.
      </p>
      {places.data?.dialog && (
        <p>
          <button className="btn btn-primary" disabled={busy} onClick={() => void run({ kind: 'dialog' })} data-testid="download-native">
            Choose where to save…
          </button>
        </p>
      )}
      {roots.length > 0 && (
        <>
          <div className="field">
            <label htmlFor="download-root">Export folder</label>
            <select id="download-root" value={chosen?.id ?? ''} onChange={(e) => setRoot(e.target.value)} data-testid="download-root">
              {roots.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.path}
                  {r.outsideDataDir ? ' (admin)' : ''}
                </option>
              ))}
            </select>
            <span className="field-hint">On the machine running the console. An admin adds folders under Audit log → Folders….</span>
          </div>
          <div className="field">
            <label htmlFor="download-name">File name</label>
            <input id="download-name" className="mono" value={name} onChange={(e) => setName(e.target.value)} data-testid="download-name" />
            <span className="field-hint">One name ending in .tar; it must not exist yet.</span>
          </div>
        </>
      )}
      {places.error && <p className="field-error">{places.error.message}</p>}
    </Modal>
  );
}

/** The archives an import can read: the native dialog (desktop app), or a file in the export roots. */
export function ImportArchivePicker({ disabled, onImport }: { disabled: boolean; onImport(source: Location): void }) {
  const places = useInvoke('backups.archives', {});
  const archives = (places.data?.roots ?? []).flatMap((r) => r.archives.map((a) => ({ ...a, root: r })));
  return (
    <div data-testid="import-picker">
      {places.data?.dialog && (
        <p>
          <button className="btn btn-primary" disabled={disabled} onClick={() => onImport({ kind: 'dialog' })} data-testid="import-native">
            Choose a backup file…
          </button>
        </p>
      )}
      {archives.length > 0 ? (
        <ul className="archive-list">
          {archives.map((a) => (
            <li key={`${a.root.id}/${a.name}`}>
              <button
                className="btn btn-small"
                disabled={disabled}
                onClick={() => onImport({ kind: 'folder', root: a.root.id, name: a.name })}
                data-testid={`import-${a.name}`}
              >
                Import
              </button>{' '}
              <span className="mono">{a.name}</span>{' '}
              <span className="muted">
                in {a.root.path} · {bytes(a.bytes)} · {ago(a.modifiedAt)}
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted" data-testid="import-none">
          No backup archive ({SUFFIX}) in the export folders ({(places.data?.roots ?? []).map((r) => r.path).join(', ') || '…'}). Copy the
          file there
          {places.data?.dialog ? ', or choose it with the dialog' : ''}.
        </p>
      )}
      {places.error && <p className="field-error">{places.error.message}</p>}
    </div>
  );
}
