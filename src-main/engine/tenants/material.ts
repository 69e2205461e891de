import { createHash, randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import type { V1Secret } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL } from '../../adapters/kube';
import { TENANT_LABEL } from './lease';
import { initialJwtKeys, initialTokenSets } from '../rotation';

/** Names derived from the slug; the slug is DNS-1123 so these are valid identifiers everywhere. */
export const tenantSecretName = (slug: string): string => `tenant-${slug}`;
export const tenantDbName = (slug: string): string => `tenant_${slug.replace(/-/g, '_')}`;
/** The inverse of tenantDbName (and of tenantRoleName): `tenant_acme_corp` → `acme-corp`. */
export const slugOfDbName = (name: string): string => name.slice('tenant_'.length).replace(/_/g, '-');
export const tenantRoleName = tenantDbName;
export const loginWorkerName = (slug: string): string => `login-worker-${slug}`;
/**
 * The pair of login roles the database password rotates between (docs/secrets.md): members of the
 * tenant role. Slugs never contain "--", so no tenant's own role can be named like these.
 */
export const tenantLoginRoleNames = (slug: string): [string, string] => [`${tenantRoleName(slug)}__a`, `${tenantRoleName(slug)}__b`];
export const INITIAL_ADMIN_USERNAME = 'admin';

const token = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/** Argon2id as the issue fixes it: 64 MiB, t=3. */
export const hashPassword = (password: string): Promise<string> =>
  argon2.hash(password, { type: argon2.argon2id, memoryCost: 65_536, timeCost: 3, parallelism: 1 });
export const verifyPassword = (hash: string, password: string): Promise<boolean> => argon2.verify(hash, password).catch(() => false);

/** 24 chars from a 57-symbol alphabet without look-alikes (~140 bits), easy to copy by hand. */
export function generatePassword(length = 24): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      // Rejection sampling keeps the distribution uniform.
      if (b < 256 - (256 % alphabet.length) && out.length < length) out += alphabet[b % alphabet.length];
    }
  }
  return out;
}

/**
 * Everything the tenant Secret holds (docs/tenants.md). Values already present in
 * an existing Secret win, so re-running the step after a crash converges instead
 * of rotating credentials under a running backend.
 */
export function tenantSecretData(
  slug: string,
  existing: Record<string, string>,
  fresh: { databaseUrl: string; adminPassword: string },
): Record<string, string> {
  const bootstrap = token();
  const data: Record<string, string> = {
    TENANT_SLUG: slug,
    DATABASE_URL: fresh.databaseUrl,
    // Signing keys as a key set (docs/secrets.md); Secrets of the older JWT_CURRENT_*/JWT_PREVIOUS_* layout keep working.
    ...(existing.JWT_CURRENT_KID ? {} : initialJwtKeys()),
    LOGIN_WORKER_TOKEN: token(),
    PROXY_TOKEN: token(),
    CP_TOKEN: token(),
    // Only the hash is kept: the bootstrap token itself is never stored (issuing it is a separate, audited action).
    BOOTSTRAP_TOKEN_HASH: `sha256:${createHash('sha256').update(bootstrap).digest('hex')}`,
    INITIAL_ADMIN_USERNAME,
    INITIAL_ADMIN_PASSWORD: fresh.adminPassword,
  };
  const merged = { ...data, ...existing };
  // Service tokens as one-entry sets too (docs/secrets.md), unless the Secret already has them.
  return { ...merged, ...initialTokenSets(merged) };
}

export const decodeSecretData = (s: V1Secret | null): Record<string, string> =>
  Object.fromEntries(Object.entries(s?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));

/** Annotation naming the operation that created an object: compensations delete only their own. */
export const OPERATION_ANNOTATION = 'gatehouse.io/operation-id';

export function tenantSecret(
  slug: string,
  namespace: string,
  data: Record<string, string>,
  base?: V1Secret | null,
  operationId?: string,
): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    ...(base ?? {}),
    metadata: {
      ...(base?.metadata ?? {}),
      name: tenantSecretName(slug),
      namespace,
      labels: { ...(base?.metadata?.labels ?? {}), ...MANAGED_BY_LABEL, [TENANT_LABEL]: slug },
      ...(operationId ? { annotations: { ...(base?.metadata?.annotations ?? {}), [OPERATION_ANNOTATION]: operationId } } : {}),
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')])),
  };
}
