import type { AuditFinding, AuditProblem, VerifyReport } from '../../../src-shared/contract/audit';
import { ChainVerifier } from './chain';
import type { StoredRow } from './local-copy';
import { walkParallel, type ParallelPlan } from './parallel-walk';
import { noteSignatures, openCheckpoint, type Verifier } from './signing';

type Batches = Iterable<StoredRow[]> | AsyncIterable<StoredRow[]>;

/** A place checkpoints of this log were found: the database, the Kubernetes ConfigMap, this console's witness, a bundle. */
export interface CheckpointSource {
  where: string;
  /** The store the entries were read from: its missing checkpoints are what the others reveal. */
  primary?: boolean;
  notes: { size: number; note: string }[];
}

/**
 * When a log counts as vouched for: at most `maxEntriesWithoutCheckpoint` entries after the
 * newest trusted checkpoint, and none of them waiting longer than `maxCheckpointAgeMs`.
 */
export interface VerifyPolicy {
  maxEntriesWithoutCheckpoint: number;
  maxCheckpointAgeMs: number;
}

export const DEFAULT_POLICY: VerifyPolicy = { maxEntriesWithoutCheckpoint: 1000, maxCheckpointAgeMs: 24 * 3600_000 };

export interface VerifyInput {
  source: string;
  readFrom: 'shared' | 'local';
  batches: Batches;
  /**
   * Where the same rows are in the cache file, for a walk in worker threads (long logs). When
   * that walk finds anything wrong, or cannot run, `batches` are walked serially instead.
   */
  parallel?: ParallelPlan | null;
  start: { seq: number; prevHash: string };
  /** The log's origin line (`gatehouse/audit/<log id>`); checkpoints of another origin are ignored. */
  origin: string | null;
  checkpoints: CheckpointSource[];
  trusted: Verifier[];
  policy: VerifyPolicy;
  /** Time of an entry (for the age rule), read after the walk. */
  timeOf(seq: number): Promise<string | null> | string | null;
  /** Findings established elsewhere (witness, log id, the database's protection), merged into the report. */
  findings?: AuditFinding[];
  /** Extra seqs whose hash the walk must note (the witnessed head). */
  watch?: number[];
  now?: Date;
}

export interface VerifyOutcome {
  report: VerifyReport;
  /** Hash of every watched seq the walk passed. */
  seen: Map<number, string>;
  /** Trusted, matching checkpoints, newest last (what a witness may record and cosign). */
  trustedCheckpoints: { size: number; note: string; signers: string[] }[];
  lastSeq: number;
}

const ORDER: AuditProblem[] = [
  'hash-mismatch',
  'broken-link',
  'missing-entry',
  'unexpected-entry',
  'malformed-entry',
  'log-id-changed',
  'log-truncated',
  'entry-rewritten',
  'checkpoint-mismatch',
  'checkpoint-disagrees',
  'checkpoint-signature',
  'checkpoints-missing',
  'protection-changed',
  'no-trusted-checkpoint',
  'stale-checkpoint',
  'witness-unreadable',
  'checkpoint-unknown-signer',
];

const finding = (
  kind: AuditProblem,
  severity: AuditFinding['severity'],
  message: string,
  seq: number | null = null,
  range: AuditFinding['range'] = null,
  where: string | null = null,
): AuditFinding => ({ kind, severity, message, seq, range, where });

/**
 * Walks a log (in batches of stored rows) and checks every checkpoint of every source
 * against it; applies the policy; merges findings made elsewhere. Names the first bad seq,
 * the missing range, and which source disagrees.
 */
