import { defineConfig } from 'vitest/config';

/** unit: pure logic, no services. integration: the engine against the real harness (one per run). */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'src-*/**/*.test.ts'],
          environment: 'node',
          // argon2id at 64 MiB is CPU-bound: on a loaded 2-core machine one test may take seconds; never fail on speed
          testTimeout: 60_000,
          // engines built by tests act as the OS user (admin) unless a test asks for sign-in: docs/operators.md
          env: { GATEHOUSE_IDENTITY: 'os-user' },
        },
      },
      {
        // the real OS keychain: run through scripts/with-keyring.sh (private D-Bus + gnome-keyring)
        test: {
          name: 'keychain',
          include: ['test/keychain/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          // engines built by tests act as the OS user (admin) unless a test asks for sign-in: docs/operators.md
          env: { GATEHOUSE_IDENTITY: 'os-user' },
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Files run one after another: fault tests stop the shared API server, and 2 cores gain little from parallel files.
          fileParallelism: false,
        },
      },
    ],
  },
});
