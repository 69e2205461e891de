import { defineConfig } from '@playwright/test';

/**
 * e2e: the real UI in Debian's Chromium through browser mode, against the real
 * engine and harness; plus the Electron smoke test (skipped, with the reason
 * printed, where the Electron binary is absent).
 */
export default defineConfig({
  outputDir: 'test-results/e2e',
  timeout: 120_000,
  workers: 1,
  reporter: [['list']],
  globalSetup: './test/e2e/global-setup.ts',
  use: {
    screenshot: 'on',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    },
  },
  projects: [
    { name: 'browser-mode', testDir: 'test/e2e' },
    { name: 'electron', testDir: 'test/electron' },
  ],
});
