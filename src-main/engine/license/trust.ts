import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JWK } from 'jose';

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
}

export const PINNED_ROOTS_FILE = path.join('resources', 'license', 'root-keys.json');
export const TEST_ROOTS_FILE = path.join('test', 'fixtures', 'license', 'test-root-keys.json');

/** The repository / app root: the nearest ancestor holding resources/license (works from src and from a bundle). */
export function findAppRoot(start = path.dirname(fileURLToPath(import.meta.url))): string {
  const resourcesPath = (process as { resourcesPath?: string }).resourcesPath;
  const candidates: string[] = [];
  for (let dir = start; ; dir = path.dirname(dir)) {
    candidates.push(dir);
    if (path.dirname(dir) === dir) break;
  }
  if (resourcesPath) candidates.push(resourcesPath, path.dirname(resourcesPath));
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, PINNED_ROOTS_FILE)));
  if (!found) throw new Error(`pinned license root keys (${PINNED_ROOTS_FILE}) not found above ${start}`);
  return found;
}

export function parseJwks(text: string, source: TrustSource): TrustedRoot[] {
  const doc = JSON.parse(text) as { keys?: JWK[] };
  if (!Array.isArray(doc.keys)) throw new Error('JWKS without "keys"');
  return doc.keys.map((jwk) => {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.kid !== 'string' || 'd' in jwk) {
      throw new Error(`root key ${String(jwk.kid)} must be a public Ed25519 OKP key with a kid`);
    }
    return { kid: jwk.kid, jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: jwk.kid }, source };
  });
}

export function trustedRootsFrom(entries: TrustedRoot[]): TrustedRoots {
  return { roots: new Map(entries.map((r) => [r.kid, r])), includesTestKeys: entries.some((r) => r.source === 'test') };
}

/**
 * Production trusts only the pinned roots; the test roots are added only when the console
 * was started in development mode (`--dev`), which the UI shows on every page.
 */
export function loadTrustedRoots(options: { developmentMode: boolean; appRoot?: string }): TrustedRoots {
  const root = options.appRoot ?? findAppRoot();
  const entries = parseJwks(fs.readFileSync(path.join(root, PINNED_ROOTS_FILE), 'utf8'), 'pinned');
  if (options.developmentMode) {
    const testFile = path.join(root, TEST_ROOTS_FILE);
    if (fs.existsSync(testFile)) entries.push(...parseJwks(fs.readFileSync(testFile, 'utf8'), 'test'));
  }
  return trustedRootsFrom(entries);
}
