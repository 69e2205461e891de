import { createHash, generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import { z } from 'zod';
import { ContractError } from '../../../src-shared/contract';
import type { CredentialKind, KeyState, SigningAlgorithm } from '../../../src-shared/contract/secrets';

/**
 * The credential sets held in the tenant Secret (docs/secrets.md): JWT signing keys
 * and the service tokens, each a list of entries in states next / current / previous /
 * retired. The backend signs (or presents) with `current` and accepts next, current
 * and previous; retired entries keep only their metadata. Pure functions: every change
 * returns a new set, so a step can be re-applied after a 409 or a crash.
 */

export interface CredentialEntry {
  /** kid of a JWT key, id of a token: never secret, shown and audited. */
  id: string;
  state: KeyState;
  /** JWT keys only. */
  alg: SigningAlgorithm | null;
  created: string;
  /** When it became current (null: never signed or presented). */
  activated: string | null;
  /** When it stopped being current, and the operation that demoted it. */
  demoted: string | null;
  demotedBy: string | null;
  /** Earliest retirement (end of the overlap window); null until the window opened. */
  retireAfter: string | null;
  retired: string | null;
  /** Retired before its window ended (emergency revoke). */
  revoked: boolean;
  /** Operation that added it (ownership mark: a compensation removes only its own). */
  op: string | null;
  /** Imported from the pre-key-set layout (JWT_CURRENT_… or a single token value). */
  legacy: boolean;
  /** Private JWK (JWT) or token value; absent once retired. */
  material: JsonWebKey | string | null;
}

export interface CredentialSet {
  kind: CredentialKind;
  entries: CredentialEntry[];
}

/** Retired entries kept (metadata only) so the page can show the last few. */
const RETIRED_KEPT = 10;

// ---- names in the Secret

export const TOKEN_KINDS = ['login-worker', 'proxy', 'cp'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];
/** The single-value key every backend version reads, and the set key of the documented format. */
export const TOKEN_KEYS: Record<TokenKind, { value: string; set: string }> = {
  'login-worker': { value: 'LOGIN_WORKER_TOKEN', set: 'LOGIN_WORKER_TOKENS' },
  proxy: { value: 'PROXY_TOKEN', set: 'PROXY_TOKENS' },
  cp: { value: 'CP_TOKEN', set: 'CP_TOKENS' },
};
export const JWT_KEYS = 'JWT_KEYS';
export const JWKS_KEY = 'JWKS';
export const LEGACY_JWT = {
  currentKid: 'JWT_CURRENT_KID',
  currentSecret: 'JWT_CURRENT_SECRET',
  previousKid: 'JWT_PREVIOUS_KID',
  previousSecret: 'JWT_PREVIOUS_SECRET',
} as const;

// ---- stored JSON (validated on read: a malformed set stops the rotation of that tenant, never guessed)

const Stamp = z.string().min(1).max(40);
const common = {
  state: z.enum(['next', 'current', 'previous', 'retired']),
  created: Stamp,
  activated: Stamp.nullable().default(null),
  demoted: Stamp.nullable().default(null),
  demotedBy: z.string().max(100).nullable().default(null),
  retireAfter: Stamp.nullable().default(null),
  retired: Stamp.nullable().default(null),
  revoked: z.boolean().default(false),
  op: z.string().max(100).nullable().default(null),
  legacy: z.boolean().default(false),
};
const StoredJwtKey = z.object({
  kid: z.string().min(1).max(100),
  alg: z.enum(['ES256', 'EdDSA', 'HS256']),
  ...common,
  jwk: z.record(z.string(), z.unknown()).nullable().default(null),
});
const StoredJwtSet = z.object({ format: z.literal(1), keys: z.array(StoredJwtKey) });
const StoredToken = z.object({ id: z.string().min(1).max(100), ...common, value: z.string().nullable().default(null) });
const StoredTokenSet = z.object({ format: z.literal(1), tokens: z.array(StoredToken) });

function malformed(what: string, slug: string, detail: string): ContractError {
  return new ContractError(
    'VALIDATION',
    `The ${what} in Secret tenant-${slug} is malformed (${detail}). Fix or restore the Secret (docs/secrets.md describes the format); the console does not guess.`,
  );
}

function parseJson(text: string, what: string, slug: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw malformed(what, slug, 'not JSON');
  }
}

