import type { ErrorCode } from '../../src-shared/contract';

/** Exit status of `gatehouse` by the contract's error code (docs/cli.md#exit-codes). */
export const EXIT_CODES: Record<ErrorCode | 'OK' | 'USAGE', number> = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  VALIDATION: 3,
  UNAUTHENTICATED: 4,
  FORBIDDEN: 5,
  NOT_FOUND: 6,
  CONFLICT: 7,
  CONFIRMATION_REQUIRED: 8,
  UNAVAILABLE: 9,
  OFFLINE: 10,
  LICENSE_INVALID: 11,
};

/** The command ran, but part of its work failed (a backup of all tenants with some failures). */
export const EXIT_PARTIAL = 12;

export const exitCodeOf = (code: string): number => (EXIT_CODES as Record<string, number>)[code] ?? EXIT_CODES.INTERNAL;
