import { describe, expect, it } from 'vitest';
import { SignJWT, createLocalJWKSet, importJWK, jwtVerify, type JWK } from 'jose';
import type { V1Secret } from '@kubernetes/client-node';
import {
  generateJwtKey,
  generateToken,
  openWindow,
  promote,
  publishedJwks,
  readJwtSet,
  readTokenSet,
  retire,
  revoke,
  stageNext,
  unpromote,
  unstage,
  writeSet,
  type CredentialSet,
} from '../../../src-main/engine/rotation/keyset';
import { readDoc, revision } from '../../../src-main/engine/rotation/document';
import { overlapWindow } from '../../../src-main/engine/rotation/window';
import { ContractError } from '../../../src-shared/contract';

const T0 = new Date('2026-11-23T10:00:00.000Z');
const legacy = {
  JWT_CURRENT_KID: 'k-20261101-aaaa1111',
  JWT_CURRENT_SECRET: 'legacy-current-secret-value',
  JWT_PREVIOUS_KID: 'k-20261101-bbbb2222',
  JWT_PREVIOUS_SECRET: 'legacy-previous-secret-value',
};
const apply = (data: Record<string, string>, changes: Record<string, string | null>) => {
  const out = { ...data };
  for (const [k, v] of Object.entries(changes))
    if (v === null) delete out[k];
    else out[k] = v;
  return out;
};
const secretOf = (data: Record<string, string>): V1Secret => ({
  metadata: { name: 'tenant-acme', creationTimestamp: T0 },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});

