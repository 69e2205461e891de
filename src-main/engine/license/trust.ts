import type { JWK } from 'jose';
// The trust anchors are part of the application: compiled in from these exact files at build
// time (read from them, and only them, when running from source). Nothing is looked up on disk
// at run time, so no file dropped next to (or above) the application can add a root.
import pinnedRootsJwks from '../../../resources/license/root-keys.json' with { type: 'json' };
import testRootsJwks from '../../../resources/license/test-root-keys.json' with { type: 'json' };

export type TrustSource = 'pinned' | 'test';

export interface TrustedRoot {
  kid: string;
  jwk: JWK;
  source: TrustSource;
}

/** Root public keys that may sign issuing-key certificates (and revocation lists). */
export interface TrustedRoots {
  roots: Map<string, TrustedRoot>;
  /** True when test roots were added (development mode only). */
  includesTestKeys: boolean;
  /**
   * Test roots this console knows but refuses here, and why (production build, or a cluster that
   * is not the local harness): a license they certify gets TEST_KEY_REFUSED instead of UNKNOWN_KID.
   */
  refusedTestRoots?: { kids: Set<string>; why: string };
}

export function parseJwks(doc: unknown, source: TrustSource): TrustedRoot[] {
  const keys = (typeof doc === 'string' ? JSON.parse(doc) : doc) as { keys?: JWK[] };
  if (!Array.isArray(keys?.keys)) throw new Error('JWKS without "keys"');
  return keys.keys.map((jwk) => {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.kid !== 'string' || 'd' in jwk) {
      throw new Error(`root key ${String(jwk.kid)} must be a public Ed25519 OKP key with a kid`);
    }
    return { kid: jwk.kid, jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: jwk.kid }, source };
  });
}

export function trustedRootsFrom(entries: TrustedRoot[]): TrustedRoots {
  return { roots: new Map(entries.map((r) => [r.kid, r])), includesTestKeys: entries.some((r) => r.source === 'test') };
}

export const pinnedRoots = (): TrustedRoot[] => parseJwks(pinnedRootsJwks, 'pinned');
export const testRootKeys = (): TrustedRoot[] => parseJwks(testRootsJwks, 'test');

/** The same roots without the test ones, remembering why they were dropped (for the refusal message). */
export function withoutTestKeys(roots: TrustedRoots, why: string): TrustedRoots {
  const kept = [...roots.roots.values()].filter((r) => r.source !== 'test');
  const refused = new Set([...roots.roots.values()].filter((r) => r.source === 'test').map((r) => r.kid));
  for (const r of testRootKeys()) refused.add(r.kid);
  return { ...trustedRootsFrom(kept), refusedTestRoots: { kids: refused, why } };
}

/**
 * Production trusts only the pinned roots; the test roots are added only when the console was
 * started in development mode (`--dev`), and even then the license service accepts them only on
 * the local harness cluster (docs/license.md, "Development mode").
 */
export function loadTrustedRoots(options: { developmentMode: boolean }): TrustedRoots {
  const entries = pinnedRoots();
  if (options.developmentMode) return trustedRootsFrom([...entries, ...testRootKeys()]);
  return withoutTestKeys(trustedRootsFrom(entries), 'this console was not started in development mode (--dev)');
}
