import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import canonicalize from 'canonicalize';
import { z } from 'zod';
import { AuditEntry } from '../../../src-shared/contract/audit';
import { ContractError } from '../../../src-shared/contract/errors';
import { ChainVerifier, GENESIS_HASH } from './chain';
import { openCheckpoint, parseVkey, verifyDetached, type InstallationKey, type Verifier } from './signing';

export const BUNDLE_FORMAT = 'gatehouse-audit-bundle/1';
export const ENTRIES_FILE = 'entries.jsonl';
export const MANIFEST_FILE = 'manifest.json';

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
    checkpoints: z.array(z.string()),
    /** Keys that signed the checkpoints; vouched for by the manifest signer. */
    checkpoint_signers: z.array(z.string()),
    signer: z.object({ name: z.string(), vkey: z.string() }),
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
  /** Entries in seq order, contiguous. */
  batches: Iterable<AuditEntry[]>;
  origin: string;
  checkpoints: { size: number; note: string }[];
  checkpointSigners: string[];
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
  let first: AuditEntry | null = null;
  let last: AuditEntry | null = null;
  try {
    for (const batch of src.batches) {
      if (!batch.length) continue;
      const text = batch.map((e) => JSON.stringify(e)).join('\n') + '\n';
      sha.update(text);
      fs.writeSync(fd, text);
      first ??= batch[0]!;
      last = batch[batch.length - 1]!;
      count += batch.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  const inRange = src.checkpoints.filter((c) => first && last && c.size >= first.seq && c.size <= last.seq);
  const unsigned: Omit<BundleManifest, 'signature'> = {
    format: BUNDLE_FORMAT,
    origin: src.origin,
    count,
    first_seq: first?.seq ?? null,
    last_seq: last?.seq ?? null,
    start_prev_hash: first?.prev_hash ?? GENESIS_HASH,
    first_hash: first?.hash ?? null,
    last_hash: last?.hash ?? null,
    entries_sha256: sha.digest('hex'),
    time_range: { from: first?.at ?? null, to: last?.at ?? null },
    requested_range: { from: src.requested.from ?? null, to: src.requested.to ?? null },
    checkpoints: inRange.map((c) => c.note),
    checkpoint_signers: [...new Set([key.verifier.vkey, ...src.checkpointSigners])],
    signer: { name: key.name, vkey: key.verifier.vkey },
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
  entriesFile: string;
}

/**
 * Checks a bundle completely before anything is stored: manifest shape and
 * signature, signer trust, file digest, every entry's hash and link, the
 * manifest's counts and hashes, every checkpoint.
 */
export async function verifyBundle(dir: string, trusted: Verifier[], extraTrust?: string): Promise<OpenedBundle> {
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
  const known = trusted.find((t) => t.name === signer.name);
  if (known && known.vkey !== signer.vkey)
    throw refuse(`the signer "${signer.name}" is known here with a different key`, { signer: signer.vkey });
  if (!known && extraTrust?.trim() !== signer.vkey) {
    throw refuse(
      `it is signed by a key this console does not know (${signer.vkey}); if you trust that key, import again and give it as the signer to trust`,
      {
        signer: signer.vkey,
      },
    );
  }
  if (!verifyDetached(signer, signedPart(m), Buffer.from(m.signature, 'base64')))
    throw refuse('the manifest signature does not verify (the manifest was altered)');

  const checkpointVerifiers: Verifier[] = [signer];
  for (const v of m.checkpoint_signers) {
    try {
      checkpointVerifiers.push(parseVkey(v));
    } catch {
      throw refuse('a checkpoint signer key in the manifest is invalid');
    }
  }
  const opened = m.checkpoints.map((note) => openCheckpoint(note, checkpointVerifiers));
  const badCp = opened.find((c) => !c.ok);
  if (badCp && !badCp.ok) throw refuse(`a checkpoint is not valid: ${badCp.message}`);
  const cps = opened.flatMap((c) => (c.ok ? [c] : []));
  for (const c of cps) {
    if (c.checkpoint.origin !== m.origin) throw refuse(`a checkpoint belongs to another log (${c.checkpoint.origin})`);
  }

  const verifier = new ChainVerifier({ seq: m.first_seq ?? 1, prevHash: m.start_prev_hash }, new Set(cps.map((c) => c.checkpoint.size)));
  const sha = createHash('sha256');
  const stream = fs.createReadStream(entriesFile);
  stream.on('data', (chunk) => sha.update(chunk));
  const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  let last: AuditEntry | null = null;
  let first: AuditEntry | null = null;
  for await (const line of lines) {
    lineNo += 1;
    let entry: AuditEntry;
    try {
      const r = AuditEntry.safeParse(JSON.parse(line));
      if (!r.success) throw new Error('shape');
      entry = r.data;
    } catch {
      throw refuse(`line ${lineNo} of ${ENTRIES_FILE} is not an audit entry (truncated or damaged)`, { line: lineNo });
    }
    if (!verifier.push(entry)) {
      const f = verifier.fault!;
      throw refuse(f.message, { firstBadSeq: f.seq, problem: f.problem });
    }
    first ??= entry;
    last = entry;
  }
  if (sha.digest('hex') !== m.entries_sha256)
    throw refuse(`${ENTRIES_FILE} does not match the digest in the manifest (truncated or altered)`);
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
  const id = createHash('sha256').update(m.signature).digest('hex').slice(0, 16);
  return { manifest: m, id, entriesFile };
}

/** Reads a verified bundle's entries in batches, for storing. */
export async function* readBundleEntries(entriesFile: string, batch = 5000): AsyncGenerator<AuditEntry[]> {
  const lines = readline.createInterface({ input: fs.createReadStream(entriesFile), crlfDelay: Infinity });
  let buf: AuditEntry[] = [];
  for await (const line of lines) {
    buf.push(JSON.parse(line) as AuditEntry);
    if (buf.length >= batch) {
      yield buf;
      buf = [];
    }
  }
  if (buf.length) yield buf;
}
