// Import of an audit bundle alone (the slow part of bench/audit.ts), to iterate on it: writes a
// chained bundle of N synthetic entries (kept for the next run in $GATEHOUSE_BENCH_AUDIT_BUNDLES
// when that is set), imports it into a fresh review copy, prints wall time, CPU time of the
// process and of the main thread (the import's reader is a worker thread), and the load average.
//   GATEHOUSE_BENCH_AUDIT_N=200000 GATEHOUSE_BENCH_AUDIT_BUNDLES=/tmp npx tsx bench/audit-import.ts
// GATEHOUSE_BENCH_IMPORT_PARSE=1 also times verifyBundle alone (read, hash, parse, checks; nothing stored).
// Prints only: bench/results/audit.json comes from bench/audit.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openLocalStore } from '../src-main/adapters/sqlite';
import { chainEntry, GENESIS_HASH } from '../src-main/engine/audit/chain';
import { writeBundle, verifyBundle } from '../src-main/engine/audit/bundle';
import { auditMigrations } from '../src-main/engine/audit/migrations';
import type { StoredRow } from '../src-main/engine/audit/local-copy';
import { AuditService } from '../src-main/engine/audit/service';
import { parseVkey } from '../src-main/engine/audit/signing';
import { syntheticAudit } from './synthetic-audit';

const N = Number(process.env.GATEHOUSE_BENCH_AUDIT_N ?? 1_000_000);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-import-'));
const bundles = process.env.GATEHOUSE_BENCH_AUDIT_BUNDLES ?? root;
const memSecrets = () => {
  const m = new Map<string, string>();
  return {
    get: async (k: string) => m.get(k) ?? null,
    set: async (k: string, v: string) => void m.set(k, v),
    delete: async (k: string) => void m.delete(k),
  };
};
function service(name: string): AuditService {
  const { db } = openLocalStore(path.join(root, name), auditMigrations);
  return new AuditService({ db, secrets: memSecrets(), consoleVersion: 'bench', clusters: null });
}

// deterministic synthetic entries (bench/synthetic-audit.ts; the short vocabulary this bench was first measured with)
const { record } = syntheticAudit({ actions: 6, words: 10 });

const dir = path.join(bundles, `gatehouse-bench-bundle-${N}`);
if (!fs.existsSync(path.join(dir, 'manifest.json'))) {
  fs.rmSync(dir, { recursive: true, force: true });
  const exporter = service('exporter');
  function* batches(): Generator<StoredRow[]> {
    let prev = GENESIS_HASH;
    const batch: StoredRow[] = [];
    for (let i = 1; i <= N; i++) {
      const { entry, canonical } = chainEntry(record(i), i, prev);
      prev = entry.hash;
      batch.push([i, entry.hash, canonical]);
      if (batch.length === 10_000) yield batch.splice(0);
    }
    if (batch.length) yield batch;
  }
  const key = await exporter.key();
  await writeBundle(
    dir,
    { batches: batches(), origin: 'gatehouse/audit/bench-log', checkpoints: [], witness: null, requested: {}, consoleVersion: 'bench' },
    key,
  );
  await exporter.close();
  console.log(`bundle of ${N} entries written to ${dir}`);
}
const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { signer: { vkey: string; fingerprint: string } };

async function timed(name: string, fn: () => Promise<unknown> | unknown): Promise<void> {
  const c0 = process.cpuUsage();
  const m0 = process.threadCpuUsage();
  const w0 = process.hrtime.bigint();
  await fn();
  const wall = Number(process.hrtime.bigint() - w0) / 1e9;
  const c = process.cpuUsage(c0);
  const m = process.threadCpuUsage(m0);
  console.log(
    `${name.padEnd(44)} ${wall.toFixed(2).padStart(7)} s wall  ${((c.user + c.system) / 1e6).toFixed(2).padStart(7)} s CPU (user ${(c.user / 1e6).toFixed(2)}, sys ${(c.system / 1e6).toFixed(2)}; main thread ${((m.user + m.system) / 1e6).toFixed(2)})`,
  );
}

console.log(
  `N=${N}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
if (process.env.GATEHOUSE_BENCH_IMPORT_PARSE) {
  await timed('read + hash + parse only (verifyBundle, no store)', () => verifyBundle(dir, [parseVkey(manifest.signer.vkey)], undefined));
}
const reviewer = service('reviewer');
let id = '';
await timed('import (verify + store + index)', async () => {
  id = `bundle:${(await reviewer.import(dir, manifest.signer.fingerprint)).id}`;
});
await timed('full-text index, after the import returned', async () => {
  while (reviewer.local.fullTextProgress(id)) await new Promise((r) => setTimeout(r, 20));
});
console.log(
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
await reviewer.close();
fs.rmSync(root, { recursive: true, force: true });
