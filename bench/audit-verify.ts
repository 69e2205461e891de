// Verification of a review-copy source alone (the verification row of bench/audit.ts), to
// iterate on it: fills a local copy with N chained synthetic entries (kept for the next run in
// $GATEHOUSE_BENCH_AUDIT_BUNDLES when that is set), then verifies it several times, alternating
// the serial walk (ChainVerifier over iterateStored, what every verification did before the
// parallel walk) and the walk in worker threads, and prints wall time, CPU time of the process
// (every thread) and of the main thread, and the load average of each run.
//   GATEHOUSE_BENCH_AUDIT_N=200000 GATEHOUSE_BENCH_AUDIT_BUNDLES=/tmp npx tsx bench/audit-verify.ts
// GATEHOUSE_BENCH_VERIFY_ROUNDS sets the number of rounds (default 3), GATEHOUSE_BENCH_VERIFY_MODES
// which walks each round makes (default "serial,parallel"; "serial" alone runs on code from
// before the parallel walk, to compare). Prints only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openLocalStore } from '../src-main/adapters/sqlite';
import { chainEntry, GENESIS_HASH } from '../src-main/engine/audit/chain';
import { LocalAuditCopy, type StoredEntry } from '../src-main/engine/audit/local-copy';
import { auditMigrations } from '../src-main/engine/audit/migrations';
import { syntheticAudit } from './synthetic-audit';
import { DEFAULT_POLICY, verifyLog } from '../src-main/engine/audit/verify';

const N = Number(process.env.GATEHOUSE_BENCH_AUDIT_N ?? 1_000_000);
const ROUNDS = Number(process.env.GATEHOUSE_BENCH_VERIFY_ROUNDS ?? 3);
const MODES = (process.env.GATEHOUSE_BENCH_VERIFY_MODES ?? 'serial,parallel').split(',');
const keep = process.env.GATEHOUSE_BENCH_AUDIT_BUNDLES;
const dir = path.join(keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-verify-')), `gatehouse-bench-verify-${N}`);
const SRC = 'cluster:prod';

// deterministic synthetic entries (bench/synthetic-audit.ts; the short vocabulary this bench was first measured with)
const { record } = syntheticAudit({ actions: 6, words: 10 });

const fresh = !fs.existsSync(path.join(dir, 'ready'));
if (fresh) fs.rmSync(dir, { recursive: true, force: true });
const { db } = openLocalStore(dir, auditMigrations);
const local = new LocalAuditCopy(db);
if (fresh) {
  // a bulk load (as an import stores rows): the rows verification reads are the same as a sync's
  await local.bulkLoad(SRC, async (store) => {
    let prev = GENESIS_HASH;
    let batch: StoredEntry[] = [];
    for (let i = 1; i <= N; i++) {
      const { entry, canonical } = chainEntry(record(i), i, prev);
      prev = entry.hash;
      batch.push({ seq: i, hash: entry.hash, canonical });
      if (batch.length === 10_000) {
        store(batch);
        batch = [];
      }
    }
    if (batch.length) store(batch);
  });
  local.close(); // no background full-text build: only the rows matter here
  db.pragma('cache.wal_checkpoint(TRUNCATE)');
  fs.writeFileSync(path.join(dir, 'ready'), '');
  console.log(`local copy of ${N} entries written to ${dir}`);
}

async function verify(name: string, parallel: boolean): Promise<void> {
  const load = os.loadavg()[0]!;
  const c0 = process.cpuUsage();
  const m0 = process.threadCpuUsage();
  const w0 = process.hrtime.bigint();
  const { report: r } = await verifyLog({
    source: SRC,
    readFrom: 'local',
    batches: local.iterateStored(SRC),
    ...(parallel ? { parallel: local.parallelPlan(SRC) } : {}),
    start: { seq: 1, prevHash: GENESIS_HASH },
    origin: 'gatehouse/audit/bench-log',
    checkpoints: [],
    trusted: [],
    policy: { ...DEFAULT_POLICY, maxEntriesWithoutCheckpoint: Infinity, maxCheckpointAgeMs: Infinity },
    timeOf: () => null,
  });
  const wall = Number(process.hrtime.bigint() - w0) / 1e9;
  const c = process.cpuUsage(c0);
  const m = process.threadCpuUsage(m0);
  if (r.state !== 'verified' || r.checked !== N) throw new Error(r.message);
  const cpu = (c.user + c.system) / 1e6;
  console.log(
    `${name.padEnd(9)} ${wall.toFixed(2).padStart(6)} s wall = ${Math.round(N / wall / 1000)} k/s; ${cpu.toFixed(2)} s CPU = ${Math.round(N / cpu / 1000)} k/s of CPU (main thread ${((m.user + m.system) / 1e6).toFixed(2)} s); load ${load.toFixed(2)}`,
  );
}

console.log(
  `N=${N}, ${os.availableParallelism()} cores, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (let i = 0; i < ROUNDS; i++) for (const mode of MODES) await verify(mode, mode === 'parallel');
db.close();
if (!keep) fs.rmSync(path.dirname(dir), { recursive: true, force: true });
