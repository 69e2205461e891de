import os from 'node:os';
import type { OperatorIdentity } from '../../../src-shared/contract';

/**
 * Who is calling on each connection. Until an operator signs in with a local
 * account or OIDC, the desktop user of this workstation acts as admin.
 */
export class SessionRegistry {
  private readonly byConnection = new Map<string, OperatorIdentity>();
  constructor(private readonly fallback: OperatorIdentity | null = osUserOperator()) {}

  identify(connectionId: string): OperatorIdentity | null {
    return this.byConnection.get(connectionId) ?? this.fallback;
  }
  signIn(connectionId: string, operator: OperatorIdentity): void {
    this.byConnection.set(connectionId, operator);
  }
  signOut(connectionId: string): void {
    this.byConnection.delete(connectionId);
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
