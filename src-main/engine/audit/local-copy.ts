import type { z } from 'zod';
import type { AuditEntry, AuditFilter, AuditQueryInput } from '../../../src-shared/contract/audit';
import type { Sqlite } from '../../adapters/sqlite';
import { canonicalJson, entryFromStored, stripHash, type ChainFields } from './chain';

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

function flatten(value: unknown, out: string[], depth = 0): void {
  if (value === null || value === undefined || depth > 8) return;
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (!Array.isArray(value)) out.push(k);
      flatten(v, out, depth + 1);
    }
  } else out.push(String(value));
}

/** What full-text search sees of an entry. */
export function searchText(e: ChainFields): string {
  const out = [e.actor, e.role, e.action, e.target ?? '', e.outcome, e.error_code ?? '', e.cluster ?? ''];
  flatten(e.params, out);
  flatten(e.before, out);
  flatten(e.after, out);
  return out.join(' ');
}

const iso = (t: string) => new Date(t).toISOString();

/** One entry as stores keep it: the hashed canonical text and its hash (and the parsed fields when at hand). */
export interface StoredEntry {
  seq: number;
  hash: string;
  canonical: string;
  fields?: ChainFields;
}

/** A raw row for verification: [seq, hash, canonical]. */
export type StoredRow = [number, string, string];

/**
 * The local review copy: the shared log of each cluster pulled into SQLite, the
 * workstation log, kept evidence and every imported bundle, each under its own
 * `source`. Pages by row id (keyset), which follows seq within a source because
 * rows are only ever added in seq order.
 */
export class LocalAuditCopy {
  private readonly insertRow;
  private readonly insertFts;
  private readonly readRows;

  constructor(private readonly db: Sqlite) {
    this.insertRow = db.prepare(
      'INSERT INTO audit_entries (source, seq, at, actor, action, target, tenant, outcome, hash, canonical) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertFts = db.prepare('INSERT INTO audit_fts (rowid, body) VALUES (?, ?)');
    this.readRows = db
      .prepare('SELECT seq, hash, canonical FROM audit_entries WHERE source = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?')
      .raw();
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

  /** Inserts stored entries (canonical text as hashed); call inside a transaction for big batches. */
  insertStored(source: string, rows: StoredEntry[]): void {
    this.db.transaction(() => {
      for (const r of rows) this.insertOne(source, r);
    })();
  }

  /** One row, no transaction of its own (the importer wraps many). */
  insertOne(source: string, r: StoredEntry): void {
    const e = r.fields ?? (JSON.parse(r.canonical) as ChainFields);
    const res = this.insertRow.run(source, r.seq, iso(e.at), e.actor, e.action, e.target, tenantOf(e), e.outcome, r.hash, r.canonical);
    this.insertFts.run(res.lastInsertRowid, searchText(e));
  }

  /** Refreshes the planner's statistics (about 0.5 s per million rows): without them SQLite picks poor indexes for combined filters. */
  analyze(): void {
    this.db.exec('ANALYZE audit_entries');
  }

  hasStatistics(): boolean {
    return (
      this.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").get() !== undefined &&
      this.db.prepare("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'audit_entries'").get() !== undefined
    );
  }

  maxSeq(source: string): number {
    return (this.db.prepare('SELECT max(seq) FROM audit_entries WHERE source = ?').pluck().get(source) as number | null) ?? 0;
  }

  count(source?: string): number {
    return source
      ? (this.db.prepare('SELECT count(*) FROM audit_entries WHERE source = ?').pluck().get(source) as number)
      : (this.db.prepare('SELECT count(*) FROM audit_entries').pluck().get() as number);
  }

  /** Drops a source's rows (a bundle, or a review copy rebuilt from its log). */
  clear(source: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM audit_fts WHERE rowid IN (SELECT id FROM audit_entries WHERE source = ?)').run(source);
      this.db.prepare('DELETE FROM audit_entries WHERE source = ?').run(source);
      this.db.prepare('DELETE FROM audit_local_checkpoints WHERE source = ?').run(source);
    })();
  }

  get(source: string, seq: number): AuditEntry | null {
    const r = this.db.prepare('SELECT hash, canonical FROM audit_entries WHERE source = ? AND seq = ?').raw().get(source, seq) as
      | [string, string]
      | undefined;
    return r ? entryFromStored(r[0], r[1]) : null;
  }

  stored(source: string, seq: number): { hash: string; canonical: string } | null {
    const r = this.db.prepare('SELECT hash, canonical FROM audit_entries WHERE source = ? AND seq = ?').get(source, seq) as
      | { hash: string; canonical: string }
      | undefined;
    return r ?? null;
  }

  /** Raw rows of a source in seq order within [fromSeq, toSeq], in batches (verification, export, evidence). */
  *iterateStored(source: string, range: { fromSeq?: number; toSeq?: number } = {}, batch = 5000): Generator<StoredRow[]> {
    let after = (range.fromSeq ?? 1) - 1;
    const to = range.toSeq ?? Number.MAX_SAFE_INTEGER;
    for (;;) {
      const rows = this.readRows.all(source, after, to, batch) as StoredRow[];
      if (!rows.length) return;
      after = rows[rows.length - 1]![0];
      yield rows;
    }
  }

