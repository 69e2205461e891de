import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { ContractError } from '../../../src-shared/contract';
import { pgError, quoteIdent } from '../../adapters/postgres';
import type { PgAdminConfig } from '../core/cluster-runtime';
import { AgeError, decryptStream, openHeader, parseIdentities } from './age';
import { copyIn, copyOut } from './copy-stream';
import { collector, discard, gate, tap } from './crypto-pipe';
import { backupClient, copyColumns, qualified } from './dump';
import { backupPrefix, type Manifest, type ManifestFile } from './manifest';
import { contentDigestStream, openStream } from './seal-worker';
import { readAll, type BackupStorage } from './storage';

/**
 * Loads a backup into an empty database: the pre-data schema (one transaction), every
 * table (COPY FROM STDIN, parallel, one transaction each), sequence values, then the
 * post-data section (indexes and keys in parallel, then foreign keys and triggers). Each file's stored bytes are
 * checked against the manifest's sha256 and each table's rows against its row count while
 * it streams; nothing commits before its check passes (the content checksums are compared
 * by a verify's read-back, compareWithManifest). With an
 * `owner` every statement runs as that role (SET ROLE), so the objects belong to the
 * tenant's own role and no credential of the dump is ever applied (the dump has none:
 * --no-owner --no-privileges).
 */

export interface LoadRequest {
  admin: PgAdminConfig;
  storage: BackupStorage;
  manifest: Manifest;
  identities: string[];
  database: string;
  owner: string | null;
  jobs: number;
  onProgress?: (done: number, total: number, what: string) => void;
  /** Test hook: runs before each table is loaded (to kill PostgreSQL mid-restore). */
  beforeTable?: (index: number) => Promise<void>;
}

export class IntegrityError extends ContractError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('VALIDATION', message, { reason: 'integrity', ...(details ?? {}) });
  }
}

function fileOf(m: Manifest, name: string): ManifestFile {
  const f = m.files.find((x) => x.name === name);
  if (!f) throw new IntegrityError(`Backup ${m.id} has no ${name} in its manifest.`);
  return f;
}

function checkStored(m: Manifest, f: ManifestFile, bytes: number, sha256: string): void {
  if (bytes !== f.size || sha256 !== f.sha256) {
    throw new IntegrityError(
      `Backup ${m.id}: ${f.name} does not match its manifest (${bytes} bytes, sha256 ${sha256.slice(0, 12)}…; expected ${f.size} bytes, ${f.sha256.slice(0, 12)}…). The backup is corrupted or was modified.`,
      { file: f.name },
    );
  }
}

/** A stored file, decrypted, with its stored bytes checked against the manifest before the stream ends. */
async function openFile(req: Pick<LoadRequest, 'storage' | 'manifest' | 'identities'>, name: string) {
  const m = req.manifest;
  const f = fileOf(m, name);
  const source = await req.storage.get(`${backupPrefix(m.tenant.slug, m.id)}/${name}`);
  const stored = tap();
  const checked = gate(() => checkStored(m, f, stored.bytes, stored.hex()));
  return { streams: [source, stored, decryptStream(req.identities), checked] as const, stored };
}

/**
 * A table's data file, opened in a worker thread (seal-worker.ts openStream: the stored
 * bytes' sha256 and the age STREAM there, the main thread only moves blocks); the same
 * checks as openFile, in the same order: decryption errors first, then the stored bytes
 * against the manifest before the stream ends.
 */
async function openTableFile(req: Pick<LoadRequest, 'storage' | 'manifest' | 'identities' | 'jobs'>, name: string) {
  const m = req.manifest;
  const f = fileOf(m, name);
  const source = await req.storage.get(`${backupPrefix(m.tenant.slug, m.id)}/${name}`);
  const opened = openStream(req.identities, { owned: req.storage.ownReads === true, workers: req.jobs });
  const checked = gate(() => checkStored(m, f, opened.result?.storedBytes ?? 0, opened.result?.storedSha256 ?? ''));
  return { streams: [source, opened, checked] as const };
}

export const describeLoadError = (error: unknown, m: Manifest, doing: string): Error => {
  if (error instanceof ContractError) return error;
  if (error instanceof AgeError) {
    return new IntegrityError(`Backup ${m.id} could not be decrypted while ${doing}: ${error.message}.`, { age: error.message });
  }
  return pgError(error, doing);
};

/** A small file (a schema section, sequence values), decrypted into memory and checked against the manifest. */
async function readChecked(req: LoadRequest, name: string): Promise<string> {
  const file = await openFile(req, name);
  const sink = collector();
  try {
    await pipeline(...file.streams, sink);
  } catch (error) {
    throw describeLoadError(error, req.manifest, `reading ${name}`);
  }
  return sink.bytes().toString('utf8');
}

