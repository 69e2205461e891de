import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import canonicalize from 'canonicalize';
import { z } from 'zod';
import { ContractError } from '../../../src-shared/contract/errors';
import { ChainVerifier, embeddedPosition, GENESIS_HASH, type ChainFields } from './chain';
import { LINE_PREFIX, LINE_SUFFIX_START, readEntries } from './bundle-reader';
import type { EntryColumns, StoredEntry, StoredRow } from './local-copy';
import { cosign, fingerprint, openCheckpoint, parseVkey, verifyDetached, type InstallationKey, type Verifier } from './signing';

export const BUNDLE_FORMAT = 'gatehouse-audit-bundle/2';
export const ENTRIES_FILE = 'entries.jsonl';
export const MANIFEST_FILE = 'manifest.json';

/**
 * A line of entries.jsonl: `{"entry":<canonical JSON exactly as hashed>,"hash":"<hex>"}`.
 * The line is itself canonical JSON, `jq .entry` shows the entry, and a verifier hashes the
 * bytes between the fixed prefix and suffix without re-canonicalising anything.
 */
export const bundleLine = (hash: string, canonical: string) => `${LINE_PREFIX}${canonical}${LINE_SUFFIX_START}${hash}"}`;

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);
export const BundleManifest = z
  .object({
    format: z.literal(BUNDLE_FORMAT),
    origin: z.string(),
    count: z.number().int().nonnegative(),
    first_seq: z.number().int().positive().nullable(),
    last_seq: z.number().int().positive().nullable(),
    /** prev_hash of the first entry: genesis for a full export, the hash before the range otherwise. */
    start_prev_hash: Hex64,
    first_hash: Hex64.nullable(),
    last_hash: Hex64.nullable(),
    entries_sha256: Hex64,
    time_range: z.object({ from: z.string().nullable(), to: z.string().nullable() }),
    requested_range: z.object({ from: z.string().nullable(), to: z.string().nullable() }),
    /**
     * Signed checkpoints within the range, each cosigned by the exporter (it checked them
     * against the entries it exported), including the exporter's own at last_seq.
     */
    checkpoints: z.array(z.string()),
    /** What the exporting console had witnessed of this log when it exported (null: a bundle or archive). */
    witness: z.object({ seq: z.number().int(), head: Hex64 }).nullable(),
    signer: z.object({ name: z.string(), vkey: z.string(), fingerprint: z.string() }),
    created_at: z.string(),
    console_version: z.string(),
    signature: z.string(),
  })
  .strict();
export type BundleManifest = z.infer<typeof BundleManifest>;

const refuse = (reason: string, details?: Record<string, unknown>) =>
  new ContractError('VALIDATION', `The bundle was refused: ${reason}. Nothing was imported.`, { reason, ...details });

function signedPart(m: Omit<BundleManifest, 'signature'> & { signature?: string }): string {
  const { signature: _s, ...rest } = m;
  return canonicalize(rest)!;
}

export interface ExportSource {
  /** Stored rows in seq order, contiguous. */
  batches: Iterable<StoredRow[]>;
  origin: string;
  checkpoints: { size: number; note: string }[];
  witness: { seq: number; head: string } | null;
  requested: { from?: string; to?: string };
  consoleVersion: string;
}

