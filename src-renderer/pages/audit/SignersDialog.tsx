import { useState } from 'react';
import { client } from '../../client';
import { ConfirmTyped } from '../../components/ConfirmTyped';
import { CopyButton } from '../../components/CopyButton';
import { Modal } from '../../components/Modal';
import { useInvoke } from '../../lib/use-invoke';
import { toastError, toastSuccess } from '../../stores/toasts';

/**
 * Who this console trusts to sign checkpoints. Keys found in shared logs are listed as
 * unenrolled: an admin enrolls one only after comparing its fingerprint with the other
 * console's owner (phone, in person), and types it here.
 */
export function SignersDialog({ isAdmin, onClose, onChanged }: { isAdmin: boolean; onClose(): void; onChanged(): void }) {
  const signers = useInvoke('audit.signers', {});
  const [vkey, setVkey] = useState('');
  const [fp, setFp] = useState('');
  const [busy, setBusy] = useState(false);
  const [removing, setRemoving] = useState<string | null>(null);
  const s = signers.data;
  const enroll = async () => {
    setBusy(true);
    try {
      const r = await client.invoke('audit.signers.enroll', { vkey: vkey.trim(), fingerprint: fp.trim() });
      toastSuccess('Signer enrolled', `${r.name} · ${r.fingerprint}`);
      setVkey('');
      setFp('');
      await signers.reload();
      onChanged();
    } catch (e) {
      toastError('The signer was not enrolled', e);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (name: string) => {
    try {
      await client.invoke('audit.signers.remove', { name, confirm: name });
      toastSuccess('Signer removed', name);
      setRemoving(null);
      await signers.reload();
      onChanged();
    } catch (e) {
      toastError('The signer was not removed', e);
    }
  };
  return (
    <Modal title="Checkpoint signers" onClose={onClose} wide testId="audit-signers-dialog">
      {s && (
        <>
          <h3>This installation</h3>
          <p>
            <code>{s.own.name}</code> <span className="audit-fingerprint">{s.own.fingerprint}</span>{' '}
            <CopyButton value={s.own.vkey} label="Copy key" />
          </p>
          <p className="muted">Give the key to other consoles' admins and auditors, and tell them the fingerprint by another channel.</p>
          <h3>Enrolled</h3>
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Fingerprint</th>
                <th>Trusted because</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {s.enrolled.map((e) => (
                <tr key={e.vkey} data-testid={`signer-${e.name}`}>
                  <td>
                    <code>{e.name}</code>
                  </td>
                  <td className="audit-fingerprint">{e.fingerprint}</td>
                  <td>{e.via === 'own' ? 'this installation' : e.via === 'endorsed' ? e.enrolledBy : `enrolled by ${e.enrolledBy}`}</td>
                  <td>
                    {isAdmin && e.via === 'admin' && (
                      <button className="btn btn-small" onClick={() => setRemoving(e.name)}>
                        Remove…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Seen in shared logs, not enrolled</h3>
          {s.unenrolled.length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <table className="table">
              <tbody>
                {s.unenrolled.map((u) => (
                  <tr key={u.vkey} data-testid={`unenrolled-${u.name}`}>
                    <td>
                      <code>{u.name}</code> <span className="badge badge-warn">unenrolled</span>
                    </td>
                    <td className="audit-fingerprint">{u.fingerprint}</td>
                    <td className="muted">{u.seenIn}</td>
                    <td>
                      {isAdmin && (
                        <button className="btn btn-small" onClick={() => setVkey(u.vkey)}>
                          Enroll…
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {isAdmin && (
            <>
              <h3>Enroll a key</h3>
              <div className="field">
                <label htmlFor="enroll-vkey">Signer key</label>
                <input
                  id="enroll-vkey"
                  value={vkey}
                  onChange={(e) => setVkey(e.target.value)}
                  spellCheck={false}
                  data-testid="enroll-vkey"
                />
              </div>
              <div className="field">
                <label htmlFor="enroll-fp">Fingerprint, as the key's owner read it to you</label>
                <input
                  id="enroll-fp"
                  value={fp}
                  onChange={(e) => setFp(e.target.value)}
                  spellCheck={false}
                  placeholder="SHA256:…"
                  data-testid="enroll-fingerprint"
                />
              </div>
              <button
                className="btn btn-primary"
                disabled={busy || !vkey.trim() || !fp.trim()}
                onClick={() => void enroll()}
                data-testid="enroll-submit"
              >
                Enroll
              </button>
            </>
          )}
        </>
      )}
      {signers.error && <p className="field-error">{signers.error.message}</p>}
      {removing && (
        <ConfirmTyped
          title="Remove signer"
          expected={removing}
          action="Remove"
          onClose={() => setRemoving(null)}
          onConfirm={() => void remove(removing)}
        >
          <p>Checkpoints signed only by {removing} will no longer count here.</p>
        </ConfirmTyped>
      )}
    </Modal>
  );
}
