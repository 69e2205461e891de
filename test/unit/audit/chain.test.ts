import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  ChainVerifier,
  chainEntry,
  embeddedAt,
  embeddedPosition,
  entryHash,
  GENESIS_HASH,
  stripHash,
} from '../../../src-main/engine/audit/chain';
import { InstallationKey, openCheckpoint, parseVkey, signCheckpoint } from '../../../src-main/engine/audit/signing';
import type { AuditEntry } from '../../../src-shared/contract/audit';
import { memorySecrets, record } from './helpers';

function chain(n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const { entry } = chainEntry(record(), i, prev);
    out.push(entry);
    prev = entry.hash;
  }
  return out;
}

function verify(entries: AuditEntry[]) {
  const v = new ChainVerifier();
  for (const e of entries) if (!v.push(e)) break;
  return v;
}

describe('hash chain', () => {
  it('hashes RFC 8785 canonical JSON of every field but the hash, linked by prev_hash', () => {
    const [a, b] = chain(2) as [AuditEntry, AuditEntry];
    const canonical = canonicalJson(stripHash(a));
    // canonical form: sorted keys, no whitespace
    expect(canonical.startsWith('{"action":"tenants.create","actor":"local:alice","after":')).toBe(true);
    expect(canonical).not.toMatch(/\s"/);
    expect(a.hash).toBe(entryHash(GENESIS_HASH, canonical));
    expect(b.prev_hash).toBe(a.hash);
    expect(verify(chain(50)).fault).toBeNull();
  });

  it('names an edited entry', () => {
    const entries = chain(10);
    entries[4] = { ...entries[4]!, actor: 'local:mallory' };
    expect(verify(entries).fault).toMatchObject({ seq: 5, problem: 'hash-mismatch' });
  });

  it('names an edited entry whose hash was recomputed (the next one no longer links)', () => {
    const entries = chain(10);
    const forged = { ...stripHash(entries[4]!), outcome: 'failure' as const };
    entries[4] = { ...forged, hash: entryHash(forged.prev_hash, canonicalJson(forged)) };
    expect(verify(entries).fault).toMatchObject({ seq: 6, problem: 'broken-link' });
  });

  it('names a deleted entry', () => {
    const entries = chain(10);
    entries.splice(6, 1);
    expect(verify(entries).fault).toMatchObject({ seq: 7, problem: 'missing-entry' });
  });

  it('names an inserted entry', () => {
    const entries = chain(10);
    const { entry } = chainEntry(record({ actor: 'local:mallory' }), 4, entries[2]!.hash);
    entries.splice(3, 0, entry);
    // the intruder takes seq 4's place; the real seq 4 then appears again
    const v = verify(entries);
    expect(v.fault?.seq).toBe(4);
    expect(v.fault?.problem).toBe('unexpected-entry');
  });

  it('names reordered entries', () => {
    const entries = chain(10);
    [entries[2], entries[3]] = [entries[3]!, entries[2]!];
    expect(verify(entries).fault).toMatchObject({ seq: 3, problem: 'missing-entry' });
  });
});

describe('the position written inside a stored text', () => {
  it('embeddedAt says yes exactly when embeddedPosition gives that seq and a 64-digit prev_hash', () => {
    const h = 'ab'.repeat(32);
    const { canonical } = chainEntry(record({ target: 'tenant/"seq":9' }), 12, h);
    const texts = [
      canonical,
      canonical.replace('"seq":12', '"seq":012'),
      canonical.replace('"seq":12', '"seq":'),
      canonical.replace('"seq":12', '"seq":120'),
      canonical.replace('"seq":12', '"seq":1.2'),
      canonical.replace('"seq":12', '"seq":99999999999999999999'),
      canonical.replace('"prev_hash":"', '"prev_hash" :"'),
      canonical.replace(h, h.slice(0, 63)),
      canonical.replace(h, h.toUpperCase()),
      canonical.replace(/"seq":12.*$/, ''),
      '',
    ];
    for (const text of texts) {
      for (const [seq, prev] of [
        [12, h],
        [0, h],
        [120, h],
        [12, h.slice(0, 63)],
        [12, 'cd'.repeat(32)],
      ] as const) {
        const pos = embeddedPosition(text);
        expect(embeddedAt(text, seq, prev), `${text.slice(-120)} ${seq} ${prev}`).toBe(
          !!pos && pos.seq === seq && pos.prevHash === prev && prev.length === 64,
        );
      }
    }
    expect(embeddedAt(canonical, 12, h)).toBe(true);
  });
});

describe('signed checkpoints (C2SP signed note)', () => {
  it('signs origin, size and base64 root hash with the installation key and verifies it', async () => {
    const secrets = memorySecrets();
    const key = await InstallationKey.load(secrets);
    const again = await InstallationKey.load(secrets);
    expect(again.verifier.vkey).toBe(key.verifier.vkey); // kept in the secret store
    const head = chain(3)[2]!;
    const cp = signCheckpoint(key, 'gatehouse/audit/test', 3, head.hash);
    const lines = cp.note.split('\n');
    expect(lines[0]).toBe('gatehouse/audit/test');
    expect(lines[1]).toBe('3');
    expect(Buffer.from(lines[2]!, 'base64').toString('hex')).toBe(head.hash);
    expect(lines[3]).toBe('');
    expect(lines[4]).toMatch(new RegExp(`^\u2014 ${key.name} [A-Za-z0-9+/=]+$`));
    expect(Buffer.from(lines[4]!.split(' ')[2]!, 'base64')).toHaveLength(68); // key id (4) + Ed25519 signature (64)
    const opened = openCheckpoint(cp.note, [parseVkey(key.verifier.vkey)]);
    expect(opened).toMatchObject({ ok: true, headHashHex: head.hash });
  });

  it('refuses a forged checkpoint: altered body, or signed by an unknown key', async () => {
    const key = await InstallationKey.load(memorySecrets());
    const mallory = await InstallationKey.load(memorySecrets());
    const cp = signCheckpoint(key, 'o', 3, 'ab'.repeat(32));
    const altered = cp.note.replace('\n3\n', '\n4\n');
    expect(openCheckpoint(altered, [key.verifier])).toMatchObject({ ok: false, reason: 'bad-signature' });
    const forged = signCheckpoint(mallory, 'o', 3, 'ab'.repeat(32));
    expect(openCheckpoint(forged.note, [key.verifier])).toMatchObject({ ok: false, reason: 'unknown-signer' });
    expect(() => parseVkey(key.verifier.vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+'))).toThrow(/key id/);
  });
});
