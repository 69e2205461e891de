import { createHash } from 'node:crypto';
import os from 'node:os';
import type { OperatorIdentity } from '../../../src-shared/contract';

/** What the console keeps about a signed-in connection besides who it is. */
export interface SessionExtra {
  /**
   * OIDC sessions: where the tokens are in the secret store, the profile that mapped the role,
   * and when the session ends (the ID token's expiry, moved by each refresh).
   */
  oidc?: { profile: string; tokenKey: string; expiresAt: string | null };
}

export interface Session {
  operator: OperatorIdentity;
  extra: SessionExtra;
  /** When this connection signed in. */
  since: string;
}

/** How a session is named outside the engine (the Operators page): a digest, never the connection id. */
export const sessionDigest = (connectionId: string): string => createHash('sha256').update(connectionId).digest('hex').slice(0, 16);

/**
 * Who is calling on each connection (an Electron window, a browser-mode socket).
 * `fallback` answers for connections nobody signed in on: null in sign-in mode;
 * the OS user as admin only in os-user mode (tests, sandbox, `GATEHOUSE_IDENTITY=os-user`).
 * An OIDC session past its expiry is gone: the next command of that connection is
 * unauthenticated until it signs in again or refreshes in time.
 */
export class SessionRegistry {
  private readonly byConnection = new Map<string, Session>();
  /** Told about sessions the registry ends by itself (expiry) or for a reason (role or mapping changed). */
  onEnded: ((session: Session, connectionId: string) => void) | null = null;

  constructor(
    private readonly fallback: OperatorIdentity | null = null,
    private readonly now: () => number = () => Date.now(),
  ) {}

  private live(connectionId: string): Session | null {
    const s = this.byConnection.get(connectionId);
    if (!s) return null;
    const expiresAt = s.extra.oidc?.expiresAt;
    if (expiresAt && Date.parse(expiresAt) <= this.now()) {
      this.byConnection.delete(connectionId);
      this.onEnded?.(s, connectionId);
      return null;
    }
    return s;
  }

  identify(connectionId: string): OperatorIdentity | null {
    return this.live(connectionId)?.operator ?? this.fallback;
  }
  session(connectionId: string): Session | null {
    return this.live(connectionId);
  }
  /** Every live session (expired ones are ended on the way). */
  all(): [string, Session][] {
    return [...this.byConnection.keys()].flatMap((id) => {
      const s = this.live(id);
      return s ? [[id, s] as [string, Session]] : [];
    });
  }
  signIn(connectionId: string, operator: OperatorIdentity, extra: SessionExtra = {}): void {
    this.byConnection.set(connectionId, { operator, extra, since: new Date(this.now()).toISOString() });
  }
  /** The same session with a re-read identity (a member changed on another console). */
  replace(connectionId: string, operator: OperatorIdentity): void {
    const s = this.byConnection.get(connectionId);
    if (s) this.byConnection.set(connectionId, { ...s, operator });
  }
  /** The connection of a session named by its digest, or null. */
  byDigest(digest: string): string | null {
    return [...this.byConnection.keys()].find((id) => sessionDigest(id) === digest) ?? null;
  }
  signOut(connectionId: string): void {
    this.byConnection.delete(connectionId);
  }
  /** Ends the sessions matching `which` (role changed, account deleted, OIDC mapping changed); returns how many. */
  signOutWhere(which: (session: Session) => boolean): number {
    let ended = 0;
    for (const [id, s] of this.byConnection) {
      if (!which(s)) continue;
      this.byConnection.delete(id);
      this.onEnded?.(s, id);
      ended += 1;
    }
    return ended;
  }
  /** Ends every session of an operator (account deleted, role changed). */
  signOutEverywhere(operatorId: string): number {
    return this.signOutWhere((s) => s.operator.id === operatorId);
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
