import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ContractError } from '../../../src-shared/contract';
import type { SecretsStatus } from '../../../src-shared/contract/clusters';
import type { Keychain } from '../../adapters/keychain';
import { EncryptedFileStore } from './encrypted-file';
import type { SecretStore } from './store';

export const SECRET_FILE_NAME = 'secrets.enc.json';

export interface SecretStoreOptions {
  dataDir: string;
  /** Null where no keychain library can load at all. */
  keychain: Keychain | null;
  /** `auto` probes the keychain and falls back to the file (GATEHOUSE_SECRET_STORE overrides). */
  prefer?: 'auto' | 'keychain' | 'encrypted-file';
  /** GATEHOUSE_SECRET_PASSPHRASE: unlocks the file without asking. */
  passphrase?: string;
  /** Lower argon2 costs for tests only. */
  kdf?: ConstructorParameters<typeof EncryptedFileStore>[1];
}

/** The OS keychain; a refusal after start (keychain locked, service gone) becomes a sentence to act on. */
class KeychainStore implements SecretStore {
  readonly kind = 'keychain' as const;
  constructor(private readonly keychain: Keychain) {}
  private async guard<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      throw new ContractError(
        'UNAVAILABLE',
        `The OS keychain could not ${what} (${describe(error)}). Unlock your keychain (or log in to the desktop session) and try again.`,
        { reason: 'keychain-unavailable' },
      );
    }
  }
  get(key: string) {
    return this.guard('read a secret', () => this.keychain.get(key));
  }
  set(key: string, value: string) {
    return this.guard('store a secret', () => this.keychain.set(key, value));
  }
  async delete(key: string) {
    await this.guard('delete a secret', () => this.keychain.delete(key));
  }
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, ' ').slice(0, 200);
}

/** A keychain that cannot store, read back and delete a throwaway entry is not usable (headless Linux: AccessDenied). */
export async function probeKeychain(keychain: Keychain): Promise<string | null> {
  const account = `probe:${process.pid}:${randomBytes(6).toString('hex')}`;
  const value = randomBytes(12).toString('hex');
  try {
    await keychain.set(account, value);
    const back = await keychain.get(account);
    await keychain.delete(account);
    return back === value ? null : 'the keychain did not return what was stored';
  } catch (error) {
    return describe(error);
  }
}

/**
 * Chooses the secret store once (lazily: probing can take a moment) and hands it
 * out. With the encrypted file, reads and writes fail with a "locked" error until
 * the passphrase is given.
 */
export class SecretStoreManager {
  private chosen: Promise<{ store: SecretStore; reason: string | null }> | null = null;
  private readonly file: EncryptedFileStore;
  /** Set when GATEHOUSE_SECRET_PASSPHRASE did not open the file. */
  warning: string | null = null;

  constructor(private readonly options: SecretStoreOptions) {
    this.file = new EncryptedFileStore(path.join(options.dataDir, SECRET_FILE_NAME), options.kdf);
  }

  private choose() {
    this.chosen ??= (async () => {
      const prefer = this.options.prefer ?? 'auto';
      let reason: string | null;
      if (prefer !== 'encrypted-file') {
        reason = this.options.keychain ? await probeKeychain(this.options.keychain) : 'no keychain library for this platform';
        if (reason === null && this.options.keychain) return { store: new KeychainStore(this.options.keychain), reason };
      } else {
        reason = 'the encrypted file was chosen by configuration (GATEHOUSE_SECRET_STORE)';
      }
      if (this.options.passphrase) {
        try {
          await this.file.unlock(this.options.passphrase);
        } catch (error) {
          this.warning = `GATEHOUSE_SECRET_PASSPHRASE did not unlock ${this.file.file}: ${describe(error)}`;
        }
      }
      return { store: this.file, reason };
    })();
    return this.chosen;
  }

  /** The store to use; reads and writes on a locked file throw the "unlock first" error. */
  async store(): Promise<SecretStore> {
    return (await this.choose()).store;
  }

  async status(): Promise<SecretsStatus> {
    const { store, reason } = await this.choose();
    if (store.kind === 'keychain') return { kind: 'keychain', locked: false, initialized: true, keychainUnavailableReason: null };
    return { kind: 'encrypted-file', locked: this.file.locked, initialized: this.file.initialized, keychainUnavailableReason: reason };
  }

  /**
   * Opens (or, with `mayCreate`, creates) the encrypted file; with the keychain in use there is
   * nothing to unlock. Creating chooses the passphrase of every stored credential: the caller
   * decides who may (admins, through secrets.unlock).
   */
  async unlock(passphrase: string, options: { mayCreate?: boolean } = {}): Promise<SecretsStatus> {
    const { store } = await this.choose();
    if (store.kind === 'encrypted-file') {
      // Checked and acted on in the same tick: EncryptedFileStore.unlock reads the file before its first await.
      if (!this.file.initialized && options.mayCreate === false) {
        throw new ContractError(
          'FORBIDDEN',
          'The secret file does not exist yet; creating it chooses the passphrase that protects every stored credential, so it needs the admin role. Ask an admin to create it.',
          { required: 'admin' },
        );
      }
      await this.file.unlock(passphrase);
      this.warning = null;
    }
    return this.status();
  }
}
