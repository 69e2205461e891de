import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { promisify } from 'node:util';
import pg from 'pg';
import { ContractError } from '../../src-shared/contract';

/**
 * TLS of a PostgreSQL connection. `false`: none (sslmode=disable). `require`: encrypted, the
 * server not verified. `verify-full`: encrypted, the server's certificate must chain to `ca`
 * (PEM; absent: the system's trusted roots) and name the host we dialled.
 */
export type PgSsl = false | { mode: 'verify-full' | 'require'; ca?: string };

/** How to reach the platform's PostgreSQL as its admin role (password comes from the secret store). */
export interface PgConnectionConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  ssl?: PgSsl;
}

/** node-postgres `ssl` option for a TLS setting: what each mode means, in one place. */
export function pgSslOptions(ssl: PgSsl | undefined, host: string): pg.ClientConfig['ssl'] {
  if (!ssl) return false;
  if (ssl.mode === 'require') return { rejectUnauthorized: false };
  return {
    rejectUnauthorized: true,
    ...(ssl.ca ? { ca: ssl.ca } : {}),
    // The name checked is the host of the profile, whatever the socket resolved it to.
    checkServerIdentity: (_servername: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(host, cert),
  };
}

/** libpq's sslmode for a DSN handed to the tenant backend. */
export const pgSslMode = (ssl: PgSsl | undefined): 'disable' | 'require' | 'verify-full' => (ssl ? ssl.mode : 'disable');

/** PostgreSQL's default (scram_iterations) and the salt length it generates. */
export const SCRAM_ITERATIONS = 4096;
const SCRAM_SALT_BYTES = 16;
const pbkdf2Async = promisify(pbkdf2);

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802 / RFC 7677):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, all base64. Given to
 * ALTER ROLE … PASSWORD, the server stores it as is, so the password itself never
 * reaches the server (nor its log, nor pg_stat_statements).
 *
 * SASLprep (RFC 4013) is the identity on printable ASCII, which is all the console
 * generates; anything else is refused rather than prepared differently from the server.
 */
export async function scramSha256Verifier(password: string, options: { salt?: Buffer; iterations?: number } = {}): Promise<string> {
  if (!/^[\x20-\x7e]+$/.test(password)) throw new Error('SCRAM verifiers are computed for printable-ASCII passwords only');
  const salt = options.salt ?? randomBytes(SCRAM_SALT_BYTES);
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  const salted = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Identifiers cannot be bound as parameters; this is PostgreSQL's own quoting rule. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
/** Literal quoting for utility statements (ALTER ROLE … PASSWORD) that take no bind parameters. */
export const quoteLiteral = (value: string): string => {
  // standard_conforming_strings is on since PostgreSQL 9.1, so only the quote needs doubling; refuse NUL outright.
  if (value.includes('\0')) throw new Error('NUL byte in SQL literal');
  return `'${value.replace(/'/g, "''")}'`;
};

/** TLS verification failures, each as the sentence the operator acts on. */
const TLS_CODES: Record<string, string> = {
  ERR_TLS_CERT_ALTNAME_INVALID: 'presented a certificate for another host name (verify-full checks the name you entered)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'presented a self-signed certificate that the profile does not trust',
  SELF_SIGNED_CERT_IN_CHAIN: "presented a certificate that does not chain to the profile's CA",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "presented a certificate that does not chain to the profile's CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "presented a certificate that does not chain to the profile's CA",
  UNABLE_TO_GET_ISSUER_CERT: "presented a certificate that does not chain to the profile's CA",
  CERT_HAS_EXPIRED: 'presented an expired certificate',
  CERT_NOT_YET_VALID: 'presented a certificate that is not valid yet (check the clocks)',
};

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08006',
  '08001',
  '08003',
]);

