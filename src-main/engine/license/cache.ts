import type { CacheMigration, Sqlite } from '../../adapters/sqlite';
import type { HistoryEntry } from './ports';

/**
 * Local cache of the (public) license per cluster, the newest revocation list, the fan-out journal
 * and exported renewal nonces. Nothing secret: a license is a public signed document.
 */
export const licenseMigrations: CacheMigration[] = [
  {
    id: 500,
    name: 'license cache',
    store: 'cache',
    sql: `CREATE TABLE license_cache (cluster_id TEXT PRIMARY KEY, jws TEXT, allocations TEXT NOT NULL, history TEXT NOT NULL, synced_at TEXT NOT NULL);`,
  },
  {
    // revocation high-water mark, fan-out journal and renewal nonces are durable
    id: 501,
    name: 'license durable state',
    store: 'state',
    sql: `
      CREATE TABLE license_revocations (id INTEGER PRIMARY KEY CHECK (id = 1), jws TEXT NOT NULL, seq INTEGER NOT NULL, imported_at TEXT NOT NULL);
      CREATE TABLE license_fanout_ops (
        id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL, kind TEXT NOT NULL, lid TEXT, status TEXT NOT NULL,
        total INTEGER NOT NULL, started_at TEXT NOT NULL, finished_at TEXT);
      CREATE TABLE license_fanout_items (
        op_id TEXT NOT NULL REFERENCES license_fanout_ops(id) ON DELETE CASCADE, slug TEXT NOT NULL,
        user_cap INTEGER NOT NULL, status TEXT NOT NULL, error TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (op_id, slug));
      CREATE INDEX license_fanout_ops_cluster ON license_fanout_ops(cluster_id, started_at);
      CREATE TABLE license_renewal_requests (nonce TEXT PRIMARY KEY, cluster_id TEXT NOT NULL, lid TEXT, created_at TEXT NOT NULL);
    `,
  },
  {
    // the latest trustworthy time seen (clock.ts): durable, or winding the clock back and deleting a cache would reset it
    id: 502,
    name: 'license time witness',
    store: 'state',
    sql: `CREATE TABLE license_time_witness (id INTEGER PRIMARY KEY CHECK (id = 1), seen_at INTEGER NOT NULL, source TEXT NOT NULL, recorded_at INTEGER NOT NULL);`,
  },
  {
    // whether the cluster carried the development-harness marker at the last sync (offline status in --dev)
    id: 503,
    name: 'license cache: dev harness marker',
    store: 'cache',
    sql: `ALTER TABLE license_cache ADD COLUMN dev_harness INTEGER NOT NULL DEFAULT 0;`,
  },
];

export interface CachedLicense {
  jws: string | null;
  allocations: Record<string, number>;
  history: HistoryEntry[];
  syncedAt: string;
  /** The cluster carried the development-harness marker when last read. */
  devHarness: boolean;
}

export type ItemStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';
export type OpStatus = 'running' | 'done' | 'partial';

export interface FanoutOp {
  id: string;
  clusterId: string;
  kind: string;
  lid: string | null;
  status: OpStatus;
  total: number;
  startedAt: string;
  finishedAt: string | null;
}

export class LicenseCache {
  constructor(private readonly db: Sqlite) {}

  get(clusterId: string): CachedLicense | null {
    const row = this.db
      .prepare('SELECT jws, allocations, history, synced_at, dev_harness FROM license_cache WHERE cluster_id = ?')
      .get(clusterId) as { jws: string | null; allocations: string; history: string; synced_at: string; dev_harness: number } | undefined;
    if (!row) return null;
    return {
      jws: row.jws,
      allocations: JSON.parse(row.allocations),
      history: JSON.parse(row.history),
      syncedAt: row.synced_at,
      devHarness: row.dev_harness === 1,
    };
  }

  /** `devHarness` undefined keeps what was recorded. */
  put(clusterId: string, value: Omit<CachedLicense, 'syncedAt' | 'devHarness'> & { devHarness?: boolean }): void {
    this.db
      .prepare(
        `INSERT INTO license_cache (cluster_id, jws, allocations, history, synced_at, dev_harness) VALUES (?, ?, ?, ?, ?, COALESCE(?, 0))
         ON CONFLICT(cluster_id) DO UPDATE SET jws = excluded.jws, allocations = excluded.allocations, history = excluded.history, synced_at = excluded.synced_at,
           dev_harness = COALESCE(?, license_cache.dev_harness)`,
      )
      .run(
        clusterId,
        value.jws,
        JSON.stringify(value.allocations),
        JSON.stringify(value.history),
        new Date().toISOString(),
        devFlag(value.devHarness),
        devFlag(value.devHarness),
      );
  }

