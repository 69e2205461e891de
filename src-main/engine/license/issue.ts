import { calculateJwkThumbprint, CompactSign, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { ALG, CERT_HEADER, CERT_TYP, LICENSE_TYP, REVOCATIONS_TYP, type LicenseClaims, type RevocationClaims } from './format';

/**
 * Vendor-side signing: key generation, issuing-key certificates, licenses and revocation lists.
 * Used by the vendor CLI, the tests and the bench; the console itself never signs licenses.
 */

export interface KeyPairJwk {
  privateJwk: JWK;
  publicJwk: JWK;
}

const encoder = new TextEncoder();

export async function generateEd25519(kidPrefix: string): Promise<KeyPairJwk> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, { crv: 'Ed25519', extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = `${kidPrefix}-${(await calculateJwkThumbprint(pub)).slice(0, 16)}`;
  const priv = await exportJWK(privateKey);
  return { privateJwk: { ...priv, kid, alg: ALG }, publicJwk: { kty: pub.kty, crv: pub.crv, x: pub.x, kid, alg: ALG } };
}

export function publicOf(jwk: JWK): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: jwk.kid, alg: ALG };
}

async function sign(payload: unknown, header: Record<string, unknown>, privateJwk: JWK): Promise<string> {
  const key = await importJWK(privateJwk, ALG);
  return new CompactSign(encoder.encode(JSON.stringify(payload))).setProtectedHeader({ alg: ALG, ...header }).sign(key);
}

/** The root vouches for an issuing key for [nbf, exp]; licenses must be issued inside that window. */
export async function issueCert(root: JWK, issuerPublic: JWK, validity: { nbf: number; exp: number }): Promise<string> {
  const payload = {
    sub: issuerPublic.kid,
    jwk: { kty: issuerPublic.kty, crv: issuerPublic.crv, x: issuerPublic.x },
    iat: Math.floor(Date.now() / 1000),
    nbf: validity.nbf,
    exp: validity.exp,
  };
  return sign(payload, { typ: CERT_TYP, kid: root.kid }, root);
}

export async function issueLicense(issuerPrivate: JWK, cert: string, claims: LicenseClaims): Promise<string> {
  return sign(claims, { typ: LICENSE_TYP, kid: issuerPrivate.kid, [CERT_HEADER]: cert }, issuerPrivate);
}

/** Signed by a root (no cert) or by an issuing key (pass its cert). */
export async function issueRevocations(signer: JWK, claims: RevocationClaims, cert?: string): Promise<string> {
  return sign(claims, { typ: REVOCATIONS_TYP, kid: signer.kid, ...(cert ? { [CERT_HEADER]: cert } : {}) }, signer);
}

/** Defaults a vendor fills in when issuing; every field can be overridden. */
export function defaultClaims(
  overrides: Partial<LicenseClaims> & { customer: string },
  now = Math.floor(Date.now() / 1000),
): LicenseClaims {
  return {
    lid: overrides.lid ?? `lic-${crypto.randomUUID()}`,
    iat: now,
    nbf: now,
    exp: now + 365 * 86400,
    grace_days: 14,
    expiry_strategy: {
      after_grace: 'free-tier',
      stops: ['tenant-create', 'user-create-above-free-cap', 'premium-features'],
      keeps: ['sign-in', 'existing-users', 'admin-console', 'backups'],
    },
    tier: 'PRO',
    limits: { tenants: 50, users: 5000 },
    features: ['sso', 'audit-export'],
    ...overrides,
  };
}
