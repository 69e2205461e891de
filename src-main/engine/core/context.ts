import type { OperatorIdentity, Role } from '../../../src-shared/contract';
import type { ClusterRuntime } from './cluster-runtime';

/** What an audited command may tell the audit path beyond its input. */
export interface AuditNotes {
  target?: string;
  before?: unknown;
  after?: unknown;
  /**
   * The cluster the action belongs to, when it is not the session's selected one
   * (resume or roll back an operation of another cluster). Its kube-system UID.
   */
  cluster?: string | null;
  /** The handler refused the caller (a bad API token at sign-in): recorded as denied, not as a failure. */
  denied?: boolean;
  /** Who acted, when a public command run before sign-in established it (an accepted invitation). */
  actor?: { id: string; role: Role };
}

/** Passed to every handler: who is calling, which cluster context the session looks at, and where to note audit details. */
export interface CommandContext {
  operator: OperatorIdentity;
  /** The kubeconfig context this session has selected (captured when the command started), or null. */
  contextId: string | null;
  /**
   * The cluster the command acts on: resolved once per command from the session's
   * selection (the same object on every call), UNAVAILABLE/VALIDATION when none.
   */
  cluster(): Promise<ClusterRuntime>;
  /** Transport connection, for per-connection state (sessions, selection, subscriptions). */
  connectionId: string;
  audit: AuditNotes;
}
