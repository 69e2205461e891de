import type { TokenLifetimes } from '../../../src-shared/contract/secrets';

export interface OverlapWindow {
  seconds: number;
  longestLifetimeSeconds: number;
  jwksMaxAgeSeconds: number;
  marginSeconds: number;
}

/** Margin on top of the derived window: 10 % of it, at least a minute, at most a day (clock skew, slow caches). */
export const MARGIN = { ratio: 0.1, minSeconds: 60, maxSeconds: 86_400 } as const;

/**
 * How long a demoted signing key must stay accepted: the longest-lived thing it may have
 * signed (access token, refresh token, offline session idle timeout), plus the JWKS cache
 * max-age relying parties were told, plus a margin. Derived from the tenant's own
 * lifetimes, never a guessed constant (zitadel #7961: a 6 h rotation against a 12 h
 * client cache logged people out).
 */
export function overlapWindow(l: TokenLifetimes): OverlapWindow {
  const longest = Math.max(l.accessSeconds, l.refreshSeconds, l.offlineIdleSeconds);
  const base = longest + l.jwksMaxAgeSeconds;
  const margin = Math.min(MARGIN.maxSeconds, Math.max(MARGIN.minSeconds, Math.ceil(base * MARGIN.ratio)));
  return { seconds: base + margin, longestLifetimeSeconds: longest, jwksMaxAgeSeconds: l.jwksMaxAgeSeconds, marginSeconds: margin };
}
