export {
  TokenService,
  TokenRefused,
  DEFAULT_EXPIRY_DAYS,
  DEFAULT_MAX_EXPIRY_DAYS,
  DEFAULT_RETENTION_DAYS,
  type Admission,
  type TokenRefusalReason,
} from './service';
export { checkTokenFormat, generateToken, tokenHash, TOKEN_PREFIX, TOKEN_PATTERN } from './format';
export {
  applicableLimits,
  checkScope,
  commandMatches,
  narrowToOwner,
  sameStanding,
  tenantMatches,
  type NamedTenants,
  type OwnerStanding,
} from './scope';
