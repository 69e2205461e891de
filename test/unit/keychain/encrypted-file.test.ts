import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EncryptedFileStore } from '../../../src-main/engine/secrets-store/encrypted-file';
import { SecretStoreManager, probeKeychain } from '../../../src-main/engine/secrets-store/manager';
import type { Keychain } from '../../../src-main/adapters/keychain';
import { ContractError } from '../../../src-shared/contract';

// The real argon2id parameters (64 MiB, t=3): each derivation takes a fraction of a second.
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-secrets-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function rejection(p: Promise<unknown>): Promise<ContractError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(ContractError);
    return error as ContractError;
  }
  throw new Error('expected a rejection');
}

describe('encrypted secret file', () => {
  it('stores, reads back after reopening, and never writes the value in clear', async () => {
    const file = path.join(dir, 'secrets.enc.json');
    const store = new EncryptedFileStore(file);
    await store.unlock('correct horse battery');
    await store.set('pg-admin-password:a', 'S3cret-value!');
    await store.set('pg-admin-password:b', 'other');
    await store.delete('pg-admin-password:b');
    expect(await store.get('pg-admin-password:a')).toBe('S3cret-value!');
    expect(fs.readFileSync(file, 'utf8')).not.toContain('S3cret-value!');
    expect(fs.statSync(file).mode & 0o077).toBe(0);

    const reopened = new EncryptedFileStore(file);
    expect(reopened.locked).toBe(true);
    await reopened.unlock('correct horse battery');
    expect(await reopened.get('pg-admin-password:a')).toBe('S3cret-value!');
    expect(await reopened.get('pg-admin-password:b')).toBeNull();
    expect(fs.readdirSync(dir)).toEqual(['secrets.enc.json']); // no temp files left behind
  });

  it('uses a fresh nonce for every write', async () => {
    const file = path.join(dir, 's.json');
    const store = new EncryptedFileStore(file);
    await store.unlock('passphrase-1');
    await store.set('k', 'v');
    const first = JSON.parse(fs.readFileSync(file, 'utf8')).nonce;
    await store.set('k', 'v');
    const second = JSON.parse(fs.readFileSync(file, 'utf8')).nonce;
    expect(first).not.toBe(second);
  });

  it('refuses reads while locked with an error saying to unlock', async () => {
    const store = new EncryptedFileStore(path.join(dir, 's.json'));
    const error = await rejection(store.get('k'));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/locked.*unlock/i);
    expect(error.message).toContain('GATEHOUSE_SECRET_PASSPHRASE');
  });

  it('tells a wrong passphrase apart from a tampered file', async () => {
    const file = path.join(dir, 's.json');
    const store = new EncryptedFileStore(file);
    await store.unlock('right passphrase');
    await store.set('k', 'value');

    const wrong = await rejection(new EncryptedFileStore(file).unlock('wrong passphrase'));
    expect(wrong.code).toBe('VALIDATION');
    expect(wrong.message).toMatch(/passphrase does not open/);

    const body = JSON.parse(fs.readFileSync(file, 'utf8'));
    const ct = Buffer.from(body.ciphertext, 'base64');
    ct[0] = (ct[0] ?? 0) ^ 0x01;
    fs.writeFileSync(file, JSON.stringify({ ...body, ciphertext: ct.toString('base64') }));
    const tampered = await rejection(new EncryptedFileStore(file).unlock('right passphrase'));
    expect(tampered.message).toMatch(/altered or damaged/);
    // an already-unlocked store notices too
    const read = await rejection(store.get('k'));
    expect(read.message).toMatch(/altered or damaged/);
  });

  it('detects a tampered header (bound as additional data)', async () => {
    const file = path.join(dir, 's.json');
    const store = new EncryptedFileStore(file);
    await store.unlock('right passphrase');
    const body = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...body, version: 1, format: 'gatehouse-secrets', tag: Buffer.alloc(16).toString('base64') }));
    expect((await rejection(store.get('x'))).message).toMatch(/altered or damaged/);
    fs.writeFileSync(file, '{not json');
    expect((await rejection(store.get('x'))).message).toMatch(/not valid JSON/);
  });
});

describe('secret store choice', () => {
  const broken: Keychain = {
    get: () => Promise.reject(new Error("Couldn't access platform storage: AccessDenied")),
    set: () => Promise.reject(new Error("Couldn't access platform storage: AccessDenied")),
    delete: () => Promise.reject(new Error('AccessDenied')),
  };
  const memory = (): Keychain => {
    const m = new Map<string, string>();
    return {
      get: async (k) => m.get(k) ?? null,
      set: async (k, v) => void m.set(k, v),
      delete: async (k) => m.delete(k),
    };
  };

  it('falls back to the encrypted file when the keychain answers an error, and says why', async () => {
    expect(await probeKeychain(broken)).toMatch(/AccessDenied/);
    const manager = new SecretStoreManager({ dataDir: dir, keychain: broken });
    expect(await manager.status()).toMatchObject({ kind: 'encrypted-file', locked: true, initialized: false });
    expect((await manager.status()).keychainUnavailableReason).toMatch(/AccessDenied/);
    await expect((await manager.store()).get('k')).rejects.toThrow(/locked/);
    expect(await manager.unlock('a long passphrase')).toMatchObject({ locked: false, initialized: true });
    await (await manager.store()).set('k', 'v');
    expect(await (await manager.store()).get('k')).toBe('v');
  });

  it('uses a keychain that passes the probe and leaves no probe entry behind', async () => {
    const keychain = memory();
    const manager = new SecretStoreManager({ dataDir: dir, keychain });
    expect((await manager.status()).kind).toBe('keychain');
    const store = await manager.store();
    await store.set('k', 'v');
    expect(await keychain.get('k')).toBe('v');
    expect(fs.existsSync(path.join(dir, 'secrets.enc.json'))).toBe(false);
  });

  it('turns a keychain refusal after start into an UNAVAILABLE error saying what to do', async () => {
    const keychain = memory();
    const manager = new SecretStoreManager({ dataDir: dir, keychain });
    const store = await manager.store();
    keychain.get = () => Promise.reject(new Error('Platform secure storage failure: collection is locked'));
    const error = await rejection(store.get('k'));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/OS keychain could not read a secret \(.*collection is locked\)\. Unlock your keychain/);
  });

  it('unlocks from GATEHOUSE_SECRET_PASSPHRASE, and reports a wrong one as a warning', async () => {
    const first = new SecretStoreManager({ dataDir: dir, keychain: null, passphrase: 'env passphrase' });
    expect(await first.status()).toMatchObject({ kind: 'encrypted-file', locked: false });
    const wrong = new SecretStoreManager({ dataDir: dir, keychain: null, passphrase: 'not the one' });
    expect(await wrong.status()).toMatchObject({ locked: true });
    expect(wrong.warning).toMatch(/did not unlock/);
  });
});
