import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * The token format, like GitHub's: `ghct_` + 32 base62 characters of randomness (≈190 bits) +
 * `_` + the CRC-32 of everything before it in 6 base62 characters. The prefix lets secret
 * scanners and our redaction find a token anywhere; the checksum refuses a mistyped or made-up
 * token before any database lookup. Only the SHA-256 of the whole token is stored.
 */
export const TOKEN_PREFIX = 'ghct_';
const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Finds tokens inside any text (logs, audit parameters, error messages); the redaction uses it. */
export { API_TOKEN_PATTERN as TOKEN_PATTERN } from '../core/redact';
const WHOLE = /^ghct_([0-9A-Za-z]{32})_([0-9A-Za-z]{6})$/;

function base62(n: number, width: number): string {
  let out = '';
  let v = n >>> 0;
  for (let i = 0; i < width; i += 1) {
    out = ALPHABET[v % 62]! + out;
    v = Math.floor(v / 62);
  }
  return out;
}

/** Base62 without modulo bias: bytes ≥ 248 are drawn again. */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += ALPHABET[b % 62];
    }
  }
  return out;
}

export const checksumOf = (body: string): string => base62(crc32(Buffer.from(body, 'utf8')), CHECKSUM_LENGTH);

export function generateToken(): string {
  const body = `${TOKEN_PREFIX}${randomBase62(RANDOM_LENGTH)}`;
  return `${body}_${checksumOf(body)}`;
}

export type TokenFormatProblem = 'malformed' | 'checksum';

/** Checks the shape and the checksum; no database involved. */
export function checkTokenFormat(token: string): { ok: true } | { ok: false; problem: TokenFormatProblem } {
  const m = WHOLE.exec(token);
  if (!m) return { ok: false, problem: 'malformed' };
  const body = `${TOKEN_PREFIX}${m[1]!}`;
  return checksumOf(body) === m[2] ? { ok: true } : { ok: false, problem: 'checksum' };
}

/** What the database keeps: SHA-256 hex (the token carries ≈190 random bits, so no slow hash is needed). */
export const tokenHash = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');
