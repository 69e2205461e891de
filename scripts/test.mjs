#!/usr/bin/env node
// `npm test`: preflight, then every suite in order; stops at the first failing stage and says which.
// Its last line also says whether a cluster harness is still running, and npm test fails if one
// is running that it started (each suite must stop the harness it brings up).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

const stages = [
  ['preflight', 'node scripts/preflight.mjs'],
  ['typecheck', 'npm run --silent typecheck'],
  ['lint', 'npx eslint . && npx prettier --check .'],
  ['unit', 'npx vitest run --project unit'],
  ['keychain (real Secret Service)', 'sh scripts/with-keyring.sh npx vitest run --project keychain'],
  ['integration (real Kubernetes API server + PostgreSQL)', 'npx vitest run --project integration'],
  ['e2e (Playwright in Chromium, browser mode)', 'npm run --silent test:e2e'],
];

/** The run folder `npm run cluster:up` / `cluster:down` use (test/harness/config.ts runDir()). */
const harnessDir = process.env.GATEHOUSE_HARNESS_DIR
  ? resolve(process.env.GATEHOUSE_HARNESS_DIR)
  : join(
      process.env.GATEHOUSE_HARNESS_CACHE ? resolve(process.env.GATEHOUSE_HARNESS_CACHE) : join(homedir(), '.cache', 'gatehouse-harness'),
      'run',
    );

/** A harness whose state file lists at least one live process. */
function harnessRunning() {
  const file = join(harnessDir, 'harness.json');
  if (!existsSync(file)) return false;
  try {
    const state = JSON.parse(readFileSync(file, 'utf8'));
    return Object.values(state.processes ?? {}).some(({ pid }) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

const down = process.env.GATEHOUSE_HARNESS_DIR ? `GATEHOUSE_HARNESS_DIR=${harnessDir} npm run cluster:down` : 'npm run cluster:down';
const runningBefore = harnessRunning();

/** The last line: what is still running, and whether npm test left it behind. */
function finish(summary, code) {
  if (!harnessRunning()) {
    console.log(`\n${summary}; no cluster harness left running.`);
    process.exit(code);
  }
  if (runningBefore) {
    console.log(`\n${summary}; the cluster harness you started in ${harnessDir} is still running (stop it with \`${down}\`).`);
    process.exit(code);
  }
  console.error(
    `\n${summary}, but it left a cluster harness running in ${harnessDir} that was not running when it started: stop it with \`${down}\`.`,
  );
  process.exit(code || 1);
}

const only = process.env.GATEHOUSE_TEST_STAGES?.split(',');
const started = Date.now();
for (const [name, cmd] of stages) {
  if (only && !only.some((o) => name.startsWith(o))) continue;
  console.log(`\n=== ${name}: ${cmd}`);
  const r = spawnSync(cmd, { shell: true, stdio: 'inherit' });
  if (r.status !== 0) finish(`npm test: stage "${name}" failed (exit ${r.status ?? r.signal})`, r.status || 1);
}
finish(`npm test: all stages passed in ${Math.round((Date.now() - started) / 1000)} s`, 0);
