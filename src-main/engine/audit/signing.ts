import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

/** The subset of the secret store the audit log needs (the real one is src-main/engine/secrets-store). */
export interface SecretStoreLike {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
}

export const INSTALLATION_KEY_SECRET = 'audit-installation-key';
/** C2SP signed-note algorithm byte for Ed25519. */
const ALG_ED25519 = 0x01;

/** A public key as signed-note verifiers name it: `<name>+<hex key id>+<base64(alg || key)>`. */
export interface Verifier {
  name: string;
  keyId: Buffer;
  publicKey: KeyObject;
  vkey: string;
}

function rawPublicKey(key: KeyObject): Buffer {
  // SPKI DER of an Ed25519 key ends with the 32 raw bytes.
  return key.export({ format: 'der', type: 'spki' }).subarray(-32);
}

function keyIdOf(name: string, raw: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from(name, 'utf8'))
    .update(Buffer.from([0x0a, ALG_ED25519]))
    .update(raw)
    .digest()
    .subarray(0, 4);
}

export function parseVkey(vkey: string): Verifier {
  // base64 may itself contain '+': split on the first two only
  const m = /^([^+\s]+)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey.trim());
  if (!m) throw new Error('a signer key looks like <name>+<8 hex digits>+<base64>');
  const [, name, hexId, b64] = m as unknown as [string, string, string, string];
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length !== 33 || bytes[0] !== ALG_ED25519) throw new Error('the signer key is not an Ed25519 signed-note key');
  const raw = bytes.subarray(1);
  const keyId = keyIdOf(name, raw);
  if (keyId.toString('hex') !== hexId.toLowerCase()) throw new Error('the signer key id does not match its name and key');
  const publicKey = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]),
    format: 'der',
    type: 'spki',
  });
  return { name, keyId, publicKey, vkey: vkey.trim() };
}

export class InstallationKey {
  readonly verifier: Verifier;
  private constructor(
    readonly name: string,
    private readonly privateKey: KeyObject,
  ) {
    const pub = createPublicKey(privateKey);
    const raw = rawPublicKey(pub);
    const keyId = keyIdOf(name, raw);
    const vkey = `${name}+${keyId.toString('hex')}+${Buffer.concat([Buffer.from([ALG_ED25519]), raw]).toString('base64')}`;
    this.verifier = { name, keyId, publicKey: pub, vkey };
  }

  /** Loads this installation's key from the secret store, creating it on first use. */
  static async load(store: SecretStoreLike): Promise<InstallationKey> {
    const saved = await store.get(INSTALLATION_KEY_SECRET);
    if (saved) {
      const { name, pkcs8 } = JSON.parse(saved) as { name: string; pkcs8: string };
      return new InstallationKey(name, createPrivateKey({ key: Buffer.from(pkcs8, 'base64'), format: 'der', type: 'pkcs8' }));
    }
    const { privateKey } = generateKeyPairSync('ed25519');
    const name = `gatehouse-${randomBytes(4).toString('hex')}`;
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    await store.set(INSTALLATION_KEY_SECRET, JSON.stringify({ name, pkcs8 }));
    return new InstallationKey(name, privateKey);
  }

  sign(data: Buffer | string): Buffer {
    return sign(null, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, this.privateKey);
  }

  /** A signed note: the body (ending in a newline), a blank line, one signature line. */
  signNote(body: string): string {
    if (!body.endsWith('\n')) throw new Error('a note body ends with a newline');
    const sig = this.sign(body);
    return `${body}\n\u2014 ${this.name} ${Buffer.concat([this.verifier.keyId, sig]).toString('base64')}\n`;
  }
}

export function verifyDetached(verifier: Verifier, data: Buffer | string, signature: Buffer): boolean {
  return verify(null, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, verifier.publicKey, signature);
}

export interface Checkpoint {
  origin: string;
  size: number;
  /** base64 of the 32-byte chain head hash at `size`. */
  rootHash: string;
  note: string;
}

/** C2SP tlog-checkpoint body; the "root hash" here is the hash-chain head (see docs/audit.md). */
export function checkpointBody(origin: string, size: number, headHashHex: string): string {
  return `${origin}\n${size}\n${Buffer.from(headHashHex, 'hex').toString('base64')}\n`;
}

export function signCheckpoint(key: InstallationKey, origin: string, size: number, headHashHex: string): Checkpoint {
  const body = checkpointBody(origin, size, headHashHex);
  return { origin, size, rootHash: Buffer.from(headHashHex, 'hex').toString('base64'), note: key.signNote(body) };
}

export type CheckpointResult =
  | { ok: true; checkpoint: Checkpoint; signer: string; headHashHex: string }
  | { ok: false; reason: 'malformed' | 'unknown-signer' | 'bad-signature'; message: string };