describe('JWT key set', () => {
  it('reads the legacy JWT_CURRENT_*/JWT_PREVIOUS_* pair as current and previous HS256 keys, and writes the pair back unchanged', async () => {
    const set = readJwtSet(legacy, 'acme', T0.toISOString());
    expect(set.entries.map((e) => [e.id, e.state, e.alg, e.legacy])).toEqual([
      ['k-20261101-aaaa1111', 'current', 'HS256', true],
      ['k-20261101-bbbb2222', 'previous', 'HS256', true],
    ]);
    const written = writeSet(set);
    for (const [k, v] of Object.entries(legacy)) expect(written[k]).toBe(v);
    // A token an old backend signed with the raw string verifies with the imported oct JWK (same bytes).
    const old = await new SignJWT({ sub: 'u1' })
      .setProtectedHeader({ alg: 'HS256', kid: legacy.JWT_CURRENT_KID })
      .sign(new TextEncoder().encode(legacy.JWT_CURRENT_SECRET));
    const key = await importJWK(set.entries[0]!.material as JWK, 'HS256');
    await expect(jwtVerify(old, key)).resolves.toBeTruthy();
    // HS256 keys are never published.
    expect(publishedJwks(set).keys).toEqual([]);
  });

  it('walks next → current → previous → retired and keeps the legacy mirror only while keys are HS256', () => {
    let set = readJwtSet(legacy, 'acme', T0.toISOString());
    const fresh = generateJwtKey('ES256', 'op-1', T0);
    set = stageNext(set, fresh);
    expect(set.entries.filter((e) => e.state === 'next').map((e) => e.id)).toEqual([fresh.id]);
    // staged: still signs with the legacy key; the next key is published.
    expect(writeSet(set).JWT_CURRENT_KID).toBe(legacy.JWT_CURRENT_KID);
    expect(publishedJwks(set).keys.map((k) => (k as { kid: string }).kid)).toEqual([fresh.id]);
    expect(JSON.stringify(publishedJwks(set))).not.toContain('"d"');
    set = promote(set, 'op-1', new Date(T0.getTime() + 1000));
    expect(set.entries.find((e) => e.id === fresh.id)?.state).toBe('current');
    expect(set.entries.find((e) => e.id === legacy.JWT_CURRENT_KID)).toMatchObject({
      state: 'previous',
      demotedBy: 'op-1',
      retireAfter: null,
    });
    // current is ES256 now: no legacy current pair; previous stays mirrored (newest previous).
    const written = writeSet(set);
    expect(written.JWT_CURRENT_KID).toBeNull();
    expect(written.JWT_PREVIOUS_KID).toBe(legacy.JWT_CURRENT_KID);
    set = openWindow(set, 'op-1', 3600, new Date(T0.getTime() + 2000));
    expect(set.entries.find((e) => e.id === legacy.JWT_CURRENT_KID)?.retireAfter).toBe(
      new Date(T0.getTime() + 2000 + 3_600_000).toISOString(),
    );
    set = retire(set, [legacy.JWT_CURRENT_KID], new Date(T0.getTime() + 3_700_000));
    const retired = set.entries.find((e) => e.id === legacy.JWT_CURRENT_KID)!;
    expect(retired).toMatchObject({ state: 'retired', material: null, revoked: false });
    expect(JSON.parse(writeSet(set).JWT_KEYS!).keys.find((k: { kid: string }) => k.kid === retired.id).jwk).toBeNull();
  });

  it('refuses a second staged rotation, naming the operation that holds it', () => {
    const set = stageNext(readJwtSet(legacy, 'acme', T0.toISOString()), generateJwtKey('HS256', 'op-1', T0));
    expect(() => stageNext(set, generateJwtKey('HS256', 'op-2', T0))).toThrow(/already in progress.*op-1/);
    // The same operation re-staging (a resume) is a no-op.
    expect(stageNext(set, generateJwtKey('HS256', 'op-1', T0))).toBe(set);
  });

  it('a rollback after promotion keeps the key that signed as previous with a window, never deletes it', () => {
    let set: CredentialSet = readJwtSet(legacy, 'acme', T0.toISOString());
    const fresh = generateJwtKey('EdDSA', 'op-1', T0);
    set = promote(stageNext(set, fresh), 'op-1', T0);
    const back = unpromote(set, 'op-1')!;
    expect(back.entries.find((e) => e.id === legacy.JWT_CURRENT_KID)?.state).toBe('current');
    const undone = unstage(back, 'op-1', 600, T0);
    expect(undone.entries.find((e) => e.id === fresh.id)).toMatchObject({
      state: 'previous',
      retireAfter: new Date(T0.getTime() + 600_000).toISOString(),
    });
    // Never activated: removed outright.
    const staged = stageNext(readJwtSet(legacy, 'acme', T0.toISOString()), generateJwtKey('ES256', 'op-3', T0));
    expect(unstage(staged, 'op-3', 600, T0).entries.map((e) => e.id)).toEqual([legacy.JWT_CURRENT_KID, legacy.JWT_PREVIOUS_KID]);
  });

  it('refuses to undo a promotion once the demoted key was retired (its material is gone)', () => {
    let set: CredentialSet = readJwtSet(legacy, 'acme', T0.toISOString());
    set = promote(stageNext(set, generateJwtKey('ES256', 'op-1', T0)), 'op-1', T0);
    set = retire(set, [legacy.JWT_CURRENT_KID], T0);
    expect(unpromote(set, 'op-1')).toBeNull();
  });

  it('emergency revoke of the current key puts a replacement in the same write', () => {
    const set = readJwtSet(legacy, 'acme', T0.toISOString());
    const replacement = generateJwtKey('HS256', 'op-9', T0);
    const out = revoke(set, legacy.JWT_CURRENT_KID, replacement, T0);
    expect(out.entries.find((e) => e.state === 'current')?.id).toBe(replacement.id);
    expect(out.entries.find((e) => e.id === legacy.JWT_CURRENT_KID)).toMatchObject({ state: 'retired', revoked: true, material: null });
    expect(() => revoke(out, 'k-unknown', null, T0)).toThrow(ContractError);
  });

  it('published keys verify tokens signed with the private key (ES256 and EdDSA)', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const key = generateJwtKey(alg, 'op', T0);
      const set: CredentialSet = { kind: 'jwt', entries: [{ ...key, state: 'current' }] };
      const token = await new SignJWT({ sub: 'u' })
        .setProtectedHeader({ alg, kid: key.id })
        .sign(await importJWK(key.material as JWK, alg));
      const jwks = createLocalJWKSet(publishedJwks(set) as { keys: JWK[] });
      await expect(jwtVerify(token, jwks)).resolves.toBeTruthy();
    }
  });
});

