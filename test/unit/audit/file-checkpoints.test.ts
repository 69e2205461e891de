// The checkpoint file (a folder outside the database owner's reach): appended only, read back
// with cosignatures merged, a torn last line ignored, an unwritable folder reported.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpointFileName, FileCheckpoints } from '../../../src-main/engine/audit/file-checkpoints';
import { cosign, InstallationKey, noteSignatures, signCheckpoint } from '../../../src-main/engine/audit/signing';
import { memorySecrets, tempDir } from './helpers';

const LOG = '0f3c9a7e-log';
const ORIGIN = `gatehouse/audit/${LOG}`;
const head = (n: number) => n.toString(16).padStart(64, '0');

describe('checkpoint file', () => {
  it('appends each new note once, never rewriting earlier lines, and reads them back', async () => {
    const dir = tempDir();
    const key = await InstallationKey.load(memorySecrets());
    const f = new FileCheckpoints(dir, () => new Date('2026-12-02T10:00:00Z'));
    expect(await f.read(LOG)).toBeNull();
    const a = signCheckpoint(key, ORIGIN, 100, head(1)).note;
    const b = signCheckpoint(key, ORIGIN, 200, head(2)).note;
    await f.publish(LOG, ORIGIN, [a]);
    const first = fs.readFileSync(path.join(dir, checkpointFileName(LOG)), 'utf8');
    await f.publish(LOG, ORIGIN, [a, b]);
    const text = fs.readFileSync(path.join(dir, checkpointFileName(LOG)), 'utf8');
    expect(text.startsWith(first)).toBe(true);
    expect(text.trim().split('\n')).toHaveLength(2);
    expect(JSON.parse(text.split('\n')[0]!)).toEqual({ at: '2026-12-02T10:00:00.000Z', origin: ORIGIN, note: a });
    expect(await f.read(LOG)).toEqual([a, b]);
    expect(f.where).toBe(`checkpoint file in ${dir}`);
  });

  it('merges a cosignature written as its own line with the note it cosigns', async () => {
    const dir = tempDir();
    const mine = await InstallationKey.load(memorySecrets());
    const other = await InstallationKey.load(memorySecrets());
    const f = new FileCheckpoints(dir);
    const note = signCheckpoint(mine, ORIGIN, 300, head(3)).note;
    await f.publish(LOG, ORIGIN, [note]);
    await f.publish(LOG, ORIGIN, [cosign(other, note)]);
    const [read] = (await f.read(LOG))!;
    expect(
      noteSignatures(read!)
        .map((s) => s.name)
        .sort(),
    ).toEqual([mine.name, other.name].sort());
  });

  it('ignores a torn last line (power lost mid-append) and lines that are not notes', async () => {
    const dir = tempDir();
    const key = await InstallationKey.load(memorySecrets());
    const f = new FileCheckpoints(dir);
    const note = signCheckpoint(key, ORIGIN, 10, head(4)).note;
    await f.publish(LOG, ORIGIN, [note]);
    fs.appendFileSync(path.join(dir, checkpointFileName(LOG)), '{"at":"x","note":"gatehouse/au');
    fs.appendFileSync(path.join(dir, checkpointFileName(LOG)), '\nnot json\n{"at":"y"}\n');
    expect(await f.read(LOG)).toEqual([note]);
  });

  it('says the folder is not writable (an unmounted share) instead of creating files elsewhere', async () => {
    const missing = path.join(tempDir(), 'share-not-mounted');
    const key = await InstallationKey.load(memorySecrets());
    const f = new FileCheckpoints(missing);
    await expect(f.publish(LOG, ORIGIN, [signCheckpoint(key, ORIGIN, 1, head(5)).note])).rejects.toThrow(
      /share-not-mounted is not writable here \(ENOENT\); check that the share is mounted/,
    );
    expect(fs.existsSync(missing)).toBe(false);
  });
});
