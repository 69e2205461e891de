import type { CacheMigration } from '../../adapters/sqlite';

/** Operators cache schema (ids 650–699; the audit capability's range is 600–699). */
export const operatorsMigrations: CacheMigration[] = [
  {
    id: 650,
    name: 'operators local accounts and OIDC profiles',
    store: 'state',
    sql: `
      CREATE TABLE operators_accounts (
        username TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        -- argon2id PHC string (64 MiB, t=3): never the password
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_sign_in_at TEXT
      );
      -- client secrets live in the secret store, not here
      CREATE TABLE operators_oidc (profile TEXT PRIMARY KEY, config TEXT NOT NULL, updated_at TEXT NOT NULL);`,
  },
  {
    id: 651,
    name: 'operators: sign-in failures per username, known or not',
    store: 'state',
    // Unknown usernames are counted like accounts so the answers never tell whether a name exists.
    sql: `
      CREATE TABLE operators_signin_failures (
        username TEXT PRIMARY KEY,
        failed_attempts INTEGER NOT NULL,
        last_failed_at TEXT NOT NULL,
        locked_until TEXT
      );
      CREATE INDEX operators_signin_failures_last ON operators_signin_failures (last_failed_at);`,
  },
];
