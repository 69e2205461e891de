import type pg from 'pg';
import { ContractError, type OperatorIdentity, type Role } from '../../../src-shared/contract';
import type { TokenScopes, TokenView } from '../../../src-shared/contract/tokens';
import type { PostgresAdmin } from '../../adapters/postgres';
import { applyControlMigrations, CONTROL_DATABASE, ensureControlDatabase, type ControlMigration } from '../core/control-database';
import type { LimitRule } from './scope';

/** The owner's tenant-scoped grants (OperatorIdentity.grants), kept with the token. */
export type TokenOwnerGrants = NonNullable<OperatorIdentity['grants']>;

export { CONTROL_DATABASE };
// Own advisory lock and migrations table: the token tables migrate independently of the other capabilities there.
const MIGRATION_LOCK = 7_263_917_016;
const MIGRATIONS: ControlMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE api_tokens (
        id uuid PRIMARY KEY,
        token_hash text NOT NULL UNIQUE,
        name text NOT NULL,
        owner_id text NOT NULL,
        owner_name text NOT NULL,
        owner_role text NOT NULL CHECK (owner_role IN ('viewer', 'operator', 'admin')),
        -- tenant-scoped grants of the owner when the token was made (docs/operators.md): the token keeps them
        owner_grants jsonb,
        owner_global_role boolean NOT NULL DEFAULT true,
        scopes jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        last_used_at timestamptz,
        revoked_at timestamptz,
        revoked_by text);
      CREATE INDEX api_tokens_owner ON api_tokens (owner_id);
      CREATE INDEX api_tokens_expiry ON api_tokens (expires_at);
      -- one live token per owner and name, so "via token <name>" names one token
      CREATE UNIQUE INDEX api_tokens_owner_name ON api_tokens (owner_id, name) WHERE revoked_at IS NULL;
      CREATE TABLE api_token_limits (
        token_id uuid NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
        idx int NOT NULL,
        command text NOT NULL,
        tenant_prefix text NOT NULL,
        max int NOT NULL CHECK (max > 0),
        used int NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= max),
        PRIMARY KEY (token_id, idx));
      CREATE TABLE api_token_settings (
        id int PRIMARY KEY CHECK (id = 1),
        max_expiry_days int NOT NULL,
        updated_at timestamptz,
        updated_by text);`,
  },
];

/** Creates gatehouse_control if needed and applies the token migrations there (serialised by an advisory lock). */
export async function ensureTokenSchema(pgAdmin: PostgresAdmin): Promise<void> {
  await ensureControlDatabase(pgAdmin);
  await pgAdmin.withDatabase(
    CONTROL_DATABASE,
    (c) => applyControlMigrations(c, { lock: MIGRATION_LOCK, table: 'token_migrations', migrations: MIGRATIONS }),
    'preparing the API token tables in gatehouse_control',
  );
}

export interface TokenRow {
  id: string;
  token_hash: string;
  name: string;
  owner_id: string;
  owner_name: string;
  owner_role: Role;
  owner_grants: TokenOwnerGrants | null;
  owner_global_role: boolean;
  scopes: TokenScopes;
  created_at: Date;
  expires_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
}
interface LimitRow {
  token_id: string;
  idx: number;
  command: string;
  tenant_prefix: string;
  max: number;
  used: number;
}

const COLUMNS =
  'id, token_hash, name, owner_id, owner_name, owner_role, owner_grants, owner_global_role, scopes, created_at, expires_at, last_used_at, revoked_at, revoked_by';

export const limitRules = (rows: LimitRow[]): LimitRule[] =>
  rows.map((r) => ({ idx: r.idx, command: r.command, tenantPrefix: r.tenant_prefix, max: r.max }));

export function toView(row: TokenRow, limits: LimitRow[], now: Date): TokenView {
  return {
    id: row.id,
    name: row.name,
    ownerId: row.owner_id,
    ownerName: row.owner_name,
    role: row.owner_role,
    scopes: row.scopes,
    limits: limits
      .filter((l) => l.token_id === row.id)
      .sort((a, b) => a.idx - b.idx)
      .map((l) => ({ command: l.command, tenantPrefix: l.tenant_prefix, max: l.max, used: l.used })),
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    revokedBy: row.revoked_by,
    status: row.revoked_at ? 'revoked' : row.expires_at.getTime() <= now.getTime() ? 'expired' : 'active',
  };
}

export async function insertToken(
  c: pg.Client,
  t: {
    id: string;
    hash: string;
    name: string;
    ownerId: string;
    ownerName: string;
    ownerRole: Role;
    ownerGrants: TokenOwnerGrants | null;
    ownerGlobalRole: boolean;
    scopes: TokenScopes;
    expiresAt: Date;
    limits: { command: string; tenantPrefix: string; max: number }[];
  },
): Promise<void> {
  await c.query('BEGIN');
  try {
    await c.query(
      `INSERT INTO api_tokens (id, token_hash, name, owner_id, owner_name, owner_role, owner_grants, owner_global_role, scopes, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        t.id,
        t.hash,
        t.name,
        t.ownerId,
        t.ownerName,
        t.ownerRole,
        t.ownerGrants ? JSON.stringify(t.ownerGrants) : null,
        t.ownerGlobalRole,
        JSON.stringify(t.scopes),
        t.expiresAt,
      ],
    );
    for (const [idx, l] of t.limits.entries()) {
      await c.query('INSERT INTO api_token_limits (token_id, idx, command, tenant_prefix, max) VALUES ($1, $2, $3, $4, $5)', [
        t.id,
        idx,
        l.command,
        l.tenantPrefix,
        l.max,
      ]);
    }
    await c.query('COMMIT');
  } catch (error) {
    await c.query('ROLLBACK').catch(() => undefined);
    if ((error as { code?: string }).code === '23505') {
      throw new ContractError('CONFLICT', `You already have a token named "${t.name}". Pick another name, or revoke that one first.`);
    }
    throw error;
  }
}

