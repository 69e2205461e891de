// A private PostgreSQL server (Debian's binaries) for the console's database
// tests: own data dir, loopback TCP only, random port, password auth.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { PG_ADMIN_USER, PG_DATABASE, postgresBinDir } from './config';
import { HarnessError } from './errors';
import { type ProcessRecord, type ProcessSpec, isRunning, waitFor } from './processes';
import type { PostgresInfo } from './state';

interface RunAs {
  uid: number;
  gid: number;
}

/**
 * PostgreSQL refuses to run as root. When we are root (containers, CI) we run
 * it as the `postgres` (or `nobody`) account instead.
 */
function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    const res = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    const gres = spawnSync('id', ['-g', user], { encoding: 'utf8' });
    if (res.status === 0 && gres.status === 0) return { uid: Number(res.stdout.trim()), gid: Number(gres.stdout.trim()) };
  }
  throw new HarnessError('running as root, but neither a `postgres` nor a `nobody` account exists to run PostgreSQL as');
}

/** Can `who` reach `dir`? (every ancestor must be searchable by it) */
function traversable(dir: string, who: RunAs): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(d)) {
      const st = statSync(d);
      const ok = st.uid === who.uid ? st.mode & 0o100 : st.gid === who.gid ? st.mode & 0o010 : st.mode & 0o001;
      if (!ok) return false;
    }
    if (dirname(d) === d) return true;
  }
}

/**
 * The data dir normally lives in the run folder. When PostgreSQL runs as
 * another user that cannot enter it (root's home is 0700), it goes to the
 * system temp dir under a name derived from the run folder.
 */
export function postgresDataDir(root: string): string {
  const who = runAs();
  if (!who || traversable(root, who)) return join(root, 'postgres-data');
  const id = createHash('sha256').update(root).digest('hex').slice(0, 12);
  return join(tmpdir(), `gatehouse-harness-pg-${id}`, 'data');
}

function pgBin(name: string): string {
  const file = join(postgresBinDir(), name);
  if (!existsSync(file)) {
    throw new HarnessError(
      `PostgreSQL server binaries not found (${file}). Install them (Debian/Ubuntu: apt-get install postgresql-15, ` +
        'or set GATEHOUSE_PG_BIN to the folder holding initdb and postgres).',
    );
  }
  return file;
}

/** initdb with a random password for the gatehouse_admin superuser. */
export function initPostgres(dataDir: string): { password: string } {
  const who = runAs();
  const password = randomBytes(18).toString('base64url');
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const pwfile = join(dirname(dataDir), 'pwfile');
  writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  if (who) {
    chownSync(dirname(dataDir), who.uid, who.gid);
    chownSync(dataDir, who.uid, who.gid);
    chownSync(pwfile, who.uid, who.gid);
  }
  const res = spawnSync(
    pgBin('initdb'),
    [
      '-D',
      dataDir,
      '-U',
      PG_ADMIN_USER,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
      '--no-instructions',
      '--no-sync',
    ],
    { encoding: 'utf8', uid: who?.uid, gid: who?.gid, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' } },
  );
  rmSync(pwfile, { force: true });
  if (res.status !== 0) throw new HarnessError(`initdb failed:\n${res.stderr || res.stdout}`);
  return { password };
}

export function postgresSpec(opts: { dataDir: string; port: number; logFile: string }): ProcessSpec {
  const who = runAs();
  return {
    name: 'postgres',
    command: pgBin('postgres'),
    args: [
      '-D',
      opts.dataDir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `port=${opts.port}`,
      // TCP only: no socket files in /var/run/postgresql to clash with a system server.
      '-c',
      'unix_socket_directories=',
      // Disposable test data: skip fsync (only matters if the *OS* crashes).
      // synchronous_commit stays on: fault tests SIGKILL the server and expect
      // committed rows to survive, as they would on a real crash.
      '-c',
      'fsync=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
      '-c',
      'shared_buffers=64MB',
    ],
    logFile: opts.logFile,
    ports: [opts.port],
    ...(who ? { uid: who.uid, gid: who.gid } : {}),
  };
}

/**
 * postmaster.pid left behind by a killed server is harmless unless its pid was
 * recycled by an unrelated process; then postgres refuses to start. Remove it
 * when it does not belong to a live postgres.
 */
export function removeStalePostmasterPid(dataDir: string): void {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || !isRunning({ pid, command: 'postgres' })) rmSync(file, { force: true });
}

export async function pgConnect(info: PostgresInfo, database = info.database): Promise<pg.Client> {
  const client = new pg.Client({
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database,
    connectionTimeoutMillis: 3000,
  });
  await client.connect();
  return client;
}

export async function waitPostgresReady(info: PostgresInfo, proc: ProcessRecord | undefined, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    'PostgreSQL to accept connections',
    async () => {
      const c = await pgConnect(info, 'postgres');
      try {
        await c.query('select 1');
        return true;
      } finally {
        await c.end();
      }
    },
    { timeoutMs, proc },
  );
}

export async function ensureDatabase(info: PostgresInfo): Promise<void> {
  const c = await pgConnect(info, 'postgres');
  try {
    const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [PG_DATABASE]);
    if (!rowCount) await c.query(`create database ${PG_DATABASE}`);
  } finally {
    await c.end();
  }
}
