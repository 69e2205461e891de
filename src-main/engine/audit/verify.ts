import type { AuditEntry, VerifyReport } from '../../../src-shared/contract/audit';
import { ChainVerifier } from './chain';
import { openCheckpoint, type Verifier } from './signing';

type Batches = Iterable<AuditEntry[]> | AsyncIterable<AuditEntry[]>;

/**
 * Walks a chain (in batches) and checks every checkpoint against it. Reports the
 * first bad entry; a checkpoint that is forged or covers entries that are gone
 * is reported with the checkpoint's size.
 */
export async function verifyEntries(
  batches: Batches,
  start: { seq: number; prevHash: string },
  checkpoints: { size: number; note: string }[],
  trusted: Verifier[],
  source = 'cluster',
  readFrom: 'shared' | 'local' = 'local',
): Promise<VerifyReport> {
  const checkedAt = new Date().toISOString();
  const base = { source, checkedAt, readFrom };
  const opened = checkpoints.map((c) => ({ size: c.size, result: openCheckpoint(c.note, trusted) }));
  const verifier = new ChainVerifier(start, new Set(opened.map((c) => c.size)));
  for await (const batch of batches) {
    for (const e of batch) if (!verifier.push(e)) break;
    if (verifier.fault) break;
  }
  const fail = (firstBadSeq: number | null, problem: VerifyReport['problem'], message: string, cpChecked = 0): VerifyReport => ({
    ...base,
    ok: false,
    checked: verifier.checked,
    checkpointsChecked: cpChecked,
    firstBadSeq,
    problem,
    message,
    headHash: null,
  });
  if (verifier.fault) return fail(verifier.fault.seq, verifier.fault.problem, verifier.fault.message);
  let cpChecked = 0;
  for (const c of opened) {
    if (!c.result.ok) {
      const problem = c.result.reason === 'unknown-signer' ? 'checkpoint-unknown-signer' : 'checkpoint-signature';
      return fail(c.size, problem, c.result.message, cpChecked);
    }
    if (c.size < start.seq) continue;
    const seen = verifier.seen.get(c.size);
    if (seen === undefined) {
      return fail(
        verifier.nextSeq,
        'missing-entry',
        `a signed checkpoint covers ${c.size} entries but the log ends at entry ${verifier.nextSeq - 1}: entries were removed from the end`,
        cpChecked,
      );
    }
    if (seen !== c.result.headHashHex) {
      return fail(
        c.size,
        'checkpoint-mismatch',
        `entry ${c.size} does not match the signed checkpoint at size ${c.size}: the log was rewritten up to there`,
        cpChecked,
      );
    }
    cpChecked += 1;
  }
  const last = start.seq + verifier.checked - 1;
  return {
    ...base,
    ok: true,
    checked: verifier.checked,
    checkpointsChecked: cpChecked,
    firstBadSeq: null,
    problem: null,
    message: verifier.checked
      ? `All ${verifier.checked} entries (${start.seq}–${last}) are intact and linked; ${cpChecked} signed checkpoint(s) match.`
      : 'The log is empty.',
    headHash: verifier.headHash,
  };
}
