import fs from 'node:fs';
import path from 'node:path';
import canonicalize from 'canonicalize';
import { afterEach, describe, expect, it } from 'vitest';
import { chainEntry, GENESIS_HASH } from '../../../src-main/engine/audit/chain';
import { bundleId, openManifest, verifyBundle } from '../../../src-main/engine/audit/bundle';
import { AuditService } from '../../../src-main/engine/audit/service';
import { fingerprint, InstallationKey, signCheckpoint } from '../../../src-main/engine/audit/signing';
import { ContractError } from '../../../src-shared/contract';
import type { AuditEntry } from '../../../src-shared/contract/audit';
import { memorySecrets, record, tempCache, tempDir } from './helpers';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function console_(): Promise<AuditService> {
  const { db, dir } = tempCache();
  const svc = new AuditService({ db, secrets: memorySecrets(), consoleVersion: '0.1.0' });
  cleanups.push(async () => {
    await svc.close();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return svc;
}

const SRC = 'cluster:prod';

/** A console whose local copy of cluster "prod" (log id "local") holds `n` chained entries and a checkpoint every 10. */
async function populated(n: number): Promise<AuditService> {
  const svc = await console_();
  svc.witness.bind('prod', 'local');
  const key = await svc.key();
  const entries: AuditEntry[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const { entry } = chainEntry(record({ actor: i % 2 ? 'local:alice' : 'oidc:idp:bob' }), i, prev);
    entries.push(entry);
    prev = entry.hash;
    if (i % 10 === 0) svc.local.addCheckpoint(SRC, i, signCheckpoint(key, 'gatehouse/audit/local', i, entry.hash).note);
  }
  svc.local.insert(SRC, entries);
  return svc;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function refusal(p: Promise<unknown>): Promise<ContractError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ContractError);
  return e as ContractError;
}

describe('audit bundles (export / offline import)', () => {
  it('exports everything, and another console with no cluster imports and verifies it', async () => {
    const source = await populated(45);
    const dir = path.join(tempDir(), 'bundle');
    const out = await source.export(SRC, dir, {});
    expect(out).toMatchObject({ count: 45, firstSeq: 1, lastSeq: 45 });
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    const key = await source.key();
    expect(manifest).toMatchObject({
      count: 45,
      first_seq: 1,
      last_seq: 45,
      signer: { vkey: key.verifier.vkey, fingerprint: fingerprint(key.verifier.vkey) },
    });
    expect(manifest.checkpoints.length).toBe(5); // 10,20,30,40 + the exporter's own at 45
    // each line holds the canonical text exactly as hashed
    const line = JSON.parse(fs.readFileSync(path.join(dir, 'entries.jsonl'), 'utf8').split('\n')[0]!);
    expect(Object.keys(line)).toEqual(['entry', 'hash']);

    const reviewer = await console_();
    // signer not enrolled and no fingerprint given: refused with the fingerprint named, nothing stored
    const unknown = await refusal(reviewer.import(dir));
    expect(unknown.message).toMatch(/not enrolled here/);
    expect(unknown.details).toMatchObject({ fingerprint: manifest.signer.fingerprint });
    expect(reviewer.bundles()).toHaveLength(0);

    const info = await reviewer.import(dir, manifest.signer.fingerprint);
    expect(info).toMatchObject({ count: 45, trustedBy: 'fingerprint' });
    const report = await reviewer.verify(`bundle:${info.id}`);
    expect(report).toMatchObject({ ok: true, state: 'verified', checked: 45, checkpointsChecked: 5 });
    const page = reviewer.query({ source: `bundle:${info.id}`, actor: 'oidc:idp:bob', limit: 10, order: 'newest', withTotal: true });
    expect(page.total).toBe(22);
    expect(page.entries[0]!.seq).toBe(44);
    // importing the same bundle again is idempotent
    expect((await reviewer.import(dir, manifest.signer.fingerprint)).id).toBe(info.id);
  });

  it('an imported bundle is filterable at once; its full-text index is built right after, and search says so meanwhile', async () => {
    const source = await populated(30);
    const dir = path.join(tempDir(), 'bundle');
    await source.export(SRC, dir, {});
    const reviewer = await console_();
    const info = await reviewer.import(dir, fingerprint((await source.key()).verifier.vkey));
    const q = { source: `bundle:${info.id}`, limit: 50, order: 'newest' as const, withTotal: true };
    expect(reviewer.query({ ...q, actor: 'local:alice' }).total).toBe(15);
    expect(() => reviewer.query({ ...q, text: 'alice' })).toThrow(/still being built \(0 of 30 entries\)/);
    await until(() => reviewer.local.fullTextProgress(`bundle:${info.id}`) === null);
    expect(reviewer.query({ ...q, text: 'alice' }).total).toBe(15);
  });

  it('an import the console never finished (it stopped mid-way) is dropped at the next start, never counted as imported', async () => {
    const source = await populated(30);
    const dir = path.join(tempDir(), 'bundle');
    await source.export(SRC, dir, {});
    const fp = fingerprint((await source.key()).verifier.vkey);
    const src = `bundle:${bundleId(openManifest(dir, [], fp).manifest)}`;
    const { db, dir: data } = tempCache();
    const secrets = memorySecrets();
    const first = new AuditService({ db, secrets, consoleVersion: '0.1.0' });
    // every row verified and committed, the bundle not yet registered: what a crash at the worst moment leaves on disk
    let stored!: () => void;
    const allStored = new Promise<void>((r) => (stored = r));
    void first.local.bulkLoad(src, async (store) => {
      await verifyBundle(dir, [], fp, store);
      stored();
      await new Promise(() => undefined); // the console stops here
    });
    await allStored;
    expect(first.local.count(src)).toBe(30);
    expect(first.bundles()).toHaveLength(0);
    await first.close();
    db.close();

    const reopened = tempCache(data);
    const second = new AuditService({ db: reopened.db, secrets, consoleVersion: '0.1.0' });
    cleanups.push(async () => {
      await second.close();
      reopened.db.close();
      fs.rmSync(data, { recursive: true, force: true });
    });
    expect(second.bundles()).toHaveLength(0);
    expect(second.local.sources()).not.toContain(src);
    expect(second.local.count(src)).toBe(0);
    const info = await second.import(dir, fp);
    expect(`bundle:${info.id}`).toBe(src);
    expect(await second.verify(src)).toMatchObject({ state: 'verified', checked: 30 });
  });

  it('is verified offline against the fingerprint the auditor was given, and only that one', async () => {
    const source = await populated(25);
    const dir = path.join(tempDir(), 'bundle');
    await source.export(SRC, dir, {});
    const fp = fingerprint((await source.key()).verifier.vkey);
    const auditor = await console_(); // never saw the cluster, enrolled nobody
    const wrong = await refusal(auditor.import(dir, fingerprint((await InstallationKey.load(memorySecrets())).verifier.vkey)));
    expect(wrong.message).toMatch(/not the one you gave/);
    const info = await auditor.import(dir, fp);
    const report = await auditor.verify(`bundle:${info.id}`);
    expect(report).toMatchObject({ state: 'verified', checked: 25, headSeq: 25, trustedCheckpoint: { size: 25 } });
    // its trust is for this bundle only: the signer is not enrolled
    expect((await auditor.signers()).enrolled.map((s) => s.vkey)).not.toContain((await source.key()).verifier.vkey);
  });

  it('a checkpoint in a bundle signed only by a key nobody trusts is kept but counts for nothing', async () => {
    const source = await populated(20);
    const mallory = await InstallationKey.load(memorySecrets());
    const key = await source.key();
    const dir = path.join(tempDir(), 'b');
    await source.export(SRC, dir, {});
    const last = JSON.parse(fs.readFileSync(path.join(dir, 'entries.jsonl'), 'utf8').trimEnd().split('\n')[9]!);
    resign(dir, key, (m) => {
      m.checkpoints = [signCheckpoint(mallory, m.origin, 10, last.hash).note];
    });
    const reviewer = await console_();
    const info = await reviewer.import(dir, fingerprint(key.verifier.vkey));
    const report = await reviewer.verify(`bundle:${info.id}`);
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'checkpoint-unknown-signer', seq: 10 }));
    expect(report.trustedCheckpoint).toBeNull();
  });

  it('exports a time range as a contiguous, verifiable slice', async () => {
    const source = await populated(30);
    const all = source.query({ source: SRC, limit: 100, order: 'oldest', withTotal: false }).entries;
    const dir = path.join(tempDir(), 'range');
    const out = await source.export(SRC, dir, { from: all[9]!.at, to: all[19]!.at });
    expect(out).toMatchObject({ count: 11, firstSeq: 10, lastSeq: 20 });
    const reviewer = await console_();
    const info = await reviewer.import(dir, fingerprint((await source.key()).verifier.vkey));
    expect((await reviewer.verify(`bundle:${info.id}`)).ok).toBe(true);
  });

  describe('tampered or broken bundles are refused with the reason, nothing stored', () => {
    const cases: [string, (dir: string) => void, RegExp][] = [
      [
        'an edited entry',
        (d) =>
          editLines(d, (l) => {
            l[4] = l[4]!.replace('local:alice', 'local:mallory');
          }),
        /entry 5 was changed/,
      ],
      [
        'a deleted entry',
        (d) =>
          editLines(d, (l) => {
            l.splice(6, 1);
          }),
        /entry 7 is missing/,
      ],
      [
        'reordered entries',
        (d) =>
          editLines(d, (l) => {
            [l[2], l[3]] = [l[3]!, l[2]!];
          }),
        /entry 3 is missing/,
      ],
      [
        'an inserted entry',
        (d) =>
          editLines(d, (l) => {
            l.splice(3, 0, l[3]!);
          }),
        /entry 4 appears again|entry 5/,
      ],
      [
        'a line that is not an entry',
        (d) =>
          editLines(d, (l) => {
            l[5] = 'not an entry';
          }),
        /line 6 of entries.jsonl is not an audit entry/,
      ],
      [
        'an entry whose hash is not hex',
        (d) =>
          editLines(d, (l) => {
            l[2] = l[2]!.replace(/"hash":"[0-9a-f]{64}"/, `"hash":"${'z'.repeat(64)}"`);
          }),
        /line 3 of entries.jsonl is not an audit entry/,
      ],
      ['a truncated file', (d) => truncate(path.join(d, 'entries.jsonl'), 200), /not an audit entry|digest|manifest says/],
      ['a malformed manifest', (d) => truncate(path.join(d, 'manifest.json'), 50), /not valid JSON/],
      [
        'a manifest that disagrees with its entries',
        (d) =>
          editManifest(d, (m) => {
            m.count = 99;
          }),
        /signature does not verify/,
      ],
    ];
    for (const [what, tamper, reason] of cases) {
      it(what, async () => {
        const source = await populated(20);
        const dir = path.join(tempDir(), 'b');
        await source.export(SRC, dir, {});
        tamper(dir);
        const reviewer = await console_();
        const e = await refusal(reviewer.import(dir, fingerprint((await source.key()).verifier.vkey)));
        expect(e.code).toBe('VALIDATION');
        expect(e.message).toMatch(reason);
        expect(e.message).toMatch(/Nothing was imported/);
        expect(reviewer.bundles()).toHaveLength(0);
        expect(reviewer.local.count()).toBe(0);
      });
    }

    it('a manifest re-signed by a key the reviewer trusts does not hide edited entries', async () => {
      const source = await populated(20);
      const dir = path.join(tempDir(), 'b');
      await source.export(SRC, dir, {});
      editLines(dir, (l) => {
        l[9] = l[9]!.replace('"pro"', '"free"');
      });
      const reviewer = await console_();
      const e = await refusal(reviewer.import(dir, fingerprint((await source.key()).verifier.vkey)));
      expect(e.details).toMatchObject({ firstBadSeq: 10, problem: 'hash-mismatch' });
    });

    it('a bundle re-signed by an unknown key', async () => {
      const source = await populated(20);
      const mallory = await InstallationKey.load(memorySecrets());
      const dir = path.join(tempDir(), 'b');
      await source.export(SRC, dir, {});
      resign(dir, mallory, () => undefined);
      const reviewer = await console_();
      const e = await refusal(reviewer.import(dir, fingerprint((await source.key()).verifier.vkey)));
      expect(e.message).toMatch(/not the one you gave/);
      expect(e.details).toMatchObject({ signer: mallory.verifier.vkey });
      expect(reviewer.local.count()).toBe(0);
    });

    it('a validly signed manifest that disagrees with its entries', async () => {
      const source = await populated(20);
      const key = await source.key();
      const dir = path.join(tempDir(), 'b');
      await source.export(SRC, dir, {});
      resign(dir, key, (m) => {
        m.count = 19;
      });
      const fp = fingerprint(key.verifier.vkey);
      const e = await refusal((await console_()).import(dir, fp));
      expect(e.message).toMatch(/manifest says 19 entries but the file has 20/);
      const dir2 = path.join(tempDir(), 'b2');
      await source.export(SRC, dir2, {});
      resign(dir2, key, (m) => {
        m.last_hash = 'ab'.repeat(32);
      });
      expect((await refusal((await console_()).import(dir2, fp))).message).toMatch(/last hash/);
    });

    it('a forged checkpoint in a bundle signed by an untrusted key is refused', async () => {
      const source = await populated(20);
      const mallory = await InstallationKey.load(memorySecrets());
      const dir = path.join(tempDir(), 'b');
      await source.export(SRC, dir, {});
      editManifest(dir, (m) => {
        m.checkpoints.push(signCheckpoint(mallory, m.origin, 20, 'cd'.repeat(32)).note);
      });
      const e = await refusal((await console_()).import(dir, fingerprint((await source.key()).verifier.vkey)));
      expect(e.message).toMatch(/signature does not verify|checkpoint/);
    });
  });
});

function editLines(dir: string, edit: (lines: string[]) => void): void {
  const file = path.join(dir, 'entries.jsonl');
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  edit(lines);
  fs.writeFileSync(file, lines.join('\n') + '\n');
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function resign(dir: string, key: InstallationKey, edit: (m: any) => void): void {
  editManifest(dir, (m) => {
    edit(m);
    m.signer = { name: key.name, vkey: key.verifier.vkey, fingerprint: fingerprint(key.verifier.vkey) };
    delete m.signature;
    m.signature = key.sign(canonicalize(m)!).toString('base64');
  });
}
function truncate(file: string, bytes: number): void {
  fs.writeFileSync(file, fs.readFileSync(file).subarray(0, bytes));
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function editManifest(dir: string, edit: (m: any) => void): void {
  const file = path.join(dir, 'manifest.json');
  const m = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(m);
  fs.writeFileSync(file, JSON.stringify(m));
}
