import { describe, expect, it } from 'vitest';
import { canonicalJson, chainEntry, GENESIS_HASH, stripHash } from '../../../src-main/engine/audit/chain';
import { LocalAuditCopy, tenantOf } from '../../../src-main/engine/audit/local-copy';
import type { AuditEntry } from '../../../src-shared/contract/audit';
import { record, tempCache } from './helpers';

function fill(copy: LocalAuditCopy, n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const r = record({
      actor: ['local:alice', 'local:bob', 'oidc:idp:carol'][i % 3]!,
      action: i % 5 === 0 ? 'tenants.delete' : 'tenants.create',
      target: `tenant/acme-${i % 4}`,
      outcome: i % 7 === 0 ? 'failure' : 'success',
      errorCode: i % 7 === 0 ? 'CONFLICT' : null,
      params: { slug: `acme-${i % 4}`, note: i === 42 ? 'rotated the signing keys after the incident' : 'routine' },
    });
    const { entry } = chainEntry(r, i, prev);
    prev = entry.hash;
    out.push(entry);
  }
  copy.insert('cluster', out);
  return out;
}

const q = (over: object) => ({ source: 'cluster', limit: 20, order: 'newest' as const, withTotal: true, ...over });

describe('local review copy', () => {
  const { db } = tempCache();
  const copy = new LocalAuditCopy(db);
  const all = fill(copy, 300);

  it('filters by actor, action (exact or prefix*), outcome, tenant and target prefix', () => {
    expect(copy.query(q({ actor: 'local:bob' })).total).toBe(all.filter((e) => e.actor === 'local:bob').length);
    expect(copy.query(q({ action: 'tenants.delete' })).total).toBe(60);
    expect(copy.query(q({ action: 'tenants.*' })).total).toBe(300);
    expect(copy.query(q({ outcome: 'failure' })).total).toBe(42);
    expect(copy.query(q({ tenant: 'acme-1' })).total).toBe(75);
    expect(copy.query(q({ target: 'tenant/acme-2' })).total).toBe(75);
    const both = copy.query(q({ actor: 'local:alice', outcome: 'failure' }));
    expect(both.entries.every((e) => e.actor === 'local:alice' && e.outcome === 'failure')).toBe(true);
  });

  it('filters by time range', () => {
    const r = copy.query(q({ from: all[99]!.at, to: all[149]!.at, order: 'oldest' }));
    expect(r.total).toBe(51);
    expect(r.entries[0]!.seq).toBe(100);
  });

  it('filters by time range with another filter, also in a source whose times go backwards', () => {
    const t0 = Date.UTC(2026, 0, 1);
    const skewed: AuditEntry[] = [];
    let prev = GENESIS_HASH;
    for (let i = 1; i <= 200; i++) {
      // every 10th entry is stamped an hour early (a clock that was behind)
      const at = new Date(t0 + i * 60_000 - (i % 10 === 0 ? 3_600_000 : 0)).toISOString();
      const { entry } = chainEntry(record({ actor: i % 2 ? 'local:alice' : 'local:bob', at, target: `tenant/acme-${i % 3}` }), i, prev);
      prev = entry.hash;
      skewed.push(entry);
    }
    const backwards = new LocalAuditCopy(tempCache().db);
    backwards.insert('skewed', skewed);
    for (const copyOf of [copy, backwards]) {
      const entries = copyOf === copy ? all : skewed;
      const source = copyOf === copy ? 'cluster' : 'skewed';
      const from = entries[59]!.at;
      const to = entries[139]!.at;
      for (const filter of [{}, { actor: 'local:alice' }, { tenant: 'acme-1' }, { actor: 'local:bob', outcome: 'success' as const }]) {
        const expected = entries.filter(
          (e) =>
            e.at >= from &&
            e.at <= to &&
            Object.entries(filter).every(([k, v]) => (k === 'tenant' ? e.target === `tenant/${v}` : e[k as keyof AuditEntry] === v)),
        );
        const r = copyOf.query(q({ source, from, to, ...filter, limit: 500 }));
        expect(r.total).toBe(expected.length);
        expect(r.entries.map((e) => e.seq)).toEqual(expected.map((e) => e.seq).reverse());
      }
    }
  });

  it('a bulk load with times in seq order builds no time index; time bounds by binary search give what a scan gives', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    const build = (skew: boolean) => {
      const out: AuditEntry[] = [];
      let prev = GENESIS_HASH;
      for (let i = 1; i <= 240; i++) {
        // three entries per second (ties), or every 10th an hour early
        const at = new Date(t0 + Math.floor(i / 3) * 1000 - (skew && i % 10 === 0 ? 3_600_000 : 0)).toISOString();
        const { entry } = chainEntry(record({ at, actor: i % 2 ? 'local:alice' : 'local:bob' }), i, prev);
        prev = entry.hash;
        out.push(entry);
      }
      return out;
    };
    const { db } = tempCache();
    const bulk = new LocalAuditCopy(db);
    const timeIndexes = (source: string) =>
      db
        .prepare("SELECT count(*) FROM cache.sqlite_master WHERE type = 'index' AND name LIKE ? || '%_at'")
        .pluck()
        .get(`audit_e_${db.prepare('SELECT tag FROM audit_copy_sources WHERE source = ?').pluck().get(source) as string}`);
    for (const skew of [false, true]) {
      const entries = build(skew);
      const source = skew ? 'bundle:skewed' : 'bundle:sorted';
      await bulk.bulkLoad(source, async (store) => {
        store(entries.map((e) => ({ seq: e.seq, hash: e.hash, canonical: canonicalJson(stripHash(e)) })));
      });
      expect(timeIndexes(source)).toBe(skew ? 1 : 0);
      const times = [...new Set(entries.map((e) => e.at))].sort();
      const probes = ['2025-12-31T00:00:00.000Z', ...times.filter((_, i) => i % 7 === 0), '2026-02-01T00:00:00.000Z'];
      for (const from of [undefined, ...probes]) {
        for (const to of [undefined, ...probes.filter((_, i) => i % 3 === 0)]) {
          const inRange = entries.filter((e) => (!from || e.at >= from) && (!to || e.at <= to));
          const range = bulk.seqRange(source, from, to);
          expect(range).toEqual(inRange.length ? { fromSeq: inRange[0]!.seq, toSeq: inRange[inRange.length - 1]!.seq } : null);
          const r = bulk.query(q({ source, from, to, actor: 'local:bob', limit: 500 }));
          const expected = inRange.filter((e) => e.actor === 'local:bob');
          expect(r.total).toBe(expected.length);
          expect(r.entries.map((e) => e.seq)).toEqual(expected.map((e) => e.seq).reverse());
        }
      }
    }
    // a copy with a row missing where a search probes (damaged): the bounds come from a scan
    const table = `audit_e_${db.prepare("SELECT tag FROM audit_copy_sources WHERE source = 'bundle:sorted'").pluck().get() as string}`;
    const sorted = build(false);
    db.prepare(`DELETE FROM ${table} WHERE seq = 120`).run();
    const from = sorted[100]!.at;
    expect(bulk.seqRange('bundle:sorted', from)).toEqual({ fromSeq: sorted.find((e) => e.at >= from)!.seq, toSeq: 240 });
    const same = sorted.filter((e) => e.seq !== 120 && e.at === sorted[119]!.at).map((e) => e.seq);
    expect(bulk.seqRange('bundle:sorted', sorted[119]!.at, sorted[119]!.at)).toEqual({ fromSeq: same[0], toSeq: same[same.length - 1] });
  });

  it('a source filled row by row gets its time index when its times first go backwards', () => {
    const { db } = tempCache();
    const rows = new LocalAuditCopy(db);
    const e1 = chainEntry(record({ at: '2026-01-01T00:00:10.000Z' }), 1, GENESIS_HASH).entry;
    const e2 = chainEntry(record({ at: '2026-01-01T00:00:05.000Z' }), 2, e1.hash).entry;
    rows.insert('cluster', [e1, e2]);
    expect(rows.seqRange('cluster', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:06.000Z')).toEqual({ fromSeq: 2, toSeq: 2 });
    expect(db.prepare("SELECT count(*) FROM cache.sqlite_master WHERE type = 'index' AND name LIKE 'audit_e_%_at'").pluck().get()).toBe(1);
  });

  it('searches the full text of parameters and before/after', () => {
    const r = copy.query(q({ text: 'incident' }));
    expect(r.entries.map((e) => e.seq)).toEqual([42]);
    expect(
      copy.query(q({ text: 'CONFLICT', actor: 'local:bob' })).entries.every((e) => e.error_code === 'CONFLICT' && e.actor === 'local:bob'),
    ).toBe(true);
    expect(copy.query(q({ text: 'rotat*' })).total).toBe(1);
  });

  it('pages with a keyset cursor without gaps or repeats', () => {
    const seen: number[] = [];
    let cursor: number | null = null;
    do {
      const page = copy.query(q({ cursor, limit: 37, withTotal: false }));
      seen.push(...page.entries.map((e) => e.seq));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual(all.map((e) => e.seq).reverse());
  });

  it('derives the tenant from the target or the parameters', () => {
    expect(tenantOf({ target: 'tenant/acme/secret', params: null })).toBe('acme');
    expect(tenantOf({ target: null, params: { slug: 'zeta' } })).toBe('zeta');
    expect(tenantOf({ target: 'settings.theme', params: {} })).toBeNull();
  });
});
