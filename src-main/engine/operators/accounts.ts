import argon2 from 'argon2';
import { ContractError, type Role } from '../../../src-shared/contract';
import type { Sqlite } from '../../adapters/sqlite';
import { passwordProblem, PASSWORD_POLICY_TEXT } from './password-policy';

/** argon2id with the parameters the design fixes (64 MiB, t=3). */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 65536, timeCost: 3, parallelism: 1 } as const;
/** Failures before the delays start, before the lockout, and how long it lasts. */
export const BACKOFF_AFTER = 3;
export const LOCK_AFTER = 10;
export const LOCK_MS = 15 * 60_000;
/** Failed attempts older than this are forgotten, for every name alike. */
export const FAILURE_WINDOW_MS = 24 * 3600_000;
const MAX_DELAY_MS = 5 * 60_000;

/** Sign-in attempts this console checks per minute, all usernames together (a burst, then a steady rate). */
export const SIGN_IN_RATE = { burst: 10, perMinute: 30 };

export interface AccountRow {
  username: string;
  display_name: string;
  role: Role;
  password_hash: string;
  created_at: string;
  failed_attempts: number;
  last_failed_at: string | null;
  locked_until: string | null;
  last_sign_in_at: string | null;
}

export const accountView = (r: AccountRow) => ({
  username: r.username,
  displayName: r.display_name,
  role: r.role,
  createdAt: r.created_at,
  failedAttempts: r.failed_attempts,
  lockedUntil: r.locked_until,
  lastSignInAt: r.last_sign_in_at,
});

/** Delay imposed after `failures` consecutive failures: 1 s, 2 s, 4 s … from the third one. */
export function backoffMs(failures: number): number {
  return failures < BACKOFF_AFTER ? 0 : Math.min(MAX_DELAY_MS, 1000 * 2 ** (failures - BACKOFF_AFTER));
}

/**
 * Verified against when the username is unknown, so both cases run the same argon2id
 * (same parameters as ARGON2_OPTIONS: a test holds them equal). A constant: computing it
 * on the first unknown name would make that one answer slower.
 */
export const UNKNOWN_USER_HASH = '$argon2id$v=19$m=65536,p=1,t=3$TOsoS6feIMnq91K3z53vYA$5CZp5oofIF+pltB8eAtc29OikBlKTMJvXT8tfLCZjEw';

/** One bucket for every sign-in attempt this console checks: password spraying over many names is slowed too. */
export class SignInRateLimit {
  private tokens: number;
  private last: number;
  constructor(
    private readonly rate: { burst: number; perMinute: number } = SIGN_IN_RATE,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = rate.burst;
    this.last = now();
  }
  /** 0 when an attempt may go ahead (and uses a token), else how long until one may. */
  take(): number {
    const now = this.now();
    const perMs = this.rate.perMinute / 60_000;
    // a clock set back refills nothing rather than draining the bucket
    this.tokens = Math.min(this.rate.burst, this.tokens + Math.max(0, now - this.last) * perMs);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / perMs);
  }
}

const ACCOUNT_COLUMNS = `a.username, a.display_name, a.role, a.password_hash, a.created_at, a.last_sign_in_at,
  coalesce(f.failed_attempts, 0) AS failed_attempts, f.last_failed_at, f.locked_until`;
const iso = (ms: number) => new Date(ms).toISOString();

/** Local accounts for air-gapped sites. */
export class LocalAccounts {
  private readonly rate: SignInRateLimit;
  constructor(
    private readonly db: Sqlite,
    private readonly now: () => number = Date.now,
    rate: SignInRateLimit | { burst: number; perMinute: number } = SIGN_IN_RATE,
  ) {
    this.rate = rate instanceof SignInRateLimit ? rate : new SignInRateLimit(rate, now);
  }

  count(): number {
    return this.db.prepare('SELECT count(*) FROM operators_accounts').pluck().get() as number;
  }

  find(username: string): AccountRow | null {
    return (
      (this.db
        .prepare(
          `SELECT ${ACCOUNT_COLUMNS} FROM operators_accounts a LEFT JOIN operators_signin_failures f USING (username) WHERE a.username = ?`,
        )
        .get(username) as AccountRow | undefined) ?? null
    );
  }

