import { createHash } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { z } from 'zod';
import { ContractError } from '../../../src-shared/contract';
import type { TokenLifetimes } from '../../../src-shared/contract/secrets';
import { retryOnConflict } from '../../adapters/kube';
import { TOKEN_KINDS, readJwtSet, readTokenSet, revisionOf, type CredentialSet, type TokenKind } from './keyset';
import { decodeSecretData, tenantSecretName, type TenantKube } from '../tenants';

/**
 * The tenant Secret as the rotation capability reads it: every credential set, the
 * database credential, the bootstrap token's hash and metadata, the token lifetimes.
 * Values stay in this object (engine memory) and in the Secret; nothing here is logged.
 */

export const DB_KEYS = {
  url: 'DATABASE_URL',
  next: 'DATABASE_URL_NEXT',
  previous: 'DATABASE_URL_PREVIOUS',
  meta: 'DATABASE_CREDENTIAL',
} as const;
export const BOOTSTRAP_KEYS = { hash: 'BOOTSTRAP_TOKEN_HASH', meta: 'BOOTSTRAP_TOKEN_META' } as const;
export const LIFETIMES_KEY = 'TOKEN_POLICY';

export const DEFAULT_LIFETIMES: TokenLifetimes = {
  accessSeconds: 3600,
  refreshSeconds: 30 * 86_400,
  offlineIdleSeconds: 30 * 86_400,
  jwksMaxAgeSeconds: 300,
};

const DbLogin = z.object({ id: z.string().max(100), user: z.string().max(63), created: z.string().max(40) });
const DbMeta = z.object({
  id: z.string().max(100),
  user: z.string().max(63),
  created: z.string().max(40),
  next: DbLogin.extend({ op: z.string().max(100) })
    .nullable()
    .default(null),
  previous: DbLogin.extend({ op: z.string().max(100) })
    .nullable()
    .default(null),
});
export type DbMeta = z.infer<typeof DbMeta>;

const BootstrapMeta = z.object({
  id: z.string().max(100).nullable(),
  created: z.string().max(40).nullable(),
  expires: z.string().max(40).nullable(),
  createdBy: z.string().max(200).nullable().default(null),
  revoked: z.string().max(40).nullable().default(null),
  revokedId: z.string().max(100).nullable().default(null),
});
export type BootstrapMeta = z.infer<typeof BootstrapMeta>;

export interface TenantSecretDoc {
  slug: string;
  secret: V1Secret;
  data: Record<string, string>;
  created: string;
  jwt: CredentialSet;
  tokens: Record<TokenKind, CredentialSet>;
  database: DbMeta | null;
  bootstrap: (BootstrapMeta & { legacy: boolean; hash: string | null }) | null;
  lifetimes: TokenLifetimes;
  lifetimesSource: 'secret' | 'defaults';
}

const fingerprint = (value: string): string => createHash('sha256').update(value).digest('hex').slice(0, 8);

function parseStored<T>(schema: z.ZodType<T>, text: string | undefined, key: string, slug: string): T | null {
  if (text === undefined) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ContractError(
      'VALIDATION',
      `${key} in Secret tenant-${slug} is malformed. Fix or restore the Secret (docs/secrets.md describes the format); the console does not guess.`,
    );
  }
  return parsed.data;
}

/** The login a DSN authenticates as. */
export function dsnUser(url: string | undefined): string | null {
  if (!url) return null;
  try {
    return decodeURIComponent(new URL(url).username) || null;
  } catch {
    return null;
  }
}

