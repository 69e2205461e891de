import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pgSslOptions, scramSha256Verifier } from '../../../src-main/adapters/postgres';
import { openLocalStore, type Sqlite } from '../../../src-main/adapters/sqlite';
import { clustersMigrations, ProfileStore } from '../../../src-main/engine/clusters/profiles';
import { SecretStoreManager } from '../../../src-main/engine/secrets-store/manager';
import { makeCa, makeServerCert } from './tls-certs';

const pki = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-pki-'));
const ca = makeCa(pki, 'ca');
const otherCa = makeCa(pki, 'other-ca');
const serverForIp = makeServerCert(pki, ca, 'db-ip', 'IP:127.0.0.1');
const serverForName = makeServerCert(pki, ca, 'db-name', 'DNS:db.elsewhere.example');
afterAll(() => fs.rmSync(pki, { recursive: true, force: true }));

describe('profile credentials are bound to their target', () => {
  let dir: string;
  let db: Sqlite;
  let secrets: SecretStoreManager;
  let store: ProfileStore;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-profile-'));
    db = openLocalStore(dir, clustersMigrations).db;
    secrets = new SecretStoreManager({
      dataDir: dir,
      keychain: null,
      prefer: 'encrypted-file',
      kdf: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
    });
    await secrets.unlock('test passphrase');
    store = new ProfileStore(db, secrets);
  });
  afterEach(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const target = { host: 'db.internal', port: 5432, user: 'gatehouse_admin', database: 'postgres' };
  const save = (database: Parameters<ProfileStore['save']>[0]['database']) =>
    store.save({ clusterId: 'prod', namespace: 'iam-system', database, expectedOffline: false });
  const storedPassword = async () => (await secrets.store()).get('pg-admin-password:prod');

  it('a profile retargeted to another host, port, user, database or TLS setting does not take the stored password there', async () => {
    for (const change of [
      { host: 'db.attacker.example' },
      { port: 6543 },
      { user: 'postgres' },
      { database: 'other' },
      { sslMode: 'require' as const, allowInsecureTls: true },
      { caPem: otherCa.pem },
    ]) {
      await save({ ...target, caPem: ca.pem, password: 'Pg-Admin-Secret-1' });
      expect(await storedPassword()).toBe('Pg-Admin-Secret-1');
      const after = await save({ ...target, caPem: ca.pem, ...change });
      expect({ change, dropped: after.passwordDropped, hasPassword: after.hasPassword }).toEqual({
        change,
        dropped: true,
        hasPassword: false,
      });
      expect(await storedPassword()).toBeNull();
      await expect(store.pgAdmin('prod')).rejects.toMatchObject({ code: 'VALIDATION', details: { reason: 'pg-password-missing' } });
    }
    // the same target saved again keeps it; a new password with the new target is stored
    await save({ ...target, caPem: ca.pem, password: 'Pg-Admin-Secret-2' });
    expect(await save({ ...target, caPem: ca.pem })).toMatchObject({ passwordDropped: false, hasPassword: true });
    expect(await save({ ...target, host: 'db2.internal', caPem: ca.pem, password: 'Pg-Admin-Secret-3' })).toMatchObject({
      passwordDropped: false,
      hasPassword: true,
    });
    expect(await storedPassword()).toBe('Pg-Admin-Secret-3');
  });

  it('TLS defaults to verify-full with the profile CA; require and disable need the explicit choice', async () => {
    const saved = await save({ ...target, caPem: ca.pem, password: 'p' });
    expect(saved.database).toMatchObject({ sslMode: 'verify-full', caPem: expect.stringContaining('BEGIN CERTIFICATE') });
    expect(await store.pgAdmin('prod')).toMatchObject({ ssl: { mode: 'verify-full', ca: expect.stringContaining('BEGIN CERTIFICATE') } });
    await expect(save({ ...target, sslMode: 'disable' })).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(/unencrypted/),
    });
    await expect(save({ ...target, sslMode: 'require' })).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(/does not verify/),
    });
    expect(store.get('prod').database?.sslMode).toBe('verify-full'); // refused saves changed nothing
    await save({ ...target, sslMode: 'disable', allowInsecureTls: true, password: 'p' });
    expect(await store.pgAdmin('prod')).toMatchObject({ ssl: false });
  });

  it('refuses a CA that is not a CA certificate, or not a certificate at all', async () => {
    await expect(save({ ...target, caPem: serverForIp.pem })).rejects.toMatchObject({
      code: 'VALIDATION',
      details: { fields: { 'database.caPem': expect.stringMatching(/not a CA/) } },
    });
    await expect(
      save({ ...target, caPem: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----' }),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});

/** A TLS server presenting `cert`; the client connects with the options the adapter gives node-postgres. */
async function handshake(server: { cert: string; key: string }, options: ReturnType<typeof pgSslOptions>): Promise<'connected' | string> {
  const srv = tls.createServer({ cert: fs.readFileSync(server.cert), key: fs.readFileSync(server.key) }, (s) => s.end());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    return await new Promise((resolve) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port: (srv.address() as AddressInfo).port, ...(options as tls.ConnectionOptions) },
        () => {
          socket.destroy();
          resolve('connected');
        },
      );
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
  } finally {
    srv.close();
  }
}

describe('the PostgreSQL adapter honours the TLS mode (node-postgres ssl options)', () => {
  it('verify-full connects only to a server whose certificate chains to the profile CA and names the host', async () => {
    expect(await handshake(serverForIp, pgSslOptions({ mode: 'verify-full', ca: ca.pem }, '127.0.0.1'))).toBe('connected');
    expect(await handshake(serverForIp, pgSslOptions({ mode: 'verify-full', ca: otherCa.pem }, '127.0.0.1'))).toMatch(
      /SELF_SIGNED|UNABLE_TO_VERIFY|unable to get/i,
    );
    // a certificate for another name: refused however the CA matches
    expect(await handshake(serverForName, pgSslOptions({ mode: 'verify-full', ca: ca.pem }, '127.0.0.1'))).toBe(
      'ERR_TLS_CERT_ALTNAME_INVALID',
    );
    // no CA in the profile: the system's roots, which do not include a private CA
    expect(await handshake(serverForIp, pgSslOptions({ mode: 'verify-full' }, '127.0.0.1'))).not.toBe('connected');
  });

  it('require encrypts without verifying; disable is no TLS at all', async () => {
    expect(await handshake(serverForName, pgSslOptions({ mode: 'require' }, '127.0.0.1'))).toBe('connected');
    expect(pgSslOptions(false, '127.0.0.1')).toBe(false);
    expect(pgSslOptions({ mode: 'verify-full', ca: ca.pem }, 'h')).toMatchObject({
      rejectUnauthorized: true,
      ca: ca.pem,
      checkServerIdentity: expect.any(Function),
    });
  });
});

describe('SCRAM-SHA-256 verifiers (RFC 5802 / RFC 7677)', () => {
  it('derives StoredKey and ServerKey so the RFC 7677 exchange for "pencil" verifies', async () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const verifier = await scramSha256Verifier('pencil', { salt, iterations: 4096 });
    const m = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(verifier);
    expect(m?.[1]).toBe('W22ZaJ0SNY7soEsUEjb6gQ==');
    const storedKey = Buffer.from(m![2]!, 'base64');
    const serverKey = Buffer.from(m![3]!, 'base64');
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
    // the server signature of RFC 7677 section 3
    expect(createHmac('sha256', serverKey).update(authMessage).digest('base64')).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    // and the client proof of the RFC verifies against StoredKey, as the server checks it
    const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const signature = createHmac('sha256', storedKey).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]!));
    expect(createHash('sha256').update(clientKey).digest().equals(storedKey)).toBe(true);
  });

  it('uses a fresh salt each time and refuses what SASLprep would change', async () => {
    const [a, b] = await Promise.all([scramSha256Verifier('Same-Password-1'), scramSha256Verifier('Same-Password-1')]);
    expect(a).not.toBe(b);
    expect(a).not.toContain('Same-Password-1');
    await expect(scramSha256Verifier('pässword\u00a0')).rejects.toThrow(/printable-ASCII/);
  });
});
