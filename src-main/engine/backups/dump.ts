import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { ContractError } from '../../../src-shared/contract';
import { pgError, pgSslOptions, quoteIdent, quoteLiteral } from '../../adapters/postgres';
import type { PgAdminConfig } from '../core/cluster-runtime';
import { encryptStream } from './age';
import { copyOut } from './copy-stream';
import { tap } from './crypto-pipe';
import { BACKUP_FORMAT, MANIFEST, MANIFEST_MAC, backupPrefix, macOf, manifestBytes, type Manifest, type ManifestFile } from './manifest';
import { findPgTools, pgEnv, runTool } from './pg-tools';
import { reusingReadSocket } from './read-socket';
import { sealStream } from './seal-worker';
import { bufferStream, counter, type BackupStorage } from './storage';

/**
 * Takes one tenant's logical backup: a snapshot-consistent COPY stream per table
 * (parallel connections sharing one exported snapshot, like `pg_dump -j`), the schema
 * sections from pg_dump in that same snapshot, sequence values, the tenant's Kubernetes
 * objects and a manifest. Every file is encrypted (age) on its way out and its stored
 * bytes hashed; a table's content checksum is the sha256 of its file's Poly1305 tags,
 * which sealing makes anyway (manifest.ts). For table data that per-byte work runs in
 * worker threads, one per job (seal-worker.ts). Nothing touches
 * the local disk in clear. The manifest is written last: a backup without one is not a
 * backup, and its partial files are removed.
 */

export interface DumpRequest {
  admin: PgAdminConfig;
  storage: BackupStorage;
  id: string;
  tenant: Manifest['tenant'];
  cluster: Manifest['cluster'];
  takenBy: Manifest['takenBy'];
  recipients: string[];
  macKey: Buffer;
  /** The tenant's Kubernetes objects (metadata only), read by the caller. */
  kubernetes: () => Promise<unknown>;
  /** Parallel table streams (connections); the server's max_connections is respected by the caller. */
  jobs: number;
  onProgress?: (done: number, total: number, what: string) => void;
  /** Test hook: runs before each table is streamed (to kill PostgreSQL mid-dump). */
  beforeTable?: (index: number) => Promise<void>;
}

export interface TableRow {
  schema: string;
  name: string;
  pages: number;
  columns: string[];
}

const clientFor = (admin: PgAdminConfig, database: string): pg.Client => {
  const ssl = pgSslOptions(admin.ssl, admin.host);
  const c = new pg.Client({
    host: admin.host,
    port: admin.port,
    user: admin.user,
    password: admin.password,
    database,
    ssl,
    // Plain TCP reads into one buffer per connection (read-socket.ts); TLS keeps node's socket.
    ...(ssl ? {} : { stream: reusingReadSocket }),
    connectionTimeoutMillis: 10_000,
    application_name: 'gatehouse-backup',
  });
  c.on('error', () => undefined); // a dying server fails the awaited query instead
  return c;
};
export { clientFor as backupClient };

export const qualified = (schema: string, name: string): string => `${quoteIdent(schema)}.${quoteIdent(name)}`;
export const copyColumns = (cols: string[]): string => cols.map(quoteIdent).join(', ');

/** Ordinary tables of the database (not the catalogs, not extension members), biggest first, with their COPY columns. */
export async function listTables(c: pg.Client): Promise<TableRow[]> {
  const { rows } = await c.query<{ schema: string; name: string; pages: number; columns: string[] | null }>(`
    SELECT n.nspname AS schema, c.relname AS name, c.relpages AS pages,
           ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum)::text[] AS columns
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     ORDER BY c.relpages DESC, n.nspname, c.relname`);
  return rows.map((r) => ({ ...r, columns: r.columns ?? [] }));
}

async function putEncrypted(
  storage: BackupStorage,
  key: string,
  source: Readable,
  recipients: string[],
  opts: { worker?: { owned: boolean; workers: number } } = {},
): Promise<{ file: Omit<ManifestFile, 'name' | 'kind'>; tagsSha256: string | null }> {
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  const upload = storage.put(key, body);
  let sums: () => { tagsSha256: string | null; plainBytes: number; storedSha256: string; storedBytes: number };
  try {
    if (opts.worker) {
      // Table data: hashing and sealing in a worker thread (seal-worker.ts).
      const seal = sealStream(recipients, opts.worker);
      await pipeline(source, seal, body);
      sums = () => seal.result!;
    } else {
      // A small file (schema, sequences, Kubernetes objects): no content checksum of its own.
      const plain = counter();
      const stored = tap();
      await pipeline(source, plain, encryptStream(recipients), stored, body);
      sums = () => ({
        tagsSha256: null,
        plainBytes: plain.bytes,
        storedSha256: stored.hex(),
        storedBytes: stored.bytes,
      });
    }
  } catch (error) {
    body.destroy(error as Error);
    await upload.catch(() => undefined);
    throw error;
  }
  const { size } = await upload;
  const s = sums();
  if (size !== s.storedBytes)
    throw new ContractError('UNAVAILABLE', `Storage accepted ${size} of ${s.storedBytes} bytes of ${key}; the backup is incomplete.`);
  return { file: { size, sha256: s.storedSha256, plainBytes: s.plainBytes }, tagsSha256: s.tagsSha256 };
}