export function readDoc(slug: string, secret: V1Secret): TenantSecretDoc {
  const data = decodeSecretData(secret);
  const created = secret.metadata?.creationTimestamp
    ? new Date(secret.metadata.creationTimestamp).toISOString()
    : new Date(0).toISOString();
  const tokens = Object.fromEntries(TOKEN_KINDS.map((k) => [k, readTokenSet(k, data, slug, created)])) as Record<TokenKind, CredentialSet>;
  const storedDb = parseStored(DbMeta, data[DB_KEYS.meta], DB_KEYS.meta, slug);
  const url = data[DB_KEYS.url];
  // Legacy layout: no metadata, the DSN's login and the Secret's age stand for it.
  const database =
    storedDb ?? (url ? { id: `legacy-${fingerprint(url)}`, user: dsnUser(url) ?? '', created, next: null, previous: null } : null);
  const storedBootstrap = parseStored(BootstrapMeta, data[BOOTSTRAP_KEYS.meta], BOOTSTRAP_KEYS.meta, slug);
  const hash = data[BOOTSTRAP_KEYS.hash] ?? null;
  const bootstrap = storedBootstrap
    ? { ...storedBootstrap, legacy: false, hash }
    : hash
      ? {
          id: `legacy-${hash.replace(/^sha256:/, '').slice(0, 8)}`,
          created,
          expires: null,
          createdBy: null,
          revoked: null,
          revokedId: null,
          legacy: true,
          hash,
        }
      : null;
  const storedLifetimes = data[LIFETIMES_KEY];
  let lifetimes = DEFAULT_LIFETIMES;
  let lifetimesSource: 'secret' | 'defaults' = 'defaults';
  if (storedLifetimes !== undefined) {
    const parsed = parseStored(
      z.object({
        accessSeconds: z.number().int().min(0),
        refreshSeconds: z.number().int().min(0),
        offlineIdleSeconds: z.number().int().min(0),
        jwksMaxAgeSeconds: z.number().int().min(0),
      }),
      storedLifetimes,
      LIFETIMES_KEY,
      slug,
    );
    if (parsed) {
      lifetimes = parsed;
      lifetimesSource = 'secret';
    }
  }
  return { slug, secret, data, created, jwt: readJwtSet(data, slug, created), tokens, database, bootstrap, lifetimes, lifetimesSource };
}

/**
 * What the workloads consume, as the pod-template annotation value: changes when an
 * accepted JWT key or token changes state, or the database login in use changes.
 */
export function revision(doc: TenantSecretDoc): string {
  return revisionOf([
    doc.jwt.entries.length ? { kind: 'jwt', entries: doc.jwt.entries } : { kind: 'jwt-legacy', entries: [] },
    ...TOKEN_KINDS.map((k) => ({ kind: k, entries: doc.tokens[k].entries })),
    { kind: 'database', entries: doc.database ? [{ id: doc.database.id, state: 'current' }] : [] },
    { kind: 'bootstrap', entries: doc.bootstrap?.hash ? [{ id: doc.bootstrap.id ?? 'legacy', state: 'current' }] : [] },
    {
      kind: 'lifetimes',
      entries: doc.lifetimesSource === 'secret' ? [{ id: fingerprint(JSON.stringify(doc.lifetimes)), state: 'current' }] : [],
    },
  ]);
}

export const notFound = (slug: string): ContractError =>
  new ContractError(
    'NOT_FOUND',
    `Tenant "${slug}" has no Secret ${tenantSecretName(slug)} on this cluster (deleted, or never created). Reconcile the tenant list.`,
  );

/**
 * Read-modify-write of the tenant Secret with its resourceVersion: `change` gets the
 * current document and returns the keys to set (null deletes one), or null for no write.
 * A 409 (someone else wrote in between, the license fan-out for instance) re-reads and
 * re-applies, so no one's keys are lost.
 */
export async function updateTenantSecret(
  kube: TenantKube,
  slug: string,
  change: (doc: TenantSecretDoc) => Record<string, string | null> | null,
): Promise<TenantSecretDoc> {
  const name = tenantSecretName(slug);
  return retryOnConflict(async () => {
    const secret = await kube.getSecret(name);
    if (!secret) throw notFound(slug);
    const doc = readDoc(slug, secret);
    const changes = change(doc);
    if (!changes) return doc;
    const data: Record<string, string> = { ...(secret.data ?? {}) };
    let dirty = false;
    for (const [key, value] of Object.entries(changes)) {
      const encoded = value === null ? undefined : Buffer.from(value, 'utf8').toString('base64');
      if (data[key] === encoded) continue;
      dirty = true;
      if (encoded === undefined) delete data[key];
      else data[key] = encoded;
    }
    if (!dirty) return doc;
    const written = await kube.replaceSecret(name, { ...secret, data });
    return readDoc(slug, written);
  });
}

export async function readTenantDoc(kube: TenantKube, slug: string): Promise<TenantSecretDoc> {
  const secret = await kube.getSecret(tenantSecretName(slug));
  if (!secret) throw notFound(slug);
  return readDoc(slug, secret);
}
