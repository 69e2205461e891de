import type { Role } from '../../../src-shared/contract';

export type AuditOutcome = 'success' | 'failure' | 'denied' | 'invalid';

/** One control-plane action as the audit log keeps it (secrets already redacted). */
export interface AuditRecord {
  actor: string;
  actorRole: Role;
  action: string;
  target: string | null;
  params: unknown;
  before: unknown;
  after: unknown;
  outcome: AuditOutcome;
  errorCode: string | null;
  at: string;
  cluster: string | null;
  consoleVersion: string;
  /** The actor acted through an API token (docs/security.md#api-tokens); absent otherwise. */
  via?: { kind: 'token'; tokenId: string; tokenName: string };
}

/** What is known of a mutation before it runs: the record without its outcome. */
export type AuditIntent = Omit<AuditRecord, 'outcome' | 'errorCode' | 'after'>;

/** Where the command pipeline writes; the audit capability provides the real, hash-chained one. */
export interface AuditRecorder {
  /**
   * Stores the record of intent durably before a mutation runs and returns its id; throws
   * when it cannot, and the pipeline then refuses the mutation (fail-closed).
   */
  intend(entry: AuditIntent): string;
  /** The outcome; with the intent's id it replaces that intent in the same transaction. */
  record(entry: AuditRecord, intentId?: string): Promise<void>;
}

/** A recorder that keeps records in memory (tests and tools that audit nothing durable). */
export function memoryRecorder(records: AuditRecord[] = []): AuditRecorder & { records: AuditRecord[]; intents: Map<string, AuditIntent> } {
  const intents = new Map<string, AuditIntent>();
  let n = 0;
  return {
    records,
    intents,
    intend(entry) {
      const id = `intent-${++n}`;
      intents.set(id, entry);
      return id;
    },
    async record(entry, intentId) {
      if (intentId) intents.delete(intentId);
      records.push(entry);
    },
  };
}
