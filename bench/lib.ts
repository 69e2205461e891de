import fs from 'node:fs';
import path from 'node:path';

export interface Row {
  metric: string;
  value: number;
  unit: string;
  note?: string;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export async function timeIt(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Prints a table and writes bench/results/<name>.json. Benchmarks are figures, never tests. */
export function report(name: string, rows: Row[]): void {
  const width = Math.max(...rows.map((r) => r.metric.length), 6);
  console.log(`\n${name}`);
  console.log(`${'metric'.padEnd(width)}  ${'value'.padStart(12)}  unit    note`);
  for (const r of rows) {
    console.log(
      `${r.metric.padEnd(width)}  ${(Number.isFinite(r.value) ? r.value.toFixed(r.value < 10 ? 3 : 1) : 'n/a').padStart(12)}  ${r.unit.padEnd(6)}  ${r.note ?? ''}`,
    );
  }
  const dir = path.resolve(import.meta.dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, `${name}.json`),
    JSON.stringify({ name, at: new Date().toISOString(), node: process.version, rows }, null, 2),
  );
}
