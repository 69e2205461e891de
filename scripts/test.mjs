#!/usr/bin/env node
// `npm test`: preflight, then every suite in order; stops at the first failing stage and says which.
import { spawnSync } from 'node:child_process';

const stages = [
  ['preflight', 'node scripts/preflight.mjs'],
  ['typecheck', 'npm run --silent typecheck'],
  ['lint', 'npx eslint .'],
  ['unit', 'npx vitest run --project unit'],
  ['keychain (real Secret Service)', 'sh scripts/with-keyring.sh npx vitest run --project keychain'],
  ['integration (real Kubernetes API server + PostgreSQL)', 'npx vitest run --project integration'],
  ['e2e (Playwright in Chromium, browser mode)', 'npm run --silent test:e2e'],
];

const only = process.env.GATEHOUSE_TEST_STAGES?.split(',');
const started = Date.now();
for (const [name, cmd] of stages) {
  if (only && !only.some((o) => name.startsWith(o))) continue;
  console.log(`\n=== ${name}: ${cmd}`);
  const r = spawnSync(cmd, { shell: true, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`\nnpm test: stage "${name}" failed (exit ${r.status ?? r.signal}).`);
    process.exit(r.status || 1);
  }
}
console.log(`\nnpm test: all stages passed in ${Math.round((Date.now() - started) / 1000)} s`);
