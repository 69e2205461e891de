import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { z } from 'zod';
import type { AuditEntry, AuditFilter, AuditQueryInput } from '../../../src-shared/contract/audit';
import { ContractError } from '../../../src-shared/contract/errors';
import type { Sqlite } from '../../adapters/sqlite';
import { canonicalJson, entryFromStored, stripHash, type ChainFields } from './chain';
import { stopParallelWalks, type ParallelPlan } from './parallel-walk';

type Filter = z.output<typeof AuditFilter>;
type Query = z.output<typeof AuditQueryInput>;

/** The tenant an entry is about, so the review page can filter on it. */
export function tenantOf(entry: Pick<ChainFields, 'target' | 'params'>): string | null {
  const m = /^tenants?[/:]([a-z0-9][a-z0-9-]*)/.exec(entry.target ?? '');
  if (m) return m[1]!;
  const p = entry.params as Record<string, unknown> | null;
  if (p && typeof p === 'object') {
    for (const k of ['tenant', 'slug', 'tenantSlug']) if (typeof p[k] === 'string') return p[k] as string;
  }
  return null;
}

function values(value: unknown, out: string[], depth = 0): void {
  if (value === null || value === undefined || depth > 8) return;
  if (typeof value === 'object') for (const v of Object.values(value as Record<string, unknown>)) values(v, out, depth + 1);
  else out.push(String(value));
}

/**
 * What full-text search sees of an entry: who, what, on what, the outcome, and every value
 * of its parameters and before/after state. Field names and the cluster (the same in every
 * entry of a source) are left out: they only make the index bigger and slower to build.
 */
export function searchText(e: ChainFields): string {
  const out = [e.actor, e.role, e.action, e.target ?? '', e.outcome, e.error_code ?? ''];
  if (e.via) out.push('token', e.via.token_name);
  values(e.params, out);
  values(e.before, out);
  values(e.after, out);
  return out.join(' ');
}

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
/** Times compare as text: normalised to UTC ISO (what consoles write already passes as is). */
const iso = (t: string) => (ISO_UTC.test(t) ? t : new Date(t).toISOString());

/** What the review copy's columns are made of (an import parses only these, in its reader thread). */
export type EntryColumns = Pick<ChainFields, 'actor' | 'action' | 'target' | 'at' | 'outcome' | 'params'>;

/** One entry as stores keep it: the hashed canonical text and its hash (and the parsed fields, or only the columns, when at hand). */
export interface StoredEntry {
  seq: number;
  hash: string;
  canonical: string;
  fields?: ChainFields;
  columns?: EntryColumns;
}

/** A raw row for verification: [seq, hash, canonical]. */
export type StoredRow = [number, string, string];

/**
 * Secondary indexes of a source's table. seq (the rowid, which every index entry ends with)
 * follows the filtered column, so a page is read in seq order; behind the broad actor and
 * action filters the usual second filters trail, so a count with a second filter is answered
 * from the index alone, without reading entries. A time range is a seq range, checked on the
 * seq every index carries: `at` itself is not in these indexes (it made each key 24 bytes
 * longer and every index build's sort slower). Tables made before had `at` trailing in these
 * indexes; they keep them (same names), which only costs space.
 */
const INDEXES: [string, string][] = [
  ['actor', 'actor, seq, action, outcome'],
  ['action', 'action, seq, outcome'],
  ['outcome', 'outcome'],
  ['tenant', 'tenant'],
  ['target', 'target'],
];
/**
 * The time index: only a source whose times went backwards somewhere needs it (its time
 * bounds are a range scan on it). With times in seq order a time bound can be a binary search
 * of rowid probes instead (timeBounds), so a bulk load of such a source (an import) does not
 * build it; a source filled row by row gets it at creation, as before, and keeps its seeks.
 */
const AT_INDEX: [string, string] = ['at', 'at'];