  require(username: string): AccountRow {
    const row = this.find(username);
    if (!row) throw new ContractError('NOT_FOUND', `There is no local account "${username}".`);
    return row;
  }

  list(): AccountRow[] {
    return this.db
      .prepare(
        `SELECT ${ACCOUNT_COLUMNS} FROM operators_accounts a LEFT JOIN operators_signin_failures f USING (username) ORDER BY a.username`,
      )
      .all() as AccountRow[];
  }

  static checkPolicy(password: string, username: string): void {
    const problem = passwordProblem(password, username);
    if (problem) {
      throw new ContractError('VALIDATION', `The password was refused: ${problem}. ${PASSWORD_POLICY_TEXT}`, {
        fields: { password: problem },
      });
    }
  }

  /** Creates an account; `onlyIfNone` makes it the first-run path (refused once any account exists). */
  async create(input: { username: string; displayName?: string; role: Role; password: string }, onlyIfNone = false): Promise<AccountRow> {
    LocalAccounts.checkPolicy(input.password, input.username);
    const hash = await argon2.hash(input.password, ARGON2_OPTIONS);
    const created = new Date(this.now()).toISOString();
    this.db.transaction(() => {
      if (onlyIfNone && this.count() > 0) {
        throw new ContractError('CONFLICT', 'The first admin already exists. Sign in, or ask an admin for an account.');
      }
      if (this.find(input.username))
        throw new ContractError('CONFLICT', `The account "${input.username}" already exists. Choose another username.`);
      this.db
        .prepare('INSERT INTO operators_accounts (username, display_name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(input.username, input.displayName || input.username, input.role, hash, created);
    })();
    return this.require(input.username);
  }

  /**
   * Counts this attempt as a failure before anything is checked, in one transaction, and says
   * whether it may go on to the password check. Concurrent attempts are serialized here, so
   * 100 parallel guesses count 100 and only the first ones (before the backoff) are checked.
   * Unknown usernames are counted the same way: the answers never tell whether a name exists.
   */
  private charge(username: string, now: number): { lockedUntil: string | null; waitMs: number; failures: number; locksNow: string | null } {
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM operators_signin_failures WHERE last_failed_at < ?').run(iso(now - FAILURE_WINDOW_MS));
      const row = this.db
        .prepare('SELECT failed_attempts, last_failed_at, locked_until FROM operators_signin_failures WHERE username = ?')
        .get(username) as { failed_attempts: number; last_failed_at: string; locked_until: string | null } | undefined;
      const failures = row?.failed_attempts ?? 0;
      const lockedUntil = row?.locked_until && Date.parse(row.locked_until) > now ? row.locked_until : null;
      const waitMs = !lockedUntil && row ? Date.parse(row.last_failed_at) + backoffMs(failures) - now : 0;
      const charged = failures + 1;
      // The attempt that reaches LOCK_AFTER locks the account unless its password turns out right.
      const locksNow = !lockedUntil && charged >= LOCK_AFTER ? iso(now + LOCK_MS) : null;
      this.db
        .prepare(
          `INSERT INTO operators_signin_failures (username, failed_attempts, last_failed_at, locked_until) VALUES (?, ?, ?, ?)
           ON CONFLICT (username) DO UPDATE SET failed_attempts = excluded.failed_attempts, last_failed_at = excluded.last_failed_at, locked_until = excluded.locked_until`,
        )
        .run(username, charged, iso(now), lockedUntil ?? locksNow);
      return { lockedUntil, waitMs, failures: charged, locksNow };
    })();
  }

  /** Checks a password with backoff, lockout and the console-wide rate; returns the account on success. */
  async authenticate(username: string, password: string): Promise<AccountRow> {
    const signedIn = await this.throttled(username, username, async () => {
      // The same argon2id verification whether or not the name exists.
      const row = this.find(username);
      const ok = (await argon2.verify(row?.password_hash ?? UNKNOWN_USER_HASH, password).catch(() => false)) && row !== null;
      if (!ok) return null;
      this.db.prepare('UPDATE operators_accounts SET last_sign_in_at = ? WHERE username = ?').run(iso(this.now()), username);
      // deleted while its password was being checked: a wrong answer like any other
      return this.find(username);
    });
    // read again: a success has just cleared the failure count
    return this.find(username) ?? signedIn;
  }

  /**
   * Backoff, lockout and the console-wide rate around one password check, counted under `key`
   * (a local username, or `member:<cluster>:<username>` for cluster members). `verify` must do
   * the same work whether or not the name exists and answers null for a wrong password.
   */
  async throttled<T>(key: string, label: string, verify: () => Promise<T | null>): Promise<T> {
    const wrong = new ContractError('UNAUTHENTICATED', 'Wrong username or password.');
    const now = this.now();
    const gate = this.charge(key, now);
    if (gate.lockedUntil) {
      throw new ContractError(
        'UNAUTHENTICATED',
        `The account "${label}" is locked after ${gate.failures - 1} failed sign-ins until ${gate.lockedUntil}. Wait, or ask an admin to unlock it.`,
        { reason: 'locked', lockedUntil: gate.lockedUntil },
      );
    }
    if (gate.waitMs > 0) {
      throw new ContractError('UNAUTHENTICATED', `Too many failed sign-ins. Wait ${Math.ceil(gate.waitMs / 1000)} s before trying again.`, {
        reason: 'backoff',
        retryAfterMs: gate.waitMs,
      });
    }
    const retryAfterMs = this.rate.take();
    if (retryAfterMs > 0) {
      throw new ContractError(
        'UNAUTHENTICATED',
        `This console is receiving too many sign-in attempts. Wait ${Math.ceil(retryAfterMs / 1000)} s and try again.`,
        { reason: 'rate-limited', retryAfterMs },
      );
    }
    const result = await verify();
    if (result === null) {
      if (gate.locksNow) {
        throw new ContractError(
          'UNAUTHENTICATED',
          `Wrong username or password. The account is now locked until ${gate.locksNow}; an admin can unlock it.`,
          {
            reason: 'locked',
            lockedUntil: gate.locksNow,
          },
        );
      }
      throw wrong;
    }
    this.clearFailures(key);
    return result;
  }

  /** The throttle state of a key (members: `member:<cluster>:<username>`), or null when it has no failure. */
  failures(key: string): { failedAttempts: number; lockedUntil: string | null } | null {
    const row = this.db
      .prepare('SELECT failed_attempts, locked_until FROM operators_signin_failures WHERE username = ? AND last_failed_at >= ?')
      .get(key, iso(this.now() - FAILURE_WINDOW_MS)) as { failed_attempts: number; locked_until: string | null } | undefined;
    if (!row) return null;
    const locked = row.locked_until && Date.parse(row.locked_until) > this.now() ? row.locked_until : null;
    return { failedAttempts: row.failed_attempts, lockedUntil: locked };
  }

  clearFailures(key: string): void {
    this.db.prepare('DELETE FROM operators_signin_failures WHERE username = ?').run(key);
  }

  async changePassword(username: string, current: string, next: string): Promise<void> {
    await this.authenticate(username, current);
    LocalAccounts.checkPolicy(next, username);
    const hash = await argon2.hash(next, ARGON2_OPTIONS);
    this.db.prepare('UPDATE operators_accounts SET password_hash = ? WHERE username = ?').run(hash, username);
  }

  setRole(username: string, role: Role): AccountRow {
    this.require(username);
    if (role !== 'admin' && this.require(username).role === 'admin' && this.adminCount() <= 1) {
      throw new ContractError('CONFLICT', 'This is the last admin account. Make another account admin first.');
    }
    this.db.prepare('UPDATE operators_accounts SET role = ? WHERE username = ?').run(role, username);
    return this.require(username);
  }

  unlock(username: string): AccountRow {
    this.require(username);
    this.db.prepare('DELETE FROM operators_signin_failures WHERE username = ?').run(username);
    return this.require(username);
  }

  delete(username: string): AccountRow {
    const row = this.require(username);
    if (row.role === 'admin' && this.adminCount() <= 1)
      throw new ContractError('CONFLICT', 'This is the last admin account; it cannot be deleted.');
    this.db.prepare('DELETE FROM operators_accounts WHERE username = ?').run(username);
    return row;
  }

  private adminCount(): number {
    return this.db.prepare("SELECT count(*) FROM operators_accounts WHERE role = 'admin'").pluck().get() as number;
  }
}
