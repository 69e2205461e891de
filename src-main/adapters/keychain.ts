import { AsyncEntry } from '@napi-rs/keyring';

/** The OS keychain (macOS Keychain, Windows Credential Manager, Secret Service on Linux). */
export interface Keychain {
  get(account: string): Promise<string | null>;
  set(account: string, value: string): Promise<void>;
  /** True when something was deleted. */
  delete(account: string): Promise<boolean>;
}

export const KEYCHAIN_SERVICE = 'gatehouse';

/**
 * @napi-rs/keyring entries under one service name. The async entry keeps a slow
 * or prompting Secret Service from freezing the main process, and every call has
 * a deadline so a keychain that never answers reads as "unavailable".
 */
export function osKeychain(service = KEYCHAIN_SERVICE, timeoutMs = 10_000): Keychain {
  const entry = (account: string) => new AsyncEntry(service, account);
  return {
    get: (account) => entry(account).getPassword(AbortSignal.timeout(timeoutMs)),
    set: (account, value) => entry(account).setPassword(value, AbortSignal.timeout(timeoutMs)),
    delete: (account) => entry(account).deleteCredential(AbortSignal.timeout(timeoutMs)),
  };
}