const base64url = (b: Buffer): string => b.toString('base64url');
/** A legacy HS256 secret is used as the UTF-8 bytes of the stored string; its oct JWK says exactly that. */
const octFromString = (secret: string): JsonWebKey => ({ kty: 'oct', k: base64url(Buffer.from(secret, 'utf8')) });
const stringFromOct = (jwk: JsonWebKey): string => Buffer.from(String(jwk.k ?? ''), 'base64url').toString('utf8');
/** Stable id of a legacy value: a short fingerprint (not reversible for a 256-bit token). */
const fingerprint = (value: string): string => createHash('sha256').update(value).digest('hex').slice(0, 8);

const entry = (partial: Partial<CredentialEntry> & Pick<CredentialEntry, 'id' | 'state' | 'created' | 'material'>): CredentialEntry => ({
  alg: null,
  activated: null,
  demoted: null,
  demotedBy: null,
  retireAfter: null,
  retired: null,
  revoked: false,
  op: null,
  legacy: false,
  ...partial,
});

/** The JWT key set of a tenant Secret (decoded data); the legacy JWT_CURRENT_… / JWT_PREVIOUS_… pair when JWT_KEYS is absent. */
export function readJwtSet(data: Record<string, string>, slug: string, secretCreated: string): CredentialSet {
  const raw = data[JWT_KEYS];
  if (raw !== undefined) {
    const parsed = StoredJwtSet.safeParse(parseJson(raw, JWT_KEYS, slug));
    if (!parsed.success) throw malformed(JWT_KEYS, slug, parsed.error.issues[0]?.message ?? 'invalid');
    return {
      kind: 'jwt',
      entries: parsed.data.keys.map(({ kid, jwk, ...rest }) => ({ ...rest, id: kid, material: (jwk as JsonWebKey | null) ?? null })),
    };
  }
  const entries: CredentialEntry[] = [];
  if (data[LEGACY_JWT.currentKid] && data[LEGACY_JWT.currentSecret]) {
    entries.push(
      entry({
        id: data[LEGACY_JWT.currentKid]!,
        state: 'current',
        alg: 'HS256',
        created: secretCreated,
        activated: secretCreated,
        legacy: true,
        material: octFromString(data[LEGACY_JWT.currentSecret]!),
      }),
    );
  }
  if (data[LEGACY_JWT.previousKid] && data[LEGACY_JWT.previousSecret] && data[LEGACY_JWT.previousKid] !== data[LEGACY_JWT.currentKid]) {
    // The legacy pair was written at once: the previous key stopped signing (if it ever did) when the Secret was created.
    entries.push(
      entry({
        id: data[LEGACY_JWT.previousKid]!,
        state: 'previous',
        alg: 'HS256',
        created: secretCreated,
        demoted: secretCreated,
        legacy: true,
        material: octFromString(data[LEGACY_JWT.previousSecret]!),
      }),
    );
  }
  return { kind: 'jwt', entries };
}

/** A service token set; the single legacy value becomes the current entry when the set key is absent. */
export function readTokenSet(kind: TokenKind, data: Record<string, string>, slug: string, secretCreated: string): CredentialSet {
  const keys = TOKEN_KEYS[kind];
  const raw = data[keys.set];
  if (raw !== undefined) {
    const parsed = StoredTokenSet.safeParse(parseJson(raw, keys.set, slug));
    if (!parsed.success) throw malformed(keys.set, slug, parsed.error.issues[0]?.message ?? 'invalid');
    return { kind, entries: parsed.data.tokens.map(({ value, ...rest }) => ({ ...rest, alg: null, material: value })) };
  }
  const value = data[keys.value];
  return {
    kind,
    entries: value
      ? [
          entry({
            id: `legacy-${fingerprint(value)}`,
            state: 'current',
            created: secretCreated,
            activated: secretCreated,
            legacy: true,
            material: value,
          }),
        ]
      : [],
  };
}

