/** Keys whose values never leave the engine in clear (audit parameters, logs). */
const SECRET_KEY =
  /pass(word|phrase)?|secret|token|private|credential|dsn|database_?url|authorization|cookie|^key$|apikey|jwt|pem|license$/i;

export const REDACTED = '[redacted]';

/**
 * Gatehouse API tokens (engine/tokens/format.ts): a recognisable prefix, 32 base62 characters, a
 * base62 CRC-32. Found and masked in any string, whatever its key (a token pasted into a note).
 */
export const API_TOKEN_PATTERN = /ghct_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}/g;
export const REDACTED_TOKEN = 'ghct_[redacted]';

/** A string with every API token in it masked. */
export const redactTokens = (text: string): string => (text.includes('ghct_') ? text.replace(API_TOKEN_PATTERN, REDACTED_TOKEN) : text);

/** Masks API tokens in the strings of plain objects and arrays (log fields); other objects (errors) keep their shape, their message masked. */
export function maskTokensDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactTokens(value);
  if (depth > 10 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskTokensDeep(v, depth + 1));
  if (value instanceof Error) {
    if (value.message.includes('ghct_')) value.message = redactTokens(value.message);
    return value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = maskTokensDeep(v, depth + 1);
  return out;
}

/** Deep copy with every secret-looking value replaced, so audit entries and logs can be shown. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 20) return REDACTED;
  if (typeof value === 'string') return redactTokens(value);
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined && v !== '' ? REDACTED : redactSecrets(v, depth + 1);
    }
    return out;
  }
  return value;
}
