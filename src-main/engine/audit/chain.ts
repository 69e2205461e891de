import { createHash } from 'node:crypto';
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
  }

  get headHash(): string {
    return this.prevHash;
  }
  get nextSeq(): number {
    return this.expectedSeq;
  }

  /** Returns false once a fault is found. `storedCanonical` is compared when the store keeps it separately. */
  push(entry: AuditEntry): boolean {
    if (this.fault) return false;
    const seq = this.expectedSeq;
    if (!Number.isInteger(entry.seq)) return this.fail(seq, 'malformed-entry', `entry after seq ${seq - 1} has no valid seq`);
    if (entry.seq > seq) {
      return this.fail(
        seq,
        'missing-entry',
        `entry ${seq} is missing (deleted or moved): entry ${entry.seq} comes right after entry ${seq - 1}`,
      );
    }
    if (entry.seq < seq) {
      return this.fail(entry.seq, 'unexpected-entry', `entry ${entry.seq} appears again or out of order after entry ${seq - 1}`);
    }
    if (entry.prev_hash !== this.prevHash) {
      return this.fail(
        seq,
        'broken-link',
        `entry ${seq} does not follow entry ${seq - 1}: its prev_hash is not entry ${seq - 1}'s hash (an entry was edited, inserted, removed or moved here)`,
      );
    }
    let recomputed: string;
    try {
      recomputed = entryHash(entry.prev_hash, canonicalJson(stripHash(entry)));
    } catch {
      return this.fail(seq, 'malformed-entry', `entry ${seq} cannot be canonicalized`);
    }
    if (recomputed !== entry.hash) {
      return this.fail(seq, 'hash-mismatch', `entry ${seq} was changed after it was written: its content does not match its hash`);
    }
    if (this.watch.has(seq)) this.seen.set(seq, entry.hash);
    this.prevHash = entry.hash;
    this.expectedSeq = seq + 1;
    this.checked += 1;
    return true;
  }

  private fail(seq: number, problem: ChainProblem, message: string): false {
    this.fault = { seq, problem, message };
    return false;
  }
}