/**
 * The Secret keys a set writes. JWT: JWT_KEYS, the public JWKS the backend publishes,
 * and the legacy pair mirrored while current/previous are HS256 (a backend that only knows
 * JWT_CURRENT_… / JWT_PREVIOUS_… keeps working); tokens: the set and the current value.
 * A null value deletes the key.
 */
export function writeSet(set: CredentialSet): Record<string, string | null> {
  if (set.kind === 'jwt') {
    const keys = set.entries.map((e) => ({
      kid: e.id,
      alg: e.alg,
      state: e.state,
      created: e.created,
      activated: e.activated,
      demoted: e.demoted,
      demotedBy: e.demotedBy,
      retireAfter: e.retireAfter,
      retired: e.retired,
      revoked: e.revoked,
      op: e.op,
      legacy: e.legacy,
      jwk: e.state === 'retired' ? null : e.material,
    }));
    const current = set.entries.find((e) => e.state === 'current');
    const previous = set.entries.filter((e) => e.state === 'previous').sort((a, b) => (b.demoted ?? '').localeCompare(a.demoted ?? ''))[0];
    const hs = (e: CredentialEntry | undefined) => (e && e.alg === 'HS256' && e.material && typeof e.material === 'object' ? e : undefined);
    const cur = hs(current);
    const prev = hs(previous);
    return {
      [JWT_KEYS]: JSON.stringify({ format: 1, keys }),
      [JWKS_KEY]: JSON.stringify(publishedJwks(set)),
      [LEGACY_JWT.currentKid]: cur ? cur.id : null,
      [LEGACY_JWT.currentSecret]: cur ? stringFromOct(cur.material as JsonWebKey) : null,
      [LEGACY_JWT.previousKid]: prev ? prev.id : null,
      [LEGACY_JWT.previousSecret]: prev ? stringFromOct(prev.material as JsonWebKey) : null,
    };
  }
  const keys = TOKEN_KEYS[set.kind as TokenKind];
  const tokens = set.entries.map((e) => ({
    id: e.id,
    state: e.state,
    created: e.created,
    activated: e.activated,
    demoted: e.demoted,
    demotedBy: e.demotedBy,
    retireAfter: e.retireAfter,
    retired: e.retired,
    revoked: e.revoked,
    op: e.op,
    legacy: e.legacy,
    value: e.state === 'retired' ? null : e.material,
  }));
  const current = set.entries.find((e) => e.state === 'current');
  return {
    [keys.set]: JSON.stringify({ format: 1, tokens }),
    [keys.value]: typeof current?.material === 'string' ? current.material : null,
  };
}

/** Public JWKs of the accepted asymmetric keys: what relying parties fetch (HS256 keys are never published). */
export function publishedJwks(set: CredentialSet): { keys: JsonWebKey[] } {
  const keys: JsonWebKey[] = [];
  for (const e of set.entries) {
    if (e.state === 'retired' || e.alg === 'HS256' || !e.material || typeof e.material !== 'object') continue;
    const { d: _private, ...pub } = e.material as JsonWebKey & { kid?: string };
    keys.push({ ...pub, kid: e.id, alg: e.alg, use: 'sig' } as JsonWebKey);
  }
  return { keys };
}

// ---- generating

const stampId = (prefix: string, now: Date): string =>
  `${prefix}-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`;

/** A fresh signing key (private JWK) in state next, marked with the operation that adds it. */
export function generateJwtKey(alg: SigningAlgorithm, op: string | null, now = new Date()): CredentialEntry {
  let material: JsonWebKey;
  if (alg === 'HS256') material = octFromString(randomBytes(48).toString('base64url'));
  else if (alg === 'ES256') material = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  else material = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return entry({ id: stampId('k', now), state: 'next', alg, created: now.toISOString(), op, material });
}

/** A fresh service token (32 random bytes, base64url) in state next. */
export function generateToken(kind: TokenKind, op: string | null, now = new Date()): CredentialEntry {
  const prefix = kind === 'login-worker' ? 'lw' : kind;
  return entry({
    id: stampId(prefix, now),
    state: 'next',
    created: now.toISOString(),
    op,
    material: randomBytes(32).toString('base64url'),
  });
}