/**
 * The pre-data section (types, tables, sequences, functions) in one transaction, as the
 * owner role. Read whole and checked first: nothing of a file that does not match its
 * manifest ever reaches the server.
 */
async function replayPreData(req: LoadRequest, name: string): Promise<void> {
  const { preamble, entries } = splitDump(await readChecked(req, name), `${req.manifest.id}/${name}`);
  const c = backupClient(req.admin, req.database);
  try {
    await c.connect();
    await c.query('BEGIN');
    if (req.owner) await c.query(`SET LOCAL ROLE ${quoteIdent(req.owner)}`);
    await c.query(preamble);
    for (const e of entries) await c.query(e.sql);
    await c.query('COMMIT');
  } catch (error) {
    throw describeLoadError(error, req.manifest, `restoring ${name}`);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * pg_dump's plain output as its table-of-contents entries (each starts with a
 * "-- Name: …; Type: …; Schema: …" comment block). psql meta-commands other than
 * \restrict/\unrestrict (which only guard psql itself) are refused: pg_dump writes none.
 */
export function splitDump(sql: string, what: string): { preamble: string; entries: { type: string; sql: string }[] } {
  const kept: string[] = [];
  for (const line of sql.split('\n')) {
    if (line.startsWith('\\')) {
      if (/^\\(?:un)?restrict [A-Za-z0-9]+$/.test(line)) continue;
      throw new IntegrityError(`${what} holds a psql command (${line.slice(0, 40)}) that pg_dump never writes; refused.`);
    }
    kept.push(line);
  }
  const text = kept.join('\n').replace(/\n--\n-- PostgreSQL database dump complete\n--\n*$/, '\n');
  const header = /^--\n-- Name: [^\n]*; Type: ([^;\n]+); Schema: [^\n]*\n--\n/gm;
  const marks = [...text.matchAll(header)];
  const preamble = text.slice(0, marks[0]?.index ?? text.length);
  const entries = marks
    .map((m, i) => ({ type: m[1]!, sql: text.slice(m.index + m[0].length, marks[i + 1]?.index ?? text.length).trim() }))
    .filter((e) => e.sql);
  return { preamble, entries };
}

type DumpEntry = ReturnType<typeof splitDump>['entries'][number];

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[^\s".;()]+)`;
const unquote = (id: string): string => (id.startsWith('"') ? id.slice(1, -1).replace(/""/g, '"') : id);
const TABLE_OF_INDEX = new RegExp(String.raw`^CREATE (?:UNIQUE )?INDEX ${IDENT} ON (?:ONLY )?(${IDENT})\.(${IDENT}) USING `);
const TABLE_OF_CONSTRAINT = new RegExp(String.raw`^ALTER TABLE (?:ONLY )?(${IDENT})\.(${IDENT})\s+ADD CONSTRAINT `);

/** The table an index or (non-foreign-key) constraint entry is on, as "schema.name" unquoted; null when it is not one. */
export function tableOfEntry(e: DumpEntry): string | null {
  const re = e.type === 'INDEX' ? TABLE_OF_INDEX : e.type === 'CONSTRAINT' ? TABLE_OF_CONSTRAINT : null;
  const m = re?.exec(e.sql);
  return m ? `${unquote(m[1]!)}.${unquote(m[2]!)}` : null;
}

type TableEntry = Manifest['tables'][number];
type Task = { table: TableEntry } | { entry: DumpEntry };

/**
 * Table data and the post-data section, scheduled like `pg_restore -j`: `jobs` connections
 * take the tables biggest first, and a table's indexes and keys (each depends on its table
 * alone) are queued as soon as its rows are in, so they build while other tables still
 * load. The rest of post-data (foreign keys, triggers, anything not tied to one loaded
 * table) runs afterwards in pg_dump's order, once the sequences are set. Every connection
 * runs the post-data preamble (pg_dump's session settings) as the owner role.
 */
async function loadDataAndKeys(
  req: LoadRequest,
  post: ReturnType<typeof splitDump>,
  progress: (what: string) => void,
): Promise<{ rows: number; after: DumpEntry[] }> {
  const m = req.manifest;
  const loaded = new Set(m.tables.map((t) => `${t.schema}.${t.name}`));
  const keysOf = new Map<string, DumpEntry[]>();
  const after: DumpEntry[] = [];
  for (const e of post.entries) {
    const table = tableOfEntry(e);
    if (table && loaded.has(table)) keysOf.set(table, [...(keysOf.get(table) ?? []), e]);
    else after.push(e);
  }
  const queue: Task[] = m.tables.map((table) => ({ table }));
  let loading = 0;
  let failed = false;
  let rows = 0;
  let waiters: (() => void)[] = [];
  const changed = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const next = async (): Promise<Task | null> => {
    for (;;) {
      if (failed) return null;
      const t = queue.shift();
      if (t) return t;
      if (loading === 0) return null;
      // A table still loading will queue its keys: wait for it rather than leave.
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  const worker = async () => {
    const c = backupClient(req.admin, req.database);
    let doing = 'restoring table data';
    try {
      await c.connect();
      if (req.owner) await c.query(`SET ROLE ${quoteIdent(req.owner)}`);
      await c.query(post.preamble);
      for (let task = await next(); task; task = await next()) {
        if ('table' in task) {
          const t = task.table;
          doing = 'restoring table data';
          loading++;
          try {
            await req.beforeTable?.(m.tables.indexOf(t));
            await loadTable(c, req, t);
          } finally {
            loading--;
          }
          rows += t.rows;
          progress(`${t.schema}.${t.name}`);
          queue.unshift(...(keysOf.get(`${t.schema}.${t.name}`) ?? []).map((entry) => ({ entry })));
        } else {
          doing = 'restoring post-data.sql.age';
          await c.query(task.entry.sql);
        }
        changed();
      }
    } catch (error) {
      failed = true;
      throw describeLoadError(error, m, doing);
    } finally {
      changed();
      await c.end().catch(() => undefined);
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(req.jobs, m.tables.length || 1)) }, worker));
  const firstFailure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (firstFailure) throw firstFailure.reason;
  return { rows, after };
}

/**
 * What is left of the post-data section once the data is in: indexes and non-foreign-key
 * constraints not tied to a loaded table first, on `jobs` connections, then everything
 * else (foreign keys, triggers, …) in pg_dump's order.
 */
async function replayPostData(req: LoadRequest, preamble: string, entries: DumpEntry[]): Promise<void> {
  const parallel = entries.filter((e) => e.type === 'INDEX' || e.type === 'CONSTRAINT');
  const serial = entries.filter((e) => !(e.type === 'INDEX' || e.type === 'CONSTRAINT'));
  const open = async () => {
    const c = backupClient(req.admin, req.database);
    await c.connect();
    if (req.owner) await c.query(`SET ROLE ${quoteIdent(req.owner)}`);
    await c.query(preamble);
    return c;
  };
  let next = 0;
  let failed = false;
  const worker = async () => {
    const c = await open();
    try {
      for (;;) {
        const e = parallel[next++];
        if (!e || failed) return;
        await c.query(e.sql);
      }
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  try {
    if (parallel.length) {
      const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(req.jobs, parallel.length)) }, worker));
      const firstFailure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (firstFailure) throw firstFailure.reason;
    }
    if (serial.length) {
      const c = await open();
      try {
        for (const e of serial) await c.query(e.sql);
      } finally {
        await c.end().catch(() => undefined);
      }
    }
  } catch (error) {
    throw describeLoadError(error, req.manifest, 'restoring post-data.sql.age');
  }
}

