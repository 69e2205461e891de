import { createHash, hash as sha } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditEntry } from '../../../src-shared/contract/audit';
import type { AuditRecord } from './recorder';

/** prev_hash of entry 1: the chain starts from 32 zero bytes. */
export const GENESIS_HASH = '0'.repeat(64);

/** The hashed part of an entry: everything but `hash`. */
export type ChainFields = Omit<AuditEntry, 'hash'>;

export function toChainFields(record: AuditRecord, seq: number, prevHash: string): ChainFields {
  return {
    seq,
    prev_hash: prevHash,
    actor: record.actor,
    role: record.actorRole,
    action: record.action,
    target: record.target,
    params: record.params ?? null,
    before: record.before ?? null,
    after: record.after ?? null,
    outcome: record.outcome,
    error_code: record.errorCode,
    at: record.at,
    cluster: record.cluster,
    console_version: record.consoleVersion,
    // only when present, so entries made without a token hash exactly as before
    ...(record.via ? { via: { kind: record.via.kind, token_id: record.via.tokenId, token_name: record.via.tokenName } } : {}),
  };
}

/** RFC 8785 canonical JSON; `undefined` values (which JSON cannot hold) are dropped first. */
export function canonicalJson(fields: ChainFields): string {
  const text = canonicalize(fields);
  if (text === undefined) throw new Error('audit entry cannot be canonicalized');
  return text;
}

/** hash = SHA-256(prev_hash as 32 raw bytes || UTF-8 canonical JSON), hex. */
export function entryHash(prevHash: string, canonical: string): string {
  return createHash('sha256').update(Buffer.from(prevHash, 'hex')).update(canonical, 'utf8').digest('hex');
}

/**
 * The seq and prev_hash written inside a stored canonical text, found without parsing it.
 * Canonical JSON sorts keys, and after `prev_hash` only `role` (an enum), `seq` (a number),
 * `target` (a JSON string, whose quotes are escaped) and `via` (keys kind, token_id, token_name
 * with string values) follow: the last occurrence of `"prev_hash":"` and of `"seq":` is
 * therefore the top-level one.
 */
export function embeddedPosition(canonical: string): { seq: number; prevHash: string } | null {
  const p = canonical.lastIndexOf('"prev_hash":"');
  const s = canonical.lastIndexOf('"seq":');
  if (p < 0 || s < p) return null;
  let end = s + 6;
  while (end < canonical.length && canonical.charCodeAt(end) >= 48 && canonical.charCodeAt(end) <= 57) end += 1;
  return { seq: Number(canonical.slice(s + 6, end)), prevHash: canonical.slice(p + 13, p + 13 + 64) };
}

/**
 * embeddedPosition(canonical) is { seq, prevHash } with `prevHash` 64 characters long, without
 * building it: the walk's per-entry test (an allocation and two slices fewer per entry).
 * parallel-walk.ts's worker makes the same test.
 */