  revocations(): { jws: string; seq: number; importedAt: string } | null {
    const row = this.db.prepare('SELECT jws, seq, imported_at FROM license_revocations WHERE id = 1').get() as
      { jws: string; seq: number; imported_at: string } | undefined;
    return row ? { jws: row.jws, seq: row.seq, importedAt: row.imported_at } : null;
  }

  putRevocations(jws: string, seq: number): void {
    this.db
      .prepare(
        `INSERT INTO license_revocations (id, jws, seq, imported_at) VALUES (1, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET jws = excluded.jws, seq = excluded.seq, imported_at = excluded.imported_at`,
      )
      .run(jws, seq, new Date().toISOString());
  }

  // --- fan-out journal: written before and after each tenant write, so a crash can resume
  startOp(op: { id: string; clusterId: string; kind: string; lid: string | null; items: { slug: string; cap: number }[] }): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO license_fanout_ops (id, cluster_id, kind, lid, status, total, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(op.id, op.clusterId, op.kind, op.lid, 'running', op.items.length, now);
      const insert = this.db.prepare('INSERT INTO license_fanout_items (op_id, slug, user_cap, status, updated_at) VALUES (?, ?, ?, ?, ?)');
      for (const item of op.items) insert.run(op.id, item.slug, item.cap, 'pending', now);
    })();
  }

  setItem(opId: string, slug: string, status: ItemStatus, error: string | null = null, cap?: number): void {
    this.db
      .prepare(
        'UPDATE license_fanout_items SET status = ?, error = ?, user_cap = COALESCE(?, user_cap), updated_at = ? WHERE op_id = ? AND slug = ?',
      )
      .run(status, error, cap ?? null, new Date().toISOString(), opId, slug);
  }

  finishOp(opId: string, status: OpStatus): void {
    this.db.prepare('UPDATE license_fanout_ops SET status = ?, finished_at = ? WHERE id = ?').run(status, new Date().toISOString(), opId);
  }

  reopenOp(opId: string): void {
    this.db.prepare("UPDATE license_fanout_ops SET status = 'running', finished_at = NULL WHERE id = ?").run(opId);
  }

  /** The newest fan-out of this cluster that did not finish cleanly (crash → still 'running'; failures → 'partial'). */
  unfinishedOp(clusterId: string): FanoutOp | null {
    const row = this.db
      .prepare("SELECT * FROM license_fanout_ops WHERE cluster_id = ? AND status != 'done' ORDER BY started_at DESC, rowid DESC LIMIT 1")
      .get(clusterId) as Record<string, unknown> | undefined;
    return row ? rowToOp(row) : null;
  }

  lastOp(clusterId: string): FanoutOp | null {
    const row = this.db
      .prepare('SELECT * FROM license_fanout_ops WHERE cluster_id = ? ORDER BY started_at DESC, rowid DESC LIMIT 1')
      .get(clusterId) as Record<string, unknown> | undefined;
    return row ? rowToOp(row) : null;
  }

  items(opId: string): { slug: string; cap: number; status: ItemStatus; error: string | null }[] {
    return (
      this.db.prepare('SELECT slug, user_cap, status, error FROM license_fanout_items WHERE op_id = ? ORDER BY slug').all(opId) as {
        slug: string;
        user_cap: number;
        status: ItemStatus;
        error: string | null;
      }[]
    ).map((r) => ({ slug: r.slug, cap: r.user_cap, status: r.status, error: r.error }));
  }

  rememberNonce(nonce: string, clusterId: string, lid: string | null): void {
    this.db
      .prepare('INSERT INTO license_renewal_requests (nonce, cluster_id, lid, created_at) VALUES (?, ?, ?, ?)')
      .run(nonce, clusterId, lid, new Date().toISOString());
  }

  knowsNonce(nonce: string): boolean {
    return this.db.prepare('SELECT 1 FROM license_renewal_requests WHERE nonce = ?').get(nonce) !== undefined;
  }
}

const devFlag = (v: boolean | undefined) => (v === undefined ? null : v ? 1 : 0);

function rowToOp(row: Record<string, unknown>): FanoutOp {
  return {
    id: String(row.id),
    clusterId: String(row.cluster_id),
    kind: String(row.kind),
    lid: (row.lid as string | null) ?? null,
    status: row.status as OpStatus,
    total: Number(row.total),
    startedAt: String(row.started_at),
    finishedAt: (row.finished_at as string | null) ?? null,
  };
}
