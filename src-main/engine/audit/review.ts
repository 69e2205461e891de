import type { z } from 'zod';
import type { AuditQueryInput } from '../../../src-shared/contract/audit';
import { ContractError } from '../../../src-shared/contract/errors';
import { canonicalJson, entryHash, GENESIS_HASH, stripHash } from './chain';
import type { LocalAuditCopy } from './local-copy';

/** Review of the local copy: filtered, searchable pages and single entries with their proof. */
export class AuditReview {
  constructor(private readonly local: LocalAuditCopy) {}

  query(q: z.output<typeof AuditQueryInput>) {
    try {
      return this.local.query(q);
    } catch (error) {
      if (q.text && /fts5|syntax/i.test((error as Error).message)) {
        throw new ContractError(
          'VALIDATION',
          `The search "${q.text}" is not valid full-text syntax. Use words, "quoted phrases" or prefix*.`,
          { fields: { text: 'syntax' } },
        );
      }
      throw error;
    }
  }

  get(source: string, seq: number) {
    const stored = this.local.stored(source, seq);
    const entry = this.local.get(source, seq);
    if (!stored || !entry)
      throw new ContractError('NOT_FOUND', `Entry ${seq} is not in the local copy of ${source}. Sync or pick another entry.`);
    const prev = seq > 1 ? this.local.stored(source, seq - 1) : null;
    return {
      entry,
      canonical: stored.canonical,
      // over the stored bytes, and canonical again: the copy is exactly what was hashed
      hashValid: entryHash(entry.prev_hash, stored.canonical) === stored.hash && canonicalJson(stripHash(entry)) === stored.canonical,
      linkValid: seq === 1 ? entry.prev_hash === GENESIS_HASH : prev ? prev.hash === entry.prev_hash : null,
    };
  }
}
