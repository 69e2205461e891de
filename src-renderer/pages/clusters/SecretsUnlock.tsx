import { useEffect, useState } from 'react';
import type { SecretsStatus } from '../../../src-shared/contract/clusters';
import { client } from '../../client';
import { toastError, toastSuccess } from '../../stores/toasts';
import { useApp } from '../../stores/app';
import { Icon } from '../../shell/Icon';

/**
 * Where no OS keychain answers (headless Linux), secrets go to a passphrase-encrypted
 * file that must be unlocked (or created) before a password can be stored.
 */
export function SecretsUnlock({ onChange }: { onChange?(s: SecretsStatus): void }) {
  const [status, setStatus] = useState<SecretsStatus | null>(null);
  const [passphrase, setPassphrase] = useState('');
  const [busy, setBusy] = useState(false);
  const role = useApp((s) => s.operator?.role);

  useEffect(() => {
    client.invoke('secrets.status', {}).then(
      (s) => {
        setStatus(s);
        onChange?.(s);
      },
      () => undefined,
    );
  }, []);

  if (!status) return null;
  if (status.kind === 'keychain') return <span className="field-hint">Secrets go to the OS keychain.</span>;
  if (!status.locked) return <span className="field-hint">Secrets go to the encrypted file (unlocked).</span>;
  if (!status.initialized && role !== 'admin') {
    // Creating the file chooses the passphrase of every stored credential: the engine allows it to admins only.
    return (
      <div className="callout callout-warn" data-testid="secrets-locked">
        <Icon name="key" size={14} /> No OS keychain here: secrets go to an encrypted file that does not exist yet. An admin must create it
        (choosing its passphrase) before credentials can be stored.
      </div>
    );
  }

  const unlock = async () => {
    setBusy(true);
    try {
      const s = await client.invoke('secrets.unlock', { passphrase });
      setStatus(s);
      onChange?.(s);
      setPassphrase('');
      toastSuccess(status.initialized ? 'Secret store unlocked' : 'Secret store created');
    } catch (e) {
      toastError('Could not unlock the secret store', e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="callout callout-warn" data-testid="secrets-locked">
      <div style={{ marginBottom: 6 }}>
        <Icon name="key" size={14} /> No OS keychain here{status.keychainUnavailableReason ? ` (${status.keychainUnavailableReason})` : ''}:
        secrets go to an encrypted file.{' '}
        {status.initialized ? 'Enter its passphrase to unlock it.' : 'Choose a passphrase to create it (at least 8 characters).'}
      </div>
      <div className="row">
        <input
          type="password"
          placeholder="Passphrase"
          value={passphrase}
          onChange={(e) => setPassphrase(e.target.value)}
          aria-label="Secret store passphrase"
          data-testid="secrets-passphrase"
          style={{ flex: 1 }}
        />
        <button
          type="button"
          className="btn"
          disabled={busy || passphrase.length < 8}
          onClick={() => void unlock()}
          data-testid="secrets-unlock"
        >
          {status.initialized ? 'Unlock' : 'Create'}
        </button>
      </div>
    </div>
  );
}
