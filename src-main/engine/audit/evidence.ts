import { randomBytes } from 'node:crypto';
import type { Sqlite } from '../../adapters/sqlite';
import type { LocalAuditCopy } from './local-copy';

export interface KeptSourceInfo {
  source: string;
  /** What it is: the workstation log, or evidence kept when a shared log changed under this console. */
  kind: 'workstation' | 'archive';
  cluster: string | null;
  logId: string | null;
  origin: string;
  reason: string;
  keptAt: string;
  /** prev_hash of the first kept entry (genesis for a whole log). */
  startPrevHash: string;
  firstSeq: number | null;
  checkpoints: { size: number; note: string }[];
}

/**
 * Sources whose only copy is on this workstation live in durable state (`audit_kept`),
 * mirrored into the review copy for search; a deleted cache is refilled from here.
 */
export class KeptSources {
  constructor(
    private readonly db: Sqlite,
    private readonly local: LocalAuditCopy,
  ) {}

  info(source: string): KeptSourceInfo | null {
    const s = this.db.prepare('SELECT info FROM audit_kept_sources WHERE source = ?').pluck().get(source) as string | undefined;
    return s ? (JSON.parse(s) as KeptSourceInfo) : null;
  }

  list(): KeptSourceInfo[] {
    return (this.db.prepare('SELECT info FROM audit_kept_sources ORDER BY source').pluck().all() as string[]).map(
      (s) => JSON.parse(s) as KeptSourceInfo,
    );
  }

  register(info: KeptSourceInfo): void {
    this.db
      .prepare('INSERT INTO audit_kept_sources (source, info) VALUES (?, ?) ON CONFLICT (source) DO UPDATE SET info = excluded.info')
      .run(info.source, JSON.stringify(info));
  }

  count(source: string): number {
    return this.db.prepare('SELECT count(*) FROM audit_kept WHERE source = ?').pluck().get(source) as number;
  }

  /**
   * Keeps a review-copy source as evidence: its rows move to `archive:<id>` in the review
   * copy (same row ids, so search keeps working) and are copied into durable state.
   * Returns the new source, or null when there was nothing to keep.
   */
  keep(
    from: string,
    meta: Omit<KeptSourceInfo, 'source' | 'kind' | 'keptAt' | 'startPrevHash' | 'firstSeq' | 'checkpoints'>,
  ): string | null {
    if (this.local.count(from) === 0) return null;
    const source = `archive:${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`;
    this.local.rename(from, source);
    this.local.copyToKept(source, source);
    const first = this.local.get(source, this.firstSeq(source) ?? 1);
    this.register({
      ...meta,
      source,
      kind: 'archive',
      keptAt: new Date().toISOString(),
      startPrevHash: first?.prev_hash ?? '0'.repeat(64),
      firstSeq: first?.seq ?? null,
      checkpoints: this.local.checkpoints(source),
    });
    return source;
  }

  private firstSeq(source: string): number | null {
    return (this.db.prepare('SELECT min(seq) FROM audit_kept WHERE source = ?').pluck().get(source) as number | null) ?? null;
  }

  /** Refills the review copy of kept sources after the cache was deleted or rebuilt. */
  restoreReviewCopy(): void {
    for (const info of this.list()) {
      const kept = this.count(info.source);
      if (this.local.count(info.source) === kept) continue;
      this.local.clear(info.source);
      const read = this.db.prepare('SELECT seq, hash, canonical FROM audit_kept WHERE source = ? AND seq > ? ORDER BY seq LIMIT 5000');
      let after = 0;
      for (;;) {
        const rows = read.all(info.source, after) as { seq: number; hash: string; canonical: string }[];
        if (!rows.length) break;
        this.local.insertStored(info.source, rows);
        after = rows[rows.length - 1]!.seq;
      }
      for (const c of info.checkpoints) this.local.addCheckpoint(info.source, c.size, c.note);
    }
  }
}
