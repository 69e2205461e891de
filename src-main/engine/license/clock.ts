import type { Sqlite } from '../../adapters/sqlite';
import { CLOCK_ROLLBACK_TOLERANCE_SECONDS, CLOCK_TOLERANCE_SECONDS } from './format';
import { invalid } from './jws';

/** Seconds since the epoch; injectable so tests can wind the clock. */
export type Clock = () => number;
export const systemClock: Clock = () => Math.floor(Date.now() / 1000);

const iso = (s: number) => new Date(s * 1000).toISOString();

export interface TimeWitness {
  /** The latest trustworthy time seen (seconds). */
  seenAt: number;
  /** Where it came from, e.g. "Kubernetes API server Date header (cluster …)". */
  source: string;
}

/**
 * The latest trustworthy time this console has seen, kept in durable local state (table
 * license_time_witness). Only times that come from outside this workstation count (signed license
 * iats, the renewal server's and the Kubernetes API server's Date headers, license history written
 * by other consoles), and only when they are not ahead of the local clock: a wrong source can
 * never push the mark into the future, and a clock set ahead by mistake does not raise it.
 * A clock that reads earlier than the mark (beyond CLOCK_ROLLBACK_TOLERANCE_SECONDS) was wound
 * back: licenses are then not treated as valid until it is fixed.
 */
export class TrustedTime {
  constructor(
    private readonly db: Sqlite,
    readonly clock: Clock = systemClock,
  ) {}

  witness(): TimeWitness | null {
    const row = this.db.prepare('SELECT seen_at, source FROM license_time_witness WHERE id = 1').get() as
      { seen_at: number; source: string } | undefined;
    return row ? { seenAt: row.seen_at, source: row.source } : null;
  }

  /** Records `at` when it is newer than the mark and not ahead of the local clock. Returns whether it moved the mark. */
  observe(at: number | null | undefined, source: string): boolean {
    if (typeof at !== 'number' || !Number.isFinite(at)) return false;
    const seen = Math.floor(at);
    if (seen > this.clock() + CLOCK_TOLERANCE_SECONDS) return false;
    const result = this.db
      .prepare(
        `INSERT INTO license_time_witness (id, seen_at, source, recorded_at) VALUES (1, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET seen_at = excluded.seen_at, source = excluded.source, recorded_at = excluded.recorded_at
         WHERE excluded.seen_at > license_time_witness.seen_at`,
      )
      .run(seen, source.slice(0, 200), this.clock());
    return result.changes > 0;
  }

  /** The problem with the clock, or null when it is not earlier than what this console has seen. */
  rollback(): { clock: number; witness: TimeWitness } | null {
    const witness = this.witness();
    const clock = this.clock();
    if (!witness || clock >= witness.seenAt - CLOCK_ROLLBACK_TOLERANCE_SECONDS) return null;
    return { clock, witness };
  }

  /** The time to judge licenses by; LICENSE_INVALID / CLOCK_ROLLBACK when the clock was wound back. */
  now(): number {
    const problem = this.rollback();
    if (problem) throw rollbackError(problem.clock, problem.witness);
    const witness = this.witness();
    // within the tolerance, the later of the two
    return Math.max(this.clock(), witness?.seenAt ?? 0);
  }
}

export function rollbackError(clock: number, witness: TimeWitness) {
  return invalid(
    'CLOCK_ROLLBACK',
    `The system clock reads ${iso(clock)} but this console has already seen ${iso(witness.seenAt)} (${witness.source}); fix the clock (date, time zone, NTP) and try again. Until then no license is treated as valid.`,
    { clock: iso(clock), seen: iso(witness.seenAt), source: witness.source },
  );
}

/** Seconds since the epoch from an HTTP `Date` header; null when absent or unparsable. */
export function parseHttpDate(value: string | null | undefined): number | null {
  if (!value) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}
