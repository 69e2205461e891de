import crypto from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as ref from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { AgeError, decryptStream, encryptBuffer, generateIdentity, identityToRecipient } from '../../../src-main/engine/backups/age';
import { IO_BLOCK, pooledIoBlocks, takeIoBlock } from '../../../src-main/engine/backups/reusable';
import { openStream } from '../../../src-main/engine/backups/seal-worker';

// A restore's table data is opened in a worker thread (openStream); everything else with
// decryptStream on the main thread. Both must give the same bytes, or refuse with the same
// error, for any file and any way its bytes arrive.

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** Feeds `file` in pieces of the given sizes (cycled); `owned`: each piece in an ArrayBuffer of its own. */
async function run(make: () => NodeJS.ReadWriteStream, file: Buffer, pieces: number[], owned: boolean) {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < file.length; i++) {
    const n = Math.min(pieces[i % pieces.length]!, file.length - at);
    const own = owned ? Buffer.allocUnsafeSlow(n) : Buffer.alloc(n);
    file.copy(own, 0, at, at + n);
    chunks.push(own);
    at += n;
  }
  const out: Buffer[] = [];
  const t = make();
  try {
    await pipeline(
      Readable.from(chunks),
      t,
      new Writable({
        write(c: Buffer, _e, cb) {
          out.push(Buffer.from(c));
          cb();
        },
      }),
    );
    return { ok: Buffer.concat(out), stream: t };
  } catch (error) {
    return { error: error as Error, stream: t };
  }
}

describe('openStream (worker) against decryptStream (main thread)', () => {
  const identity = generateIdentity();
  const K = 64 * 1024 + 16;
  const cases: [string, number][] = [
    ['empty plaintext', 0],
    ['one byte', 1],
    ['one full chunk', 64 * 1024],
    ['a chunk and a byte', 64 * 1024 + 1],
    ['several chunks', 5 * 64 * 1024 + 123],
    ['more than a block', IO_BLOCK + 77_777],
  ];

  it.each(cases)('%s: same bytes, stored sha256 and size reported, for every way the bytes arrive', async (_n, size) => {
    const data = crypto.randomBytes(size);
    const file = await encryptBuffer(data, [identityToRecipient(identity)]);
    for (const [pieces, owned] of [
      [[file.length], true],
      [[7, 100, K - 3, K, K + 1, 1], true],
      [[IO_BLOCK], true],
      [[33], false],
    ] as [number[], boolean][]) {
      const r = await run(() => openStream([identity], { owned }), file, pieces, owned);
      expect(r.error, `pieces ${pieces}`).toBeUndefined();
      expect(r.ok!.equals(data), `pieces ${pieces}`).toBe(true);
      expect((r.stream as ReturnType<typeof openStream>).result).toEqual({
        plainBytes: size,
        storedSha256: sha(file),
        storedBytes: file.length,
      });
    }
    // and what the reference implementation wrote opens too
    const e = new ref.Encrypter();
    e.addRecipient(identityToRecipient(identity));
    const theirs = Buffer.from(await e.encrypt(data));
    expect((await run(() => openStream([identity], { owned: true }), theirs, [50_000], true)).ok!.equals(data)).toBe(true);
  });

  it('refuses exactly what decryptStream refuses, with the same AgeError', async () => {
    const data = crypto.randomBytes(300_000);
    const sealed = await encryptBuffer(data, [identityToRecipient(identity)]);
    const headerLength = sealed.indexOf('\n', sealed.indexOf('---')) + 1 + 16;
    const flip = (at: number) => {
      const b = Buffer.from(sealed);
      b[at]! ^= 1;
      return b;
    };
    const emptyLast = await encryptBuffer(crypto.randomBytes(64 * 1024), [identityToRecipient(identity)]);
    const bad: [string, Buffer, string[]][] = [
      ['wrong key', sealed, [generateIdentity()]],
      ['modified header', flip(30), [identity]],
      ['flipped payload bit', flip(sealed.length - 1000), [identity]],
      ['flipped bit in the first chunk', flip(headerLength + 5), [identity]],
      ['cut at a chunk boundary', sealed.subarray(0, headerLength + 2 * K), [identity]],
      ['cut by one byte', sealed.subarray(0, sealed.length - 1), [identity]],
      ['cut inside the last tag', sealed.subarray(0, headerLength + 4 * K + 5), [identity]],
      ['appended byte', Buffer.concat([sealed, Buffer.from('x')]), [identity]],
      ['not age', Buffer.from('PK\u0003\u0004 not age'), [identity]],
      ['empty', Buffer.alloc(0), [identity]],
      ['header only', sealed.subarray(0, headerLength - 3), [identity]],
      ['header and nonce, no payload', sealed.subarray(0, headerLength), [identity]],
      ['an empty last chunk appended', Buffer.concat([emptyLast.subarray(0, emptyLast.length), Buffer.alloc(16)]), [identity]],
    ];
    for (const [what, file, ids] of bad) {
      for (const pieces of [[file.length || 1], [1000], [K]]) {
        const main = await run(() => decryptStream(ids), file, pieces, false);
        const worker = await run(() => openStream(ids, { owned: true }), file, pieces, true);
        expect(main.error, `${what} (main)`).toBeInstanceOf(AgeError);
        expect(worker.error, `${what} (worker), pieces ${pieces}`).toBeInstanceOf(AgeError);
        expect(worker.error!.message, `${what}, pieces ${pieces}`).toBe(main.error!.message);
      }
    }
  });

  it('the blocks it was given go back to the I/O pool', async () => {
    const data = crypto.randomBytes(3 * IO_BLOCK);
    const file = await encryptBuffer(data, [identityToRecipient(identity)]);
    const blocks: Buffer[] = [];
    for (let at = 0; at < file.length; at += IO_BLOCK) {
      const b = takeIoBlock();
      blocks.push(b.subarray(0, file.copy(b, 0, at, at + IO_BLOCK)));
    }
    const before = pooledIoBlocks();
    const out: Buffer[] = [];
    const s = openStream([identity], { owned: true });
    await pipeline(
      Readable.from(blocks),
      s,
      new Writable({
        write(c: Buffer, _e, cb) {
          out.push(Buffer.from(c));
          cb();
        },
      }),
    );
    expect(Buffer.concat(out).equals(data)).toBe(true);
    expect(blocks.every((b) => b.buffer.byteLength === 0)).toBe(true); // transferred
    expect(pooledIoBlocks()).toBeGreaterThan(before);
  });
});
