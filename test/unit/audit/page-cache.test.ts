import { describe, expect, it } from 'vitest';
import { PageCache } from '../../../src-renderer/pages/audit/page-cache';

/** A keyset-paged list of `n` rows, newest first, like audit.query: the cursor is the last seq of a page. */
function source(n: number, pageSize: number) {
  const calls: (number | null)[] = [];
  return {
    calls,
    fetch(cursor: number | null) {
      calls.push(cursor);
      const start = cursor === null ? n : cursor - 1;
      const rows = Array.from({ length: Math.max(0, Math.min(pageSize, start)) }, (_, i) => start - i);
      return { rows, nextCursor: rows.length === pageSize ? rows[rows.length - 1]! : null };
    },
  };
}

function scrollTo(cache: PageCache<number>, src: ReturnType<typeof source>, first: number, last: number) {
  cache.evict(first, last);
  for (const { page, cursor } of cache.wanted(first, last)) {
    cache.loadingStarted(page);
    const r = src.fetch(cursor);
    cache.put(page, r.rows, r.nextCursor);
  }
}

describe('audit page rows: pages far from the viewport are evicted', () => {
  it('scrolling through 100,000 rows keeps a bounded number in memory, and scrolling back re-fetches exactly the evicted page', () => {
    const cache = new PageCache<number>(200, 2);
    const src = source(100_000, 200);
    let maxInMemory = 0;
    for (let first = 0; first < 100_000; first += 150) {
      scrollTo(cache, src, first, first + 40);
      maxInMemory = Math.max(maxInMemory, cache.inMemory());
      expect(cache.get(first)).toBe(100_000 - first);
    }
    scrollTo(cache, src, 99_990, 100_000); // the "loading more" slot after the last full page: an empty page ends it
    expect(cache.done).toBe(true);
    expect(cache.slots()).toBe(100_000);
    // the visible page plus 2 on each side at most
    expect(maxInMemory).toBeLessThanOrEqual(6 * 200);
    expect(cache.get(1000)).toBeUndefined(); // evicted long ago
    const before = src.calls.length;
    scrollTo(cache, src, 1000, 1040);
    expect(src.calls.slice(before)).toEqual([100_000 - 1000 + 1]); // page 5 again, with the cursor page 4 ended on
    expect(cache.get(1000)).toBe(99_000);
    expect(cache.pagesInMemory()).toEqual([5]);
  });

  it('does not fetch a page twice while it is in flight, nor beyond the end', () => {
    const cache = new PageCache<number>(10, 1);
    expect(cache.wanted(0, 5)).toEqual([{ page: 0, cursor: null }]);
    cache.loadingStarted(0);
    expect(cache.wanted(0, 5)).toEqual([]);
    cache.put(0, [25, 24, 23, 22, 21, 20, 19, 18, 17, 16], 16);
    expect(cache.slots()).toBe(11); // ten rows and "loading more"
    expect(cache.wanted(0, 12)).toEqual([{ page: 1, cursor: 16 }]);
    cache.put(1, [15, 14, 13, 12, 11], null);
    expect(cache.slots()).toBe(15);
    expect(cache.wanted(0, 40)).toEqual([]);
  });
});
