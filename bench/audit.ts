// Audit log figures: append throughput (outbox, and end to end into PostgreSQL),
// verification rate, filtered query and full-text search latency on 1,000,000
// entries in the local review copy, export and import time of a 1,000,000-entry bundle.
//   GATEHOUSE_BENCH_AUDIT_N=200000 npx tsx bench/audit.ts   (smaller run)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openLocalStore } from '../src-main/adapters/sqlite';
import { chainEntry, GENESIS_HASH } from '../src-main/engine/audit/chain';
import { auditMigrations } from '../src-main/engine/audit/migrations';
import type { StoredEntry } from '../src-main/engine/audit/local-copy';
import { AuditService } from '../src-main/engine/audit/service';
import { fingerprint } from '../src-main/engine/audit/signing';
import { DEFAULT_POLICY, verifyLog } from '../src-main/engine/audit/verify';
import { syntheticAudit } from './synthetic-audit';
import type { PgAdminConfig } from '../src-main/engine/core/cluster-runtime';
import { percentile, report, timeIt, type Row } from './lib';

/** Wall time and this process's CPU time: on a shared machine the CPU time says what the code costs. */
async function timeBoth(fn: () => Promise<unknown> | unknown): Promise<{ wallMs: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const wallMs = await timeIt(fn);
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000 };
}

const N = Number(process.env.GATEHOUSE_BENCH_AUDIT_N ?? 1_000_000);
const rows: Row[] = [];
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-audit-'));
const memSecrets = () => {
  const m = new Map<string, string>();
  return {
    get: async (k: string) => m.get(k) ?? null,
    set: async (k: string, v: string) => void m.set(k, v),
    delete: async (k: string) => void m.delete(k),
  };
};
function service(name: string, pg?: PgAdminConfig): AuditService {
  const { db } = openLocalStore(path.join(root, name), auditMigrations);
  return new AuditService({
    db,
    secrets: memSecrets(),
    consoleVersion: 'bench',
    clusters: pg ? { resolve: async (uid) => (uid === 'prod' ? { pgAdmin: async () => pg } : null) } : null,
  });
}
const SRC = 'cluster:prod';

// deterministic pseudo-random so runs compare (bench/synthetic-audit.ts)
const { rnd, pick, actors, actions, words, t0, record } = syntheticAudit();

// 1. load N chained entries into a local copy (as a sync does: canonical text and hash as the shared log stores them)
const source = service('source');
source.witness.bind('prod', 'bench-log');
let prev = GENESIS_HASH;
let entries: StoredEntry[] = [];
const loadMs = await timeIt(() => {
  for (let i = 1; i <= N; i++) {
    const { entry, canonical } = chainEntry(record(i), i, prev);
    prev = entry.hash;
    entries.push({ seq: i, hash: entry.hash, canonical });
    if (entries.length === 10_000) {
      source.local.insertStored(SRC, entries);
      entries = [];
    }
  }
  if (entries.length) source.local.insertStored(SRC, entries);
});
const analyzeMs = await timeIt(() => source.local.analyze()); // what sync does after a large pull
rows.push({ metric: 'planner statistics (ANALYZE) after the load', value: analyzeMs / 1000, unit: 's' });
rows.push({
  metric: 'local copy load (chain + SQLite + FTS5)',
  value: N / (loadMs / 1000),
  unit: 'ent/s',
  note: `${N} entries in ${(loadMs / 1000).toFixed(1)} s`,
});

// 2. verification rate: the whole walk (rows read from SQLite, SHA-256 over the stored canonical bytes),
// in worker threads as the service walks a long source (bench/audit-verify.ts compares it with the serial walk)
let checked = 0;
const verifyT = await timeBoth(async () => {
  const { report: r } = await verifyLog({
    source: SRC,
    readFrom: 'local',
    batches: source.local.iterateStored(SRC),
    parallel: source.local.parallelPlan(SRC),
    start: { seq: 1, prevHash: GENESIS_HASH },
    origin: 'gatehouse/audit/bench-log',
    checkpoints: [],
    trusted: [],
    policy: { ...DEFAULT_POLICY, maxEntriesWithoutCheckpoint: Infinity, maxCheckpointAgeMs: Infinity },
    timeOf: () => null,
  });
  if (r.state !== 'verified') throw new Error(r.message);
  checked = r.checked;
});
rows.push({
  metric: 'verification rate (local copy)',
  value: checked / (verifyT.wallMs / 1000),
  unit: 'ent/s',
  note: `${checked} entries in ${(verifyT.wallMs / 1000).toFixed(1)} s wall; ${Math.round(checked / (verifyT.cpuMs / 1000))} ent/s of CPU time (every thread); load average ${os.loadavg()[0]!.toFixed(1)}`,
});

