import type { OperatorIdentity } from '../../../src-shared/contract';

/** What an audited command may tell the audit path beyond its input. */
export interface AuditNotes {
  target?: string;
  before?: unknown;
  after?: unknown;
}

/** Passed to every handler: who is calling, against which cluster, and where to note audit details. */
export interface CommandContext {
  operator: OperatorIdentity;
  /** Selected cluster context id, when one is selected. */
  clusterId: string | null;
  /** Transport connection, for per-connection state (sessions, subscriptions). */
  connectionId: string;
  audit: AuditNotes;
}
