import { useState } from 'react';
import type { CommandInput, CommandOutput } from '../../../src-shared/contract';
import { client, errorShape } from '../../client';
import { Modal } from '../../components/Modal';
import { ago } from '../../lib/format';
import { useInvoke } from '../../lib/use-invoke';
import { toastError, toastSuccess } from '../../stores/toasts';

type Location = CommandInput<'audit.export'>['destination'];
type Bundle = NonNullable<CommandOutput<'audit.import'>>;

const defaultName = () => `audit-${new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-')}`;

/**
 * Where a bundle goes: the desktop app asks with the native dialog (opened by the engine);
 * browser mode offers the export roots only (a root and one folder name, never a path).
 */
export function ExportDialog({ source, range, onClose }: { source: string; range: { from?: string; to?: string }; onClose(): void }) {
  const folders = useInvoke('audit.folders', {});
  const [root, setRoot] = useState<string>('');
  const [name, setName] = useState(defaultName);
  const [busy, setBusy] = useState(false);
  const roots = folders.data?.roots ?? [];
  const chosen = roots.find((r) => r.id === (root || roots[0]?.id));
  const run = async (destination: Location) => {
    setBusy(true);
    try {
      const r = await client.invoke('audit.export', { source, destination, from: range.from, to: range.to });
      if (r.written) {
        toastSuccess('Bundle written', `${r.count.toLocaleString()} entries to ${r.path}`);
        onClose();
      }
    } catch (e) {
      toastError('Export failed', e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title="Export a signed bundle" onClose={onClose} testId="audit-export-dialog">
      <p className="muted">
        {source} {range.from || range.to ? 'in the chosen time range' : '(everything)'}: entries, the checkpoints they were verified against
        (cosigned by this console), and a manifest signed by this installation.
      </p>
      {folders.data?.dialog && (
        <p>
          <button
            className="btn btn-primary"
            disabled={busy}
            onClick={() => void run({ kind: 'dialog' })}
            data-testid="audit-export-native"
          >
            Choose where to save…
          </button>
        </p>
      )}
      {roots.length > 0 && (
        <>
          <div className="field">
            <label htmlFor="export-root">Export folder</label>
            <select id="export-root" value={chosen?.id ?? ''} onChange={(e) => setRoot(e.target.value)} data-testid="audit-export-root">
              {roots.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.path}
                  {r.outsideDataDir ? ' (admin)' : ''}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="export-name">New folder name</label>
            <input id="export-name" value={name} onChange={(e) => setName(e.target.value)} data-testid="audit-export-name" />
            <span className="field-hint">Created inside the export folder; it must not exist yet.</span>
          </div>
          <div className="modal-footer-inline">
            <button className="btn" onClick={onClose}>
              Cancel
            </button>{' '}
            <button
              className="btn btn-primary"
              disabled={busy || !chosen || !name.trim()}
              onClick={() => chosen && void run({ kind: 'folder', root: chosen.id, name: name.trim() })}
              data-testid="audit-export-submit"
            >
              {busy ? 'Writing…' : 'Export'}
            </button>
          </div>
        </>
      )}
      {folders.error && <p className="field-error">{folders.error.message}</p>}
    </Modal>
  );
}

/** Opens a bundle for offline review; a signer that is not enrolled here needs an admin and the fingerprint received out of band. */
export function ImportDialog({ isAdmin, onClose, onImported }: { isAdmin: boolean; onClose(): void; onImported(b: Bundle): void }) {
  const folders = useInvoke('audit.folders', {});
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<{ message: string; fingerprint: string | null; location: Location } | null>(null);
  const [typed, setTyped] = useState('');
  const run = async (location: Location, trustFingerprint?: string) => {
    setBusy(true);
    try {
      const b = await client.invoke('audit.import', { location, trustFingerprint });
      if (!b) return;
      toastSuccess('Bundle verified and imported', `${b.count.toLocaleString()} entries`);
      onImported(b);
      onClose();
    } catch (e) {
      const shape = errorShape(e);
      const fp = shape.details?.fingerprint;
      setRefused({ message: shape.message, fingerprint: typeof fp === 'string' ? fp : null, location });
    } finally {
      setBusy(false);
    }
  };
  const bundles = (folders.data?.roots ?? []).flatMap((r) => r.bundles.map((b) => ({ ...b, root: r })));
  return (
    <Modal title="Import a bundle" onClose={onClose} testId="audit-import-dialog">
      {folders.data?.dialog && (
        <p>
          <button
            className="btn btn-primary"
            disabled={busy}
            onClick={() => void run({ kind: 'dialog' })}
            data-testid="audit-import-native"
          >
            Choose a bundle's manifest.json…
          </button>
        </p>
      )}
      {bundles.length > 0 ? (
        <ul className="audit-bundle-list">
          {bundles.map((b) => (
            <li key={`${b.root.id}/${b.name}`}>
              <button
                className="btn btn-small"
                disabled={busy}
                onClick={() => void run({ kind: 'folder', root: b.root.id, name: b.name })}
                data-testid={`audit-import-${b.name}`}
              >
                Import
              </button>{' '}
              {b.name}{' '}
              <span className="muted">
                in {b.root.path} · {ago(b.modifiedAt)}
              </span>
            </li>
          ))}
        </ul>
      ) : (
        !folders.data?.dialog && (
          <p className="muted">
            No bundle in the export folders. Copy the bundle folder into one of them: {folders.data?.roots.map((r) => r.path).join(', ')}
          </p>
        )
      )}
      {refused && (
        <div className="audit-refusal" role="alert" data-testid="audit-import-refused">
          <p className="field-error">{refused.message}</p>
          {refused.fingerprint &&
            (isAdmin ? (
              <div className="field">
                <label htmlFor="trust-fp">Fingerprint you received from the exporter (compare it; do not copy it from here)</label>
                <input
                  id="trust-fp"
                  value={typed}
                  onChange={(e) => setTyped(e.target.value)}
                  spellCheck={false}
                  data-testid="audit-trust-fingerprint"
                />
                <span className="field-hint">{refused.location.kind === 'dialog' ? 'You will be asked for the bundle again.' : ''}</span>
                <button
                  className="btn"
                  disabled={!typed.trim() || busy}
                  onClick={() => void run(refused.location, typed.trim())}
                  data-testid="audit-import-trusted"
                >
                  Import with this fingerprint
                </button>
              </div>
            ) : (
              <p className="muted">An admin can import it after comparing the signer's fingerprint with the exporter.</p>
            ))}
        </div>
      )}
    </Modal>
  );
}
