import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chainEntry, GENESIS_HASH } from '../../../src-main/engine/audit/chain';
import { bundleLine } from '../../../src-main/engine/audit/bundle';
import { readEntries, type ReadBatch } from '../../../src-main/engine/audit/bundle-reader';
import { record, tempDir } from './helpers';
import { createHash } from 'node:crypto';

async function readAll(file: string, startPrevHash: string, chunkBytes: number): Promise<{ batches: ReadBatch[]; fileSha256: string }> {
  const batches: ReadBatch[] = [];
  const it = readEntries(file, startPrevHash, chunkBytes);
  for (let n = await it.next(); ; n = await it.next()) {
    if (n.done) return { batches, fileSha256: n.value };
    batches.push(n.value);
  }
}

describe('bundle reader (worker thread)', () => {
  const entries = Array.from({ length: 40 }, () => null);
  let prev = GENESIS_HASH;
  const lines = entries.map((_, i) => {
    const { entry, canonical } = chainEntry(
      record({ params: i === 7 ? { tenant: 'zeta', note: 'ü'.repeat(300) } : { slug: `s${i}` }, target: i === 7 ? null : `tenant/s${i}` }),
      i + 1,
      prev,
    );
    prev = entry.hash;
    return { entry, canonical, line: bundleLine(entry.hash, canonical) };
  });
  const file = path.join(tempDir(), 'entries.jsonl');
  const text = lines.map((l) => l.line).join('\n') + '\n';
  fs.writeFileSync(file, text);

  it('reports every line in order across chunks, chained digests, columns and the file digest', async () => {
    // chunks smaller than one line (the 300 ü) and than a few lines
    for (const chunkBytes of [500, 4096, 4 << 20]) {
      const { batches, fileSha256 } = await readAll(file, GENESIS_HASH, chunkBytes);
      expect(fileSha256).toBe(createHash('sha256').update(text).digest('hex'));
      const flat = batches.flatMap((b) => b.canonical.map((c, i) => ({ b, i, c })));
      expect(flat.map((x) => x.c)).toEqual(lines.map((l) => l.canonical));
      for (const { b, i } of flat) {
        expect(b.state[i]).toBe(0);
        expect(b.digest[i]).toBe(b.hash[i]);
      }
      let head = GENESIS_HASH;
      for (const b of batches) {
        expect(b.first).toBe(head);
        head = b.hash[b.hash.length - 1]!;
      }
      const [b7, i7] = [flat[7]!.b, flat[7]!.i];
      expect(b7.columns.slice(i7 * 8, i7 * 8 + 8)).toEqual([
        'local:alice',
        'tenants.create',
        null,
        lines[7]!.entry.at,
        'success',
        'zeta',
        undefined,
        undefined,
      ]);
    }
  });

  it('marks what is not an entry line, and hashes the next line from the claimed hash before it', async () => {
    const broken = path.join(tempDir(), 'entries.jsonl');
    const edited = lines.map((l) => l.line);
    edited[3] = 'garbage';
    edited[5] = edited[5]!.replace('{"entry":{', '{"entry":{"x":,');
    fs.writeFileSync(broken, edited.join('\n') + '\n');
    const { batches } = await readAll(broken, GENESIS_HASH, 4 << 20);
    const b = batches[0]!;
    expect(b.state[3]).toBe(1);
    expect(b.state[5]).toBe(2);
    expect(b.digest[5]).not.toBe(b.hash[5]);
    expect(b.digest[6]).toBe(b.hash[6]);
  });

  it('fails (no batch) on a file it cannot read', async () => {
    await expect(readAll(path.join(tempDir(), 'missing.jsonl'), GENESIS_HASH, 4096)).rejects.toThrow(/ENOENT|no such file/);
  });
});
