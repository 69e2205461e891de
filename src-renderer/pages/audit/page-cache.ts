/**
 * The rows of a keyset-paged list, by page, with the pages far from the viewport evicted.
 * Page k is fetched with the cursor that page k-1 ended on; cursors are kept when a page is
 * evicted, so scrolling back re-fetches exactly that page. Every page but the last is full,
 * so row i lives in page ⌊i / pageSize⌋.
 */
export class PageCache<T> {
  private readonly pages = new Map<number, T[]>();
  /** The cursor that fetches page k (page 0: null). */
  private readonly cursors = new Map<number, number | null>([[0, null]]);
  private readonly loading = new Set<number>();
  /** Highest page fetched so far and its length. */
  private lastPage = -1;
  private lastLength = 0;
  done = false;

  constructor(
    readonly pageSize: number,
    /** Pages kept on each side of the visible ones. */
    readonly keep = 3,
  ) {}

  /** Row slots known so far (rows fetched at least once), plus one for "loading more" until the end. */
  slots(): number {
    const known = this.lastPage < 0 ? 0 : this.lastPage * this.pageSize + this.lastLength;
    return known + (this.done ? 0 : 1);
  }

  get(index: number): T | undefined {
    return this.pages.get(Math.floor(index / this.pageSize))?.[index % this.pageSize];
  }

  /** Pages to fetch for the rows [first, last]: in view, not in memory, not in flight, with a known cursor. */
  wanted(first: number, last: number): { page: number; cursor: number | null }[] {
    const out: { page: number; cursor: number | null }[] = [];
    const from = Math.max(0, Math.floor(first / this.pageSize));
    const to = Math.floor(Math.max(first, last) / this.pageSize);
    for (let p = from; p <= to; p++) {
      if (this.pages.has(p) || this.loading.has(p) || !this.cursors.has(p)) continue;
      if (this.done && p > this.lastPage) continue;
      out.push({ page: p, cursor: this.cursors.get(p)! });
    }
    return out;
  }

  loadingStarted(page: number): void {
    this.loading.add(page);
  }

  loadingFailed(page: number): void {
    this.loading.delete(page);
  }

  put(page: number, rows: T[], nextCursor: number | null): void {
    this.loading.delete(page);
    this.pages.set(page, rows);
    if (page >= this.lastPage) {
      this.lastPage = page;
      this.lastLength = rows.length;
    }
    if (nextCursor === null) {
      if (page >= this.lastPage) this.done = true;
    } else this.cursors.set(page + 1, nextCursor);
  }

  /** Drops pages more than `keep` pages away from the visible rows; returns the pages dropped. */
  evict(first: number, last: number): number[] {
    const lo = Math.floor(first / this.pageSize) - this.keep;
    const hi = Math.floor(Math.max(first, last) / this.pageSize) + this.keep;
    const dropped: number[] = [];
    for (const p of this.pages.keys()) {
      if (p < lo || p > hi) {
        this.pages.delete(p);
        dropped.push(p);
      }
    }
    return dropped;
  }

  /** Rows in memory (what eviction bounds). */
  inMemory(): number {
    let n = 0;
    for (const rows of this.pages.values()) n += rows.length;
    return n;
  }

  pagesInMemory(): number[] {
    return [...this.pages.keys()].sort((a, b) => a - b);
  }
}
