import { describe, expect, it } from 'vitest';
import { ContractError } from '../../../src-shared/contract';
import { backoffMs, LocalAccounts, LOCK_AFTER } from '../../../src-main/engine/operators/accounts';
import { passwordProblem } from '../../../src-main/engine/operators/password-policy';
import { roleFromGroups } from '../../../src-main/engine/operators/oidc';
import { tempCache } from '../audit/helpers';

const GOOD = 'Correct-Horse-42';

async function code(p: Promise<unknown>): Promise<{ code: string; message: string; details?: Record<string, unknown> }> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ContractError);
  return e as ContractError;
}

describe('password policy', () => {
  it('refuses short, single-class, username-containing and common passwords', () => {
    expect(passwordProblem('Sh0rt!', 'alice')).toMatch(/12 characters/);
    expect(passwordProblem('alllowercaseletters', 'alice')).toMatch(/three kinds/);
    expect(passwordProblem('Alice-Is-Great-1', 'alice')).toMatch(/username/);
    expect(passwordProblem('password1234', 'bob')).toMatch(/common/);
    expect(passwordProblem('aaaaaaaaaaaaaaaaaaaaaaaa', 'bob')).toMatch(/repeats/);
    expect(passwordProblem('a long passphrase with only words', 'bob')).toBeNull();
    expect(passwordProblem(GOOD, 'alice')).toBeNull();
  });
});

describe('local accounts', () => {
  it('stores argon2id hashes with m=64 MiB, t=3, never the password', async () => {
    const { db } = tempCache();
    const accounts = new LocalAccounts(db);
    await accounts.create({ username: 'alice', role: 'admin', password: GOOD });
    const row = accounts.find('alice')!;
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=65536,p=1,t=3\$/);
    expect(JSON.stringify(db.prepare('SELECT * FROM operators_accounts').all())).not.toContain(GOOD);
    expect((await accounts.authenticate('alice', GOOD)).role).toBe('admin');
    expect((await code(accounts.create({ username: 'bob', role: 'viewer', password: 'short' }))).code).toBe('VALIDATION');
  });

  it('the first-run path creates an account only while none exists', async () => {
    const { db } = tempCache();
    const accounts = new LocalAccounts(db);
    await accounts.create({ username: 'first', role: 'admin', password: GOOD }, true);
    expect((await code(accounts.create({ username: 'second', role: 'admin', password: GOOD }, true))).code).toBe('CONFLICT');
  });

  it('backs off exponentially after repeated failures, then locks the account; an admin unlocks it', async () => {
    const { db } = tempCache();
    let now = Date.UTC(2026, 0, 1);
    const accounts = new LocalAccounts(db, () => now);
    await accounts.create({ username: 'alice', role: 'operator', password: GOOD });
    expect([1, 2, 3, 4, 5, 6].map(backoffMs)).toEqual([0, 0, 1000, 2000, 4000, 8000]);

    for (let i = 1; i <= 3; i++)
      expect((await code(accounts.authenticate('alice', 'Wrong-password-9'))).message).toMatch(/Wrong username or password/);
    // inside the wait even the right password is held back, unchecked, and the attempt counts
    expect((await code(accounts.authenticate('alice', GOOD))).details).toMatchObject({ reason: 'backoff', retryAfterMs: 1000 });
    expect(accounts.find('alice')?.failed_attempts).toBe(4);
    let failures = 4;
    while (failures < LOCK_AFTER - 1) {
      now += backoffMs(failures);
      expect((await code(accounts.authenticate('alice', 'Wrong-password-9'))).message).toMatch(/Wrong username or password/);
      failures += 1;
    }
    now += backoffMs(failures);
    const locked = await code(accounts.authenticate('alice', 'Wrong-password-9'));
    expect(locked.details).toMatchObject({ reason: 'locked' });
    now += 60_000;
    expect((await code(accounts.authenticate('alice', GOOD))).message).toMatch(/locked .* until/);
    accounts.unlock('alice');
    expect((await accounts.authenticate('alice', GOOD)).failed_attempts).toBe(0);
  }, 60_000); // a dozen argon2id (64 MiB) verifications on a shared 2-core machine

  it('an unknown user gets the same answer as a wrong password', async () => {
    const { db } = tempCache();
    const accounts = new LocalAccounts(db);
    expect((await code(accounts.authenticate('nobody', GOOD))).message).toBe('Wrong username or password.');
  });

  it('keeps at least one admin', async () => {
    const { db } = tempCache();
    const accounts = new LocalAccounts(db);
    await accounts.create({ username: 'root', role: 'admin', password: GOOD });
    expect(() => accounts.setRole('root', 'viewer')).toThrow(/last admin/);
    expect(() => accounts.delete('root')).toThrow(/last admin/);
  });
});

describe('OIDC group → role mapping', () => {
  it('picks the highest mapped role', () => {
    const mapping = { admin: ['gh-admins'], operator: ['gh-ops'], viewer: ['everyone'] };
    expect(roleFromGroups(['everyone', 'gh-ops'], mapping)).toBe('operator');
    expect(roleFromGroups(['gh-admins'], mapping)).toBe('admin');
    expect(roleFromGroups(['other'], mapping)).toBeNull();
  });
});
