import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { expect, test } from '@playwright/test';
import { shootBothThemes } from './fixtures';
import { startBrowserMode, stopBrowserMode } from './serve';

/** A corrupt cache never stops the console: it is moved aside, rebuilt, and the operator is told. */
test('a corrupt cache file is rebuilt and the startup warning is shown in a banner', async ({ page }) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-startup-'));
  const dataDir = path.join(home, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'cache.sqlite'), 'this is not a SQLite database '.repeat(200));
  const harness = JSON.parse(fs.readFileSync(process.env.GATEHOUSE_E2E_HARNESS!, 'utf8')) as { kubeconfigs: { operator: string } };
  let child: ChildProcess | undefined;
  try {
    const s = await startBrowserMode({
      dataDir,
      home,
      kubeconfig: harness.kubeconfigs.operator,
      identity: 'os-user',
      logName: 'e2e-server-startup.log',
    });
    child = s.child;
    await page.goto(s.url);
    const banner = page.getByTestId('startup-warnings');
    await expect(banner).toBeVisible();
    await expect(banner).toContainText(/cache/i);
    await shootBothThemes(page, 'startup-warning');
    await banner.getByRole('button', { name: 'Dismiss' }).click();
    await expect(banner).toHaveCount(0);
  } finally {
    if (child) await stopBrowserMode(child);
    fs.rmSync(home, { recursive: true, force: true });
  }
});
