import { ContractError } from '../../../src-shared/contract';
import type { BackupSummary, Retention } from '../../../src-shared/contract/backups';

/**
 * Five-field cron (minute hour day-of-month month day-of-week, UTC), as a Kubernetes
 * CronJob reads it: numbers, `*`, lists, ranges and steps; day-of-week 0–7 (0 and 7 are
 * Sunday); when both day fields are restricted a day matching either one runs (Vixie cron).
 */
export interface Cron {
  minute: Set<number>;
  hour: Set<number>;
  dom: Set<number>;
  month: Set<number>;
  dow: Set<number>;
  domAny: boolean;
  dowAny: boolean;
  source: string;
}

const FIELDS: [string, number, number][] = [
  ['minute', 0, 59],
  ['hour', 0, 23],
  ['day of month', 1, 31],
  ['month', 1, 12],
  ['day of week', 0, 7],
];

function field(text: string, [name, min, max]: [string, number, number]): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new ContractError('VALIDATION', `Invalid cron ${name} "${part}".`);
    const step = m[4] ? Number(m[4]) : 1;
    const lo = m[1] === '*' ? min : Number(m[2]);
    const hi = m[1] === '*' ? max : m[3] !== undefined ? Number(m[3]) : m[4] ? max : lo;
    if (step < 1 || lo < min || hi > max || lo > hi)
      throw new ContractError('VALIDATION', `Cron ${name} "${part}" is out of range ${min}–${max}.`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

export function parseCron(text: string): Cron {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 5)
    throw new ContractError(
      'VALIDATION',
      `A cron schedule has five fields (minute hour day-of-month month day-of-week); "${text}" has ${parts.length}.`,
    );
  const [minute, hour, dom, month, dow] = parts.map((p, i) => field(p, FIELDS[i]!));
  if (dow!.has(7)) dow!.add(0);
  return {
    minute: minute!,
    hour: hour!,
    dom: dom!,
    month: month!,
    dow: dow!,
    domAny: parts[2] === '*',
    dowAny: parts[4] === '*',
    source: parts.join(' '),
  };
}

function dayMatches(c: Cron, d: Date): boolean {
  const domOk = c.dom.has(d.getUTCDate());
  const dowOk = c.dow.has(d.getUTCDay());
  if (c.domAny && c.dowAny) return true;
  if (c.domAny) return dowOk;
  if (c.dowAny) return domOk;
  return domOk || dowOk;
}

/** The first run strictly after `after` (minute precision), within four years; null if none. */
export function nextRun(c: Cron, after: Date): Date | null {
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  const limit = after.getTime() + 4 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!c.month.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!dayMatches(c, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!c.hour.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!c.minute.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return t;
  }
  return null;
}

/** The most recent slot at or before `now` after `since` (a run that is due), or null. */
export function dueSlot(c: Cron, since: Date, now: Date): Date | null {
  let slot: Date | null = null;
  for (let t = nextRun(c, since); t && t.getTime() <= now.getTime(); t = nextRun(c, t)) slot = t;
  return slot;
}

// ---- retention

const dayKey = (d: Date) => d.toISOString().slice(0, 10);
const monthKey = (d: Date) => d.toISOString().slice(0, 7);
function weekKey(d: Date): string {
  // ISO week: Thursday decides the year.
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = new Date(Date.UTC(t.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((t.getTime() - yearStart.getTime()) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

export interface RetentionDecision {
  keep: { id: string; why: string[] }[];
  prune: string[];
}

/**
 * Which backups of one tenant a policy keeps: the newest `keepLast`, the newest of each of
 * the last `daily` days / `weekly` ISO weeks / `monthly` months that have a backup (like
 * restic's --keep-*), and always the newest verified one. Final backups taken before a
 * delete are never pruned automatically.
 */
export function applyRetention(
  backups: Pick<BackupSummary, 'id' | 'createdAt' | 'reason' | 'verification'>[],
  policy: Retention,
): RetentionDecision {
  const sorted = [...backups].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
  const why = new Map<string, string[]>();
  const keep = (id: string, reason: string) => why.set(id, [...(why.get(id) ?? []), reason]);
  sorted.slice(0, policy.keepLast).forEach((b) => keep(b.id, 'last'));
  const bucket = (n: number, key: (d: Date) => string, label: string) => {
    const seen = new Set<string>();
    for (const b of sorted) {
      if (seen.size >= n) break;
      const k = key(new Date(b.createdAt));
      if (seen.has(k)) continue;
      seen.add(k);
      keep(b.id, label);
    }
  };
  bucket(policy.daily, dayKey, 'daily');
  bucket(policy.weekly, weekKey, 'weekly');
  bucket(policy.monthly, monthKey, 'monthly');
  const newestVerified = sorted.find((b) => b.verification.state === 'passed');
  if (newestVerified) keep(newestVerified.id, 'newest verified');
  for (const b of sorted) if (b.reason === 'before-delete') keep(b.id, 'final backup of a delete');
  return {
    keep: sorted.filter((b) => why.has(b.id)).map((b) => ({ id: b.id, why: why.get(b.id)! })),
    prune: sorted.filter((b) => !why.has(b.id)).map((b) => b.id),
  };
}