  /** Entries of a source in seq order within [fromSeq, toSeq], in batches. */
  *iterate(source: string, range: { fromSeq?: number; toSeq?: number } = {}, batch = 5000): Generator<AuditEntry[]> {
    for (const rows of this.iterateStored(source, range, batch)) yield rows.map((r) => entryFromStored(r[1], r[2]));
  }

  /** seq → hash for a seq range (comparing a copy with the shared log to find the first rewritten entry). */
  hashes(source: string, fromSeq: number, toSeq: number): Map<number, string> {
    const rows = this.db
      .prepare('SELECT seq, hash FROM audit_entries WHERE source = ? AND seq BETWEEN ? AND ?')
      .raw()
      .all(source, fromSeq, toSeq) as [number, string][];
    return new Map(rows);
  }

  /** The contiguous seq range whose entries fall in a time range (entries between are included: the chain needs them). */
  seqRange(source: string, from?: string, to?: string): { fromSeq: number; toSeq: number } | null {
    const r = this.db
      .prepare('SELECT min(seq) AS lo, max(seq) AS hi FROM audit_entries WHERE source = ? AND at >= ? AND at <= ?')
      .get(source, from ? iso(from) : '', to ? iso(to) : '\u{10FFFF}') as { lo: number | null; hi: number | null };
    return r.lo === null || r.hi === null ? null : { fromSeq: r.lo, toSeq: r.hi };
  }

  private where(f: Filter, params: Record<string, unknown>, alias = 'e'): string[] {
    const w = [`${alias}.source = @source`];
    params.source = f.source;
    if (f.actor) {
      w.push(`${alias}.actor = @actor`);
      params.actor = f.actor;
    }
    if (f.action) {
      // "tenants.*" matches every tenants command
      w.push(f.action.endsWith('*') ? `${alias}.action GLOB @action` : `${alias}.action = @action`);
      params.action = f.action;
    }
    if (f.target) {
      w.push(`${alias}.target >= @target AND ${alias}.target < @targetEnd`);
      params.target = f.target;
      params.targetEnd = `${f.target}\u{10FFFF}`;
    }
    if (f.tenant) {
      w.push(`${alias}.tenant = @tenant`);
      params.tenant = f.tenant;
    }
    if (f.outcome) {
      w.push(`${alias}.outcome = @outcome`);
      params.outcome = f.outcome;
    }
    if (f.from || f.to) {
      // Narrow to an id range first so the scan walks the primary key, then filter exactly on time.
      const b = this.db
        .prepare(`SELECT min(id) AS lo, max(id) AS hi FROM audit_entries WHERE source = ? AND at >= ? AND at <= ?`)
        .get(f.source, f.from ? iso(f.from) : '', f.to ? iso(f.to) : '\u{10FFFF}') as { lo: number | null; hi: number | null };
      w.push(`${alias}.id BETWEEN @lo AND @hi`);
      params.lo = b.lo ?? 1;
      params.hi = b.hi ?? 0;
      // unary + keeps the planner on the id range (no sort of a large time slice)
      if (f.from) {
        w.push(`+${alias}.at >= @from`);
        params.from = iso(f.from);
      }
      if (f.to) {
        w.push(`+${alias}.at <= @to`);
        params.to = iso(f.to);
      }
    }
    return w;
  }

  query(q: Query): { entries: AuditEntry[]; nextCursor: number | null; total: number | null } {
    const params: Record<string, unknown> = {};
    const where = this.where(q, params);
    const desc = q.order === 'newest';
    if (q.cursor !== null && q.cursor !== undefined) {
      where.push(desc ? 'e.id < @cursor' : 'e.id > @cursor');
      params.cursor = q.cursor;
    }
    params.limit = q.limit;
    let sql: string;
    if (q.text) {
      // Drive from the FTS index in rowid order so LIMIT stops early even for common words.
      params.text = q.text;
      sql = `SELECT e.id, e.hash, e.canonical FROM audit_fts f JOIN audit_entries e ON e.id = f.rowid
             WHERE audit_fts MATCH @text AND ${where.join(' AND ')} ORDER BY f.rowid ${desc ? 'DESC' : 'ASC'} LIMIT @limit`;
    } else {
      sql = `SELECT e.id, e.hash, e.canonical FROM audit_entries e WHERE ${where.join(' AND ')} ORDER BY e.id ${desc ? 'DESC' : 'ASC'} LIMIT @limit`;
    }
    const rows = this.db.prepare(sql).all(params) as { id: number; hash: string; canonical: string }[];
    let total: number | null = null;
    if (q.withTotal) {
      const countParams: Record<string, unknown> = {};
      const cw = this.where(q, countParams);
      if (q.text) {
        countParams.text = q.text;
        total = this.db
          .prepare(
            `SELECT count(*) FROM audit_fts f JOIN audit_entries e ON e.id = f.rowid WHERE audit_fts MATCH @text AND ${cw.join(' AND ')}`,
          )
          .pluck()
          .get(countParams) as number;
      } else {
        total = this.db
          .prepare(`SELECT count(*) FROM audit_entries e WHERE ${cw.join(' AND ')}`)
          .pluck()
          .get(countParams) as number;
      }
    }
    return {
      entries: rows.map((r) => entryFromStored(r.hash, r.canonical)),
      nextCursor: rows.length === q.limit ? rows[rows.length - 1]!.id : null,
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
