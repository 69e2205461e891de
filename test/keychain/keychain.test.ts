// The real OS keychain (Secret Service through gnome-keyring on Linux). Run with
// `sh scripts/with-keyring.sh npx vitest run --project keychain`, which starts a
// private D-Bus session with an unlocked keyring.
import { Entry } from '@napi-rs/keyring';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KEYCHAIN_SERVICE, osKeychain } from '../../src-main/adapters/keychain';
import { probeKeychain, SecretStoreManager, SECRET_FILE_NAME } from '../../src-main/engine/secrets-store/manager';

const inKeyringSession = process.env.GATEHOUSE_KEYRING_SESSION === '1';
const keychain = osKeychain();
const probe = await probeKeychain(keychain);
if (probe && !inKeyringSession) {
  console.warn(`keychain tests skipped: no Secret Service answers here (${probe}). Run them through scripts/with-keyring.sh.`);
}

const hasSecretTool = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v secret-tool'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-keychain-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe.skipIf(probe !== null && !inKeyringSession)('OS keychain (real Secret Service)', () => {
  it('answers the probe inside the keyring session', () => {
    expect(probe).toBeNull();
  });

  it('is chosen by the secret store manager and really stores in the Secret Service', async () => {
    const manager = new SecretStoreManager({ dataDir, keychain });
    expect(await manager.status()).toMatchObject({ kind: 'keychain', locked: false });
    const store = await manager.store();
    const key = `pg-admin-password:test-${randomBytes(4).toString('hex')}`;
    const value = `pw-${randomBytes(8).toString('hex')}`;
    await store.set(key, value);

    // read back outside our code: a fresh @napi-rs/keyring Entry, and libsecret's CLI
    expect(new Entry(KEYCHAIN_SERVICE, key).getPassword()).toBe(value);
    if (hasSecretTool) {
      const looked = execFileSync('secret-tool', ['lookup', 'service', KEYCHAIN_SERVICE, 'username', key], { encoding: 'utf8' });
      expect(looked.trim()).toBe(value);
    } else {
      console.warn('secret-tool (libsecret-tools) is not installed: checked through a new Entry only');
    }
    expect(await store.get(key)).toBe(value);
    // nothing went to the encrypted-file fallback
    expect(fs.existsSync(path.join(dataDir, SECRET_FILE_NAME))).toBe(false);

    await store.delete(key);
    expect(await store.get(key)).toBeNull();
    expect(new Entry(KEYCHAIN_SERVICE, key).getPassword()).toBeNull();
  });

  it('overwrites in place and deleting a missing key is not an error', async () => {
    const key = `pg-admin-password:test-${randomBytes(4).toString('hex')}`;
    await keychain.set(key, 'one');
    await keychain.set(key, 'two');
    expect(await keychain.get(key)).toBe('two');
    expect(await keychain.delete(key)).toBe(true);
    expect(await keychain.delete(key)).toBe(false);
  });
});
