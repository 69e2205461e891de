import { compactVerify, importJWK, type JWK } from 'jose';
import {
  ALG,
  CERT_HEADER,
  CERT_TYP,
  CLOCK_TOLERANCE_SECONDS,
  IssuerCertClaims,
  LICENSE_TYP,
  LicenseClaims,
  MAX_REVOCATION_SEQ_JUMP,
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

/** A certificate or list names a test root this console refuses here: say why, not just "unknown". */
function refusedTestRoot(kid: unknown, roots: TrustedRoots, what: string): LicenseInvalid | null {
  if (typeof kid !== 'string' || !roots.refusedTestRoots?.kids.has(kid)) return null;
  return invalid(
    'TEST_KEY_REFUSED',
    `The ${what} is signed with the development test keys, which are refused here: ${roots.refusedTestRoots.why}. Test keys are accepted only by a console started with --dev, on the local harness cluster. Ask the vendor for a production ${what}.`,
    { rootKid: kid },
  );
}

/**
 * The issuing key's certificate: signed by a trusted root, naming the issuing key, and valid
 * now (`now`: the console's trusted time), not only when the license was issued.
 */
export async function verifyIssuerCert(cert: unknown, roots: TrustedRoots, what = 'license', now = nowSeconds()) {
  if (typeof cert !== 'string' || cert.length === 0) {
    throw invalid(
      'CERT_MISSING',
      `The ${what} does not carry its issuing key's certificate (header "${CERT_HEADER}"); it was not issued by the vendor's tooling.`,
    );
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
    throw (
      refusedTestRoot(rootKid, roots, what) ??
      invalid(
        'UNKNOWN_KID',
        `The ${what}'s issuing key is certified by root key ${JSON.stringify(String(rootKid)).slice(0, 80)}, which this console does not trust. Ask the vendor for a ${what} issued under a pinned root key.`,
        { rootKid: String(rootKid).slice(0, 80) },
      )
    );
  }
  await checkSignature(decoded.compact, root.jwk, () =>
    invalid(
      'CERT_INVALID',
      `The ${what}'s issuing-key certificate does not carry a valid signature of root key "${root.kid}"; it is forged or altered.`,
    ),
  );
  const claims = IssuerCertClaims.safeParse(decoded.payload);
  if (!claims.success) throw invalid('CERT_INVALID', `The ${what}'s issuing-key certificate lacks required fields.`);
  const c = claims.data;
  // a retired (or leaked) issuing key must not keep signing back-dated documents
  if (now > c.exp + CLOCK_TOLERANCE_SECONDS) {
    throw invalid(
      'CERT_EXPIRED',
      `The vendor certified issuing key "${c.sub}" only until ${iso(c.exp)}; it no longer signs valid ${what}s. Ask the vendor for a ${what} signed by a current issuing key.`,
      { kid: c.sub, certExp: iso(c.exp) },
    );
  }
  if (now < c.nbf - CLOCK_TOLERANCE_SECONDS) {
    throw invalid(
      'CERT_NOT_YET_VALID',
      `Issuing key "${c.sub}" is certified only from ${iso(c.nbf)}. Check this workstation's clock, or try again after that date.`,
      { kid: c.sub, certNbf: iso(c.nbf) },
    );
  }
  return { claims: c, root };
}

/**
 * Full offline verification of a license, in the order that names the most precise reason.
 * Nothing is written anywhere by this function; callers verify first and write after.
 * `now` is the console's trusted time (the clock, checked against the time witness).
 */
export async function verifyLicense(input: string | Uint8Array, options: VerifyOptions): Promise<VerifiedLicense> {
  const now = options.now ?? nowSeconds();
  const tol = CLOCK_TOLERANCE_SECONDS;
  const decoded = decodeCompact(toText(input), LICENSE_TYP);
  const kid = decoded.header.kid;
  if (typeof kid !== 'string' || kid.length === 0) {
    throw invalid('UNKNOWN_KID', 'The license does not name its issuing key ("kid").');
  }
  const { claims: cert, root } = await verifyIssuerCert(decoded.header[CERT_HEADER], options.roots, 'license', now);
  if (cert.sub !== kid) {
    throw invalid('UNKNOWN_KID', `The license names issuing key "${kid.slice(0, 80)}" but carries the certificate of "${cert.sub}".`, {
      kid: kid.slice(0, 80),
    });
  }
  if (options.revocations?.revoked_kids.includes(kid)) {
    throw invalid(
      'REVOKED',
      `The vendor revoked issuing key "${kid}"; licenses it signed are no longer accepted. Ask the vendor for a reissued license.`,
      { kid },
    );
  }
  await checkSignature(decoded.compact, cert.jwk as JWK, () =>
    invalid(
      'SIGNATURE_INVALID',
      'The license signature does not match its content: it was altered after issue, or forged. Ask the vendor for a fresh copy.',
    ),
  );
  const parsed = LicenseClaims.safeParse(decoded.payload);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw invalid(
      'CLAIMS_INVALID',
      `The license is signed but its claims are invalid (${first ? `${first.path.join('.') || 'claims'}: ${first.message}` : 'unknown'}).`,
    );
  }
  const claims = parsed.data;
  // a signed iat is a floor on the real time: a license "issued in the future" means this clock is behind
  if (claims.iat > now + tol) {
    throw invalid(
      'CLOCK_ROLLBACK',
      `The system clock reads ${iso(now)} but this license was issued at ${iso(claims.iat)}: the clock is behind. Fix the clock (date, time zone, NTP) and try again.`,
      { clock: iso(now), seen: iso(claims.iat), source: `license ${claims.lid} issued` },
    );
  }
  if (claims.iat < cert.nbf - tol || claims.iat > cert.exp + tol) {
    throw invalid(
      'CERT_INVALID',
      `The license was issued (${iso(claims.iat)}) outside the validity of issuing key "${kid}" (${iso(cert.nbf)} – ${iso(cert.exp)}).`,
    );
  }
  if (claims.nbf > now + tol) {
    throw invalid(
      'NOT_YET_VALID',
      `The license is not valid before ${iso(claims.nbf)}. Check this workstation's clock, or activate it on or after that date.`,
      {
        nbf: iso(claims.nbf),
      },
    );
  }
  if (!options.allowExpired && claims.exp + tol < now) {
    throw invalid('EXPIRED', `The license expired on ${iso(claims.exp)}. Activate a renewed license (Renew, or ask the vendor).`, {
      exp: iso(claims.exp),
    });
  }
  if (claims.cluster_uid !== undefined && claims.cluster_uid !== options.clusterUid) {
    throw invalid(
      'CLUSTER_MISMATCH',
      options.clusterUid === null
        ? "The license is bound to a cluster, and this cluster's identity (kube-system namespace UID) could not be read. Grant `get namespaces` and retry."
        : `The license is bound to another cluster (kube-system UID ${claims.cluster_uid}); this cluster is ${options.clusterUid}. Ask the vendor for a license bound to this cluster.`,
      { licenseCluster: claims.cluster_uid, thisCluster: options.clusterUid },
    );
  }
  if (options.revocations?.revoked_lids.includes(claims.lid)) {
    throw invalid('REVOKED', `The vendor revoked license "${claims.lid}". Ask the vendor for a replacement.`, { lid: claims.lid });
  }
  return { jws: decoded.compact, claims, issuer: { kid, rootKid: root.kid, certExp: cert.exp }, trust: root.source };
}