describe('service tokens', () => {
  it('reads a single legacy value as the current token with a stable id, and keeps the value key in step with current', () => {
    const data = { LOGIN_WORKER_TOKEN: 'old-token-value' };
    const a = readTokenSet('login-worker', data, 'acme', T0.toISOString());
    expect(readTokenSet('login-worker', data, 'acme', T0.toISOString()).entries[0]!.id).toBe(a.entries[0]!.id);
    let set = stageNext(a, generateToken('login-worker', 'op-1', T0));
    expect(writeSet(set).LOGIN_WORKER_TOKEN).toBe('old-token-value');
    set = promote(set, 'op-1', T0);
    const written = writeSet(set);
    expect(written.LOGIN_WORKER_TOKEN).not.toBe('old-token-value');
    const stored = JSON.parse(written.LOGIN_WORKER_TOKENS!) as { tokens: { state: string; value: string }[] };
    expect(stored.tokens.map((t) => t.state).sort()).toEqual(['current', 'previous']);
    expect(stored.tokens.find((t) => t.state === 'previous')?.value).toBe('old-token-value');
  });
});

describe('revision and window', () => {
  it('the revision changes with states and ids, not with the license or other keys', () => {
    const base = { ...legacy, LOGIN_WORKER_TOKEN: 'a', PROXY_TOKEN: 'b', CP_TOKEN: 'c', DATABASE_URL: 'postgresql://u:p@h/db' };
    const r0 = revision(readDoc('acme', secretOf(base)));
    expect(revision(readDoc('acme', secretOf({ ...base, LICENSE_JWS: 'x.y.z' })))).toBe(r0);
    const doc = readDoc('acme', secretOf(base));
    const staged = apply(base, writeSet(stageNext(doc.jwt, generateJwtKey('ES256', 'op', T0))));
    expect(revision(readDoc('acme', secretOf(staged)))).not.toBe(r0);
    expect(revision(readDoc('acme', secretOf({ ...base, DATABASE_URL: 'postgresql://u:other@h/db' })))).not.toBe(r0);
  });

  it('derives the overlap window from the longest lifetime, the JWKS max-age and a margin', () => {
    expect(overlapWindow({ accessSeconds: 3600, refreshSeconds: 0, offlineIdleSeconds: 0, jwksMaxAgeSeconds: 300 })).toEqual({
      seconds: 3600 + 300 + 390,
      longestLifetimeSeconds: 3600,
      jwksMaxAgeSeconds: 300,
      marginSeconds: 390,
    });
    // 12 h client JWKS cache (zitadel #7961) and 30-day refresh tokens: margin capped at a day.
    expect(
      overlapWindow({ accessSeconds: 900, refreshSeconds: 30 * 86_400, offlineIdleSeconds: 7 * 86_400, jwksMaxAgeSeconds: 43_200 }).seconds,
    ).toBe(30 * 86_400 + 43_200 + 86_400);
    expect(overlapWindow({ accessSeconds: 60, refreshSeconds: 0, offlineIdleSeconds: 0, jwksMaxAgeSeconds: 0 }).marginSeconds).toBe(60);
  });

  it('refuses a malformed key set instead of guessing', () => {
    expect(() => readDoc('acme', secretOf({ JWT_KEYS: '{"format":1,"keys":[{"kid":"x"}]}' }))).toThrow(
      /JWT_KEYS in Secret tenant-acme is malformed/,
    );
  });
});