export interface LoadResult {
  tables: number;
  rows: number;
  bytes: number;
}

export async function loadBackup(req: LoadRequest): Promise<LoadResult> {
  const m = req.manifest;
  const total = m.tables.length + 3;
  let done = 0;
  const progress = (what: string) => req.onProgress?.(++done, total, what);
  await replayPreData(req, 'schema.sql.age');
  progress('pre-data');
  // Read and checked before any row is loaded: a table's keys are built as soon as it is in.
  const post = splitDump(await readChecked(req, 'post-data.sql.age'), `${m.id}/post-data.sql.age`);
  const { rows, after } = await loadDataAndKeys(req, post, progress);

  const setvals = await readChecked(req, 'sequences.sql.age');
  // Only setval calls are expected here; anything else means a forged or foreign file.
  if (!setvals.split('\n').every((l) => l === '' || /^SELECT pg_catalog\.setval\('(?:[^']|'')+', -?\d+, (?:true|false)\);$/.test(l))) {
    throw new IntegrityError(`Backup ${m.id}: sequences.sql.age holds something other than sequence values; refused.`);
  }
  if (setvals.trim()) {
    const c = backupClient(req.admin, req.database);
    try {
      await c.connect();
      await c.query(`BEGIN; ${req.owner ? `SET LOCAL ROLE ${quoteIdent(req.owner)};` : ''} ${setvals} COMMIT;`);
    } catch (error) {
      throw describeLoadError(error, m, 'restoring sequence values');
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  progress('sequences');
  await replayPostData(req, post.preamble, after);
  progress('post-data');
  return { tables: m.tables.length, rows, bytes: m.totals.plainBytes };
}

/**
 * One table. The stored bytes are checked against the (authenticated) manifest before the
 * COPY ends; decryption is authenticated too, so the plaintext is exactly what was dumped
 * and hashing it again would add nothing: the rows are checked by the server's count here,
 * the content checksum by the read-back of a verify (compareWithManifest).
 *
 * A plain table is emptied in the same transaction and loaded with COPY FREEZE: its rows
 * are written frozen and its pages marked all-visible, so the index builds that follow
 * (and the first reads) do not write every page again to set hint bits, and no vacuum has
 * to freeze them later. FREEZE makes the rows visible to snapshots older than the load,
 * which is harmless here: a restore always loads into a database of its own (a new
 * tenant's, a staging one swapped in afterwards, a verify's scratch one) that nothing
 * else reads. The TRUNCATE also makes a retried load start from an empty table.
 * Partitioned parents take neither (PostgreSQL refuses both there).
 */
async function loadTable(c: pg.Client, req: LoadRequest, t: Manifest['tables'][number]): Promise<void> {
  const file = await openTableFile(req, t.file);
  await c.query('BEGIN');
  try {
    if (req.owner) await c.query(`SET LOCAL ROLE ${quoteIdent(req.owner)}`);
    const kind = await c.query<{ relkind: string }>(
      'SELECT c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2',
      [t.schema, t.name],
    );
    const freeze = kind.rows[0]?.relkind === 'r';
    if (freeze) await c.query(`TRUNCATE TABLE ONLY ${qualified(t.schema, t.name)}`);
    const sink = copyIn(c, `COPY ${qualified(t.schema, t.name)} (${copyColumns(t.columns)}) FROM STDIN${freeze ? ' WITH (FREEZE)' : ''}`);
    await pipeline(...file.streams, sink);
    if (sink.rows !== null && sink.rows !== t.rows)
      throw new IntegrityError(`Table ${t.schema}.${t.name}: the server loaded ${sink.rows} rows, the manifest says ${t.rows}.`);
    await c.query('COMMIT');
  } catch (error) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** A table file's payload key: its age header read and checked (the rest of the file is not read). */
async function payloadKeyOf(storage: BackupStorage, m: Manifest, ids: Buffer[], name: string): Promise<Buffer> {
  const source = await storage.get(`${backupPrefix(m.tenant.slug, m.id)}/${name}`);
  let head = Buffer.alloc(0);
  try {
    for await (const chunk of source) {
      head = Buffer.concat([head, chunk as Buffer]);
      const opened = openHeader(head, ids);
      if (opened) return opened.payloadKey;
    }
  } catch (error) {
    throw describeLoadError(error, m, `reading the header of ${name}`);
  } finally {
    source.destroy();
  }
  throw new IntegrityError(`Backup ${m.id}: ${name} ends inside its age header. The backup is corrupted or truncated.`, { file: name });
}

/**
 * Reads every table of a restored database back (COPY TO STDOUT, in one snapshot) and
 * compares rows and content checksums with the manifest: the proof a verify records.
 * /2: the read-back is sealed with the table file's own payload key (seal-worker.ts
 * contentDigestStream) and its tags' sha256 compared; /1: the sha256 of the COPY text.
 */
export async function compareWithManifest(
  admin: PgAdminConfig,
  database: string,
  m: Manifest,
  files: Pick<LoadRequest, 'storage' | 'identities'>,
): Promise<{ mismatches: string[] }> {
  const c = backupClient(admin, database);
  const mismatches: string[] = [];
  const ids = parseIdentities(files.identities);
  try {
    await c.connect();
    // Read in heap order (see dump.ts): a restored table holds its rows in the order they were dumped.
    await c.query('SET synchronize_seqscans = off');
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    for (const t of m.tables) {
      const out = copyOut(c, `COPY ${qualified(t.schema, t.name)} (${copyColumns(t.columns)}) TO STDOUT`);
      let same: boolean;
      if (t.tagsSha256) {
        const digest = contentDigestStream(await payloadKeyOf(files.storage, m, ids, t.file), { owned: true });
        await pipeline(out, digest, discard());
        same = digest.result!.tagsSha256 === t.tagsSha256;
      } else {
        const read = tap();
        await pipeline(out, read, discard());
        same = read.hex() === t.sha256;
      }
      if (out.frames !== t.rows || !same) {
        mismatches.push(`${t.schema}.${t.name}: ${out.frames} rows (manifest ${t.rows})${same ? '' : ', content differs from the backup'}`);
      }
    }
    await c.query('COMMIT');
  } catch (error) {
    if (error instanceof ContractError) throw error;
    throw pgError(error, `reading back ${database}`, { host: admin.host, port: admin.port });
  } finally {
    await c.end().catch(() => undefined);
  }
  return { mismatches };
}

/** Small helper: one file's decrypted content, integrity-checked (kubernetes.json). */
export async function readSmallFile(req: Pick<LoadRequest, 'storage' | 'manifest' | 'identities'>, name: string): Promise<Buffer> {
  const f = await openFile(req, name);
  const sink = collector();
  try {
    await pipeline(...f.streams, sink);
  } catch (error) {
    throw describeLoadError(error, req.manifest, `reading ${name}`);
  }
  return sink.bytes();
}
export { readAll };
