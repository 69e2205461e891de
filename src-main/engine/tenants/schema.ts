import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { quoteIdent } from '../../adapters/postgres';

/** One versioned SQL file of resources/tenant-migrations (NNNN_name.sql). */
export interface TenantMigration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../../resources/tenant-migrations', import.meta.url));

export function loadTenantMigrations(dir = DEFAULT_MIGRATIONS_DIR): TenantMigration[] {
  const out: TenantMigration[] = [];
  for (const file of fs.readdirSync(dir).sort()) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) continue;
    const sql = fs.readFileSync(path.join(dir, file), 'utf8');
    out.push({ version: Number(m[1]), name: `${m[1]}_${m[2]}`, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  out.forEach((mig, i) => {
    if (mig.version !== i + 1) throw new Error(`tenant migrations must be numbered 0001, 0002… without gaps; ${mig.name} is out of order`);
  });
  return out;
}

export const latestVersion = (migrations: TenantMigration[]): number => migrations.at(-1)?.version ?? 0;

/** Current version of a tenant database; 0 when it has no schema_migrations table yet. */
export async function currentSchemaVersion(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ v: number | null }>(
    `SELECT CASE WHEN to_regclass('public.schema_migrations') IS NULL THEN NULL
            ELSE (SELECT max(version) FROM public.schema_migrations) END AS v`,
  );
  return rows[0]?.v ?? 0;
}

/** An applied migration whose file no longer matches what was applied (edited, or unknown to this console). */
export interface ModifiedMigration {
  version: number;
  name: string;
  /** Checksum recorded when it was applied. */
  applied: string;
  /** Checksum of the file this console ships; null when it ships no such migration. */
  shipped: string | null;
}

/** Compares the checksums recorded in schema_migrations with the shipped files. */
export async function modifiedMigrations(client: pg.Client, migrations: TenantMigration[]): Promise<ModifiedMigration[]> {
  const { rows } = await client
    .query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM public.schema_migrations ORDER BY version',
    )
    .catch((error: { code?: string }) => {
      if (error.code === '42P01') return { rows: [] }; // no schema yet
      throw error;
    });
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  const out: ModifiedMigration[] = [];
  for (const r of rows) {
    const shipped = byVersion.get(r.version);
    if (!shipped || shipped.checksum !== r.checksum)
      out.push({ version: r.version, name: r.name, applied: r.checksum, shipped: shipped?.checksum ?? null });
  }
  return out;
}

export function describeModified(m: ModifiedMigration[]): string {
  return m
    .map((x) =>
      x.shipped
        ? `${x.name} was applied as ${x.applied.slice(0, 12)}… but the file now reads ${x.shipped.slice(0, 12)}…`
        : `${x.name} is applied but this console does not ship it`,
    )
    .join('; ');
}

export function pendingMigrations(migrations: TenantMigration[], current: number): TenantMigration[] {
  return migrations.filter((m) => m.version > current);
}

/**
 * Applies what is pending, one transaction per migration, as the tenant's own role so
 * it owns its tables. An advisory lock serialises two consoles migrating the same
 * tenant; each re-reads the version under the lock, so nothing is applied twice.
 */
export async function applyPendingMigrations(
  client: pg.Client,
  role: string,
  migrations: TenantMigration[],
  onApplied?: (m: TenantMigration) => void,
): Promise<string[]> {
  const applied: string[] = [];
  for (const m of migrations) {
    await client.query('BEGIN');
    try {
      await client.query(`SET LOCAL ROLE ${quoteIdent(role)}`);
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('gatehouse.tenant-schema'))`);
      await client.query(`CREATE TABLE IF NOT EXISTS public.schema_migrations (
          version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      if ((await currentSchemaVersion(client)) >= m.version) {
        await client.query('ROLLBACK');
        continue;
      }
      // A migration edited after it was applied means this database is not what the files say: stop.
      const modified = await modifiedMigrations(client, migrations);
      if (modified.length) {
        throw Object.assign(
          new Error(
            `already-applied migrations differ from the files (${describeModified(modified)}); no further migration is applied. Restore the original file(s) shipped with this console version, or inspect the database.`,
          ),
          { code: 'GH_MODIFIED_MIGRATION' },
        );
      }
      await client.query(m.sql);
      await client.query('INSERT INTO public.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        m.checksum,
      ]);
      await client.query('COMMIT');
      applied.push(m.name);
      onApplied?.(m);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw Object.assign(new Error(`migration ${m.name} failed: ${(error as Error).message}`), {
        code: (error as { code?: string }).code,
      });
    }
  }
  return applied;
}

export async function tenantStats(client: pg.Client): Promise<{ users: number; groups: number; applications: number }> {
  const { rows } = await client.query<{ users: string; groups: string; applications: string }>(
    `SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM groups) AS groups, (SELECT count(*) FROM applications) AS applications`,
  );
  const r = rows[0];
  return { users: Number(r?.users ?? 0), groups: Number(r?.groups ?? 0), applications: Number(r?.applications ?? 0) };
}
