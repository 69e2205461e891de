import { compactVerify, importJWK, type JWK } from 'jose';
import {
  ALG,
  CERT_HEADER,
  CERT_TYP,
  CLOCK_TOLERANCE_SECONDS,
  IssuerCertClaims,
  LICENSE_TYP,
  LicenseClaims,
  REVOCATIONS_TYP,
  RevocationClaims,
} from './format';
import { decodeCompact, invalid, LicenseInvalid, toText } from './jws';
import type { TrustedRoots, TrustSource } from './trust';

export interface VerifiedLicense {
  jws: string;
  claims: LicenseClaims;
  /** Issuing key that signed the license, and the root that vouched for it. */
  issuer: { kid: string; rootKid: string; certExp: number };
  trust: TrustSource;
}

export interface VerifyOptions {
  roots: TrustedRoots;
  /** Seconds since epoch; defaults to now. */
  now?: number;
  /** UID of this cluster's kube-system namespace; a bound license must match it. */
  clusterUid: string | null;
  revocations?: RevocationClaims | null;
  /** Status of an already stored license still wants its claims after exp (grace). */
  allowExpired?: boolean;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const iso = (s: number) => new Date(s * 1000).toISOString();

async function checkSignature(compact: string, jwk: JWK, onFail: () => LicenseInvalid): Promise<void> {
  try {
    const key = await importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, ALG);
    await compactVerify(compact, key, { algorithms: [ALG] });
  } catch {
    throw onFail();
  }
}

/** The issuing key's certificate: signed by a trusted root, naming the issuing key. */
export async function verifyIssuerCert(cert: unknown, roots: TrustedRoots, what = 'license') {
  if (typeof cert !== 'string' || cert.length === 0) {
    throw invalid('CERT_MISSING', `The ${what} does not carry its issuing key's certificate (header "${CERT_HEADER}"); it was not issued by the vendor's tooling.`);
  }
  let decoded;
  try {
    decoded = decodeCompact(cert, CERT_TYP, 'issuing-key certificate');
  } catch (error) {
    if (error instanceof LicenseInvalid) {
      throw invalid('CERT_INVALID', `The ${what}'s issuing-key certificate is invalid: ${error.message}`, { certReason: error.reason });
    }
    throw error;
  }
  const rootKid = decoded.header.kid;
  const root = typeof rootKid === 'string' ? roots.roots.get(rootKid) : undefined;
  if (!root) {
    throw invalid(
      'UNKNOWN_KID',
      `The ${what}'s issuing key is certified by root key ${JSON.stringify(String(rootKid)).slice(0, 80)}, which this console does not trust${roots.includesTestKeys ? '' : ' (test keys are accepted only in development mode)'}.`,
      { rootKid: String(rootKid).slice(0, 80) },
    );
  }
  await checkSignature(decoded.compact, root.jwk, () =>
    invalid('CERT_INVALID', `The ${what}'s issuing-key certificate does not carry a valid signature of root key "${root.kid}"; it is forged or altered.`),
  );
  const claims = IssuerCertClaims.safeParse(decoded.payload);
  if (!claims.success) throw invalid('CERT_INVALID', `The ${what}'s issuing-key certificate lacks required fields.`);
  return { claims: claims.data, root };
}

/**
 * Full offline verification of a license, in the order that names the most precise reason.
 * Nothing is written anywhere by this function; callers verify first and write after.
 */