// 3. filtered queries and full-text search (first page of 100, as the table asks)
const base = { source: SRC, limit: 100, order: 'newest' as const, withTotal: false };
const filtered: number[] = [];
const fts: number[] = [];
const withTotal: number[] = [];
const withTotalCpu: number[] = [];
for (let i = 0; i < 200; i++) {
  const kind = i % 4;
  const q =
    kind === 0
      ? { actor: pick(actors), outcome: 'failure' as const }
      : kind === 1
        ? { tenant: `tenant-${Math.floor(rnd() * 5000)}` }
        : kind === 2
          ? { action: pick(actions), from: new Date(t0 + rnd() * N * 30_000).toISOString(), to: new Date(t0 + N * 30_000).toISOString() }
          : { actor: pick(actors), action: pick(actions) };
  filtered.push(await timeIt(() => source.query({ ...base, ...q })));
  fts.push(
    await timeIt(() =>
      source.query({
        ...base,
        text: i % 2 ? pick(words) : `${pick(words)} ${pick(words)}`,
        ...(i % 3 === 0 ? { actor: pick(actors) } : {}),
      }),
    ),
  );
  if (i < 40) {
    const t = await timeBoth(() => source.query({ ...base, ...q, withTotal: true }));
    withTotal.push(t.wallMs);
    withTotalCpu.push(t.cpuMs);
  }
}
withTotalCpu.sort((a, b) => a - b);
for (const [name, xs] of [
  ['filtered query (page of 100)', filtered],
  ['full-text search (page of 100)', fts],
  ['filtered query + total count', withTotal],
] as const) {
  xs.sort((a, b) => a - b);
  rows.push({ metric: `${name} p50`, value: percentile(xs, 50), unit: 'ms', note: `${xs.length} queries over ${N}` });
  rows.push({
    metric: `${name} p95`,
    value: percentile(xs, 95),
    unit: 'ms',
    note: xs === withTotal ? `p95 of CPU time ${percentile(withTotalCpu, 95).toFixed(1)} ms` : undefined,
  });
}

// 4. export and import of everything
const bundleDir = path.join(root, 'bundle');
const exportMs = await timeIt(() => source.export(SRC, bundleDir, {}));
const bundleMb = fs.statSync(path.join(bundleDir, 'entries.jsonl')).size / 1e6;
rows.push({ metric: 'export (all entries)', value: exportMs / 1000, unit: 's', note: `${N} entries, ${bundleMb.toFixed(0)} MB JSONL` });
const reviewer = service('reviewer');
const fp = fingerprint((await source.key()).verifier.vkey);
let imported = '';
const main0 = process.threadCpuUsage();
const importT = await timeBoth(async () => {
  imported = `bundle:${(await reviewer.import(bundleDir, fp)).id}`;
});
const importMain = process.threadCpuUsage(main0);
rows.push({
  metric: 'import (verify + store + index)',
  value: importT.wallMs / 1000,
  unit: 's',
  note: `${N} entries, filterable when it returns; ${(importT.cpuMs / 1000).toFixed(1)} s of CPU time, ${((importMain.user + importMain.system) / 1e6).toFixed(1)} s of it on the main thread; load average ${os.loadavg()[0]!.toFixed(1)}`,
});
// the bundle's full-text index is built in the background right after
const ftsT = await timeBoth(async () => {
  while (reviewer.local.fullTextProgress(imported)) await new Promise((r) => setTimeout(r, 20));
});
rows.push({
  metric: 'import: full-text index ready, after the import returned',
  value: ftsT.wallMs / 1000,
  unit: 's',
  note: `${(ftsT.cpuMs / 1000).toFixed(1)} s of CPU time`,
});
await source.close();
await reviewer.close();

// 5. append throughput: the pipeline's synchronous outbox write, and end to end into PostgreSQL
const appender = service('appender');
const M = 20_000;
const outboxMs = await timeIt(async () => {
  for (let i = 0; i < M; i++) await appender.outbox.record(record(i)); // no cluster reachable: they wait
});
rows.push({ metric: 'append: outbox write (what a command waits for)', value: M / (outboxMs / 1000), unit: 'ent/s', note: `${M} records` });
let pgNote = '';
try {
  const { throwawayPostgres } = await import('../test/integration/audit-support');
  const pg = await throwawayPostgres();
  try {
    const e2e = service('e2e', pg.config);
    const e2eMs = await timeIt(async () => {
      for (let i = 0; i < M; i++) await e2e.outbox.record(record(i));
      while (e2e.outbox.pending().count > 0) await new Promise((r) => setTimeout(r, 20));
    });
    rows.push({
      metric: 'append: into PostgreSQL (chained, serialized)',
      value: M / (e2eMs / 1000),
      unit: 'ent/s',
      note: `${M} records, batches of 500`,
    });
    const single: number[] = [];
    for (let i = 0; i < 300; i++) {
      single.push(
        await timeIt(async () => {
          await e2e.outbox.record(record(i));
          await e2e.outbox.flush();
        }),
      );
    }
    single.sort((a, b) => a - b);
    rows.push({
      metric: 'append: one entry to PostgreSQL p50',
      value: percentile(single, 50),
      unit: 'ms',
      note: 'record + flush, one at a time',
    });
    rows.push({ metric: 'append: one entry to PostgreSQL p95', value: percentile(single, 95), unit: 'ms' });
    await e2e.close();
  } finally {
    await pg.cleanup();
  }
} catch (error) {
  pgNote = `PostgreSQL figures skipped: ${(error as Error).message}`;
}
await appender.close();
report('audit', rows);
if (pgNote) console.log(pgNote);
fs.rmSync(root, { recursive: true, force: true });
