import os from 'node:os';
import type { OperatorIdentity } from '../../../src-shared/contract';

/** What the console keeps about a signed-in connection besides who it is. */
export interface SessionExtra {
  /** OIDC sessions: where the tokens are in the secret store, and the profile that mapped the role. */
  oidc?: { profile: string; tokenKey: string; expiresAt: string | null };
}

/**
 * Who is calling on each connection (an Electron window, a browser-mode socket).
 * `fallback` answers for connections nobody signed in on: null in sign-in mode;
 * the OS user as admin only in os-user mode (tests, sandbox, `GATEHOUSE_IDENTITY=os-user`).
 */
export class SessionRegistry {
  private readonly byConnection = new Map<string, { operator: OperatorIdentity; extra: SessionExtra }>();
  constructor(private readonly fallback: OperatorIdentity | null = null) {}

  identify(connectionId: string): OperatorIdentity | null {
    return this.byConnection.get(connectionId)?.operator ?? this.fallback;
  }
  session(connectionId: string): { operator: OperatorIdentity; extra: SessionExtra } | null {
    return this.byConnection.get(connectionId) ?? null;
  }
  signIn(connectionId: string, operator: OperatorIdentity, extra: SessionExtra = {}): void {
    this.byConnection.set(connectionId, { operator, extra });
  }
  signOut(connectionId: string): void {
    this.byConnection.delete(connectionId);
  }
  /** Ends every session of an operator (account deleted, role changed). */
  signOutEverywhere(operatorId: string): void {
    for (const [id, s] of this.byConnection) if (s.operator.id === operatorId) this.byConnection.delete(id);
  }
}

export function osUserOperator(): OperatorIdentity {
  let name = 'operator';
  try {
    name = os.userInfo().username;
  } catch {
    // no passwd entry (containers): keep the generic name
  }
  return { id: `os:${name}`, displayName: name, role: 'admin', via: 'os-user' };
}