/** A database failure as a contract error that says what the operator can do; never the password. */
export function pgError(error: unknown, doing: string, where?: { host: string; port: number }): ContractError {
  if (error instanceof ContractError) return error;
  const e = error as { code?: string; message?: string } | null;
  const code = e?.code ?? '';
  const server = where ? ` at ${where.host}:${where.port}` : '';
  const msg = (e?.message ?? String(error)).slice(0, 300);
  const tlsProblem = TLS_CODES[code];
  if (tlsProblem) {
    return new ContractError(
      'UNAVAILABLE',
      `PostgreSQL${server} ${tlsProblem} while ${doing}. Put the CA that signed the database server's certificate in the cluster profile, or fix the server's certificate.`,
      { tls: code },
    );
  }
  if (/does not support SSL/i.test(msg)) {
    return new ContractError(
      'UNAVAILABLE',
      `PostgreSQL${server} does not accept TLS connections (while ${doing}). Enable ssl on the server, or choose another TLS mode in the cluster profile.`,
      { tls: 'no-ssl' },
    );
  }
  if (CONNECTION_CODES.has(code) || /Connection terminated|connect|timeout/i.test(msg)) {
    return new ContractError(
      'UNAVAILABLE',
      `PostgreSQL${server} is unreachable while ${doing} (${code || msg}). Check that the server runs and the network allows it, then retry.`,
    );
  }
  if (code === '28P01' || code === '28000') {
    return new ContractError(
      'UNAVAILABLE',
      `PostgreSQL${server} refused the admin credentials while ${doing}. Update the database connection of this cluster profile.`,
    );
  }
  if (code === '42501') {
    return new ContractError(
      'FORBIDDEN',
      `PostgreSQL refused a privilege while ${doing} (${msg}). The admin role needs CREATEROLE and CREATEDB (see docs/tenants.md).`,
      { postgres: code },
    );
  }
  if (code === '42P04' || code === '42710' || code === '23505') {
    return new ContractError('CONFLICT', `Already exists while ${doing}: ${msg}.`);
  }
  return new ContractError('UNAVAILABLE', `PostgreSQL failed while ${doing}: ${msg}`, code ? { postgres: code } : undefined);
}

/**
 * The admin connection: roles and databases of tenants. Every identifier passes
 * quoteIdent even though slugs are already validated, so a validator bug cannot
 * become SQL injection.
 */
export class PostgresAdmin {
  private readonly pool: pg.Pool;

  constructor(private readonly cfg: PgConnectionConfig) {
    this.pool = new pg.Pool({ ...this.clientConfig(cfg.database), max: 4, idleTimeoutMillis: 10_000 });
    // An idle client losing its server must not crash the process; the next query reports it.
    this.pool.on('error', () => undefined);
  }

  get where(): { host: string; port: number } {
    return { host: this.cfg.host, port: this.cfg.port };
  }

