import argon2 from 'argon2';
import fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ContractError } from '../../../src-shared/contract';
import { createEngine } from '../../../src-main/engine';
import { ARGON2_OPTIONS, backoffMs, LocalAccounts, LOCK_AFTER, UNKNOWN_USER_HASH } from '../../../src-main/engine/operators/accounts';
import { SessionRegistry } from '../../../src-main/engine/operators/sessions';
import { createRouter } from '../../../src-main/ipc/router';
import { memorySecrets, tempCache, tempDir, auditJournal } from '../audit/helpers';

// Issue 10 item 7: sign-in as an attacker would try it.
const GOOD = 'Correct-Horse-42';

async function refusal(p: Promise<unknown>): Promise<{ message: string; details?: Record<string, unknown> }> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ContractError);
  return e as ContractError;
}

afterEach(() => vi.restoreAllMocks());

describe('sign-in under attack', () => {
  const dir = tempDir('gatehouse-signin-attack-');
  const engine = createEngine({
    mode: 'browser',
    dataDir: dir,
    identity: 'sign-in',
    audit: { secrets: memorySecrets() },
    clusters: { autoStart: false, watch: false, env: {}, home: dir },
  });
  const router = createRouter(engine);
  afterAll(async () => {
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('100 parallel guesses at one account count 100 failures; only the guesses before the backoff are checked', async () => {
    expect((await router.invoke('admin', 'operators.setupFirstAdmin', { username: 'root', password: GOOD })).ok).toBe(true);
    expect((await router.invoke('admin', 'operators.create', { username: 'alice', role: 'operator', password: GOOD })).ok).toBe(true);
    const verify = vi.spyOn(argon2, 'verify');

    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        router.invoke(`attacker-${i}`, 'operators.signIn', { username: 'alice', password: `Guess-number-${i}!` }),
      ),
    );
    expect(answers.every((a) => !a.ok)).toBe(true);
    const reasons = answers.map((a) => (a.ok ? 'ok' : ((a.error.details as { reason?: string } | undefined)?.reason ?? a.error.message)));
    expect(reasons.filter((r) => r === 'Wrong username or password.')).toHaveLength(3);
    expect(verify).toHaveBeenCalledTimes(3);
    const alice = engine.operators.accounts.find('alice')!;
    expect(alice.failed_attempts).toBe(100);
    expect(alice.locked_until).not.toBeNull();
    // locked: even the right password is refused now
    const late = await router.invoke('alice', 'operators.signIn', { username: 'alice', password: GOOD });
    expect(late).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED', details: { reason: 'locked' } } });
  }, 60_000);

  it("changing an operator's role ends the sessions opened with the old one (audited with how many)", async () => {
    await router.invoke('admin', 'operators.unlock', { username: 'alice' });
    expect((await router.invoke('alice', 'operators.signIn', { username: 'alice', password: GOOD })).ok).toBe(true);
    expect((await router.invoke('admin', 'operators.setRole', { username: 'alice', role: 'viewer' })).ok).toBe(true);
    expect(await router.invoke('alice', 'audit.query', {})).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    const records = auditJournal(engine.db).map((s) => JSON.parse(s) as { action: string; after: unknown });
    expect(records.filter((r) => r.action === 'operators.setRole').at(-1)?.after).toEqual({ role: 'viewer', endedSessions: 1 });
  }, 30_000);
});

