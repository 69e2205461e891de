import { z } from 'zod';

/** JOSE `typ` values: each signed object has its own, so one can never be passed off as another. */
export const LICENSE_TYP = 'gatehouse-license+jwt';
export const CERT_TYP = 'gatehouse-issuer-cert+jwt';
export const REVOCATIONS_TYP = 'gatehouse-revocations+jwt';
export const RENEWAL_REQUEST_TYP = 'gatehouse-renewal-request+jwt';
/** Header parameter of a license carrying its issuing key's certificate (a compact JWS signed by a root key). */
export const CERT_HEADER = 'x-gh-cert';
/** The only signature algorithm accepted anywhere in the chain. */
export const ALG = 'EdDSA';

export const MAX_LICENSE_BYTES = 64 * 1024;
export const MAX_JSON_DEPTH = 16;
/** Clock skew allowed on nbf/exp between the vendor's clock and this workstation. */
export const CLOCK_TOLERANCE_SECONDS = 120;
/**
 * How far the clock may read earlier than the latest trustworthy time this console has seen
 * before a license is no longer treated as valid (VM snapshot restores and NTP steps stay under it;
 * winding the clock back to stretch a license does not).
 */
export const CLOCK_ROLLBACK_TOLERANCE_SECONDS = 3600;
/**
 * A revocation list may advance `seq` by at most this much over the list in force (or over 0 for
 * the first one): one forged or buggy list with a huge seq must not lock out every later list.
 */
export const MAX_REVOCATION_SEQ_JUMP = 10_000;

export const Tier = z.enum(['DEV', 'PRO', 'Enterprise']);
export type Tier = z.infer<typeof Tier>;

/**
 * What happens after `exp`: during `grace_days` everything keeps working and the console warns;
 * after grace, `after_grace` applies. `stops`/`keeps` name the features for operators and the backend.
 */
export const ExpiryStrategy = z
  .object({
    after_grace: z.enum(['free-tier', 'freeze']),
    stops: z.array(z.string().max(64)).max(64),
    keeps: z.array(z.string().max(64)).max(64),
  })
  .strict();
export type ExpiryStrategy = z.infer<typeof ExpiryStrategy>;

const epochSeconds = z.number().int().nonnegative();

export const LicenseClaims = z
  .object({
    lid: z.string().min(1).max(128),
    customer: z.string().min(1).max(256),
    iat: epochSeconds,
    nbf: epochSeconds,
    exp: epochSeconds,
    grace_days: z.number().int().min(0).max(365),
    expiry_strategy: ExpiryStrategy,
    tier: Tier,
    limits: z.object({ tenants: z.number().int().min(0), users: z.number().int().min(0) }).strict(),
    features: z.array(z.string().min(1).max(64)).max(128),
    renewal_url: z.url({ protocol: /^https?$/ }).optional(),
    cluster_uid: z.string().min(1).max(64).optional(),
    /** Set on an answer to an air-gapped renewal request: the request's nonce. */
    renewal_nonce: z.string().max(128).optional(),
  })
  .strict()
  .refine((c) => c.exp > c.nbf, { message: 'exp must be after nbf' });
export type LicenseClaims = z.infer<typeof LicenseClaims>;

/** Issuing-key certificate payload: the root vouches for `jwk` (kid `sub`) between nbf and exp. */
export const IssuerCertClaims = z
  .object({
    sub: z.string().min(1).max(128),
    jwk: z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string().min(1).max(64) }).loose(),
    iat: epochSeconds,
    nbf: epochSeconds,
    exp: epochSeconds,
  })
  .loose();
export type IssuerCertClaims = z.infer<typeof IssuerCertClaims>;

export const RevocationClaims = z
  .object({
    iat: epochSeconds,
    /** Monotonic: an older list never replaces a newer one. */
    seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    revoked_lids: z.array(z.string().max(128)).max(100_000),
    revoked_kids: z.array(z.string().max(128)).max(10_000).default([]),
  })
  .strict();
export type RevocationClaims = z.infer<typeof RevocationClaims>;

/** Limits that apply with no valid license (cleared, never activated, or expired past grace with after_grace free-tier). */
export const FREE_TIER = {
  tier: 'FREE' as const,
  limits: { tenants: 3, users: 50 },
  /** Each tenant's cap in free tier (LICENSE_USER_CAP). */
  usersPerTenant: 50,
  features: [] as string[],
};

/** Why a license (or revocation list, or renewal answer) was refused; each bad input has its own. */
export const LicenseReason = z.enum([
  'TOO_LARGE',
  'NOT_UTF8',
  'MALFORMED',
  'TRUNCATED',
  'NOT_JSON',
  'TOO_DEEP',
  'ALG_NONE',
  'ALG_NOT_ALLOWED',
  'WRONG_TYPE',
  'CERT_MISSING',
  'UNKNOWN_KID',
  'CERT_INVALID',
  'CERT_EXPIRED',
  'CERT_NOT_YET_VALID',
  'TEST_KEY_REFUSED',
  'SIGNATURE_INVALID',
  'CLAIMS_INVALID',
  'EXPIRED',
  'NOT_YET_VALID',
  'CLUSTER_MISMATCH',
  'REVOKED',
  'OLDER_THAN_CURRENT',
  'OTHER_CUSTOMER',
  'NONCE_MISMATCH',
  'CLOCK_ROLLBACK',
  'SEQ_TOO_FAR',
  'WOULD_UNREVOKE',
]);
export type LicenseReason = z.infer<typeof LicenseReason>;
