/** Keys whose values never leave the engine in clear (audit parameters, logs). */
const SECRET_KEY = /pass(word|phrase)?|secret|token|private|credential|dsn|database_?url|authorization|cookie|^key$|apikey|jwt|pem|license$/i;

export const REDACTED = '[redacted]';

/** Deep copy with every secret-looking value replaced, so audit entries and logs can be shown. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 20) return REDACTED;
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
