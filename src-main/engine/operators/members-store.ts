import pg from 'pg';
import { ContractError, type Role } from '../../../src-shared/contract';
import { pgError, pgSslOptions } from '../../adapters/postgres';
import type { PgAdminConfig } from '../core/cluster-runtime';
import { applyControlMigrations, CONTROL_DATABASE, type ControlMigration } from '../core/control-database';

/** The same database as the shared audit log and the API tokens: what all operators of a cluster share. */
export { CONTROL_DATABASE };
// Own advisory lock and migrations table: the member tables migrate independently of the other capabilities there.
const MIGRATION_LOCK = 7_263_917_020;
const MIGRATIONS: ControlMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE members (
        id uuid PRIMARY KEY,
        username text NOT NULL UNIQUE,
        display_name text NOT NULL,
        email text,
        global_role text CHECK (global_role IN ('viewer', 'operator', 'admin')),
        grants jsonb NOT NULL DEFAULT '[]',
        -- argon2id PHC string (64 MiB, t=3), never the password; null: signs in through OIDC only
        password_hash text,
        version int NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by text NOT NULL,
        last_sign_in_at timestamptz,
        CHECK (global_role IS NOT NULL OR jsonb_array_length(grants) > 0));
      CREATE TABLE member_oidc_links (
        issuer text NOT NULL,
        subject text NOT NULL,
        member_id uuid NOT NULL REFERENCES members(id) ON DELETE CASCADE,
        linked_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (issuer, subject));
      CREATE TABLE member_invitations (
        id uuid PRIMARY KEY,
        -- SHA-256 of the one-time code; the code itself is shown once or mailed, never stored
        code_hash text NOT NULL UNIQUE,
        email text,
        delivery text NOT NULL CHECK (delivery IN ('email', 'code')),
        global_role text CHECK (global_role IN ('viewer', 'operator', 'admin')),
        grants jsonb NOT NULL DEFAULT '[]',
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        accepted_at timestamptz,
        accepted_by text,
        revoked_at timestamptz,
        revoked_by text);`,
  },
];

export interface GrantRow {
  role: 'operator' | 'admin';
  tenants: string[];
}

export interface MemberRow {
  id: string;
  username: string;
  display_name: string;
  email: string | null;
  global_role: Role | null;
  grants: GrantRow[];
  password_hash: string | null;
  version: number;
  created_at: Date;
  created_by: string;
  updated_at: Date;
  updated_by: string;
  last_sign_in_at: Date | null;
}

export interface InvitationRow {
  id: string;
  code_hash: string;
  email: string | null;
  delivery: 'email' | 'code';
  global_role: Role | null;
  grants: GrantRow[];
  created_by: string;
  created_at: Date;
  expires_at: Date;
  accepted_at: Date | null;
  accepted_by: string | null;
  revoked_at: Date | null;
  revoked_by: string | null;
}

export interface OidcLinkRow {
  issuer: string;
  subject: string;
  member_id: string;
}

/**
 * One cluster's member tables: a small pool on its gatehouse_control database (admin
 * connection), created and migrated on first use. Every console of the cluster reads and
 * writes the same rows; changes use the row's `version` (optimistic concurrency).
 */
export class MemberStore {
  private pool: pg.Pool | null = null;
  private ready: Promise<pg.Pool> | null = null;

  constructor(
    private readonly admin: PgAdminConfig,
    readonly clusterId: string,
  ) {}

  private conn(database: string): pg.ClientConfig {
    const a = this.admin;
    return {
      host: a.host,
      port: a.port,
      user: a.user,
      password: a.password,
      database,
      ssl: pgSslOptions(a.ssl, a.host),
      connectionTimeoutMillis: 5_000,
      query_timeout: 30_000,
      application_name: 'gatehouse-members',
    };
  }

  private ensure(): Promise<pg.Pool> {
    this.ready ??= (async () => {
      const bootstrap = new pg.Client(this.conn(this.admin.database));
      bootstrap.on('error', () => undefined);
      try {
        await bootstrap.connect();
        const exists = await bootstrap.query('SELECT 1 FROM pg_database WHERE datname = $1', [CONTROL_DATABASE]);
        if (exists.rowCount === 0)
          await bootstrap.query(`CREATE DATABASE ${CONTROL_DATABASE}`).catch((e: { code?: string }) => {
            if (e.code !== '42P04' && e.code !== '23505') throw e; // another console created it meanwhile
          });
      } finally {
        await bootstrap.end().catch(() => undefined);
      }
      const pool = new pg.Pool({ ...this.conn(CONTROL_DATABASE), max: 3, idleTimeoutMillis: 10_000 });
      pool.on('error', () => undefined);
      const c = await pool.connect();
      try {
        await applyControlMigrations(c, { lock: MIGRATION_LOCK, table: 'member_migrations', migrations: MIGRATIONS });
      } catch (error) {
        await pool.end().catch(() => undefined);
        throw error;
      } finally {
        c.release();
      }
      this.pool = pool;
      return pool;
    })().catch((error: unknown) => {
      this.ready = null;
      throw pgError(error, 'opening the member tables in gatehouse_control', { host: this.admin.host, port: this.admin.port });
    });
    return this.ready;
  }

  /** Runs fn in one transaction on the control database. */
  async tx<T>(doing: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const pool = await this.ensure();
    let c: pg.PoolClient;
    try {
      c = await pool.connect();
    } catch (error) {
      throw pgError(error, doing, { host: this.admin.host, port: this.admin.port });
    }
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (error) {
      await c.query('ROLLBACK').catch(() => undefined);
      if (error instanceof ContractError) throw error;
      throw pgError(error, doing, { host: this.admin.host, port: this.admin.port });
    } finally {
      c.release();
    }
  }

  async q<R extends pg.QueryResultRow>(doing: string, sql: string, params: unknown[] = []): Promise<R[]> {
    const pool = await this.ensure();
    try {
      return (await pool.query<R>(sql, params)).rows;
    } catch (error) {
      throw pgError(error, doing, { host: this.admin.host, port: this.admin.port });
    }
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    this.ready = null;
    await pool?.end().catch(() => undefined);
  }
}

export const MEMBER_COLUMNS =
  'id, username, display_name, email, global_role, grants, password_hash, version, created_at, created_by, updated_at, updated_by, last_sign_in_at';
export const INVITATION_COLUMNS =
  'id, code_hash, email, delivery, global_role, grants, created_by, created_at, expires_at, accepted_at, accepted_by, revoked_at, revoked_by';
