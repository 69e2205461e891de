import { z } from 'zod';

/** Every failure that crosses the contract carries one of these codes. */
export const ErrorCode = z.enum([
  'VALIDATION',
  'NOT_FOUND',
  'CONFLICT',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  'UNAVAILABLE',
  'OFFLINE',
  'LICENSE_INVALID',
  'CONFIRMATION_REQUIRED',
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** What the renderer receives: a code, a sentence a person can act on, never a stack or a secret. */
export const ContractErrorShape = z.object({
  code: ErrorCode,
  message: z.string(),
  /** Field paths for VALIDATION, missing permissions for FORBIDDEN, and so on. */
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ContractErrorShape = z.infer<typeof ContractErrorShape>;

/** Thrown by the engine and the router; serialised as ContractErrorShape. */
export class ContractError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ContractError';
    this.code = code;
    this.details = details;
  }
  toShape(): ContractErrorShape {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export const isContractError = (e: unknown): e is ContractError => e instanceof ContractError;

/** The result envelope both transports carry. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ContractErrorShape };
