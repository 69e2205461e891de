import { describe, expect, it } from 'vitest';
import { chainEntry, ChainVerifier, GENESIS_HASH } from '../../../src-main/engine/audit/chain';
import type { StoredRow } from '../../../src-main/engine/audit/local-copy';
import { InstallationKey, parseVkey, signCheckpoint } from '../../../src-main/engine/audit/signing';
import { verifyLog, type VerifyInput } from '../../../src-main/engine/audit/verify';
import { compareWithWitness } from '../../../src-main/engine/audit/witness';
import { memorySecrets, record } from './helpers';

const ORIGIN = 'gatehouse/audit/test-log';

function rows(n: number, at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString()): StoredRow[] {
  const out: StoredRow[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const { entry, canonical } = chainEntry(record({ at: at(i) }), i, prev);
    out.push([i, entry.hash, canonical]);
    prev = entry.hash;
  }
  return out;
}

const lookup = (r: StoredRow[]) => ({
  hashes: async (from: number, to: number) => new Map(r.filter((x) => x[0] >= from && x[0] <= to).map((x) => [x[0], x[1]])),
});

async function run(over: Partial<VerifyInput> & { rows: StoredRow[] }) {
  const { rows: r, ...rest } = over;
  return (
    await verifyLog({
      source: 'cluster:test',
      readFrom: 'shared',
      batches: [r],
      start: { seq: 1, prevHash: GENESIS_HASH },
      origin: ORIGIN,
      checkpoints: [],
      trusted: [],
      policy: { maxEntriesWithoutCheckpoint: 50, maxCheckpointAgeMs: 3600_000 },
      timeOf: (seq) => (JSON.parse(r[seq - 1]![2]) as { at: string }).at,
      now: new Date(Date.UTC(2026, 0, 1) + 200_000),
      ...rest,
    })
  ).report;
}

describe('verification over stored canonical bytes', () => {
  it('accepts an intact chain without re-canonicalising, and names an edited, a re-hashed and a moved entry', () => {
    const r = rows(10);
    const walk = (x: StoredRow[]) => {
      const v = new ChainVerifier();
      for (const [s, h, c] of x) if (!v.pushStored(s, h, c)) break;
      return v;
    };
    expect(walk(r).fault).toBeNull();
    expect(walk(r).checked).toBe(10);
    const edited = r.map((x) => [...x] as StoredRow);
    edited[4]![2] = edited[4]![2].replace('local:alice', 'local:mallory');
    expect(walk(edited).fault).toMatchObject({ seq: 5, problem: 'hash-mismatch' });
    // the text claims another position than its row
    const moved = r.map((x) => [...x] as StoredRow);
    moved[3] = [4, r[4]![1], r[4]![2]];
    expect(walk(moved).fault).toMatchObject({ seq: 4, problem: 'broken-link' });
    const gap = r.filter((x) => x[0] !== 7);
    expect(walk(gap).fault).toMatchObject({ seq: 7, problem: 'missing-entry' });
  });
});

describe('verification policy and checkpoint sources', () => {
  it('a long log with no checkpoint by an enrolled key is unverifiable, not OK', async () => {
    const r = rows(60);
    const stranger = await InstallationKey.load(memorySecrets());
    const report = await run({
      rows: r,
      checkpoints: [
        { where: 'database', primary: true, notes: [{ size: 40, note: signCheckpoint(stranger, ORIGIN, 40, r[39]![1]).note }] },
      ],
    });
    expect(report).toMatchObject({ state: 'unverifiable', ok: false, problem: 'no-trusted-checkpoint', checked: 60 });
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'checkpoint-unknown-signer', seq: 40, severity: 'warning' }));
  });

  it('entries waiting longer than T after the newest trusted checkpoint make it unverifiable', async () => {
    const key = await InstallationKey.load(memorySecrets());
    const r = rows(20, (i) => new Date(Date.UTC(2026, 0, 1) + i * 600_000).toISOString()); // one every 10 min
    const cp = signCheckpoint(key, ORIGIN, 5, r[4]![1]).note;
    const base = {
      rows: r,
      trusted: [parseVkey(key.verifier.vkey)],
      checkpoints: [{ where: 'database', primary: true, notes: [{ size: 5, note: cp }] }],
    };
    const late = await run({ ...base, now: new Date(Date.UTC(2026, 0, 1) + 20 * 600_000) });
    expect(late).toMatchObject({ state: 'unverifiable', problem: 'stale-checkpoint', trustedCheckpoint: { size: 5 } });
    const fresh = await run({ ...base, policy: { maxEntriesWithoutCheckpoint: 50, maxCheckpointAgeMs: 24 * 3600_000 } });
    expect(fresh).toMatchObject({ state: 'verified', ok: true, checkpointsChecked: 1 });
  });

  it('names the checkpoint source that disagrees, and checkpoints missing from the database', async () => {
    const key = await InstallationKey.load(memorySecrets());
    const original = rows(30);
    const cp20 = signCheckpoint(key, ORIGIN, 20, original[19]![1]).note;
    // the database owner rewrote entry 12 and re-chained everything after it, and dropped the checkpoints
    const forged = original.slice(0, 11);
    let prev = forged[10]![1];
    for (let i = 12; i <= 30; i++) {
      const { entry, canonical } = chainEntry(record({ actor: i === 12 ? 'local:mallory' : 'local:alice' }), i, prev);
      forged.push([i, entry.hash, canonical]);
      prev = entry.hash;
    }
    const report = await run({
      rows: forged,
      trusted: [parseVkey(key.verifier.vkey)],
      checkpoints: [
        { where: 'database', primary: true, notes: [] },
        { where: 'Kubernetes ConfigMap iam-system/gatehouse-audit-checkpoints', notes: [{ size: 20, note: cp20 }] },
      ],
    });
    expect(report.state).toBe('tampered');
    expect(report.findings).toContainEqual(
      expect.objectContaining({
        kind: 'checkpoint-disagrees',
        seq: 20,
        where: 'Kubernetes ConfigMap iam-system/gatehouse-audit-checkpoints',
      }),
    );
    expect(report.findings).toContainEqual(
      expect.objectContaining({ kind: 'checkpoints-missing', range: { from: 20, to: 20 }, where: 'database' }),
    );
    // and the witness, comparing with the copy it kept, names the rewritten entry
    const f = await compareWithWitness(
      { seq: 30, head: original[29]![1] },
      { seq: 30, hash: forged[29]![1] },
      lookup(forged),
      lookup(original),
      'shared log',
    );
    expect(f).toMatchObject({ kind: 'entry-rewritten', seq: 12 });
  });

  it('the witness names a truncation with the missing range', async () => {
    const r = rows(30);
    const f = await compareWithWitness(
      { seq: 30, head: r[29]![1] },
      { seq: 24, hash: r[23]![1] },
      lookup(r.slice(0, 24)),
      lookup(r),
      'shared log',
    );
    expect(f).toMatchObject({ kind: 'log-truncated', seq: 25, range: { from: 25, to: 30 } });
    expect(f!.message).toMatch(/truncated after entry 24/);
    expect(
      await compareWithWitness({ seq: 24, head: r[23]![1] }, { seq: 30, hash: r[29]![1] }, lookup(r), lookup(r), 'shared log'),
    ).toBeNull();
  });
});
