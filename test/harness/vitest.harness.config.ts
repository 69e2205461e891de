// Stand-alone config to run the harness self-test before/without the repo's
// vitest.config.ts:  npx vitest run --config test/harness/vitest.harness.config.ts
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    name: 'integration',
    // Only the harness self-tests (one cluster, two clusters): other integration files belong to vitest.config.ts.
    include: ['test/integration/harness.test.ts', 'test/integration/harness-two-clusters.test.ts'],
    globalSetup: ['test/integration/global-setup.ts'],
    environment: 'node',
    pool: 'forks',
    // Fault-injection tests stop shared processes: never run files concurrently.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
