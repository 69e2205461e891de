import { ContractError } from '../../../src-shared/contract';

/** Where operator credentials (database admin passwords…) live. Never SQLite, never logs. */
export interface SecretStore {
  readonly kind: 'keychain' | 'encrypted-file';
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Raised when the encrypted file is still locked: the operator must give the passphrase. */
export function secretsLockedError(): ContractError {
  return new ContractError(
    'UNAVAILABLE',
    'The secret store is locked. Unlock it with your passphrase (Settings → Secret store, or set GATEHOUSE_SECRET_PASSPHRASE) and try again.',
    { reason: 'secrets-locked' },
  );
}

/** Keys are namespaced by purpose so a keychain listing says what each entry is for. */
export const pgAdminPasswordKey = (clusterId: string) => `pg-admin-password:${clusterId}`;