interface SourceTables {
  tag: string;
  /** The full-text index is being built in the background (a bulk load): rows are inserted without it. */
  ftsPending: boolean;
  /** Entry times never go backwards in seq order (the usual case: one clock, or clocks in step). */
  atSorted: boolean;
  /** Time of the last entry inserted (undefined: not read yet). */
  lastAt: string | null | undefined;
  /** Being bulk loaded: its indexes are built at the end. */
  bulk: boolean;
  /** It has the time index (undefined: not looked up yet). */
  timeIndex?: boolean;
  entries: string;
  fts: string;
  insertRow: Statement<unknown[]>;
  insertFts: Statement<unknown[]>;
  readRows: Statement<unknown[]>;
}

/**
 * The local review copy: the shared log of each cluster pulled into SQLite, the
 * workstation log, kept evidence and every imported bundle, each source in its own pair of
 * tables (entries keyed by seq, and a contentless FTS5 index). Own tables make a bundle's
 * bulk load cheap (its indexes are built once, after the rows), and clearing or renaming a
 * source instant.
 */
export class LocalAuditCopy {
  private readonly tables = new Map<string, SourceTables>();
  private readonly building = new Set<string>();
  private closed = false;

  constructor(
    private readonly db: Sqlite,
    /** Told when a background full-text index is complete. */
    private readonly onChange: () => void = () => undefined,
  ) {}

  private lookup(source: string): SourceTables | null {
    const cached = this.tables.get(source);
    if (cached) return cached;
    const row = this.db.prepare('SELECT tag, fts_through, at_sorted FROM audit_copy_sources WHERE source = ?').get(source) as
      { tag: string; fts_through: number | null; at_sorted: number } | undefined;
    return row ? this.open(source, row.tag, row.fts_through !== null, row.at_sorted === 1) : null;
  }