export async function tokenById(c: pg.Client, id: string): Promise<{ row: TokenRow; limits: LimitRow[] } | null> {
  const row = (await c.query<TokenRow>(`SELECT ${COLUMNS} FROM api_tokens WHERE id = $1`, [id])).rows[0];
  if (!row) return null;
  const limits = (
    await c.query<LimitRow>('SELECT token_id, idx, command, tenant_prefix, max, used FROM api_token_limits WHERE token_id = $1', [id])
  ).rows;
  return { row, limits };
}

export async function tokenByHash(c: pg.Client, hash: string): Promise<TokenRow | null> {
  return (await c.query<TokenRow>(`SELECT ${COLUMNS} FROM api_tokens WHERE token_hash = $1`, [hash])).rows[0] ?? null;
}

export async function listTokens(c: pg.Client, owner: string | null): Promise<{ rows: TokenRow[]; limits: LimitRow[] }> {
  const rows = (
    await c.query<TokenRow>(
      `SELECT ${COLUMNS} FROM api_tokens ${owner === null ? '' : 'WHERE owner_id = $1'} ORDER BY created_at DESC, name`,
      owner === null ? [] : [owner],
    )
  ).rows;
  const limits = rows.length
    ? (
        await c.query<LimitRow>(
          'SELECT token_id, idx, command, tenant_prefix, max, used FROM api_token_limits WHERE token_id = ANY($1::uuid[])',
          [rows.map((r) => r.id)],
        )
      ).rows
    : [];
  return { rows, limits };
}

export async function markRevoked(c: pg.Client, id: string, by: string): Promise<void> {
  await c.query('UPDATE api_tokens SET revoked_at = now(), revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL', [id, by]);
}

export async function touchLastUsed(c: pg.Client, id: string): Promise<void> {
  await c.query('UPDATE api_tokens SET last_used_at = now() WHERE id = $1', [id]);
}

/**
 * Reserves one use against each limit, atomically: either every limit has room and every
 * counter moves, or none does. Returns the limit that was full, or null.
 */
export async function reserveLimits(c: pg.Client, tokenId: string, uses: { rule: LimitRule; count: number }[]): Promise<LimitRule | null> {
  if (uses.length === 0) return null;
  await c.query('BEGIN');
  try {
    for (const { rule, count } of uses) {
      const r = await c.query(
        'UPDATE api_token_limits SET used = used + $3 WHERE token_id = $1 AND idx = $2 AND used + $3 <= max RETURNING used',
        [tokenId, rule.idx, count],
      );
      if (r.rowCount === 0) {
        await c.query('ROLLBACK');
        return rule;
      }
    }
    await c.query('COMMIT');
    return null;
  } catch (error) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export async function releaseLimits(c: pg.Client, tokenId: string, uses: { rule: LimitRule; count: number }[]): Promise<void> {
  for (const { rule, count } of uses) {
    await c.query('UPDATE api_token_limits SET used = GREATEST(used - $3, 0) WHERE token_id = $1 AND idx = $2', [tokenId, rule.idx, count]);
  }
}

/** Deletes tokens expired or revoked more than `retentionDays` ago; returns how many. */
export async function pruneTokens(c: pg.Client, retentionDays: number, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  const r = await c.query('DELETE FROM api_tokens WHERE expires_at < $1 OR revoked_at < $1', [cutoff]);
  return r.rowCount ?? 0;
}

export async function readSettings(
  c: pg.Client,
): Promise<{ maxExpiryDays: number | null; updatedAt: Date | null; updatedBy: string | null }> {
  const row = (
    await c.query<{ max_expiry_days: number; updated_at: Date | null; updated_by: string | null }>(
      'SELECT max_expiry_days, updated_at, updated_by FROM api_token_settings WHERE id = 1',
    )
  ).rows[0];
  return { maxExpiryDays: row?.max_expiry_days ?? null, updatedAt: row?.updated_at ?? null, updatedBy: row?.updated_by ?? null };
}

export async function writeSettings(c: pg.Client, maxExpiryDays: number, by: string): Promise<void> {
  await c.query(
    `INSERT INTO api_token_settings (id, max_expiry_days, updated_at, updated_by) VALUES (1, $1, now(), $2)
     ON CONFLICT (id) DO UPDATE SET max_expiry_days = EXCLUDED.max_expiry_days, updated_at = now(), updated_by = EXCLUDED.updated_by`,
    [maxExpiryDays, by],
  );
}
