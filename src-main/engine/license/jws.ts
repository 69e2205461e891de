import { base64url } from 'jose';
import { ContractError } from '../../../src-shared/contract';
import { ALG, MAX_JSON_DEPTH, MAX_LICENSE_BYTES, type LicenseReason } from './format';

/** A refused license, revocation list or renewal answer: always LICENSE_INVALID with its reason code. */
export class LicenseInvalid extends ContractError {
  readonly reason: LicenseReason;
  constructor(reason: LicenseReason, message: string, details: Record<string, unknown> = {}) {
    super('LICENSE_INVALID', message, { reason, ...details });
    this.reason = reason;
  }
}

export const invalid = (reason: LicenseReason, message: string, details?: Record<string, unknown>) =>
  new LicenseInvalid(reason, message, details);

const utf8 = new TextDecoder('utf-8', { fatal: true });
const B64URL = /^[A-Za-z0-9_-]*$/;

/** Deepest nesting of arrays/objects, computed without parsing so a hostile file cannot exhaust the stack. */
export function jsonDepth(text: string, stopAt = MAX_JSON_DEPTH + 1): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
      if (max >= stopAt) return max;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Input bytes or text → text, refusing oversize and non-UTF-8 before anything else looks at it. */
export function toText(input: string | Uint8Array, what = 'license'): string {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (size > MAX_LICENSE_BYTES) {
    throw invalid(
      'TOO_LARGE',
      `The ${what} is ${size} bytes; a valid one is under ${MAX_LICENSE_BYTES / 1024} KiB. Check that you picked the right file.`,
      { size },
    );
  }
  if (typeof input === 'string') return input;
  try {
    return utf8.decode(input);
  } catch {
    throw invalid('NOT_UTF8', `The ${what} file is not UTF-8 text. It may be corrupted or not a ${what}; ask the vendor for a new copy.`);
  }
}

function decodeJsonSegment(segment: string, part: 'header' | 'payload', what: string): Record<string, unknown> {
  if (!B64URL.test(segment))
    throw invalid('MALFORMED', `The ${what} ${part} contains characters that are not base64url; the text was altered or is not a ${what}.`);
  let text: string;
  try {
    text = utf8.decode(base64url.decode(segment));
  } catch {
    throw invalid('NOT_UTF8', `The ${what} ${part} is not UTF-8 JSON; the ${what} is corrupted.`);
  }
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw invalid('TOO_DEEP', `The ${what} ${part} nests deeper than ${MAX_JSON_DEPTH} levels; no genuine ${what} does. Refused.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('NOT_JSON', `The ${what} ${part} is not JSON; the ${what} is corrupted or was not produced by the vendor.`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('NOT_JSON', `The ${what} ${part} is not a JSON object.`);
  }
  return value as Record<string, unknown>;
}

export interface DecodedJws {
  compact: string;
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/**
 * Structural checks of a compact JWS in the order that gives the most precise reason:
 * shape → header → alg exactly EdDSA → typ → signature length → payload. No key is involved yet.
 */
export function decodeCompact(text: string, expectedTyp: string, what = 'license'): DecodedJws {
  const compact = text.trim();
  if (compact.length === 0) throw invalid('MALFORMED', `The ${what} is empty.`);
  const parts = compact.split('.');
  if (parts.length !== 3) {
    if (parts.length < 3 && compact.startsWith('eyJ')) {
      throw invalid('TRUNCATED', `The ${what} is cut short (${parts.length} of 3 parts). Copy the whole text or file again.`);
    }
    throw invalid('MALFORMED', `This is not a ${what}: expected a compact JWS (three base64url parts separated by dots).`);
  }
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJsonSegment(h, 'header', what);
  if (header.alg === 'none' || header.alg === 'None' || header.alg === 'NONE') {
    throw invalid('ALG_NONE', `The ${what} is unsigned (alg "none"). Only ${ALG} (Ed25519) signatures are accepted.`);
  }
  if (header.alg !== ALG) {
    throw invalid(
      'ALG_NOT_ALLOWED',
      `The ${what} uses algorithm ${JSON.stringify(String(header.alg)).slice(0, 40)}; only ${ALG} (Ed25519) is accepted.`,
      {
        alg: String(header.alg).slice(0, 40),
      },
    );
  }
  if (header.typ !== expectedTyp) {
    throw invalid(
      'WRONG_TYPE',
      `This is not a ${what} (type ${JSON.stringify(String(header.typ)).slice(0, 60)}, expected "${expectedTyp}").`,
    );
  }
  if (!B64URL.test(s)) throw invalid('MALFORMED', `The ${what} signature contains characters that are not base64url.`);
  const sigLength = Math.floor((s.length * 3) / 4);
  if (sigLength < 64) throw invalid('TRUNCATED', `The ${what} signature is cut short. Copy the whole text or file again.`);
  if (sigLength > 64 || s.length !== 86) throw invalid('MALFORMED', `The ${what} signature has the wrong length for Ed25519.`);
  const payload = decodeJsonSegment(p, 'payload', what);
  return { compact, header, payload };
}