  private clientConfig(database: string): pg.ClientConfig {
    return {
      host: this.cfg.host,
      port: this.cfg.port,
      user: this.cfg.user,
      password: this.cfg.password,
      database,
      ssl: pgSslOptions(this.cfg.ssl, this.cfg.host),
      connectionTimeoutMillis: 5_000,
      query_timeout: 60_000,
      application_name: 'gatehouse',
    };
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
    doing = 'querying the admin database',
  ): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (error) {
      throw pgError(error, doing, this.where);
    }
  }

  async roleExists(role: string): Promise<boolean> {
    return (await this.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role], `looking up role ${role}`)).length > 0;
  }

  async databaseExists(name: string): Promise<boolean> {
    return (await this.query('SELECT 1 FROM pg_database WHERE datname = $1', [name], `looking up database ${name}`)).length > 0;
  }

  /** Creates a login role without a password (it cannot log in until one is set); no-op if present. */
  async ensureLoginRole(role: string): Promise<{ created: boolean }> {
    if (await this.roleExists(role)) return { created: false };
    try {
      await this.query(`CREATE ROLE ${quoteIdent(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`, [], `creating role ${role}`);
    } catch (error) {
      // A concurrent creator won the race: the role is there, which is what we wanted.
      if (error instanceof ContractError && error.code === 'CONFLICT') return { created: false };
      throw error;
    }
    // A non-superuser admin needs membership to create a database owned by the role and to SET ROLE to it.
    const [me] = await this.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
    if (!me?.rolsuper) await this.query(`GRANT ${quoteIdent(role)} TO CURRENT_USER`, [], `granting role ${role} to the admin`);
    return { created: true };
  }

  /**
   * Sets the role's password as a SCRAM-SHA-256 verifier computed here: the cleartext never
   * travels to the server, so a failed statement logged by the server (log_min_error_statement)
   * or a log of every statement (log_statement = all) shows only the verifier.
   */
  async setRolePassword(role: string, password: string): Promise<void> {
    const verifier = await scramSha256Verifier(password);
    await this.query(
      `ALTER ROLE ${quoteIdent(role)} WITH LOGIN PASSWORD ${quoteLiteral(verifier)}`,
      [],
      `setting the password of role ${role}`,
    );
  }

  async ensureDatabase(name: string, owner: string): Promise<{ created: boolean }> {
    if (await this.databaseExists(name)) {
      const [row] = await this.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [
        name,
      ]);
      if (row?.owner !== owner)
        throw new ContractError(
          'CONFLICT',
          `Database ${name} exists but is owned by ${row?.owner ?? '?'}, not ${owner}. Inspect it before retrying.`,
        );
      return { created: false };
    }
    try {
      await this.query(`CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(owner)} ENCODING 'UTF8'`, [], `creating database ${name}`);
    } catch (error) {
      if (error instanceof ContractError && error.code === 'CONFLICT') return { created: false };
      throw error;
    }
    await this.query(`REVOKE ALL ON DATABASE ${quoteIdent(name)} FROM PUBLIC`, [], `restricting database ${name}`);
    return { created: true };
  }

  async terminateConnections(database: string): Promise<number> {
    const rows = await this.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
      `terminating connections to ${database}`,
    );
    return rows.length;
  }

  async dropDatabase(name: string): Promise<void> {
    await this.terminateConnections(name);
    await this.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`, [], `dropping database ${name}`);
  }

  async dropRole(role: string): Promise<void> {
    await this.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`, [], `dropping role ${role}`);
  }

  /** One query for the reconcile: every database and role with the tenant prefix. */
  async listWithPrefix(prefix: string): Promise<{ databases: string[]; roles: string[] }> {
    const rows = await this.query<{ kind: string; name: string }>(
      `SELECT 'db' AS kind, datname AS name FROM pg_database WHERE starts_with(datname, $1)
       UNION ALL SELECT 'role', rolname FROM pg_roles WHERE starts_with(rolname, $1)`,
      [prefix],
      'listing tenant databases and roles',
    );
    return {
      databases: rows.filter((r) => r.kind === 'db').map((r) => r.name),
      roles: rows.filter((r) => r.kind === 'role').map((r) => r.name),
    };
  }

  /** Runs fn on a dedicated connection to another database (a tenant's), as the admin role. */
  async withDatabase<T>(database: string, fn: (client: pg.Client) => Promise<T>, doing = `working in database ${database}`): Promise<T> {
    const client = new pg.Client(this.clientConfig(database));
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      throw pgError(error, doing, this.where);
    }
    try {
      return await fn(client);
    } catch (error) {
      throw pgError(error, doing, this.where);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** DSN a tenant backend uses; host and port as the admin connection sees them. */
  tenantUrl(role: string, password: string, database: string): string {
    const u = new URL('postgresql://localhost');
    u.hostname = this.cfg.host;
    u.port = String(this.cfg.port);
    u.username = role;
    u.password = password;
    u.pathname = `/${database}`;
    if (this.cfg.ssl) u.searchParams.set('sslmode', pgSslMode(this.cfg.ssl));
    return u.toString();
  }

  // ---- ownership marks: what a saga created carries its operation id (COMMENT ON …)

  /** Whether a database or role exists, the operation that marked it (null: unmarked) and, for a database, its owner. */
  async ownershipMark(
    kind: 'database' | 'role',
    name: string,
  ): Promise<{ exists: boolean; operationId: string | null; owner: string | null }> {
    const sql =
      kind === 'database'
        ? `SELECT shobj_description(oid, 'pg_database') AS mark, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1`
        : `SELECT shobj_description(oid, 'pg_authid') AS mark, NULL::text AS owner FROM pg_roles WHERE rolname = $1`;
    const [row] = await this.query<{ mark: string | null; owner: string | null }>(
      sql,
      [name],
      `reading the ownership mark of ${kind} ${name}`,
    );
    if (!row) return { exists: false, operationId: null, owner: null };
    return { exists: true, operationId: parseOwnershipMark(row.mark), owner: row.owner };
  }

  async setOwnershipMark(kind: 'database' | 'role', name: string, operationId: string): Promise<void> {
    const what = kind === 'database' ? 'DATABASE' : 'ROLE';
    await this.query(
      `COMMENT ON ${what} ${quoteIdent(name)} IS ${quoteLiteral(ownershipMark(operationId))}`,
      [],
      `marking ${kind} ${name}`,
    );
  }

  /** Creates a login role and marks it in one transaction, so no unmarked role of ours can exist. */
  async createMarkedLoginRole(role: string, operationId: string): Promise<void> {
    const client = await this.pool.connect().catch((error: unknown) => {
      throw pgError(error, `creating role ${role}`, this.where);
    });
    try {
      await client.query('BEGIN');
      await client.query(`CREATE ROLE ${quoteIdent(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`);
      await client.query(`COMMENT ON ROLE ${quoteIdent(role)} IS ${quoteLiteral(ownershipMark(operationId))}`);
      const me = (await client.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0];
      // A non-superuser admin needs membership to create a database owned by the role and to SET ROLE to it.
      if (!me?.rolsuper) await client.query(`GRANT ${quoteIdent(role)} TO CURRENT_USER`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw pgError(error, `creating role ${role}`, this.where);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

const MARK_PREFIX = 'gatehouse:operation=';
export const ownershipMark = (operationId: string): string => `${MARK_PREFIX}${operationId}`;
export const parseOwnershipMark = (comment: string | null): string | null =>
  comment?.startsWith(MARK_PREFIX) ? comment.slice(MARK_PREFIX.length).split(/\s/)[0] || null : null;