/** Parses a signed checkpoint and checks that at least one signature is by a trusted key and valid. */
export function openCheckpoint(note: string, trusted: Verifier[]): CheckpointResult {
  const split = note.indexOf('\n\n');
  if (split < 0) return { ok: false, reason: 'malformed', message: 'the checkpoint has no signature block' };
  const body = note.slice(0, split + 1);
  const lines = body.split('\n');
  const [origin, sizeText, root] = lines;
  const size = Number(sizeText);
  if (!origin || !Number.isSafeInteger(size) || size < 0 || !root || Buffer.from(root, 'base64').length !== 32) {
    return { ok: false, reason: 'malformed', message: 'the checkpoint body is not "origin, size, root hash"' };
  }
  const sigLines = note
    .slice(split + 2)
    .split('\n')
    .filter(Boolean);
  let sawKnown = false;
  for (const line of sigLines) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) return { ok: false, reason: 'malformed', message: 'a checkpoint signature line is malformed' };
    const blob = Buffer.from(m[2]!, 'base64');
    if (blob.length !== 68) continue;
    const verifier = trusted.find((v) => v.name === m[1] && v.keyId.equals(blob.subarray(0, 4)));
    if (!verifier) continue;
    sawKnown = true;
    if (verifyDetached(verifier, body, blob.subarray(4))) {
      return {
        ok: true,
        checkpoint: { origin, size, rootHash: root, note },
        signer: verifier.name,
        headHashHex: Buffer.from(root, 'base64').toString('hex'),
      };
    }
  }
  return sawKnown
    ? {
        ok: false,
        reason: 'bad-signature',
        message: `the checkpoint at size ${size} has a signature that does not verify (forged or altered)`,
      }
    : { ok: false, reason: 'unknown-signer', message: `the checkpoint at size ${size} is signed by no key this console trusts` };
}

/**
 * What an admin compares out of band before enrolling a key: SHA-256 over the whole vkey
 * (name, key id and public key), as OpenSSH prints fingerprints.
 */
export function fingerprint(vkey: string): string {
  return `SHA256:${createHash('sha256').update(vkey.trim(), 'utf8').digest('base64').replace(/=+$/, '')}`;
}

/** Names of the signature lines of a note, with their key ids (hex); malformed lines are skipped. */
export function noteSignatures(note: string): { name: string; keyId: string }[] {
  const split = note.indexOf('\n\n');
  if (split < 0) return [];
  const out: { name: string; keyId: string }[] = [];
  for (const line of note.slice(split + 2).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) continue;
    const blob = Buffer.from(m[2]!, 'base64');
    if (blob.length >= 4) out.push({ name: m[1]!, keyId: blob.subarray(0, 4).toString('hex') });
  }
  return out;
}

/**
 * Adds this installation's signature to a note another key signed (a cosignature: "I saw
 * this checkpoint and it is consistent with what I witnessed"). Idempotent.
 */
export function cosign(key: InstallationKey, note: string): string {
  const split = note.indexOf('\n\n');
  if (split < 0) throw new Error('not a signed note');
  if (noteSignatures(note).some((s) => s.name === key.name && s.keyId === key.verifier.keyId.toString('hex'))) return note;
  const body = note.slice(0, split + 1);
  const line = `\u2014 ${key.name} ${Buffer.concat([key.verifier.keyId, key.sign(body)]).toString('base64')}\n`;
  return note.endsWith('\n') ? note + line : `${note}\n${line}`;
}

/** Merges the signature lines of two notes over the same body (null when the bodies differ). */
export function mergeNotes(a: string, b: string): string | null {
  const sa = a.indexOf('\n\n');
  const sb = b.indexOf('\n\n');
  if (sa < 0 || sb < 0 || a.slice(0, sa) !== b.slice(0, sb)) return null;
  const lines = new Set(
    a
      .slice(sa + 2)
      .split('\n')
      .filter(Boolean),
  );
  for (const l of b
    .slice(sb + 2)
    .split('\n')
    .filter(Boolean))
    lines.add(l);
  return `${a.slice(0, sa + 1)}\n${[...lines].join('\n')}\n`;
}

export const ENDORSEMENT_ORIGIN = 'gatehouse/audit/signer-endorsement';

/** A signed statement by an enrolled key that another key may sign checkpoints ("signed by an enrolled key"). */
export function signEndorsement(key: InstallationKey, vkey: string): string {
  return key.signNote(`${ENDORSEMENT_ORIGIN}\n${vkey.trim()}\n`);
}

/** The endorsed vkey when the note is a valid endorsement by one of `trusted`. */
export function openEndorsement(note: string, trusted: Verifier[]): { vkey: string; endorser: string } | null {
  const split = note.indexOf('\n\n');
  if (split < 0) return null;
  const body = note.slice(0, split + 1);
  const [origin, vkey] = body.split('\n');
  if (origin !== ENDORSEMENT_ORIGIN || !vkey) return null;
  for (const line of note.slice(split + 2).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) continue;
    const blob = Buffer.from(m[2]!, 'base64');
    if (blob.length !== 68) continue;
    const v = trusted.find((t) => t.name === m[1] && t.keyId.equals(blob.subarray(0, 4)));
    if (v && verifyDetached(v, body, blob.subarray(4))) return { vkey, endorser: v.name };
  }
  return null;
}
