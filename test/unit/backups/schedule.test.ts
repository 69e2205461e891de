import { describe, expect, it } from 'vitest';
import { applyRetention, dueSlot, nextRun, parseCron } from '../../../src-main/engine/backups/schedule';
import type { BackupSummary } from '../../../src-shared/contract/backups';

const at = (s: string) => new Date(s);

describe('cron (five fields, UTC, like a CronJob)', () => {
  it('computes the next run for the common shapes', () => {
    expect(nextRun(parseCron('30 2 * * *'), at('2026-12-01T02:30:00Z'))!.toISOString()).toBe('2026-12-02T02:30:00.000Z');
    expect(nextRun(parseCron('30 2 * * *'), at('2026-12-01T02:29:59Z'))!.toISOString()).toBe('2026-12-01T02:30:00.000Z');
    expect(nextRun(parseCron('*/15 * * * *'), at('2026-12-01T10:07:00Z'))!.toISOString()).toBe('2026-12-01T10:15:00.000Z');
    // Sunday as 0 and as 7
    expect(nextRun(parseCron('0 3 * * 0'), at('2026-12-01T00:00:00Z'))!.toISOString()).toBe('2026-12-06T03:00:00.000Z');
    expect(nextRun(parseCron('0 3 * * 7'), at('2026-12-01T00:00:00Z'))!.toISOString()).toBe('2026-12-06T03:00:00.000Z');
    // both day fields restricted: either matches (1st of the month, or a Monday)
    expect(nextRun(parseCron('0 0 1 * 1'), at('2026-12-01T00:00:00Z'))!.toISOString()).toBe('2026-12-07T00:00:00.000Z');
    expect(nextRun(parseCron('0 0 29 2 *'), at('2026-03-01T00:00:00Z'))!.toISOString()).toBe('2028-02-29T00:00:00.000Z');
  });

  it('refuses what a CronJob would refuse', () => {
    for (const bad of [
      '* * * *',
      '60 * * * *',
      '* 24 * * *',
      '* * 0 * *',
      '* * * 13 *',
      '* * * * 8',
      '5-1 * * * *',
      '*/0 * * * *',
      'a * * * *',
    ]) {
      expect(() => parseCron(bad), bad).toThrow();
    }
  });

  it('a due slot is the latest one since the last run, none before the first', () => {
    const c = parseCron('0 * * * *');
    expect(dueSlot(c, at('2026-12-01T10:00:00Z'), at('2026-12-01T10:59:00Z'))).toBeNull();
    expect(dueSlot(c, at('2026-12-01T10:00:00Z'), at('2026-12-01T13:20:00Z'))!.toISOString()).toBe('2026-12-01T13:00:00.000Z');
  });
});

const b = (id: string, createdAt: string, extra: Partial<BackupSummary> = {}) => ({
  id,
  createdAt,
  reason: 'schedule' as const,
  verification: { state: 'never' as const, at: null, by: null, message: null, durationMs: null },
  ...extra,
});

describe('retention', () => {
  const days = Array.from({ length: 40 }, (_, i) =>
    b(`b${String(i).padStart(2, '0')}`, new Date(Date.UTC(2026, 10, 1 + i, 2)).toISOString()),
  );
  it('keeps the newest N, one per day/week/month, prunes the rest', () => {
    const d = applyRetention(days, { keepLast: 3, daily: 5, weekly: 3, monthly: 2 });
    const kept = d.keep.map((k) => k.id);
    expect(kept.slice(0, 5)).toEqual(['b39', 'b38', 'b37', 'b36', 'b35']);
    expect(kept.length + d.prune.length).toBe(40);
    expect(new Set([...kept, ...d.prune]).size).toBe(40);
    // monthly: the newest of December (b39) and of November (b29)
    expect(kept).toContain('b29');
    expect(d.prune).toContain('b00');
  });

  it('never prunes the newest verified backup, nor a final backup of a delete', () => {
    const list = [...days];
    list[2] = b('b02', list[2]!.createdAt, {
      verification: { state: 'passed', at: '2026-11-03T03:00:00Z', by: 'x', message: null, durationMs: 1 },
    });
    list[5] = b('b05', list[5]!.createdAt, { reason: 'before-delete' });
    const d = applyRetention(list, { keepLast: 1, daily: 0, weekly: 0, monthly: 0 });
    expect(d.keep.map((k) => k.id).sort()).toEqual(['b02', 'b05', 'b39']);
    expect(d.keep.find((k) => k.id === 'b02')!.why).toContain('newest verified');
  });
});
