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
const MAX_DELAY_MS = 5 * 60_000;

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

// Verified against when the username is unknown, so both cases cost the same time.
let dummyHash: Promise<string> | null = null;

/** Local accounts for air-gapped sites. */
export class LocalAccounts {
  constructor(
    private readonly db: Sqlite,
    private readonly now: () => number = Date.now,
  ) {}

  count(): number {
    return this.db.prepare('SELECT count(*) FROM operators_accounts').pluck().get() as number;
  }

  find(username: string): AccountRow | null {
    return (this.db.prepare('SELECT * FROM operators_accounts WHERE username = ?').get(username) as AccountRow | undefined) ?? null;
  }

  require(username: string): AccountRow {
    const row = this.find(username);
    if (!row) throw new ContractError('NOT_FOUND', `There is no local account "${username}".`);
    return row;
  }

  list(): AccountRow[] {
    return this.db.prepare('SELECT * FROM operators_accounts ORDER BY username').all() as AccountRow[];
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

  /** Checks a password with backoff and lockout; returns the account on success. */
  async authenticate(username: string, password: string): Promise<AccountRow> {
    const wrong = new ContractError('UNAUTHENTICATED', 'Wrong username or password.');
    const row = this.find(username);
    if (!row) {
      dummyHash ??= argon2.hash('not-a-password-at-all', ARGON2_OPTIONS);
      await argon2.verify(await dummyHash, password).catch(() => false);
      throw wrong;
    }
    const now = this.now();
    if (row.locked_until && Date.parse(row.locked_until) > now) {
      throw new ContractError(
        'UNAUTHENTICATED',
        `The account "${username}" is locked after ${row.failed_attempts} failed sign-ins until ${row.locked_until}. Wait, or ask an admin to unlock it.`,
        { reason: 'locked', lockedUntil: row.locked_until },
      );
    }
    const wait = row.last_failed_at ? Date.parse(row.last_failed_at) + backoffMs(row.failed_attempts) - now : 0;
    if (wait > 0) {
      throw new ContractError('UNAUTHENTICATED', `Too many failed sign-ins. Wait ${Math.ceil(wait / 1000)} s before trying again.`, {
        reason: 'backoff',
        retryAfterMs: wait,
      });
    }
    const ok = await argon2.verify(row.password_hash, password).catch(() => false);
    if (!ok) {
      const failures = row.failed_attempts + 1;
      const lockedUntil = failures >= LOCK_AFTER ? new Date(now + LOCK_MS).toISOString() : null;
      this.db
        .prepare('UPDATE operators_accounts SET failed_attempts = ?, last_failed_at = ?, locked_until = ? WHERE username = ?')
        .run(failures, new Date(now).toISOString(), lockedUntil, username);
      if (lockedUntil) {
        throw new ContractError(
          'UNAUTHENTICATED',
          `Wrong password. The account is now locked until ${lockedUntil}; an admin can unlock it.`,
          {
            reason: 'locked',
            lockedUntil,
          },
        );
      }
      throw wrong;
    }
    this.db
      .prepare(
        'UPDATE operators_accounts SET failed_attempts = 0, last_failed_at = NULL, locked_until = NULL, last_sign_in_at = ? WHERE username = ?',
      )
      .run(new Date(now).toISOString(), username);
    return this.require(username);
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
    this.db
      .prepare('UPDATE operators_accounts SET failed_attempts = 0, last_failed_at = NULL, locked_until = NULL WHERE username = ?')
      .run(username);
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