  private open(source: string, tag: string, ftsPending = false, atSorted = true): SourceTables {
    const entries = `audit_e_${tag}`;
    const fts = `audit_f_${tag}`;
    const t: SourceTables = {
      tag,
      ftsPending,
      atSorted,
      lastAt: undefined,
      bulk: false,
      entries,
      fts,
      insertRow: this.db.prepare(
        `INSERT INTO ${entries} (seq, at, actor, action, target, tenant, outcome, hash, canonical) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertFts: this.db.prepare(`INSERT INTO ${fts} (rowid, body) VALUES (?, ?)`),
      readRows: this.db.prepare(`SELECT seq, hash, canonical FROM ${entries} WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`).raw(),
    };
    this.tables.set(source, t);
    return t;
  }

  /** The tables of a source, created on first use (`indexed: false`: a bulk load builds the indexes at the end). */
  private ensure(source: string, indexed = true): SourceTables {
    const existing = this.lookup(source);
    if (existing) return existing;
    const tag = randomBytes(6).toString('hex');
    this.db.transaction(() => {
      this.db.exec(`CREATE TABLE cache.audit_e_${tag} (
        seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT, tenant TEXT,
        outcome TEXT NOT NULL, hash TEXT NOT NULL, canonical TEXT NOT NULL)`);
      this.db.exec(
        `CREATE VIRTUAL TABLE cache.audit_f_${tag} USING fts5(body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`,
      );
      if (indexed) this.createIndexes(tag, true);
      this.db.prepare('INSERT INTO audit_copy_sources (source, tag, indexed) VALUES (?, ?, ?)').run(source, tag, indexed ? 1 : 0);
    })();
    return this.open(source, tag);
  }

  private createIndexes(tag: string, at: boolean): void {
    for (const t of this.tables.values()) if (t.tag === tag) t.timeIndex = undefined;
    for (const [name, cols] of at ? [AT_INDEX, ...INDEXES] : INDEXES) {
      this.db.exec(`CREATE INDEX IF NOT EXISTS cache.audit_e_${tag}_${name} ON audit_e_${tag} (${cols})`);
    }
  }

  sources(): string[] {
    return this.db.prepare('SELECT source FROM audit_copy_sources ORDER BY source').pluck().all() as string[];
  }

  /** Inserts entries that must follow the source's last seq, in one transaction. */
  insert(source: string, entries: AuditEntry[]): void {
    this.insertStored(
      source,
      entries.map((e) => {
        const fields = stripHash(e);
        return { seq: e.seq, hash: e.hash, canonical: canonicalJson(fields), fields };
      }),
    );
  }

  /** Inserts stored entries (canonical text as hashed), in one transaction. */
  insertStored(source: string, rows: StoredEntry[]): void {
    if (!rows.length) return;
    const t = this.ensure(source);
    this.db.transaction(() => {
      for (const r of rows) this.insertInto(t, r);
    })();
  }

  /** One row, no transaction of its own (callers wrap many). */
  insertOne(source: string, r: StoredEntry): void {
    this.insertInto(this.ensure(source), r);
  }

  private insertInto(t: SourceTables, r: StoredEntry): void {
    const full = r.fields ?? (r.columns ? null : (JSON.parse(r.canonical) as ChainFields));
    const e: EntryColumns = full ?? r.columns!;
    const at = iso(e.at);
    if (t.atSorted) {
      if (t.lastAt === undefined) {
        t.lastAt = (this.db.prepare(`SELECT at FROM ${t.entries} ORDER BY seq DESC LIMIT 1`).pluck().get() as string | undefined) ?? null;
      }
      if (t.lastAt !== null && at < t.lastAt) {
        t.atSorted = false;
        this.db.prepare('UPDATE audit_copy_sources SET at_sorted = 0 WHERE tag = ?').run(t.tag);
        // its time bounds now scan the time index (a bulk load builds it at the end, with the others)
        if (!t.bulk) this.createIndexes(t.tag, true);
      }
      t.lastAt = at;
    }
    t.insertRow.run(r.seq, at, e.actor, e.action, e.target, tenantOf(e), e.outcome, r.hash, r.canonical);
    if (!t.ftsPending) t.insertFts.run(r.seq, searchText(full ?? (JSON.parse(r.canonical) as ChainFields)));
  }

  /**
   * A bulk load into a new source (an import): rows go into a table without secondary
   * indexes, which are built once at the end (a sort, far cheaper than a million index
   * updates), with a large page cache. The full-text index is built afterwards in the
   * background (searching the source says how far it got); filters work at once. Nothing
   * is visible under `source` until the caller registers it.
   */
  async bulkLoad(source: string, load: (store: (rows: StoredEntry[]) => void) => Promise<void>): Promise<void> {
    this.clear(source);
    const t = this.ensure(source, false);
    this.db.prepare('UPDATE audit_copy_sources SET fts_through = 0 WHERE source = ?').run(source);
    t.ftsPending = true;
    t.bulk = true;
    const previous = this.db.pragma('cache.cache_size', { simple: true }) as number;
    this.db.pragma('cache.cache_size = -262144');
    try {
      await load((rows) =>
        this.db.transaction(() => {
          for (const r of rows) this.insertInto(t, r);
        })(),
      );
      this.db.transaction(() => {
        this.createIndexes(t.tag, !t.atSorted);
        this.db.prepare('UPDATE audit_copy_sources SET indexed = 1 WHERE source = ?').run(source);
      })();
      t.bulk = false;
      this.db.exec(`ANALYZE cache.${t.entries}`);
    } catch (error) {
      this.clear(source);
      throw error;
    } finally {
      this.db.pragma(`cache.cache_size = ${previous}`);
    }
    void this.buildFullText(source);
  }

  /** How far a source's background full-text index got; null when complete. */
  fullTextProgress(source: string): { through: number; of: number } | null {
    const through = this.db.prepare('SELECT fts_through FROM audit_copy_sources WHERE source = ?').pluck().get(source) as
      number | null | undefined;
    return through === null || through === undefined ? null : { through, of: this.maxSeq(source) };
  }

  /** Builds (or resumes) the full-text index of a bulk-loaded source, 10,000 entries per step, yielding between steps. */
  async buildFullText(source: string): Promise<void> {
    if (this.building.has(source)) return;
    this.building.add(source);
    try {
      for (;;) {
        await new Promise((r) => setImmediate(r));
        if (this.closed || !this.db.open) return;
        const t = this.lookup(source);
        const progress = this.fullTextProgress(source);
        if (!t || !progress) return;
        const rows = this.db
          .prepare(`SELECT seq, canonical FROM ${t.entries} WHERE seq > ? ORDER BY seq LIMIT 10000`)
          .raw()
          .all(progress.through) as [number, string][];
        this.db.transaction(() => {
          for (const [seq, canonical] of rows) t.insertFts.run(seq, searchText(JSON.parse(canonical) as ChainFields));
          const done = rows.length < 10000;
          this.db
            .prepare('UPDATE audit_copy_sources SET fts_through = ? WHERE source = ?')
            .run(done ? null : rows[rows.length - 1]![0], source);
          if (done) t.ftsPending = false;
        })();
        if (!t.ftsPending) {
          this.onChange();
          return;
        }
      }
    } finally {
      this.building.delete(source);
    }
  }

  /** Resumes the background full-text builds a restart interrupted. */
  resumeFullText(): void {
    const pending = this.db.prepare('SELECT source FROM audit_copy_sources WHERE fts_through IS NOT NULL').pluck().all() as string[];
    for (const s of pending) void this.buildFullText(s);
  }

  close(): void {
    this.closed = true;
  }

  /** Refreshes the planner's statistics: without them SQLite picks poor indexes for combined filters. */
  analyze(source?: string): void {
    for (const s of source ? [source] : this.sources()) {
      const t = this.lookup(s);
      if (t) this.db.exec(`ANALYZE cache.${t.entries}`);
    }
  }

  private bounds(source: string | SourceTables): { lo: number; hi: number } | null {
    const t = typeof source === 'string' ? this.lookup(source) : source;
    if (!t) return null;
    // Two subqueries: min() and max() together in one SELECT scan the whole table; alone, each is one seek.
    const r = this.db.prepare(`SELECT (SELECT min(seq) FROM ${t.entries}) AS lo, (SELECT max(seq) FROM ${t.entries}) AS hi`).get() as {
      lo: number | null;
      hi: number | null;
    };
    return r.lo === null || r.hi === null ? null : { lo: r.lo, hi: r.hi };
  }

  maxSeq(source: string): number {
    return this.bounds(source)?.hi ?? 0;
  }

  /** Entries of a source (rows are always a contiguous seq range), or of every source. */
  count(source?: string): number {
    if (source === undefined) return this.sources().reduce((n, s) => n + this.count(s), 0);
    const b = this.bounds(source);
    return b ? b.hi - b.lo + 1 : 0;
  }

  /** Drops a source (a bundle, or a review copy rebuilt from its log). */
  clear(source: string): void {
    const t = this.lookup(source);
    this.tables.delete(source);
    this.db.transaction(() => {
      if (t) {
        this.db.exec(`DROP TABLE IF EXISTS cache.${t.entries}`);
        this.db.exec(`DROP TABLE IF EXISTS cache.${t.fts}`);
      }
      this.db.prepare('DELETE FROM audit_copy_sources WHERE source = ?').run(source);
      this.db.prepare('DELETE FROM audit_local_checkpoints WHERE source = ?').run(source);
    })();
  }

  /** Gives a source's rows and checkpoints another name (kept evidence); instant. */
  rename(from: string, to: string): void {
    this.clear(to);
    this.db.transaction(() => {
      this.db.prepare('UPDATE audit_copy_sources SET source = ? WHERE source = ?').run(to, from);
      this.db.prepare('UPDATE audit_local_checkpoints SET source = ? WHERE source = ?').run(to, from);
    })();
    this.tables.delete(from);
    this.tables.delete(to);
  }

  /** Copies a source's rows into durable state (`main.audit_kept`) under `keptAs`. */
  copyToKept(source: string, keptAs: string): void {
    const t = this.lookup(source);
    if (!t) return;
    this.db
      .prepare(`INSERT OR IGNORE INTO main.audit_kept (source, seq, hash, canonical) SELECT ?, seq, hash, canonical FROM ${t.entries}`)
      .run(keptAs);
  }

  get(source: string, seq: number): AuditEntry | null {
    const r = this.stored(source, seq);
    return r ? entryFromStored(r.hash, r.canonical) : null;
  }

  stored(source: string, seq: number): { hash: string; canonical: string } | null {
    const t = this.lookup(source);
    if (!t) return null;
    return (
      (this.db.prepare(`SELECT hash, canonical FROM ${t.entries} WHERE seq = ?`).get(seq) as
        { hash: string; canonical: string } | undefined) ?? null
    );
  }

  /** Raw rows of a source in seq order within [fromSeq, toSeq], in batches (verification, export, evidence). */
  *iterateStored(source: string, range: { fromSeq?: number; toSeq?: number } = {}, batch = 5000): Generator<StoredRow[]> {
    const t = this.lookup(source);
    if (!t) return;
    let after = (range.fromSeq ?? 1) - 1;
    const to = range.toSeq ?? Number.MAX_SAFE_INTEGER;
    for (;;) {
      const rows = t.readRows.all(after, to, batch) as StoredRow[];
      if (!rows.length) return;
      after = rows[rows.length - 1]![0];
      yield rows;
    }
  }

  private cacheFile(): string | undefined {
    return (this.db.pragma('database_list') as { name: string; file: string }[]).find((d) => d.name === 'cache')?.file;
  }

  /** Ends the verification walks reading this cache in worker threads (before the database closes). */
  async stopWalks(): Promise<void> {
    const file = this.db.open ? this.cacheFile() : undefined;
    if (file) await stopParallelWalks(file);
  }

  /**
   * Where a source's rows are for a verification walk in worker threads (parallel-walk.ts),
   * each with its own read-only connection to the cache file; null when the cache is not a
   * file (an in-memory store) or the source has no rows. The rows are those iterateStored reads.
   */
  parallelPlan(source: string): ParallelPlan | null {
    const t = this.lookup(source);
    if (!t) return null;
    const file = this.cacheFile();
    const lastSeq = this.maxSeq(source);
    return file && lastSeq > 0 ? { file, table: t.entries, lastSeq } : null;
  }

  /** Entries of a source in seq order within [fromSeq, toSeq], in batches. */
  *iterate(source: string, range: { fromSeq?: number; toSeq?: number } = {}, batch = 5000): Generator<AuditEntry[]> {
    for (const rows of this.iterateStored(source, range, batch)) yield rows.map((r) => entryFromStored(r[1], r[2]));
  }

  /** seq → hash for a seq range (comparing a copy with the shared log to find the first rewritten entry). */
  hashes(source: string, fromSeq: number, toSeq: number): Map<number, string> {
    const t = this.lookup(source);
    if (!t) return new Map();
    return new Map(
      this.db.prepare(`SELECT seq, hash FROM ${t.entries} WHERE seq BETWEEN ? AND ?`).raw().all(fromSeq, toSeq) as [number, string][],
    );
  }

  /** The contiguous seq range whose entries fall in a time range (entries between are included: the chain needs them). */
  seqRange(source: string, from?: string, to?: string): { fromSeq: number; toSeq: number } | null {
    const t = this.lookup(source);
    if (!t) return null;
    const r = this.timeBounds(t, from, to);
    return r.lo === null || r.hi === null || r.lo > r.hi ? null : { fromSeq: r.lo, toSeq: r.hi };
  }

  /**
   * The smallest and largest seq with a time in [from, to]. With times in seq order that is
   * two seeks in the time index; a source without one (a bulk load whose times are in seq
   * order) has its rows in [from, to] as one seq interval, whose ends are two binary searches
   * of rowid probes, the time compared by SQLite as a query on the column would. Otherwise
   * every entry in the range is looked at (through the time index).
   */
  private timeBounds(t: SourceTables, from?: string, to?: string): { lo: number | null; hi: number | null } {
    const lo = from ? iso(from) : '';
    const hi = to ? iso(to) : '\u{10FFFF}';
    if (t.atSorted && this.hasTimeIndex(t)) {
      const first = this.db
        .prepare(`SELECT seq FROM ${t.entries} WHERE at >= ? AND at <= ? ORDER BY at, seq LIMIT 1`)
        .pluck()
        .get(lo, hi) as number | undefined;
      const last = this.db
        .prepare(`SELECT seq FROM ${t.entries} WHERE at >= ? AND at <= ? ORDER BY at DESC, seq DESC LIMIT 1`)
        .pluck()
        .get(lo, hi) as number | undefined;
      return { lo: first ?? null, hi: last ?? null };
    }
    if (t.atSorted) {
      const found = this.sortedTimeBounds(t, lo, hi);
      if (found) return found;
    }
    return this.db.prepare(`SELECT min(seq) AS lo, max(seq) AS hi FROM ${t.entries} WHERE at >= ? AND at <= ?`).get(lo, hi) as {
      lo: number | null;
      hi: number | null;
    };
  }

  private hasTimeIndex(t: SourceTables): boolean {
    t.timeIndex ??=
      this.db.prepare("SELECT 1 FROM cache.sqlite_master WHERE type = 'index' AND name = ?").get(`${t.entries}_${AT_INDEX[0]}`) !==
      undefined;
    return t.timeIndex;
  }

  /** timeBounds of a source whose times are in seq order; null when a row is missing (a damaged copy: the caller scans). */
  private sortedTimeBounds(t: SourceTables, lo: string, hi: string): { lo: number | null; hi: number | null } | null {
    const b = this.bounds(t);
    if (!b) return { lo: null, hi: null };
    const probe = this.db.prepare(`SELECT at >= ?, at <= ? FROM ${t.entries} WHERE seq = ?`).raw();
    let gap = false;
    /** [time >= lo, time <= hi] of one entry */
    const at = (seq: number): [number, number] => {
      const r = probe.get(lo, hi, seq) as [number, number] | undefined;
      if (!r) gap = true;
      return r ?? [0, 0];
    };
    // the first seq whose time is >= lo
    let a = b.lo;
    let z = b.hi + 1;
    while (a < z) {
      const m = Math.floor((a + z) / 2);
      if (at(m)[0]) z = m;
      else a = m + 1;
    }
    const first = a <= b.hi && at(a)[1] ? a : null;
    // the last seq whose time is <= hi
    let last: number | null = null;
    if (first !== null) {
      z = b.hi + 1;
      while (a < z) {
        const m = Math.floor((a + z) / 2);
        if (at(m)[1]) a = m + 1;
        else z = m;
      }
      last = a - 1;
    }
    return gap ? null : { lo: first, hi: last };
  }

  private where(t: SourceTables, f: Filter, params: Record<string, unknown>): string[] {
    const w: string[] = ['1'];
    // One index drives each query, chosen by how few rows it usually leaves (tenant, target,
    // actor, action, outcome); the other filters get a unary + so the planner checks them in
    // that index (the broad ones carry action, outcome and at) instead of switching to it.
    const driver = f.tenant ? 'tenant' : f.target ? 'target' : f.actor ? 'actor' : f.action ? 'action' : f.outcome ? 'outcome' : null;
    const col = (name: string) => (driver === name ? `e.${name}` : `+e.${name}`);
    if (f.actor) {
      w.push(`${col('actor')} = @actor`);
      params.actor = f.actor;
    }
    if (f.action) {
      // "tenants.*" matches every tenants command
      w.push(f.action.endsWith('*') ? `${col('action')} GLOB @action` : `${col('action')} = @action`);
      params.action = f.action;
    }
    if (f.target) {
      w.push(`${col('target')} >= @target AND ${col('target')} < @targetEnd`);
      params.target = f.target;
      params.targetEnd = `${f.target}\u{10FFFF}`;
    }
    if (f.tenant) {
      w.push(`${col('tenant')} = @tenant`);
      params.tenant = f.tenant;
    }
    if (f.outcome) {
      w.push(`${col('outcome')} = @outcome`);
      params.outcome = f.outcome;
    }
    if (f.from || f.to) {
      // Narrow to a seq range first so the scan walks seq order, then filter exactly on time.
      const b = this.timeBounds(t, f.from, f.to);
      // With another filter its index drives the scan (seq trails in it, so the bounds are
      // checked there); only a time range alone walks the seq (primary key) range.
      w.push(w.length > 1 ? '+e.seq BETWEEN @lo AND @hi' : 'e.seq BETWEEN @lo AND @hi');
      params.lo = b.lo ?? 1;
      params.hi = b.hi ?? 0;
      // With times in seq order the seq range is exactly the time range; otherwise each entry's
      // time is checked too (unary + keeps the planner on the seq range, no sort of a time slice).
      if (t.atSorted) return w;
      if (f.from) {
        w.push('+e.at >= @from');
        params.from = iso(f.from);
      }
      if (f.to) {
        w.push('+e.at <= @to');
        params.to = iso(f.to);
      }
    }
    return w;
  }

  query(q: Query): { entries: AuditEntry[]; nextCursor: number | null; total: number | null } {
    const t = this.lookup(q.source);
    if (!t) return { entries: [], nextCursor: null, total: q.withTotal ? 0 : null };
    const building = q.text ? this.fullTextProgress(q.source) : null;
    if (building) {
      throw new ContractError(
        'UNAVAILABLE',
        `The full-text index of this source is still being built (${building.through.toLocaleString('en')} of ${building.of.toLocaleString('en')} entries). Filters without search text work now; search again in a moment.`,
      );
    }
    const params: Record<string, unknown> = {};
    const where = this.where(t, q, params);
    const desc = q.order === 'newest';
    const filtersOnly = [...where];
    if (q.cursor !== null && q.cursor !== undefined) {
      where.push(desc ? 'e.seq < @cursor' : 'e.seq > @cursor');
      params.cursor = q.cursor;
    }
    params.limit = q.limit;
    const from = q.text ? `${t.fts} f JOIN ${t.entries} e ON e.seq = f.rowid` : `${t.entries} e`;
    if (q.text) params.text = q.text;
    const match = q.text ? `${t.fts} MATCH @text AND ` : '';
    // Driven from the FTS index in rowid order for text, so LIMIT stops early even for common words.
    const order = q.text ? `f.rowid ${desc ? 'DESC' : 'ASC'}` : `e.seq ${desc ? 'DESC' : 'ASC'}`;
    const rows = this.db
      .prepare(`SELECT e.seq, e.hash, e.canonical FROM ${from} WHERE ${match}${where.join(' AND ')} ORDER BY ${order} LIMIT @limit`)
      .all(params) as {
      seq: number;
      hash: string;
      canonical: string;
    }[];
    let total: number | null = null;
    if (q.withTotal) {
      const { cursor: _c, limit: _l, ...countParams } = params;
      total = this.db
        .prepare(`SELECT count(*) FROM ${from} WHERE ${match}${filtersOnly.join(' AND ')}`)
        .pluck()
        .get(countParams) as number;
    }
    return {
      entries: rows.map((r) => entryFromStored(r.hash, r.canonical)),
      nextCursor: rows.length === q.limit ? rows[rows.length - 1]!.seq : null,
      total,
    };
  }

  addCheckpoint(source: string, size: number, note: string): void {
    this.db.prepare('INSERT OR IGNORE INTO audit_local_checkpoints (source, size, note) VALUES (?, ?, ?)').run(source, size, note);
  }

  checkpoints(source: string, range?: { minSize: number; maxSize: number }): { size: number; note: string }[] {
    return this.db
      .prepare('SELECT size, note FROM audit_local_checkpoints WHERE source = ? AND size BETWEEN ? AND ? ORDER BY size')
      .all(source, range?.minSize ?? 0, range?.maxSize ?? Number.MAX_SAFE_INTEGER) as { size: number; note: string }[];
  }
}