// ---- transitions (each idempotent for the operation that applies it)

const nowIso = (now: Date) => now.toISOString();

export function stagedBy(set: CredentialSet, op: string): CredentialEntry | undefined {
  return set.entries.find((e) => e.op === op);
}

/** Adds `fresh` as next. CONFLICT when another operation's next is staged (one rotation at a time). */
export function stageNext(set: CredentialSet, fresh: CredentialEntry): CredentialSet {
  if (stagedBy(set, fresh.op!)) return set;
  const other = set.entries.find((e) => e.state === 'next');
  if (other) {
    throw new ContractError(
      'CONFLICT',
      `A rotation of ${set.kind} is already in progress (${other.id}, operation ${other.op ?? 'unknown'}). Resume or roll back that operation under Unfinished operations first.`,
      { operationId: other.op },
    );
  }
  return { ...set, entries: [...set.entries, fresh] };
}

/** next (ours) → current; the old current → previous, demoted by this operation. */
export function promote(set: CredentialSet, op: string, now = new Date()): CredentialSet {
  const mine = stagedBy(set, op);
  if (!mine)
    throw new ContractError(
      'CONFLICT',
      `The ${set.kind} entry this rotation staged is gone from the Secret (someone changed it). Roll the operation back and start again.`,
    );
  if (mine.state !== 'next') return set;
  return {
    ...set,
    entries: set.entries.map((e) => {
      if (e === mine) return { ...e, state: 'current', activated: nowIso(now) };
      if (e.state === 'current') return { ...e, state: 'previous', demoted: nowIso(now), demotedBy: op };
      return e;
    }),
  };
}

/** Sets the end of the overlap window on what this operation demoted (once). */
export function openWindow(set: CredentialSet, op: string, windowSeconds: number, now = new Date()): CredentialSet {
  const until = new Date(now.getTime() + windowSeconds * 1000).toISOString();
  return {
    ...set,
    entries: set.entries.map((e) => (e.demotedBy === op && e.state === 'previous' && !e.retireAfter ? { ...e, retireAfter: until } : e)),
  };
}

/** previous → retired, material dropped; the newest retired entries are kept as history. */
export function retire(set: CredentialSet, ids: string[], now = new Date(), revoked = false): CredentialSet {
  const entries = set.entries.map((e) =>
    ids.includes(e.id) && e.state !== 'retired' ? { ...e, state: 'retired' as const, retired: nowIso(now), revoked, material: null } : e,
  );
  const retiredEntries = entries.filter((e) => e.state === 'retired').sort((a, b) => (b.retired ?? '').localeCompare(a.retired ?? ''));
  const dropped = new Set(retiredEntries.slice(RETIRED_KEPT));
  return { ...set, entries: entries.filter((e) => !dropped.has(e)) };
}

/**
 * Undoes this operation's promotion: its entry back to next, what it demoted back to current.
 * Refused (null) when the demoted entry's material is gone (already retired): the new entry then stays.
 */
export function unpromote(set: CredentialSet, op: string): CredentialSet | null {
  const mine = stagedBy(set, op);
  if (!mine || mine.state !== 'current') return set;
  const demoted = set.entries.filter((e) => e.demotedBy === op);
  if (demoted.length === 0 || demoted.some((e) => e.state !== 'previous' || !e.material)) return null;
  return {
    ...set,
    entries: set.entries.map((e) => {
      // activated stays: it signed while current, so an unstage keeps it accepted for a window.
      if (e === mine) return { ...e, state: 'next' };
      if (e.demotedBy === op) return { ...e, state: 'current', demoted: null, demotedBy: null, retireAfter: null };
      return e;
    }),
  };
}

/**
 * Removes what this operation staged. An entry that ever signed (activated) is not
 * deleted: tokens it signed may be alive, so it becomes previous with a fresh window.
 */
