import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as ref from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { decryptBuffer, generateIdentity, identityToRecipient, openHeader, parseIdentities } from '../../../src-main/engine/backups/age';
import { COPY_BLOCK } from '../../../src-main/engine/backups/copy-stream';
import { pooledIoBlocks, releaseBuffer } from '../../../src-main/engine/backups/reusable';
import { contentDigestStream, sealStream } from '../../../src-main/engine/backups/seal-worker';

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** The content checksum read off an age file: sha256 of its payload chunks' tags, in order. */
function tagsSha256(sealed: Buffer): string {
  const mac = sealed.indexOf('\n--- ');
  let at = sealed.indexOf('\n', mac + 1) + 1 + 16; // the header line ends, then the 16-byte nonce
  const h = crypto.createHash('sha256');
  while (at < sealed.length) {
    const end = Math.min(at + 64 * 1024 + 16, sealed.length);
    h.update(sealed.subarray(end - 16, end));
    at = end;
  }
  return h.digest('hex');
}

/** The data cut in pieces of the given sizes (cycled), each an unpooled buffer of its own. */
function piecesOf(data: Buffer, pieces: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(pieces[i % pieces.length]!, data.length - at);
    const own = Buffer.allocUnsafeSlow(n);
    data.copy(own, 0, at, at + n);
    chunks.push(own);
    at += n;
  }
  return chunks;
}

/** Runs the chunks through `t` and returns what came out. */
async function through(chunks: Buffer[], t: NodeJS.ReadWriteStream): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    t,
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return out;
}

/** The content checksum of `data` computed again under a sealed file's payload key (a verify's read-back), fed in `pieces`. */
async function digestAgain(sealed: Buffer, identity: string, data: Buffer, pieces: number[]) {
  const key = openHeader(sealed, parseIdentities([identity]))!.payloadKey;
  const d = contentDigestStream(key, { owned: true });
  expect(await through(piecesOf(data, pieces), d)).toEqual([]);
  return d.result!;
}

/** Feeds the data in pieces of the given sizes (cycled), each an unpooled buffer of its own when owned. */
async function seal(data: Buffer, pieces: number[], opts: { owned?: boolean; workers?: number } = {}) {
  const identity = generateIdentity();
  const chunks = piecesOf(data, pieces);
  const s = sealStream([identityToRecipient(identity)], opts);
  const sealed = Buffer.concat(await through(chunks, s));
  return { identity, sealed, result: s.result!, chunks };
}

