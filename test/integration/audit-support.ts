// A private, throwaway PostgreSQL for the audit tests (real server, Debian's
// binaries, loopback, random port). The audit tests kill and restart it, which
// must not disturb the shared harness database other test files use at the
// same time; everything else comes from the harness's own helpers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { PgAdminConfig } from '../../src-main/engine/core/cluster-runtime';
import { PG_ADMIN_USER } from '../harness/config';
import { freePorts } from '../harness/ports';
import { initPostgres, postgresDataDir, postgresSpec, removeStalePostmasterPid, waitPostgresReady } from '../harness/postgres';
import { startProcess, stopProcess, type ProcessRecord } from '../harness/processes';

export interface ThrowawayPostgres {
  config: PgAdminConfig;
  kill(): Promise<void>;
  start(): Promise<void>;
  client(database?: string): Promise<pg.Client>;
  cleanup(): Promise<void>;
}

export async function throwawayPostgres(): Promise<ThrowawayPostgres> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-audit-pg-'));
  fs.chmodSync(root, 0o755);
  const dataDir = postgresDataDir(root);
  const { password } = initPostgres(dataDir);
  const [port] = await freePorts(1);
  const spec = postgresSpec({ dataDir, port: port!, logFile: path.join(root, 'postgres.log') });
  const config: PgAdminConfig = { host: '127.0.0.1', port: port!, user: PG_ADMIN_USER, password, database: 'postgres', ssl: false };
  let proc: ProcessRecord | null = null;
  const start = async () => {
    removeStalePostmasterPid(dataDir);
    proc = startProcess(spec);
    await waitPostgresReady(config, proc);
  };
  await start();
  return {
    config,
    start,
    // SIGKILL: a crash, no goodbye to connected clients
    kill: async () => {
      if (proc) await stopProcess(proc, { signal: 'SIGKILL', graceMs: 5000 });
      proc = null;
    },
    client: async (database = 'gatehouse_control') => {
      const c = new pg.Client({ ...config, database });
      await c.connect();
      return c;
    },
    cleanup: async () => {
      if (proc) await stopProcess(proc, { signal: 'SIGKILL', graceMs: 5000 });
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
    },
  };
}
