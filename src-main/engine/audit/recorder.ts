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
}

/** Where the command pipeline writes; the audit capability provides the real, hash-chained one. */
export interface AuditRecorder {
  record(entry: AuditRecord): Promise<void>;
}