export interface VerifiedRevocations {
  jws: string;
  claims: RevocationClaims;
  /** A root key (kid = root kid), or an issuing key carrying its certificate. */
  signer: { kind: 'root' | 'issuer'; kid: string };
}

/**
 * A revocation list's signature: by a root key directly (kid = root kid), or by an issuing key
 * carrying its certificate like a license does (certificate valid at `now`). Whether the list
 * may replace the one in force is `checkRevocationSuccessor`'s decision.
 */
export async function verifyRevocations(input: string | Uint8Array, roots: TrustedRoots, now = nowSeconds()): Promise<VerifiedRevocations> {
  const what = 'revocation list';
  const decoded = decodeCompact(toText(input, what), REVOCATIONS_TYP, what);
  const kid = decoded.header.kid;
  if (typeof kid !== 'string' || kid.length === 0)
    throw invalid('UNKNOWN_KID', 'The revocation list does not name the key that signed it ("kid").');
  const root = roots.roots.get(kid);
  let signer: JWK;
  let kind: 'root' | 'issuer';
  if (root) {
    signer = root.jwk;
    kind = 'root';
  } else {
    const refused = decoded.header[CERT_HEADER] === undefined ? refusedTestRoot(kid, roots, what) : null;
    if (refused) throw refused;
    const { claims: cert } = await verifyIssuerCert(decoded.header[CERT_HEADER], roots, what, now);
    if (cert.sub !== kid)
      throw invalid(
        'UNKNOWN_KID',
        `The revocation list names key ${JSON.stringify(kid).slice(0, 80)}, which is neither a trusted root nor its certified issuing key.`,
      );
    signer = cert.jwk as JWK;
    kind = 'issuer';
  }
  await checkSignature(decoded.compact, signer, () =>
    invalid('SIGNATURE_INVALID', 'The revocation list signature does not match its content: it was altered or forged.'),
  );
  const parsed = RevocationClaims.safeParse(decoded.payload);
  if (!parsed.success) throw invalid('CLAIMS_INVALID', 'The revocation list is signed but its content is not a revocation list.');
  return { jws: decoded.compact, claims: parsed.data, signer: { kind, kid } };
}

