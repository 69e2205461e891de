import { createHash, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, CompactSign, importJWK, type JWK } from 'jose';
import { ContractError } from '../../../src-shared/contract';
import { parseHttpDate } from './clock';
import { ALG, MAX_LICENSE_BYTES, RENEWAL_REQUEST_TYP } from './format';
import { generateEd25519 } from './issue';
import type { SecretStore } from './ports';

/** Name of the installation's own Ed25519 private key in the SecretStore (keychain). */
export const INSTALLATION_KEY_NAME = 'license.installation-key';

export const clusterFingerprint = (clusterUid: string | null) =>
  clusterUid ? `sha256:${createHash('sha256').update(clusterUid).digest('hex')}` : null;

/** The installation key signs renewal requests so the vendor can tell they came from this console. */
export async function installationKey(secrets: SecretStore): Promise<JWK> {
  const stored = await secrets.get(INSTALLATION_KEY_NAME);
  if (stored) return JSON.parse(stored) as JWK;
  const pair = await generateEd25519('gh-install');
  await secrets.set(INSTALLATION_KEY_NAME, JSON.stringify(pair.privateJwk));
  return pair.privateJwk;
}

export interface RenewalRequestPayload {
  lid: string | null;
  customer: string | null;
  cluster_fingerprint: string | null;
  usage: { tenants: number; users: number | null; per_tenant: { slug: string; users: number | null; cap: number }[] };
  nonce: string;
  iat: number;
  console_version: string;
}

export async function signRenewalRequest(
  secrets: SecretStore,
  payload: Omit<RenewalRequestPayload, 'nonce' | 'iat'>,
  now = Math.floor(Date.now() / 1000),
) {
  const key = await installationKey(secrets);
  const publicJwk = { kty: key.kty, crv: key.crv, x: key.x };
  const nonce = randomBytes(18).toString('base64url');
  const full: RenewalRequestPayload = { ...payload, nonce, iat: now };
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(full)))
    .setProtectedHeader({ alg: ALG, typ: RENEWAL_REQUEST_TYP, kid: await calculateJwkThumbprint(publicJwk), jwk: publicJwk })
    .sign(await importJWK(key, ALG));
  return { jws, nonce, installationKeyThumbprint: await calculateJwkThumbprint(publicJwk) };
}

/**
 * Online renewal: POSTs the signed renewal request to the license's renewal_url and reads back a
 * license (compact JWS) of at most 64 KiB. The caller verifies it exactly like a pasted one.
 * The server's `Date` header comes back too: a time witness (clock.ts).
 */
export async function fetchRenewal(
  url: string,
  requestJws: string,
  fetchImpl: typeof fetch = fetch,
  timeoutMs = 15_000,
): Promise<{ body: Uint8Array; serverTime: number | null }> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/jose', accept: 'application/jose, text/plain' },
      body: requestJws,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (error) {
    const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error instanceof Error ? error.message : String(error));
    throw new ContractError(
      'UNAVAILABLE',
      `Cannot reach the renewal server ${new URL(url).host} (${reason}). If this site is air-gapped, export a renewal request file instead.`,
    );
  }
  if (!response.ok) {
    throw new ContractError(
      'UNAVAILABLE',
      `The renewal server answered ${response.status}. Try again later or use an exported renewal request.`,
    );
  }
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > MAX_LICENSE_BYTES)
    throw new ContractError('LICENSE_INVALID', 'The renewal server sent more than 64 KiB; refused.', { reason: 'TOO_LARGE' });
  const body = new Uint8Array(await response.arrayBuffer());
  return { body, serverTime: parseHttpDate(response.headers.get('date')) };
}
