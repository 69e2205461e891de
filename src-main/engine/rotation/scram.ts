import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

/** PostgreSQL's default scram_iterations and the salt length it generates itself. */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;
const pbkdf2Async = promisify(pbkdf2);

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802 §3, RFC 7677):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64. Given to
 * `ALTER ROLE … PASSWORD`, the server stores it as it is, so the password itself never
 * reaches the server, its log or pg_stat_statements.
 *
 * Computed here with node:crypto because the adapter's version (src-main/adapters/postgres.ts,
 * branch h-auth) is not on main yet; same signature, so either can replace the other.
 * SASLprep (RFC 4013) is the identity on printable ASCII, which is all the console
 * generates; anything else is refused rather than prepared differently from the server.
 */
export async function scramSha256Verifier(password: string, options: { salt?: Buffer; iterations?: number } = {}): Promise<string> {
  if (!/^[\x20-\x7e]+$/.test(password)) throw new Error('SCRAM verifiers are computed for printable-ASCII passwords only');
  const salt = options.salt ?? randomBytes(SALT_BYTES);
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  const salted = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