/**
 * May `next` replace the list in force (`current`, null when none)? A list must be newer, may
 * advance `seq` only by MAX_REVOCATION_SEQ_JUMP, and when an issuing key signed it, that key must
 * not be revoked (by either list) and the list may only add revocations: lifting one (including
 * its signer's own) takes a list signed by a root key.
 */
export function checkRevocationSuccessor(current: RevocationClaims | null, next: VerifiedRevocations): void {
  const { claims, signer } = next;
  const base = current?.seq ?? 0;
  if (current && claims.seq <= current.seq) {
    throw invalid(
      'OLDER_THAN_CURRENT',
      `This revocation list (#${claims.seq}) is not newer than the one in force (#${current.seq}). Refused.`,
      { seq: claims.seq, current: current.seq },
    );
  }
  if (claims.seq - base > MAX_REVOCATION_SEQ_JUMP) {
    throw invalid(
      'SEQ_TOO_FAR',
      `This revocation list jumps to #${claims.seq}${current ? ` from #${current.seq}` : ''}; a genuine list advances by at most ${MAX_REVOCATION_SEQ_JUMP}. Accepting it would refuse every later list, so it is refused. Ask the vendor for the current list.`,
      { seq: claims.seq, current: current?.seq ?? null, maxJump: MAX_REVOCATION_SEQ_JUMP },
    );
  }
  if (signer.kind !== 'issuer') return;
  if (current?.revoked_kids.includes(signer.kid) || claims.revoked_kids.includes(signer.kid)) {
    throw invalid(
      'REVOKED',
      `This revocation list is signed by issuing key "${signer.kid}", which is revoked; a revoked key cannot publish revocation lists (nor lift its own revocation). Ask the vendor for a list signed by a root key.`,
      { kid: signer.kid },
    );
  }
  if (current) {
    const liftedKids = current.revoked_kids.filter((k) => !claims.revoked_kids.includes(k));
    const nextLids = new Set(claims.revoked_lids);
    const liftedLids = current.revoked_lids.filter((l) => !nextLids.has(l));
    if (liftedKids.length > 0 || liftedLids.length > 0) {
      throw invalid(
        'WOULD_UNREVOKE',
        `This revocation list, signed by issuing key "${signer.kid}", drops revocations the list in force holds (${[...liftedKids.map((k) => `key ${k}`), ...liftedLids.map((l) => `license ${l}`)].slice(0, 5).join(', ')}). Only a list signed by a root key can lift a revocation. Refused.`,
        { liftedKids: liftedKids.slice(0, 20), liftedLids: liftedLids.slice(0, 20) },
      );
    }
  }
}