/** Writes `<dir>/entries.jsonl` and a signed `<dir>/manifest.json`; the directory must not exist. */
export async function writeBundle(dir: string, src: ExportSource, key: InstallationKey): Promise<BundleManifest> {
  if (fs.existsSync(dir)) throw new ContractError('CONFLICT', `${dir} already exists. Choose a new folder name for the bundle.`);
  fs.mkdirSync(dir, { recursive: true });
  const fd = fs.openSync(path.join(dir, ENTRIES_FILE), 'w');
  const sha = createHash('sha256');
  let count = 0;
  let first: { seq: number; hash: string; canonical: string } | null = null;
  let last: { seq: number; hash: string; canonical: string } | null = null;
  const hashes = new Map<number, string>();
  const sizes = new Set(src.checkpoints.map((c) => c.size));
  try {
    for (const batch of src.batches) {
      if (!batch.length) continue;
      const text = batch.map((r) => bundleLine(r[1], r[2])).join('\n') + '\n';
      sha.update(text);
      fs.writeSync(fd, text);
      for (const r of batch) if (sizes.has(r[0])) hashes.set(r[0], r[1]);
      const [s0, h0, c0] = batch[0]!;
      const [s1, h1, c1] = batch[batch.length - 1]!;
      first ??= { seq: s0, hash: h0, canonical: c0 };
      last = { seq: s1, hash: h1, canonical: c1 };
      count += batch.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  const fields = (r: { canonical: string }) => JSON.parse(r.canonical) as ChainFields;
  // The exporter cosigns each checkpoint that matches what it exports; others are left out.
  const inRange = src.checkpoints.filter((c) => first && last && c.size >= first.seq && c.size <= last.seq);
  const checkpoints: string[] = [];
  for (const c of inRange) {
    const root = Buffer.from(c.note.split('\n')[2] ?? '', 'base64').toString('hex');
    if (hashes.get(c.size) === root && c.note.startsWith(`${src.origin}\n`)) checkpoints.push(cosign(key, c.note));
  }
  const unsigned: Omit<BundleManifest, 'signature'> = {
    format: BUNDLE_FORMAT,
    origin: src.origin,
    count,
    first_seq: first?.seq ?? null,
    last_seq: last?.seq ?? null,
    start_prev_hash: first ? fields(first).prev_hash : GENESIS_HASH,
    first_hash: first?.hash ?? null,
    last_hash: last?.hash ?? null,
    entries_sha256: sha.digest('hex'),
    time_range: { from: first ? fields(first).at : null, to: last ? fields(last).at : null },
    requested_range: { from: src.requested.from ?? null, to: src.requested.to ?? null },
    checkpoints: [...new Set(checkpoints)],
    witness: src.witness,
    signer: { name: key.name, vkey: key.verifier.vkey, fingerprint: fingerprint(key.verifier.vkey) },
    created_at: new Date().toISOString(),
    console_version: src.consoleVersion,
  };
  const manifest: BundleManifest = { ...unsigned, signature: key.sign(signedPart(unsigned)).toString('base64') };
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

export interface OpenedBundle {
  manifest: BundleManifest;
  /** Stable id: the same bundle imported twice has the same id. */
  id: string;
  trustedBy: 'enrolled' | 'fingerprint';
  /** Checkpoints signed by a key trusted here (enrolled, or the bundle's signer when trusted by fingerprint). */
  trustedCheckpoints: number;
}

/** Stable id of a bundle: the same bundle imported twice has the same id. */
export const bundleId = (m: Pick<BundleManifest, 'signature'>) => createHash('sha256').update(m.signature).digest('hex').slice(0, 16);

/** Reads the manifest and decides whether its signer is trusted here; nothing about the entries yet. */
export function openManifest(
  dir: string,
  trusted: Verifier[],
  trustFingerprint?: string,
): { manifest: BundleManifest; signer: Verifier; trustedBy: 'enrolled' | 'fingerprint' } {
  const manifestFile = path.join(dir, MANIFEST_FILE);
  const entriesFile = path.join(dir, ENTRIES_FILE);
  if (!fs.existsSync(manifestFile) || !fs.existsSync(entriesFile)) {
    throw refuse(`${dir} is not an audit bundle (it needs ${MANIFEST_FILE} and ${ENTRIES_FILE})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  } catch {
    throw refuse('manifest.json is not valid JSON (truncated or damaged)');
  }
  if (raw && typeof raw === 'object' && (raw as { format?: unknown }).format !== BUNDLE_FORMAT) {
    throw refuse(`it is not a ${BUNDLE_FORMAT} bundle (format ${JSON.stringify((raw as { format?: unknown }).format)})`);
  }
  const parsed = BundleManifest.safeParse(raw);
  if (!parsed.success)
    throw refuse(`manifest.json is malformed (${parsed.error.issues[0]?.path.join('.') || 'root'}: ${parsed.error.issues[0]?.message})`);
  const m = parsed.data;
  let signer: Verifier;
  try {
    signer = parseVkey(m.signer.vkey);
  } catch (e) {
    throw refuse(`the signer key is invalid (${(e as Error).message})`);
  }
  const fp = fingerprint(signer.vkey);
  const known = trusted.find((t) => t.name === signer.name);
  if (known && known.vkey !== signer.vkey)
    throw refuse(`the signer "${signer.name}" is enrolled here with a different key`, { signer: signer.vkey, fingerprint: fp });
  let trustedBy: 'enrolled' | 'fingerprint';
  if (known) trustedBy = 'enrolled';
  else if (trustFingerprint && trustFingerprint.trim() === fp) trustedBy = 'fingerprint';
  else {
    throw refuse(
      trustFingerprint
        ? `its signer's fingerprint is ${fp}, not the one you gave; the bundle was not signed by the key you expect`
        : `it is signed by a key that is not enrolled here (fingerprint ${fp}); if the fingerprint matches the one you received from the exporter, an admin can import it giving that fingerprint`,
      { signer: signer.vkey, fingerprint: fp },
    );
  }
  if (!verifyDetached(signer, signedPart(m), Buffer.from(m.signature, 'base64')))
    throw refuse('the manifest signature does not verify (the manifest was altered)');
  return { manifest: m, signer, trustedBy };
}

const HEX64 = /^[0-9a-f]{64}$/;
const damaged = (line: number) => refuse(`line ${line} of ${ENTRIES_FILE} is not an audit entry (truncated or damaged)`, { line });

/** The entry fields a stored entry needs (a trusted signer wrote it; this only guards the review copy's columns). */
function shaped(v: unknown): v is EntryColumns {
  const e = v as Record<string, unknown> | null;
  return (
    !!e &&
    typeof e === 'object' &&
    typeof e.actor === 'string' &&
    typeof e.action === 'string' &&
    typeof e.at === 'string' &&
    typeof e.outcome === 'string' &&
    (e.target === null || typeof e.target === 'string')
  );
}

/**
 * Checks a bundle completely: manifest shape, signature and signer trust, file digest, every
 * entry's hash and link, the manifest's counts and hashes, every checkpoint. Each verified
 * batch of entries goes to `store` (inside the caller's transaction); on any refusal the
 * caller drops what was stored, so a refused bundle leaves nothing behind.
 */
export async function verifyBundle(
  dir: string,
  trusted: Verifier[],
  trustFingerprint: string | undefined,
  store: (batch: StoredEntry[]) => void = () => undefined,
): Promise<OpenedBundle> {
  const { manifest: m, signer, trustedBy } = openManifest(dir, trusted, trustFingerprint);
  const verifiers = [...trusted.filter((t) => t.name !== signer.name), signer];
  const opened = m.checkpoints.map((note) => ({ note, o: openCheckpoint(note, verifiers) }));
  for (const { o } of opened) {
    if (!o.ok && o.reason !== 'unknown-signer') throw refuse(`a checkpoint is not valid: ${o.message}`);
    if (o.ok && o.checkpoint.origin !== m.origin) throw refuse(`a checkpoint belongs to another log (${o.checkpoint.origin})`);
  }
  const cps = opened.flatMap(({ o }) => (o.ok ? [o] : []));

  const verifier = new ChainVerifier({ seq: m.first_seq ?? 1, prevHash: m.start_prev_hash }, new Set(cps.map((c) => c.checkpoint.size)));
  let lineNo = 0;
  let first: StoredEntry | null = null;
  let last: StoredEntry | null = null;
  // Read, hashed and parsed in a worker thread (bundle-reader.ts); every check is made here.
  const lines = readEntries(path.join(dir, ENTRIES_FILE), m.start_prev_hash);
  let fileSha256: string;
  try {
    let next = await lines.next();
    for (; !next.done; next = await lines.next()) {
      const b = next.value;
      if (b.first !== verifier.headHash) throw new Error('the bundle reader lost its place in the chain');
      const batch: StoredEntry[] = [];
      for (let i = 0; i < b.canonical.length; i++) {
        lineNo += 1;
        const canonical = b.canonical[i]!;
        const hash = b.hash[i]!;
        const pos = b.state[i] === 1 ? null : embeddedPosition(canonical);
        if (!pos) throw damaged(lineNo);
        if (!verifier.pushDigested(pos.seq, hash, b.digest[i]!, pos)) {
          // a hash that matched is 64 lowercase hex digits (SHA-256 wrote it): only a refusal checks its shape
          if (!HEX64.test(hash)) throw damaged(lineNo);
          const f = verifier.fault!;
          throw refuse(f.message, { firstBadSeq: f.seq, problem: f.problem });
        }
        const c = b.columns;
        const o = i * 8;
        const columns = b.state[i] === 0 && {
          actor: c[o],
          action: c[o + 1],
          target: c[o + 2],
          at: c[o + 3],
          outcome: c[o + 4],
          params: { tenant: c[o + 5], slug: c[o + 6], tenantSlug: c[o + 7] },
        };
        if (!shaped(columns)) throw refuse(`line ${lineNo} of ${ENTRIES_FILE} is not an audit entry`, { line: lineNo });
        const row: StoredEntry = { seq: pos.seq, hash, canonical, columns };
        first ??= row;
        last = row;
        batch.push(row);
      }
      store(batch);
      await new Promise((r) => setImmediate(r)); // let other work (commands, the outbox) run between batches
    }
    fileSha256 = next.value;
  } finally {
    await lines.return(''); // ends the worker when a line was refused
  }
  if (fileSha256 !== m.entries_sha256) throw refuse(`${ENTRIES_FILE} does not match the digest in the manifest (truncated or altered)`);
  if (verifier.checked !== m.count) throw refuse(`the manifest says ${m.count} entries but the file has ${verifier.checked}`);
  if ((first?.seq ?? null) !== m.first_seq || (last?.seq ?? null) !== m.last_seq)
    throw refuse('the manifest disagrees with the entries on the first or last seq');
  if ((first?.hash ?? null) !== m.first_hash || (last?.hash ?? null) !== m.last_hash)
    throw refuse('the manifest disagrees with the entries on the first or last hash');
  for (const c of cps) {
    if (verifier.seen.get(c.checkpoint.size) !== c.headHashHex) {
      throw refuse(`the checkpoint at size ${c.checkpoint.size} does not match entry ${c.checkpoint.size}`, {
        firstBadSeq: c.checkpoint.size,
      });
    }
  }
  return { manifest: m, id: bundleId(m), trustedBy, trustedCheckpoints: cps.length };
}
