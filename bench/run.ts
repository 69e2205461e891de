// `npm run bench`: runs every bench/*.ts script (except this one and lib.ts) one after another.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;
const only = process.argv.slice(2);
const scripts = fs
  .readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'lib.ts'].includes(f) && (only.length === 0 || only.some((o) => f.startsWith(o))));
let failed = 0;
for (const script of scripts.sort()) {
  console.log(`\n### bench/${script}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, script)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
console.log(`\nbench: ${scripts.length - failed} of ${scripts.length} scripts finished; results in bench/results/`);
process.exit(failed ? 1 : 0);