// The worker seals the age STREAM itself (seal-worker.ts): its files must be the same age
// v1 files encryptStream writes, whatever the block boundaries, or backups would not open.
describe('sealing in a worker thread', () => {
  const K = 64 * 1024;
  const cases: [number, number[]][] = [
    [0, [1]],
    [1, [1]],
    [K - 1, [K - 1]],
    [K, [K]],
    [K + 1, [K + 1]],
    [4 * K, [4 * K]],
    [10 * K, [4 * K]],
    [10 * K + 7, [4 * K, 100, K - 3, 1, 3 * K + 5]],
    [300_001, [17, 1000, 50_000]],
  ];

  it.each(cases)('%i bytes in pieces %j: decrypts (age.ts and age-encryption), sums right', async (n, pieces) => {
    const data = crypto.randomBytes(n);
    for (let i = 0; i < n; i += 97) data[i] = 10;
    const { identity, sealed, result } = await seal(data, pieces, { owned: true });
    expect(await decryptBuffer(sealed, [identity])).toEqual(data);
    const d = new ref.Decrypter();
    d.addIdentity(identity);
    expect(Buffer.from(await d.decrypt(sealed))).toEqual(data);
    expect(result).toEqual({
      tagsSha256: tagsSha256(sealed),
      plainBytes: n,
      storedSha256: sha(sealed),
      storedBytes: sealed.length,
    });
  });

  // A verify seals its read-back with the file's payload key and compares the tags' sha256
  // (load.ts compareWithManifest): the same text must give the backup's checksum however
  // it arrives, and any other text a different one.
  it.each(cases)('%i bytes: the content checksum computed again from the same text matches, from any other text not', async (n, pieces) => {
    const data = crypto.randomBytes(n);
    const { identity, sealed, result } = await seal(data, pieces, { owned: true });
    for (const again of [pieces, [1 + (n % 9_999)], [K], [3 * K + 1]]) {
      expect(await digestAgain(sealed, identity, data, again)).toEqual({ tagsSha256: result.tagsSha256, plainBytes: n });
    }
    const others: Buffer[] = [Buffer.concat([data, Buffer.from('\n')])];
    if (n > 0) {
      const flipped = Buffer.from(data);
      flipped[n >> 1]! ^= 1;
      others.push(flipped, data.subarray(0, n - 1));
    }
    for (const other of others) expect((await digestAgain(sealed, identity, other, pieces)).tagsSha256).not.toBe(result.tagsSha256);
    // The same text sealed again (another file, another key) has a checksum of its own.
    const resealed = await seal(data, pieces);
    expect((await digestAgain(resealed.sealed, resealed.identity, data, pieces)).tagsSha256).toBe(resealed.result.tagsSha256);
    expect(resealed.result.tagsSha256).not.toBe(result.tagsSha256);
  });

  it('owned blocks are transferred (detached here), others and pool-sized ones copied (left intact)', async () => {
    const data = crypto.randomBytes(3 * K + 5);
    const owned = await seal(data, [K + 1], { owned: true });
    // three blocks of K + 1 and one of 2 bytes: an ArrayBuffer that small could be Buffer's pool, never transferred
    expect(owned.chunks.map((c) => c.buffer.byteLength)).toEqual([0, 0, 0, 2]);
    expect(await decryptBuffer(owned.sealed, [owned.identity])).toEqual(data);
    const copied = await seal(data, [K + 1], { owned: false });
    expect(Buffer.concat(copied.chunks)).toEqual(data);
    expect(await decryptBuffer(copied.sealed, [copied.identity])).toEqual(data);
  });

  it('many streams at once over a pool of two workers stay apart', async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => crypto.randomBytes(200_000 + i * 12_345));
    const runs = await Promise.all(inputs.map((d, i) => seal(d, [32_768 + i * 1000], { owned: true, workers: 2 })));
    for (const [i, r] of runs.entries()) {
      expect(await decryptBuffer(r.sealed, [r.identity])).toEqual(inputs[i]);
      expect(r.result.tagsSha256).toBe(tagsSha256(r.sealed));
    }
  });

  it('memory is used again: COPY-sized blocks come back to the copy pool, released output goes back to the worker, nothing is corrupted', async () => {
    const before = pooledIoBlocks();
    for (let round = 0; round < 4; round++) {
      const data = crypto.randomBytes(3 * COPY_BLOCK + 1000 * round);
      const blocks: Buffer[] = [];
      for (let at = 0; at < data.length; at += COPY_BLOCK) {
        const b = Buffer.allocUnsafeSlow(COPY_BLOCK);
        const n = data.copy(b, 0, at, at + COPY_BLOCK);
        blocks.push(b.subarray(0, n));
      }
      const identity = generateIdentity();
      const s = sealStream([identityToRecipient(identity)], { owned: true });
      const out: Buffer[] = [];
      const released: Buffer[] = [];
      await pipeline(
        Readable.from(blocks),
        s,
        new Writable({
          write(c: Buffer, _e, cb) {
            out.push(Buffer.from(c)); // a copy: the original's memory goes back now
            releaseBuffer(c);
            released.push(c);
            cb();
          },
        }),
      );
      // released sealed output was transferred back to its worker (detached here)
      expect(released.filter((c) => c.length > 100_000).every((c) => c.buffer.byteLength === 0)).toBe(true);
      expect(await decryptBuffer(Buffer.concat(out), [identity])).toEqual(data);
      expect(s.result!.tagsSha256).toBe(tagsSha256(Buffer.concat(out)));
    }
    // every block was COPY-sized: they came back, up to the pool's bound
    expect(pooledIoBlocks()).toBeGreaterThan(before);
  });

  it('a failing source destroys the stream without leaving the worker unusable', async () => {
    const s = sealStream([identityToRecipient(generateIdentity())], { owned: true });
    const source = new Readable({
      read() {
        this.push(Buffer.allocUnsafeSlow(100_000));
        this.destroy(new Error('server went away'));
      },
    });
    await expect(pipeline(source, s, new Writable({ write: (_c, _e, cb) => cb() }))).rejects.toThrow(/server went away/);
    const data = crypto.randomBytes(150_000);
    const again = await seal(data, [70_000], { owned: true });
    expect(await decryptBuffer(again.sealed, [again.identity])).toEqual(data);
  });
});

const ageBin = [process.env.GATEHOUSE_AGE_BIN, path.join(os.homedir(), '.cache/gatehouse-age/bin/age')].find((p) => p && fs.existsSync(p));
describe.skipIf(!ageBin)('the age CLI opens what the worker seals', () => {
  it('age -d decrypts a multi-block file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-seal-'));
    const data = crypto.randomBytes(700_001);
    const { identity, sealed } = await seal(data, [256 * 1024, 1234], { owned: true });
    fs.writeFileSync(path.join(dir, 'key.txt'), `${identity}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'x.age'), sealed);
    expect(Buffer.from(execFileSync(ageBin!, ['-d', '-i', path.join(dir, 'key.txt'), path.join(dir, 'x.age')]))).toEqual(data);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
