import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ref from 'age-encryption';
import {
  AgeError,
  bech32Decode,
  decryptBuffer,
  encryptBuffer,
  generateIdentity,
  identityToRecipient,
  parseIdentityFile,
} from '../../../src-main/engine/backups/age';

// age-encryption (Filippo Valsorda's TypeScript implementation) is the reference: files
// written here must open there and the other way round, or operators could not use `age`.
describe('age v1 format over node:crypto', () => {
  const sizes = [0, 1, 100, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 2 * 64 * 1024, 300_001];

  it('keys are the ones age-keygen and age-encryption understand', async () => {
    const identity = generateIdentity();
    expect(identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(await ref.identityToRecipient(identity)).toBe(identityToRecipient(identity));
    const theirs = await ref.generateX25519Identity();
    expect(identityToRecipient(theirs)).toBe(await ref.identityToRecipient(theirs));
  });

  it.each(sizes)('what we encrypt (%i bytes) the reference decrypts', async (n) => {
    const identity = generateIdentity();
    const data = crypto.randomBytes(n);
    const sealed = await encryptBuffer(data, [identityToRecipient(identity)]);
    const d = new ref.Decrypter();
    d.addIdentity(identity);
    expect(Buffer.from(await d.decrypt(sealed))).toEqual(data);
  });

  it.each(sizes)('what the reference encrypts (%i bytes) we decrypt', async (n) => {
    const identity = await ref.generateX25519Identity();
    const data = crypto.randomBytes(n);
    const e = new ref.Encrypter();
    e.addRecipient(await ref.identityToRecipient(identity));
    const sealed = Buffer.from(await e.encrypt(data));
    expect(await decryptBuffer(sealed, [identity])).toEqual(data);
  });

  it('refuses a wrong key, a modified header, a flipped payload bit, truncation and appended bytes', async () => {
    const identity = generateIdentity();
    const data = crypto.randomBytes(200_000);
    const sealed = await encryptBuffer(data, [identityToRecipient(identity)]);
    await expect(decryptBuffer(sealed, [generateIdentity()])).rejects.toThrow(/another key/);
    const header = Buffer.from(sealed);
    header[30]! ^= 1;
    await expect(decryptBuffer(header, [identity])).rejects.toThrow(AgeError);
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1000]! ^= 1;
    await expect(decryptBuffer(flipped, [identity])).rejects.toThrow(/authentication failed/);
    // cut exactly at a chunk boundary: the remaining chunks all decrypt, only the missing "last" flag gives it away
    const headerLength = sealed.indexOf('\n', sealed.indexOf('---')) + 1 + 16;
    await expect(decryptBuffer(sealed.subarray(0, headerLength + 2 * (65536 + 16)), [identity])).rejects.toThrow(AgeError);
    await expect(decryptBuffer(sealed.subarray(0, sealed.length - 1), [identity])).rejects.toThrow(AgeError);
    await expect(decryptBuffer(Buffer.concat([sealed, Buffer.from('x')]), [identity])).rejects.toThrow(AgeError);
    await expect(decryptBuffer(Buffer.from('PK\u0003\u0004 not age'), [identity])).rejects.toThrow(/not an age file/);
    await expect(decryptBuffer(Buffer.alloc(0), [identity])).rejects.toThrow(/empty file/);
  });

  it('reads identity files with comments, refuses what is not an identity', () => {
    const identity = generateIdentity();
    expect(parseIdentityFile(`# created: now\n# public key: ${identityToRecipient(identity)}\n\n${identity}\n`)).toEqual([identity]);
    expect(() => parseIdentityFile('AGE-SECRET-KEY-1QQQQ')).toThrow(AgeError);
    const r = identityToRecipient(identity);
    expect(() => bech32Decode(r.slice(0, -1) + (r.endsWith('q') ? 'p' : 'q'))).toThrow(/checksum/);
  });
});

// The real `age` CLI (filippo.io/age, built from the Go module proxy by .ci/run): what an operator would run in a disaster.
const ageBin = [process.env.GATEHOUSE_AGE_BIN, path.join(os.homedir(), '.cache/gatehouse-age/bin/age')].find((p) => p && fs.existsSync(p));
if (!ageBin) console.warn('age CLI not found (set GATEHOUSE_AGE_BIN or run .ci/run): the CLI interoperability test is skipped');
describe.skipIf(!ageBin)('the age CLI opens our files and we open its files', () => {
  it('age -d decrypts what we encrypt; we decrypt what age -r encrypts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-age-'));
    const identity = generateIdentity();
    fs.writeFileSync(path.join(dir, 'key.txt'), `# public key: ${identityToRecipient(identity)}\n${identity}\n`, { mode: 0o600 });
    const data = crypto.randomBytes(200_000);
    fs.writeFileSync(path.join(dir, 'x.age'), await encryptBuffer(data, [identityToRecipient(identity)]));
    const out = execFileSync(ageBin!, ['-d', '-i', path.join(dir, 'key.txt'), path.join(dir, 'x.age')]);
    expect(Buffer.from(out)).toEqual(data);
    fs.writeFileSync(path.join(dir, 'plain'), data);
    execFileSync(ageBin!, ['-r', identityToRecipient(identity), '-o', path.join(dir, 'y.age'), path.join(dir, 'plain')]);
    expect(await decryptBuffer(fs.readFileSync(path.join(dir, 'y.age')), [identity])).toEqual(data);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