export async function verifyLog(input: VerifyInput): Promise<VerifyOutcome> {
  const checkedAt = (input.now ?? new Date()).toISOString();
  const findings: AuditFinding[] = [];
  const sizes = new Set<number>(input.watch ?? []);
  for (const s of input.checkpoints) for (const c of s.notes) sizes.add(c.size);
  // In parallel when the rows are in a cache file and the log is long; a fault (or a worker
  // that could not run) leaves it to the serial walk, which names the first bad entry.
  const parallel = input.parallel ? await walkParallel(input.parallel, input.start, sizes) : null;
  if (parallel === 'stopped') throw new Error('verification stopped: the console is closing; verify again after it starts');
  let verifier: Pick<ChainVerifier, 'fault' | 'checked' | 'nextSeq' | 'headHash' | 'seen'> | null = parallel;
  if (!verifier) {
    const serial = new ChainVerifier(input.start, sizes);
    outer: for await (const batch of input.batches) {
      for (const r of batch) if (!serial.pushStored(r[0], r[1], r[2])) break outer;
    }
    verifier = serial;
  }
  const fault = verifier.fault;
  const lastSeq = verifier.nextSeq - 1;
  if (fault) {
    findings.push(
      finding(
        fault.problem,
        'alarm',
        fault.message,
        fault.seq,
        fault.problem === 'missing-entry' ? { from: fault.seq, to: fault.seq } : null,
        input.readFrom === 'shared' ? 'database' : 'local copy',
      ),
    );
  }

  // Checkpoints: each source's, opened against the enrolled keys only.
  const trustedMatches = new Map<number, { size: number; note: string; signers: Set<string> }>();
  const validBySource = new Map<string, Map<string, number>>(); // where → body → size
  let truncatedTo = 0;
  for (const src of input.checkpoints) {
    const valid = new Map<string, number>();
    validBySource.set(src.where, valid);
    for (const { size, note } of src.notes) {
      const opened = openCheckpoint(note, input.trusted);
      if (!opened.ok) {
        if (opened.reason === 'unknown-signer') {
          const names = noteSignatures(note).map((s) => s.name);
          findings.push(
            finding(
              'checkpoint-unknown-signer',
              'warning',
              `The checkpoint at size ${size} in the ${src.where} is signed by ${names.join(', ') || 'nobody'}, not enrolled here: it is not trusted.`,
              size,
              null,
              src.where,
            ),
          );
        } else {
          findings.push(finding('checkpoint-signature', 'alarm', `${opened.message} (in the ${src.where})`, size, null, src.where));
        }
        continue;
      }
      if (input.origin && opened.checkpoint.origin !== input.origin) continue; // another log's checkpoint: says nothing here
      const body = note.slice(0, note.indexOf('\n\n'));
      valid.set(body, size);
      if (fault && size >= fault.seq) continue; // beyond the first bad entry: the chain fault says it all
      if (size < input.start.seq - 1) continue; // before the range (a bundle slice)
      const seen = size === input.start.seq - 1 ? input.start.prevHash : verifier.seen.get(size);
      if (seen === undefined) {
        truncatedTo = Math.max(truncatedTo, size);
        continue;
      }
      if (seen !== opened.headHashHex) {
        const kind: AuditProblem = src.primary ? 'checkpoint-mismatch' : 'checkpoint-disagrees';
        findings.push(
          finding(
            kind,
            'alarm',
            src.primary
              ? `Entry ${size} does not match the signed checkpoint at size ${size}: the log was rewritten up to there.`
              : `The signed checkpoint at size ${size} in the ${src.where} disagrees with entry ${size} of the log: the log was rewritten up to there.`,
            size,
            null,
            src.where,
          ),
        );
        continue;
      }
      const m = trustedMatches.get(size) ?? { size, note, signers: new Set<string>() };
      m.signers.add(opened.signer);
      trustedMatches.set(size, m);
    }
  }
  if (truncatedTo > 0 && !fault) {
    findings.push(
      finding(
        'missing-entry',
        'alarm',
        `A signed checkpoint covers ${truncatedTo} entries but the log ends at entry ${lastSeq}: entries ${lastSeq + 1}–${truncatedTo} were removed from the end.`,
        lastSeq + 1,
        { from: lastSeq + 1, to: truncatedTo },
      ),
    );
  }
  // Checkpoints another place holds that the primary store lost.
  const primary = input.checkpoints.find((s) => s.primary);
  if (primary) {
    const have = validBySource.get(primary.where)!;
    const lost = new Map<number, string[]>();
    for (const src of input.checkpoints) {
      if (src === primary) continue;
      for (const [body, size] of validBySource.get(src.where) ?? []) {
        if (!have.has(body)) lost.set(size, [...(lost.get(size) ?? []), src.where]);
      }
    }
    if (lost.size) {
      const list = [...lost.keys()].sort((a, b) => a - b);
      const places = [...new Set([...lost.values()].flat())];
      findings.push(
        finding(
          'checkpoints-missing',
          'alarm',
          `${list.length} signed checkpoint(s) (sizes ${list[0]}–${list[list.length - 1]}) are missing from the ${primary.where}; the ${places.join(' and ')} still hold them.`,
          list[0]!,
          { from: list[0]!, to: list[list.length - 1]! },
          primary.where,
        ),
      );
    }
  }

  // Policy: what is not covered by a trusted checkpoint cannot be vouched for for long.
  const matches = [...trustedMatches.values()].sort((a, b) => a.size - b.size);
  const newest = matches[matches.length - 1] ?? null;
  const covered = Math.max(newest?.size ?? 0, input.start.seq - 1);
  if (!fault && lastSeq > covered) {
    const unprotected = lastSeq - covered;
    const firstAt = await input.timeOf(covered + 1);
    const ageMs = firstAt ? (input.now ?? new Date()).getTime() - new Date(firstAt).getTime() : 0;
    if (!newest && unprotected > input.policy.maxEntriesWithoutCheckpoint) {
      findings.push(
        finding(
          'no-trusted-checkpoint',
          'warning',
          `No checkpoint signed by an enrolled key covers this log of ${lastSeq} entries (the policy allows ${input.policy.maxEntriesWithoutCheckpoint}): it cannot be vouched for. Enroll the signing consoles' keys or let an enrolled console sync.`,
          covered + 1,
          { from: covered + 1, to: lastSeq },
        ),
      );
    } else if (unprotected > input.policy.maxEntriesWithoutCheckpoint || ageMs > input.policy.maxCheckpointAgeMs) {
      findings.push(
        finding(
          'stale-checkpoint',
          'warning',
          `${unprotected} entries (${covered + 1}–${lastSeq}) come after the newest trusted checkpoint${newest ? ` (size ${newest.size})` : ''}, the oldest written ${Math.round(ageMs / 3600_000)} h ago; the policy allows ${input.policy.maxEntriesWithoutCheckpoint} entries and ${Math.round(input.policy.maxCheckpointAgeMs / 3600_000)} h.`,
          covered + 1,
          { from: covered + 1, to: lastSeq },
        ),
      );
    }
  }

  findings.push(...(input.findings ?? []));
  findings.sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
  const alarms = findings.filter((f) => f.severity === 'alarm');
  const policy = findings.filter((f) => f.kind === 'no-trusted-checkpoint' || f.kind === 'stale-checkpoint');
  const state: VerifyReport['state'] = alarms.length ? 'tampered' : policy.length ? 'unverifiable' : 'verified';
  const main = alarms[0] ?? policy[0] ?? null;
  const missing = alarms.find((f) => f.kind === 'missing-entry' || f.kind === 'log-truncated');
  const badSeq = alarms.find((f) => f.seq !== null);
  const report: VerifyReport = {
    source: input.source,
    state,
    ok: state === 'verified',
    checked: verifier.checked,
    checkpointsChecked: matches.length,
    firstBadSeq: state === 'tampered' ? (badSeq?.seq ?? null) : null,
    missingRange: missing?.range ?? null,
    problem: main?.kind ?? null,
    message:
      main?.message ??
      (verifier.checked
        ? `All ${verifier.checked} entries (${input.start.seq}–${lastSeq}) are intact and linked; ${matches.length} trusted checkpoint(s) match${newest ? `, the newest at ${newest.size}` : ''}.`
        : 'The log is empty.'),
    headSeq: fault ? null : lastSeq,
    headHash: fault ? null : verifier.checked ? verifier.headHash : null,
    trustedCheckpoint: newest ? { size: newest.size, signers: [...newest.signers] } : null,
    findings,
    checkedAt,
    readFrom: input.readFrom,
  };
  return {
    report,
    seen: verifier.seen,
    trustedCheckpoints: matches.map((m) => ({ size: m.size, note: m.note, signers: [...m.signers] })),
    lastSeq,
  };
}
