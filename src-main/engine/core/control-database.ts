import type pg from 'pg';
import { ContractError } from '../../../src-shared/contract';
import type { PostgresAdmin } from '../../adapters/postgres';

/** The database every console of a cluster shares: audit log, catalog, entities, members, tokens. */
export const CONTROL_DATABASE = 'gatehouse_control';

/** One capability's schema steps in gatehouse_control, applied once each, in order. */
export interface ControlMigration {
  version: number;
  sql: string;
}

/** Creates gatehouse_control unless it exists (another console creating it meanwhile is fine). */
export async function ensureControlDatabase(pg: PostgresAdmin): Promise<void> {
  if (await pg.databaseExists(CONTROL_DATABASE)) return;
  await pg.query(`CREATE DATABASE ${CONTROL_DATABASE}`, [], 'creating the gatehouse_control database').catch((error: unknown) => {
    if (!(error instanceof ContractError && error.code === 'CONFLICT')) throw error; // another console created it meanwhile
  });
}

/**
 * Applies the migrations not yet recorded in `table`, in one transaction under the
 * capability's own advisory lock: each capability migrates independently of the others,
 * and two consoles starting together apply each step once.
 */
export async function applyControlMigrations(
  c: pg.ClientBase,
  opts: { lock: number; table: string; migrations: readonly ControlMigration[] },
): Promise<void> {
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_advisory_xact_lock($1)', [opts.lock]);
    await c.query(`CREATE TABLE IF NOT EXISTS ${opts.table} (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await c.query<{ version: number }>(`SELECT version FROM ${opts.table}`)).rows.map((r) => r.version));
    for (const m of opts.migrations) {
      if (done.has(m.version)) continue;
      await c.query(m.sql);
      await c.query(`INSERT INTO ${opts.table} (version) VALUES ($1)`, [m.version]);
    }
    await c.query('COMMIT');
  } catch (error) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