export function embeddedAt(canonical: string, seq: number, prevHash: string): boolean {
  const p = canonical.lastIndexOf('"prev_hash":"');
  const s = canonical.lastIndexOf('"seq":');
  if (p < 0 || s < p || prevHash.length !== 64 || !canonical.startsWith(prevHash, p + 13)) return false;
  // the digits after "seq":, read as Number() reads them (exactly, up to any safe integer)
  let n = 0;
  for (let i = s + 6; i < canonical.length; i++) {
    const d = canonical.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return n === seq;
}

/** Parses a stored canonical text back into an entry (the hash is stored beside it). */
export function entryFromStored(hash: string, canonical: string): AuditEntry {
  return { ...(JSON.parse(canonical) as ChainFields), hash };
}

export function chainEntry(record: AuditRecord, seq: number, prevHash: string): { entry: AuditEntry; canonical: string } {
  const fields = toChainFields(record, seq, prevHash);
  const canonical = canonicalJson(fields);
  return { entry: { ...fields, hash: entryHash(prevHash, canonical) }, canonical };
}

export function stripHash(entry: AuditEntry): ChainFields {
  const { hash: _hash, ...fields } = entry;
  return fields;
}

export type ChainProblem = 'hash-mismatch' | 'broken-link' | 'missing-entry' | 'unexpected-entry' | 'malformed-entry';

export interface ChainFault {
  seq: number;
  problem: ChainProblem;
  message: string;
}

/**
 * Walks entries in the order they are stored and stops at the first fault.
 * Feed it in batches: it keeps the position between calls, so a million entries
 * never sit in memory at once.
 */
export class ChainVerifier {
  private expectedSeq: number;
  private prevHash: string;
  /** Bytes 0–31: the previous entry's hash; then the canonical text being hashed. */
  private scratch = Buffer.allocUnsafe(64 * 1024);
  /**
   * Views of `scratch` by length, reused: a new subarray per entry (a Buffer object each)
   * cost more than the SHA-256 over it. Entries of a log take a few hundred distinct lengths.
   */
  private views = new Map<number, Buffer>();
  checked = 0;
  fault: ChainFault | null = null;
  /** hash of every seq listed in `watch` (checkpoint sizes), filled as they pass. */
  readonly seen = new Map<number, string>();

  constructor(
    start: { seq: number; prevHash: string } = { seq: 1, prevHash: GENESIS_HASH },
    private readonly watch: Set<number> = new Set(),
  ) {
    this.expectedSeq = start.seq;
    this.prevHash = start.prevHash;
    this.scratch.write(start.prevHash, 0, 32, 'hex');
  }

  get headHash(): string {
    return this.prevHash;
  }
  get nextSeq(): number {
    return this.expectedSeq;
  }

  /**
   * The fast path, over what a store keeps: the canonical text exactly as hashed, and the hash.
   * No canonicalisation and no JSON parse: SHA-256 over the stored bytes decides, and the seq
   * and prev_hash written inside the text are checked against the chain position.
   */
  pushStored(seq: number, hash: string, canonical: string): boolean {
    if (this.fault) return false;
    const expected = this.expectedSeq;
    if (seq !== expected) return this.positionFault(seq);
    // One-shot SHA-256 over [prev hash bytes | canonical UTF-8] in a reused buffer: no Hash object per entry.
    if (canonical.length * 3 + 32 > this.scratch.length) this.grow(canonical.length * 3 + 32);
    const n = this.scratch.write(canonical, 32, 'utf8');
    const digest = sha('sha256', this.view(32 + n), 'hex');
    if (digest === hash && embeddedAt(canonical, seq, this.prevHash)) {
      this.accept(seq, hash);
      return true;
    }
    return this.check(seq, hash, digest, embeddedPosition(canonical)); // names the fault
  }

  /**
   * pushStored with the SHA-256 made elsewhere (a bundle import's reader thread): `digest` is
   * SHA-256 over [this chain's head hash ‖ the canonical text], and the caller makes sure it
   * was chained from `headHash`; `inner` is embeddedPosition of that text.
   */
  pushDigested(seq: number, hash: string, digest: string, inner: { seq: number; prevHash: string } | null): boolean {
    if (this.fault) return false;
    if (seq !== this.expectedSeq) return this.positionFault(seq);
    return this.check(seq, hash, digest, inner);
  }

  private check(seq: number, hash: string, digest: string, inner: { seq: number; prevHash: string } | null): boolean {
    const expected = this.expectedSeq;
    if (digest !== hash || !inner || inner.seq !== seq || inner.prevHash !== this.prevHash) {
      if (inner && inner.prevHash !== this.prevHash) return this.linkFault(expected);
      return this.fail(
        expected,
        'hash-mismatch',
        `entry ${expected} was changed after it was written: its content does not match its hash`,
      );
    }
    this.accept(seq, hash);
    return true;
  }

  private view(length: number): Buffer {
    let v = this.views.get(length);
    if (!v) {
      v = this.scratch.subarray(0, length);
      this.views.set(length, v);
    }
    return v;
  }

  private grow(size: number): void {
    const next = Buffer.allocUnsafe(Math.max(size, this.scratch.length * 2));
    this.scratch.copy(next, 0, 0, 32);
    this.scratch = next;
    this.views = new Map();
  }

  private positionFault(seq: number): false {
    const expected = this.expectedSeq;
    if (!Number.isSafeInteger(seq)) return this.fail(expected, 'malformed-entry', `entry after seq ${expected - 1} has no valid seq`);
    if (seq > expected) {
      return this.fail(
        expected,
        'missing-entry',
        `entry ${expected} is missing (deleted or moved): entry ${seq} comes right after entry ${expected - 1}`,
      );
    }
    return this.fail(seq, 'unexpected-entry', `entry ${seq} appears again or out of order after entry ${expected - 1}`);
  }

  private linkFault(seq: number): false {
    return this.fail(
      seq,
      'broken-link',
      `entry ${seq} does not follow entry ${seq - 1}: its prev_hash is not entry ${seq - 1}'s hash (an entry was edited, inserted, removed or moved here)`,
    );
  }

  private accept(seq: number, hash: string): void {
    if (this.watch.has(seq)) this.seen.set(seq, hash);
    this.prevHash = hash;
    this.scratch.write(hash, 0, 32, 'hex');
    this.expectedSeq = seq + 1;
    this.checked += 1;
  }

  /** Returns false once a fault is found (the slow path, for entries that arrive as objects: bundles of format 1, tests). */
  push(entry: AuditEntry): boolean {
    if (this.fault) return false;
    const seq = this.expectedSeq;
    if (!Number.isInteger(entry.seq) || entry.seq !== seq) return this.positionFault(entry.seq);
    if (entry.prev_hash !== this.prevHash) return this.linkFault(seq);
    let recomputed: string;
    try {
      recomputed = entryHash(entry.prev_hash, canonicalJson(stripHash(entry)));
    } catch {
      return this.fail(seq, 'malformed-entry', `entry ${seq} cannot be canonicalized`);
    }
    if (recomputed !== entry.hash) {
      return this.fail(seq, 'hash-mismatch', `entry ${seq} was changed after it was written: its content does not match its hash`);
    }
    this.accept(seq, entry.hash);
    return true;
  }

  private fail(seq: number, problem: ChainProblem, message: string): false {
    this.fault = { seq, problem, message };
    return false;
  }
}