/** pg_dump of one schema section in the exported snapshot, without owners and grants (credentials stay the tenant's). */
function pgDumpSection(admin: PgAdminConfig, database: string, snapshot: string, section: 'pre-data' | 'post-data') {
  const tools = findPgTools();
  return runTool(
    tools.pgDump,
    [
      '--format=plain',
      `--section=${section}`,
      `--snapshot=${snapshot}`,
      '--no-owner',
      '--no-privileges',
      '--no-publications',
      '--no-subscriptions',
      '--no-security-labels',
      '--no-tablespaces',
      '--no-password',
    ],
    pgEnv(admin, database),
    `dumping the ${section} schema of ${database}`,
  );
}

export async function dumpTenant(req: DumpRequest): Promise<Manifest> {
  const database = req.tenant.database;
  const prefix = backupPrefix(req.tenant.slug, req.id);
  const tools = findPgTools();
  const createdAt = new Date().toISOString();
  const coordinator = clientFor(req.admin, database);
  const workers: pg.Client[] = [];
  const written: string[] = [];
  const files: ManifestFile[] = [];
  try {
    await coordinator.connect().catch((e: unknown) => {
      throw pgError(e, `connecting to ${database} for the backup`, { host: req.admin.host, port: req.admin.port });
    });
    await coordinator.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const info = (
      await coordinator.query<{ version: string; num: string; encoding: string; lo: string; migrations: boolean }>(`
        SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num,
               pg_encoding_to_char(d.encoding) AS encoding, (SELECT count(*) FROM pg_largeobject_metadata) AS lo,
               to_regclass('public.schema_migrations') IS NOT NULL AS migrations
          FROM pg_database d WHERE d.datname = current_database()`)
    ).rows[0]!;
    const schemaVersion = info.migrations
      ? ((await coordinator.query<{ v: number | null }>('SELECT max(version) AS v FROM public.schema_migrations')).rows[0]?.v ?? 0)
      : 0;
    const serverMajor = Math.floor(Number(info.num) / 10000);
    if (tools.major < serverMajor) {
      throw new ContractError(
        'UNAVAILABLE',
        `pg_dump ${tools.major} cannot dump a PostgreSQL ${serverMajor} server. Install the client tools of version ${serverMajor} or newer (GATEHOUSE_PG_BIN).`,
      );
    }
    if (Number(info.lo) > 0) {
      throw new ContractError(
        'VALIDATION',
        `Database ${database} holds ${info.lo} large object(s), which Gatehouse backups do not cover. Use pg_dump for this tenant.`,
      );
    }
    const tables = await listTables(coordinator);
    // The locks pg_dump takes: nobody can drop or rewrite a table while it is read.
    if (tables.length)
      await coordinator.query(`LOCK TABLE ${tables.map((t) => qualified(t.schema, t.name)).join(', ')} IN ACCESS SHARE MODE`);
    const sequences = (
      await coordinator.query<{ schema: string; name: string }>(`
        SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`)
    ).rows;
    const snapshot = (await coordinator.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
    const total = tables.length + 4;
    let done = 0;
    const progress = (what: string) => req.onProgress?.(++done, total, what);

    const record = (name: string, kind: ManifestFile['kind'], f: Omit<ManifestFile, 'name' | 'kind'>) => {
      written.push(`${prefix}/${name}`);
      files.push({ name, kind, ...f });
    };

    // Schema sections: pg_dump in the same snapshot, streamed through encryption.
    const section = async (name: string, which: 'pre-data' | 'post-data') => {
      const dump = pgDumpSection(req.admin, database, snapshot, which);
      dump.child.stdin!.end();
      const [put, ran] = await Promise.allSettled([
        putEncrypted(req.storage, `${prefix}/${name}`, dump.child.stdout!, req.recipients),
        dump.done,
      ]);
      // pg_dump's own error says more than the broken pipe it causes.
      if (ran.status === 'rejected') throw ran.reason;
      if (put.status === 'rejected') throw put.reason;
      record(name, which, put.value.file);
      progress(which);
    };
    let failed = false;
    const guarded = (work: () => Promise<void>) =>
      work().catch((error: unknown) => {
        failed = true;
        throw error;
      });

    // Table data: N connections importing the snapshot, biggest tables first.
    const tableEntries: Manifest['tables'] = new Array(tables.length);
    let next = 0;
    const jobs = Math.max(1, Math.min(req.jobs, tables.length || 1));
    const worker = async () => {
      const c = clientFor(req.admin, database);
      workers.push(c);
      await c.connect();
      // Like pg_dump: a large table's scan must start at its first block, not join another
      // scan mid-table, so the COPY text (and its checksum) is in the heap's order.
      await c.query('SET synchronize_seqscans = off');
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      await c.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshot)}`);
      for (;;) {
        const i = next++;
        const t = tables[i];
        if (!t || failed) break;
        await req.beforeTable?.(i);
        const file = `data/${String(i + 1).padStart(4, '0')}.copy.age`;
        const out = copyOut(c, `COPY ${qualified(t.schema, t.name)} (${copyColumns(t.columns)}) TO STDOUT`);
        const put = await putEncrypted(req.storage, `${prefix}/${file}`, out, req.recipients, {
          worker: { owned: true, workers: jobs },
        });
        // The rows in the file are the rows the server sent: its count, the CopyData messages
        // received (one per row, each a whole line), and every byte of them hashed and sealed.
        if (out.rows !== out.frames || out.unterminated > 0 || out.bytes !== put.file.plainBytes) {
          throw new ContractError(
            'INTERNAL',
            `Table ${t.schema}.${t.name}: the server reported ${out.rows ?? 'no'} rows; the stream held ${out.frames} (${out.unterminated} not ending a line) and ${out.bytes} bytes, of which ${put.file.plainBytes} were sealed.`,
          );
        }
        record(file, 'table-data', put.file);
        tableEntries[i] = { schema: t.schema, name: t.name, columns: t.columns, file, rows: out.frames, tagsSha256: put.tagsSha256! };
        progress(`${t.schema}.${t.name}`);
      }
      await c.query('COMMIT');
    };
    // Every stream settles before anything is cleaned up, so no upload lands after the cleanup.
    const settled = await Promise.allSettled([
      guarded(() => section('schema.sql.age', 'pre-data')),
      guarded(() => section('post-data.sql.age', 'post-data')),
      ...Array.from({ length: jobs }, () => guarded(worker)),
    ]);
    const firstFailure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (firstFailure) throw firstFailure.reason;

    // Sequence values in the snapshot (pg_dump puts them in its data section, which we replace).
    const setvals: string[] = [];
    for (const s of sequences) {
      const v = (
        await coordinator.query<{ last_value: string; is_called: boolean }>(
          `SELECT last_value, is_called FROM ${qualified(s.schema, s.name)}`,
        )
      ).rows[0]!;
      setvals.push(
        `SELECT pg_catalog.setval(${quoteLiteral(qualified(s.schema, s.name))}, ${BigInt(v.last_value).toString()}, ${v.is_called ? 'true' : 'false'});`,
      );
    }
    const seq = await putEncrypted(req.storage, `${prefix}/sequences.sql.age`, bufferStream(setvals.join('\n') + '\n'), req.recipients);
    record('sequences.sql.age', 'sequences', seq.file);
    progress('sequences');

    const kube = await putEncrypted(
      req.storage,
      `${prefix}/kubernetes.json.age`,
      bufferStream(JSON.stringify(await req.kubernetes(), null, 2)),
      req.recipients,
    );
    record('kubernetes.json.age', 'kubernetes', kube.file);
    progress('kubernetes');
    await coordinator.query('COMMIT');

    const manifest: Manifest = {
      format: BACKUP_FORMAT,
      id: req.id,
      tenant: req.tenant,
      cluster: req.cluster,
      createdAt,
      finishedAt: new Date().toISOString(),
      takenBy: req.takenBy,
      postgres: {
        serverVersion: info.version,
        serverVersionNum: Number(info.num),
        pgDump: tools.version,
        encoding: info.encoding,
        snapshot,
      },
      schemaVersion,
      encryption: { format: 'age-v1', recipients: req.recipients },
      tables: tableEntries,
      sequences: sequences.length,
      files: files.sort((a, b) => (a.name < b.name ? -1 : 1)),
      totals: {
        rows: tableEntries.reduce((n, t) => n + t.rows, 0),
        plainBytes: files.reduce((n, f) => n + f.plainBytes, 0),
        storedBytes: files.reduce((n, f) => n + f.size, 0),
      },
    };
    const bytes = manifestBytes(manifest);
    // The MAC first, the manifest last: a manifest is only ever visible with its MAC.
    written.push(`${prefix}/${MANIFEST_MAC}`);
    await req.storage.put(`${prefix}/${MANIFEST_MAC}`, bufferStream(`${macOf(req.macKey, bytes)}\n`));
    await req.storage.put(`${prefix}/${MANIFEST}`, bufferStream(bytes));
    return manifest;
  } catch (error) {
    // Whatever was uploaded goes; without a manifest it would never be listed anyway.
    const leftovers = new Set(written);
    for (const o of await req.storage.list(prefix).catch(() => [])) leftovers.add(o.key);
    for (const key of leftovers) await req.storage.delete(key).catch(() => undefined);
    throw error instanceof ContractError ? error : pgError(error, `backing up ${database}`, { host: req.admin.host, port: req.admin.port });
  } finally {
    for (const c of [coordinator, ...workers]) await c.end().catch(() => undefined);
  }
}
