import crypto from 'node:crypto';

/** Limits of browser-mode sign-in links and cookie sessions (docs/security.md). */
export interface SessionLimits {
  /** A session unused this long ends (default 30 minutes). */
  idleMs: number;
  /** A session ends this long after its link was exchanged, used or not (default 12 hours). */
  lifetimeMs: number;
  /** An unused sign-in link stops working after this long (default 15 minutes). */
  tokenLifetimeMs: number;
  /** Failed link attempts allowed per window; beyond it every attempt is refused until the window passes. */
  tokenFailures: number;
  tokenFailureWindowMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  idleMs: 30 * 60_000,
  lifetimeMs: 12 * 3_600_000,
  tokenLifetimeMs: 15 * 60_000,
  tokenFailures: 10,
  tokenFailureWindowMs: 60_000,
};

/** Unused links kept at once; minting more forgets the oldest. */
const MAX_OPEN_TOKENS = 32;

export interface BrowserSession {
  /** Public id of the session (not the cookie secret): the pipeline's connectionId is `browser:<id>`. */
  readonly id: string;
  readonly createdAt: number;
  lastSeenAt: number;
}

export type Exchange =
  | { ok: true; session: BrowserSession; cookieValue: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'throttled'; retryAfterSeconds: number };

/** Secrets are looked up by their SHA-256, so no comparison runs on the secret itself. */
const digest = (secret: string) => crypto.createHash('sha256').update(secret).digest('base64url');
const randomSecret = (bytes: number) => crypto.randomBytes(bytes).toString('base64url');

/**
 * Sign-in links and cookie sessions of one browser-mode server. A link's token is
 * single-use and short-lived; failed attempts are throttled for the whole server
 * (every caller is 127.0.0.1, so there is no address to throttle per). Sessions
 * end after an idle period and after an absolute lifetime, whichever comes first.
 */
export class BrowserSessions {
  private readonly tokens = new Map<string, number>(); // digest → expiry
  private readonly sessions = new Map<string, BrowserSession>(); // digest of cookie value → session
  private readonly keyOf = new WeakMap<BrowserSession, string>();
  private failures: number[] = [];

  constructor(
    readonly limits: SessionLimits,
    private readonly now: () => number,
    private readonly onEnd: (session: BrowserSession) => void,
  ) {}

  /** A fresh single-use token for a sign-in link. */
  mintToken(): string {
    const token = randomSecret(24);
    this.tokens.set(digest(token), this.now() + this.limits.tokenLifetimeMs);
    while (this.tokens.size > MAX_OPEN_TOKENS) this.tokens.delete(this.tokens.keys().next().value as string);
    return token;
  }

  /** Exchanges a link's token for a new session; the token is spent either way it matches. */
  exchange(offered: string): Exchange {
    const now = this.now();
    this.failures = this.failures.filter((t) => t > now - this.limits.tokenFailureWindowMs);
    if (this.failures.length >= this.limits.tokenFailures) {
      const retryAfterMs = (this.failures[0] ?? now) + this.limits.tokenFailureWindowMs - now;
      return { ok: false, reason: 'throttled', retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
    }
    const key = digest(offered);
    const expiry = this.tokens.get(key);
    this.tokens.delete(key);
    if (expiry === undefined || expiry <= now) {
      this.failures.push(now);
      return { ok: false, reason: 'invalid' };
    }
    const cookieValue = randomSecret(32);
    const session: BrowserSession = { id: randomSecret(16), createdAt: now, lastSeenAt: now };
    this.sessions.set(digest(cookieValue), session);
    this.keyOf.set(session, digest(cookieValue));
    return { ok: true, session, cookieValue };
  }

  /** Spends a token without creating a session (a browser that is signed in already opened a link). */
  discard(offered: string): void {
    this.tokens.delete(digest(offered));
  }

  /** The live session a cookie value belongs to, or null (unknown, idle too long, past its lifetime). */
  lookup(cookieValue: string | undefined): BrowserSession | null {
    if (!cookieValue) return null;
    const session = this.sessions.get(digest(cookieValue));
    return session && this.isOpen(session) ? session : null;
  }

  /** Whether the session is still open; a session found dead here is ended. */
  isOpen(session: BrowserSession): boolean {
    const key = this.keyOf.get(session);
    if (key === undefined || this.sessions.get(key) !== session) return false;
    if (this.alive(session)) return true;
    this.sessions.delete(key);
    this.onEnd(session);
    return false;
  }

  /** Something the operator did: resets the idle clock. */
  touch(session: BrowserSession): void {
    session.lastSeenAt = this.now();
  }

  /** Ends sessions past their limits and forgets expired tokens. */
  sweep(): void {
    const now = this.now();
    for (const [key, expiry] of this.tokens) if (expiry <= now) this.tokens.delete(key);
    for (const [key, session] of this.sessions) {
      if (this.alive(session)) continue;
      this.sessions.delete(key);
      this.onEnd(session);
    }
  }

  endAll(): void {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    this.tokens.clear();
    for (const session of all) this.onEnd(session);
  }

  private alive(s: BrowserSession): boolean {
    const now = this.now();
    return now - s.lastSeenAt < this.limits.idleMs && now - s.createdAt < this.limits.lifetimeMs;
  }
}