describe('the same answer for unknown usernames and wrong passwords', () => {
  /** The answers a sequence of wrong guesses gets, spaced by the backoff, with the name taken out. */
  async function answers(accounts: LocalAccounts, username: string, clock: { now: number }) {
    const out: unknown[] = [];
    for (let i = 0; i < LOCK_AFTER + 2; i++) {
      const e = await refusal(accounts.authenticate(username, 'Wrong-password-9'));
      out.push({ message: e.message.replaceAll(username, '<name>'), details: e.details ?? null });
      clock.now += i === 4 ? 0 : backoffMs(i + 1); // once in a while too early, as a script would
    }
    return out;
  }

  it('an unknown username is backed off and locked exactly like an existing account, so answers never tell which names exist', async () => {
    const { db } = tempCache();
    const clock = { now: Date.UTC(2026, 0, 1) };
    const accounts = new LocalAccounts(db, () => clock.now, { burst: 1000, perMinute: 1000 });
    await accounts.create({ username: 'alice', role: 'operator', password: GOOD });
    const start = clock.now;
    const known = await answers(accounts, 'alice', clock);
    clock.now = start;
    const unknown = await answers(new LocalAccounts(db, () => clock.now, { burst: 1000, perMinute: 1000 }), 'nobody', clock);
    expect(unknown).toEqual(known);
    expect(known.some((a) => (a as { details: { reason?: string } | null }).details?.reason === 'backoff')).toBe(true);
    expect(known.some((a) => (a as { details: { reason?: string } | null }).details?.reason === 'locked')).toBe(true);
  }, 60_000);

  it("both are checked with the same argon2id work: the unknown-user hash has the accounts' parameters", async () => {
    const params = /\$m=(\d+),p=(\d+),t=(\d+)\$/.exec(UNKNOWN_USER_HASH);
    expect(params?.slice(1).map(Number)).toEqual([ARGON2_OPTIONS.memoryCost, ARGON2_OPTIONS.parallelism, ARGON2_OPTIONS.timeCost]);
    const { db } = tempCache();
    const accounts = new LocalAccounts(db);
    await accounts.create({ username: 'alice', role: 'operator', password: GOOD });
    const verify = vi.spyOn(argon2, 'verify');
    await refusal(accounts.authenticate('nobody', GOOD));
    await refusal(accounts.authenticate('alice', 'Wrong-password-9'));
    expect(verify.mock.calls.map(([hash]) => /^\$argon2id\$v=19\$m=65536,p=1,t=3\$/.test(hash))).toEqual([true, true]);
  }, 30_000);
});

describe('a console-wide sign-in rate', () => {
  it('password spraying over many usernames is slowed: past the burst, attempts wait, unchecked', async () => {
    const { db } = tempCache();
    let now = Date.UTC(2026, 0, 1);
    const accounts = new LocalAccounts(db, () => now, { burst: 3, perMinute: 6 });
    const verify = vi.spyOn(argon2, 'verify');
    const sprayed = [];
    for (const name of ['ann', 'bob', 'cat', 'dan', 'eve'])
      sprayed.push((await refusal(accounts.authenticate(name, 'Spring2026!'))).details?.reason ?? 'wrong');
    expect(sprayed).toEqual(['wrong', 'wrong', 'wrong', 'rate-limited', 'rate-limited']);
    expect(verify).toHaveBeenCalledTimes(3);
    now += 10_000; // 6 per minute: one more after 10 s
    expect((await refusal(accounts.authenticate('fay', 'Spring2026!'))).details?.reason).toBeUndefined();
    expect((await refusal(accounts.authenticate('gus', 'Spring2026!'))).details).toMatchObject({
      reason: 'rate-limited',
      retryAfterMs: 10_000,
    });
  }, 30_000);
});

describe('OIDC session lifetime', () => {
  it('an OIDC session ends at its ID token expiry unless refreshed', () => {
    let now = Date.UTC(2026, 0, 1);
    const registry = new SessionRegistry(null, () => now);
    const ended: string[] = [];
    registry.onEnded = (_s, id) => ended.push(id);
    const operator = { id: 'oidc:idp:alice', displayName: 'Alice', role: 'operator' as const, via: 'oidc' as const };
    registry.signIn('w1', operator, { oidc: { profile: 'default', tokenKey: 'k', expiresAt: new Date(now + 3600_000).toISOString() } });
    now += 3600_000 - 1;
    expect(registry.identify('w1')).toEqual(operator);
    // refreshed in time: a new ID token, a new end
    registry.signIn('w1', operator, { oidc: { profile: 'default', tokenKey: 'k', expiresAt: new Date(now + 3600_000).toISOString() } });
    now += 3600_000;
    expect(registry.identify('w1')).toBeNull();
    expect(registry.session('w1')).toBeNull();
    expect(ended).toEqual(['w1']);
  });
});
