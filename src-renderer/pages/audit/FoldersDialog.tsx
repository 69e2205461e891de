import { useState } from 'react';
import { client } from '../../client';
import { Modal } from '../../components/Modal';
import { useInvoke } from '../../lib/use-invoke';
import { toastError, toastSuccess } from '../../stores/toasts';

/**
 * Folders on the machine running the engine: the export roots bundles and backup archives
 * may be written to or read from (admin), and the one this cluster's signed checkpoints are
 * also appended to — a mounted share or WORM storage the database owner cannot rewrite.
 */
export function FoldersDialog({
  isAdmin,
  cluster,
  checkpointFolder,
  onClose,
  onChanged,
}: {
  isAdmin: boolean;
  /** The cluster whose checkpoint file is set here; null when no cluster is selected. */
  cluster: string | null;
  checkpointFolder: string | null;
  onClose(): void;
  onChanged(): void;
}) {
  const folders = useInvoke('audit.folders', {});
  const roots = folders.data?.roots ?? [];
  const added = roots.filter((r) => r.origin === 'admin');
  const [text, setText] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const draft = text ?? added.map((r) => r.path).join('\n');
  const saveRoots = async () => {
    setBusy(true);
    try {
      const paths = draft
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      await client.invoke('audit.folders.set', { roots: paths });
      toastSuccess('Export folders saved', paths.length ? paths.join(', ') : 'only the built-in folder');
      setText(null);
      await folders.reload();
      onChanged();
    } catch (e) {
      toastError('The export folders were not saved', e);
    } finally {
      setBusy(false);
    }
  };
  const setCheckpointFolder = async (root: string | null) => {
    setBusy(true);
    try {
      const r = await client.invoke('audit.witnessFile.set', { root });
      toastSuccess(
        r.folder ? 'Checkpoint file set' : 'Checkpoint file stopped',
        r.folder ? `${r.folder} · ${r.published} checkpoint(s) written` : 'checkpoints go to the database and the ConfigMap only',
      );
      onChanged();
    } catch (e) {
      toastError('The checkpoint file was not changed', e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title="Folders" onClose={onClose} wide testId="audit-folders-dialog">
      <h3>Export folders</h3>
      <p className="muted">
        Where bundles and backup archives may be written or read in browser mode, on the machine running the console. The built-in folder is
        always there.
      </p>
      <ul>
        {roots.map((r) => (
          <li key={r.id}>
            <code>{r.path}</code>{' '}
            <span className="muted">{r.origin === 'builtin' ? '(built-in)' : r.outsideDataDir ? '(outside the data folder)' : ''}</span>
          </li>
        ))}
      </ul>
      {isAdmin ? (
        <>
          <label className="field-label" htmlFor="audit-roots">
            Folders an admin added (absolute paths, one per line)
          </label>
          <textarea
            id="audit-roots"
            className="input"
            rows={4}
            value={draft}
            onChange={(e) => setText(e.target.value)}
            data-testid="audit-roots"
            spellCheck={false}
          />
          <div className="row">
            <button
              className="btn btn-primary"
              onClick={() => void saveRoots()}
              disabled={busy || text === null}
              data-testid="audit-roots-save"
            >
              Save folders
            </button>
          </div>
        </>
      ) : (
        <p className="muted">Only an admin adds folders.</p>
      )}
      <h3>Checkpoint file</h3>
      {cluster === null ? (
        <p className="muted">Select a cluster first: each cluster has its own checkpoint file.</p>
      ) : (
        <>
          <p className="muted">
            Every signed checkpoint of this cluster's log is also appended to a file in one of the added folders — pick a mounted share or
            write-once storage the database owner cannot rewrite. Verification reads it with the ConfigMap and the witness and names the one
            that disagrees.
          </p>
          <p data-testid="audit-checkpoint-folder">
            {checkpointFolder ? (
              <>
                Writing to <code>{checkpointFolder}</code>
              </>
            ) : (
              'Not set: checkpoints go to the database, the ConfigMap and this console’s witness state.'
            )}
          </p>
          {isAdmin && added.length === 0 && <p className="muted">Add a folder above first.</p>}
          {isAdmin && added.length > 0 && (
            <div className="row row-wrap">
              {added.map((r) => (
                <button
                  key={r.id}
                  className="btn"
                  disabled={busy || r.path === checkpointFolder}
                  onClick={() => void setCheckpointFolder(r.id)}
                  data-testid={`audit-checkpoint-root-${r.id}`}
                >
                  Use {r.path}
                </button>
              ))}
              {checkpointFolder && (
                <button className="btn" disabled={busy} onClick={() => void setCheckpointFolder(null)} data-testid="audit-checkpoint-stop">
                  Stop writing the file
                </button>
              )}
            </div>
          )}
        </>
      )}
      {folders.error && <p className="field-error">{folders.error.message}</p>}
    </Modal>
  );
}