export function unstage(set: CredentialSet, op: string, windowSeconds: number, now = new Date()): CredentialSet {
  const mine = stagedBy(set, op);
  if (!mine) return set;
  if (mine.state === 'next' && !mine.activated) return { ...set, entries: set.entries.filter((e) => e !== mine) };
  if (mine.state === 'next' || mine.state === 'current') {
    const until = new Date(now.getTime() + windowSeconds * 1000).toISOString();
    return {
      ...set,
      entries: set.entries.map((e) =>
        e === mine ? { ...e, state: 'previous', demoted: nowIso(now), demotedBy: op, retireAfter: until } : e,
      ),
    };
  }
  return set;
}

/**
 * Emergency revoke: the entry is retired now, whatever its window. Revoking the current
 * entry needs a replacement that becomes current in the same write (signing never stops).
 */
export function revoke(set: CredentialSet, id: string, replacement: CredentialEntry | null, now = new Date()): CredentialSet {
  const target = set.entries.find((e) => e.id === id);
  if (!target) throw new ContractError('NOT_FOUND', `No ${set.kind} entry "${id}" in this tenant's Secret; refresh the page.`);
  if (target.state === 'retired') throw new ContractError('CONFLICT', `${id} is already retired.`);
  let entries = set.entries;
  if (target.state === 'current') {
    if (!replacement) throw new ContractError('INTERNAL', 'revoking the current entry needs a replacement');
    entries = [...entries, { ...replacement, state: 'current', activated: nowIso(now) }];
  }
  return retire({ ...set, entries }, [id], now, true);
}

export const accepted = (set: CredentialSet): CredentialEntry[] => set.entries.filter((e) => e.state !== 'retired');
export const currentEntry = (set: CredentialSet): CredentialEntry | undefined => set.entries.find((e) => e.state === 'current');

/** Phase of a set: a rotation staged (1), promoted but the window not opened (2), or stable. */
export function phaseOf(set: CredentialSet): 'staged' | 'promoted' | 'stable' {
  if (set.entries.some((e) => e.state === 'next')) return 'staged';
  if (set.entries.some((e) => e.state === 'previous' && e.demotedBy && !e.retireAfter)) return 'promoted';
  return 'stable';
}

/** The metadata of an entry, for the page and the audit (never the material). */
export function describe(e: CredentialEntry) {
  return {
    id: e.id,
    state: e.state,
    alg: e.alg,
    created: e.created,
    activated: e.activated,
    demoted: e.demoted,
    retireAfter: e.retireAfter,
    retired: e.retired,
    revoked: e.revoked,
    legacy: e.legacy,
    operationId: e.op,
  };
}

/**
 * Revision of what workloads consume, for the pod-template annotation: a hash of
 * non-secret descriptors only (ids and states, the database login and its credential id).
 */
export function revisionOf(parts: Array<{ kind: string; entries: Array<{ id: string; state: string }> }>): string {
  const canon = parts
    .map(
      (p) =>
        `${p.kind}:${p.entries
          .filter((e) => e.state !== 'retired')
          .map((e) => `${e.id}=${e.state}`)
          .sort()
          .join(',')}`,
    )
    .sort()
    .join(';');
  return createHash('sha256').update(canon).digest('hex').slice(0, 16);
}

/** The key set of a new tenant: one current ES256 key (docs/secrets.md). */
export function initialJwtKeys(now = new Date()): Record<string, string> {
  const key = { ...generateJwtKey('ES256', null, now), state: 'current' as const, activated: now.toISOString() };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(writeSet({ kind: 'jwt', entries: [key] }))) if (v !== null) out[k] = v;
  return out;
}

/** The set keys for service tokens generated at tenant creation: each value as the one current entry. */
export function initialTokenSets(data: Record<string, string>, now = new Date()): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kind of TOKEN_KINDS) {
    const { value, set } = TOKEN_KEYS[kind];
    if (!data[value] || data[set]) continue;
    const current = { ...generateToken(kind, null, now), state: 'current' as const, activated: now.toISOString(), material: data[value] };
    out[set] = writeSet({ kind, entries: [current] })[set]!;
  }
  return out;
}
