import net from 'node:net';
import tls from 'node:tls';
import type { CertificateInfo, SmtpSettings } from '../../../src-shared/contract/mail';

/** The CA list a connection trusts: the PEM of the settings, or undefined for the system roots. */
export const trustedCa = (s: Pick<SmtpSettings, 'ca' | 'caPem'>): string[] | undefined =>
  s.ca === 'custom' && s.caPem ? [s.caPem] : undefined;

/** SNI name: never an IP address (RFC 6066). */
export const sniName = (host: string): string | undefined => (net.isIP(host.replace(/^\[|\]$/g, '')) ? undefined : host);

const dn = (x: Record<string, string | string[]> | undefined): string =>
  x
    ? Object.entries(x)
        .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
        .join(', ')
    : '';

/** What an operator needs to know about a verification failure, by OpenSSL / Node code. */
export function verificationAdvice(code: string, host: string, altNames: string | null, validTo: string): string {
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return `The server's certificate is self-signed (${code}). Choose CA "custom" and paste the PEM of the certificate or of the CA that signed it, or give the relay a certificate from a trusted CA.`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
      return `The certificate's issuer is not trusted here (${code}). Choose CA "custom" and paste the issuing CA's PEM, or make the relay send its intermediate certificates.`;
    case 'CERT_HAS_EXPIRED':
      return `The server's certificate expired on ${validTo} (${code}). Renew it on the relay.`;
    case 'CERT_NOT_YET_VALID':
      return `The server's certificate is not valid yet (${code}). Check the relay's and this machine's clocks.`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `The certificate is issued for ${altNames ?? 'other names'}, not for "${host}" (${code}). Connect by a name the certificate lists, or reissue it with "${host}".`;
    default:
      return `The server's certificate did not verify (${code}). Check the CA choice and the certificate on the relay.`;
  }
}

/** Certificate details of a TLS socket, and whether chain and host name verified. */
export function describeCertificate(socket: tls.TLSSocket, host: string): { info: CertificateInfo; error: string | null } {
  const cert = socket.getPeerCertificate();
  const altNames = cert.subjectaltname ?? null;
  let code: string | null = null;
  if (!socket.authorized) code = String(socket.authorizationError ?? 'UNKNOWN');
  else {
    const mismatch = tls.checkServerIdentity(host.replace(/^\[|\]$/g, ''), cert);
    if (mismatch) code = (mismatch as Error & { code?: string }).code ?? 'ERR_TLS_CERT_ALTNAME_INVALID';
  }
  const cipher = socket.getCipher();
  const info: CertificateInfo = {
    subject: dn(cert.subject as unknown as Record<string, string>),
    issuer: dn(cert.issuer as unknown as Record<string, string>),
    validFrom: cert.valid_from ?? '',
    validTo: cert.valid_to ?? '',
    altNames,
    fingerprint256: cert.fingerprint256 ?? '',
    verificationError: code,
    protocol: socket.getProtocol() ?? null,
    cipher: cipher?.name ?? null,
  };
  return { info, error: code ? verificationAdvice(code, host, altNames, info.validTo) : null };
}
