/**
 * What other capabilities use: the key-set layout new tenants are created with (docs/secrets.md).
 * Only the pure format module is re-exported here, so the tenants capability can use it without
 * an import cycle; the composition root (engine/index.ts) builds RotationService from ./service.
 */
export { initialJwtKeys, initialTokenSets } from './keyset';