export async function verifyLicense(input: string | Uint8Array, options: VerifyOptions): Promise<VerifiedLicense> {
  const now = options.now ?? nowSeconds();
  const tol = CLOCK_TOLERANCE_SECONDS;
  const decoded = decodeCompact(toText(input), LICENSE_TYP);
  const kid = decoded.header.kid;
  if (typeof kid !== 'string' || kid.length === 0) {
    throw invalid('UNKNOWN_KID', 'The license does not name its issuing key ("kid").');
  }
  const { claims: cert, root } = await verifyIssuerCert(decoded.header[CERT_HEADER], options.roots);
  if (cert.sub !== kid) {
    throw invalid('UNKNOWN_KID', `The license names issuing key "${kid.slice(0, 80)}" but carries the certificate of "${cert.sub}".`, { kid: kid.slice(0, 80) });
  }
  if (options.revocations?.revoked_kids.includes(kid)) {
    throw invalid('REVOKED', `The vendor revoked issuing key "${kid}"; licenses it signed are no longer accepted. Ask the vendor for a reissued license.`, { kid });
  }
  await checkSignature(decoded.compact, cert.jwk as JWK, () =>
    invalid('SIGNATURE_INVALID', 'The license signature does not match its content: it was altered after issue, or forged. Ask the vendor for a fresh copy.'),
  );
  const parsed = LicenseClaims.safeParse(decoded.payload);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw invalid('CLAIMS_INVALID', `The license is signed but its claims are invalid (${first ? `${first.path.join('.') || 'claims'}: ${first.message}` : 'unknown'}).`);
  }
  const claims = parsed.data;
  if (claims.iat < cert.nbf - tol || claims.iat > cert.exp + tol) {
    throw invalid('CERT_INVALID', `The license was issued (${iso(claims.iat)}) outside the validity of issuing key "${kid}" (${iso(cert.nbf)} – ${iso(cert.exp)}).`);
  }
  if (claims.nbf > now + tol) {
    throw invalid('NOT_YET_VALID', `The license is not valid before ${iso(claims.nbf)}. Check this workstation's clock, or activate it on or after that date.`, {
      nbf: iso(claims.nbf),
    });
  }
  if (!options.allowExpired && claims.exp + tol < now) {
    throw invalid('EXPIRED', `The license expired on ${iso(claims.exp)}. Activate a renewed license (Renew, or ask the vendor).`, { exp: iso(claims.exp) });
  }
  if (claims.cluster_uid !== undefined && claims.cluster_uid !== options.clusterUid) {
    throw invalid(
      'CLUSTER_MISMATCH',
      options.clusterUid === null
        ? 'The license is bound to a cluster, and this cluster\'s identity (kube-system namespace UID) could not be read. Grant `get namespaces` and retry.'
        : `The license is bound to another cluster (kube-system UID ${claims.cluster_uid}); this cluster is ${options.clusterUid}. Ask the vendor for a license bound to this cluster.`,
      { licenseCluster: claims.cluster_uid, thisCluster: options.clusterUid },
    );
  }
  if (options.revocations?.revoked_lids.includes(claims.lid)) {
    throw invalid('REVOKED', `The vendor revoked license "${claims.lid}". Ask the vendor for a replacement.`, { lid: claims.lid });
  }
  return { jws: decoded.compact, claims, issuer: { kid, rootKid: root.kid, certExp: cert.exp }, trust: root.source };
}

/**
 * A revocation list: signed by a root key directly (kid = root kid), or by an issuing key
 * carrying its certificate like a license does.
 */
export async function verifyRevocations(input: string | Uint8Array, roots: TrustedRoots): Promise<{ jws: string; claims: RevocationClaims }> {
  const what = 'revocation list';
  const decoded = decodeCompact(toText(input, what), REVOCATIONS_TYP, what);
  const kid = decoded.header.kid;
  const root = typeof kid === 'string' ? roots.roots.get(kid) : undefined;
  let signer: JWK;
  if (root) signer = root.jwk;
  else {
    const { claims: cert } = await verifyIssuerCert(decoded.header[CERT_HEADER], roots, what);
    if (cert.sub !== kid) throw invalid('UNKNOWN_KID', `The revocation list names key ${JSON.stringify(String(kid)).slice(0, 80)}, which is neither a trusted root nor its certified issuing key.`);
    signer = cert.jwk as JWK;
  }
  await checkSignature(decoded.compact, signer, () => invalid('SIGNATURE_INVALID', 'The revocation list signature does not match its content: it was altered or forged.'));
  const parsed = RevocationClaims.safeParse(decoded.payload);
  if (!parsed.success) throw invalid('CLAIMS_INVALID', 'The revocation list is signed but its content is not a revocation list.');
  return { jws: decoded.compact, claims: parsed.data };
}
