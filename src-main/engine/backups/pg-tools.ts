import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { ContractError } from '../../../src-shared/contract';
import { pgSslMode, type PgSsl } from '../../adapters/postgres';
import type { PgAdminConfig } from '../core/cluster-runtime';

/**
 * The PostgreSQL client tool the backups need: pg_dump, for the schema sections (the
 * console replays them itself, so restores need no client tools).
 * Found in GATEHOUSE_PG_BIN, else the newest /usr/lib/postgresql/<n>/bin (Debian,
 * Ubuntu), else PATH. The admin password reaches them through the environment
 * (PGPASSWORD), never the command line, so `ps` never shows it.
 */
export interface PgTools {
  dir: string | null;
  pgDump: string;
  /** Major version of pg_dump: it must be at least the server's. */
  major: number;
  version: string;
}

let cached: PgTools | null = null;

export function findPgTools(env: NodeJS.ProcessEnv = process.env): PgTools {
  if (cached && !env.GATEHOUSE_PG_BIN) return cached;
  const candidates: string[] = [];
  if (env.GATEHOUSE_PG_BIN) candidates.push(env.GATEHOUSE_PG_BIN);
  try {
    const versions = fs
      .readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // not Debian-like
  }
  for (const dir of candidates) {
    const pgDump = path.join(dir, 'pg_dump');
    if (fs.existsSync(pgDump)) return (cached = probe(dir, pgDump));
  }
  const onPath = spawnSync('pg_dump', ['--version'], { encoding: 'utf8' });
  if (onPath.status === 0) return (cached = probe(null, 'pg_dump'));
  throw new ContractError(
    'UNAVAILABLE',
    'pg_dump (PostgreSQL client tools) was not found. Install them (Debian/Ubuntu: apt-get install postgresql-client) or set GATEHOUSE_PG_BIN to their folder.',
    { reason: 'pg-tools-missing' },
  );
}

function probe(dir: string | null, pgDump: string): PgTools {
  const out = spawnSync(pgDump, ['--version'], { encoding: 'utf8' });
  const m = /(\d+)(?:\.(\d+))?/.exec(out.stdout ?? '');
  if (out.status !== 0 || !m) throw new ContractError('UNAVAILABLE', `${pgDump} --version failed; reinstall the PostgreSQL client tools.`);
  return { dir, pgDump, major: Number(m[1]), version: (out.stdout ?? '').trim() };
}

/** libpq environment for a database on the admin connection; no password on the command line. */
export function pgEnv(admin: PgAdminConfig, database: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/',
    LANG: 'C.UTF-8',
    PGHOST: admin.host,
    PGPORT: String(admin.port),
    PGUSER: admin.user,
    PGPASSWORD: admin.password,
    PGDATABASE: database,
    PGSSLMODE: pgSslMode(admin.ssl),
    ...sslRootCert(admin.ssl),
    PGAPPNAME: 'gatehouse-backup',
    PGCONNECT_TIMEOUT: '10',
  };
}

/**
 * libpq wants verify-full's CA in a file: the profile's CA (a public certificate) is written
 * once under the temp directory, named by its digest; without one, the system bundle.
 */
function sslRootCert(ssl: PgSsl): { PGSSLROOTCERT?: string } {
  if (!ssl || ssl.mode !== 'verify-full') return {};
  if (!ssl.ca) return fs.existsSync(SYSTEM_BUNDLE) ? { PGSSLROOTCERT: SYSTEM_BUNDLE } : {};
  const file = path.join(os.tmpdir(), `gatehouse-pg-ca-${crypto.createHash('sha256').update(ssl.ca).digest('hex').slice(0, 16)}.pem`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, ssl.ca, { mode: 0o644 });
  return { PGSSLROOTCERT: file };
}
const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface Spawned {
  child: ChildProcess;
  /** Resolves when the process exited 0; rejects with its stderr otherwise. */
  done: Promise<void>;
}

/** Runs a tool; its stderr (capped) becomes the error message, with the password masked. */
export function runTool(file: string, args: string[], env: NodeJS.ProcessEnv, what: string): Spawned {
  const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString('utf8');
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new ContractError('UNAVAILABLE', `${what}: could not start ${path.basename(file)} (${e.message}).`)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const password = env.PGPASSWORD;
      // The tool's own error lines, not the SQL it was running ("detail: Query was: …").
      const lines = (password ? stderr.split(password).join('****') : stderr)
        .trim()
        .split('\n')
        .filter((l) => l.trim() && !/Query was:/.test(l));
      const errors = lines.filter((l) => /error|fatal|could not|closed the connection|terminat/i.test(l));
      const text = (errors.length ? errors : lines).slice(-3).join(' ').slice(0, 600);
      const lost = /closed the connection|terminat|could not connect|Connection refused/i.test(text);
      reject(
        new ContractError(
          'UNAVAILABLE',
          `${what} failed (${path.basename(file)} ${signal ? `killed by ${signal}` : `exit ${code}`}): ${text || 'no message'}${lost ? ' PostgreSQL went away; check that it runs, then retry.' : ''}`,
        ),
      );
    });
  });
  return { child, done };
}
