import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { expect, test } from '@playwright/test';
import { configureDatabase, ensureClusterSelected, shootBothThemes, submitNewTenant, unlockSecretsIfLocked } from './fixtures';
import { startBrowserMode, stopBrowserMode } from './serve';

/**
 * The console dies mid-create (the saga's crash hook SIGKILLs the engine after the
 * database and schema steps); after a restart the UI lists the unfinished operation,
 * and rolling it back leaves nothing behind.
 */
test('a create interrupted by a crash is offered for roll back after restart', async ({ page }) => {
  test.setTimeout(240_000);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-crash-'));
  const dataDir = path.join(home, 'data');
  const harness = JSON.parse(fs.readFileSync(process.env.GATEHOUSE_E2E_HARNESS!, 'utf8')) as { kubeconfigs: { operator: string } };
  const slug = `crash-${crypto.randomBytes(3).toString('hex')}`;
  const servers: ChildProcess[] = [];
  const serve = async (crash?: string) => {
    if (crash) process.env.GATEHOUSE_SAGA_CRASH = crash;
    try {
      const s = await startBrowserMode({
        dataDir,
        home,
        kubeconfig: harness.kubeconfigs.operator,
        identity: 'os-user',
        logName: `e2e-server-crash-${servers.length}.log`,
      });
      servers.push(s.child);
      return s;
    } finally {
      delete process.env.GATEHOUSE_SAGA_CRASH;
    }
  };
  try {
    const first = await serve('tenant.create:4:before'); // before admin-user (after system-entities)
    await page.goto(first.url);
    await ensureClusterSelected(page);
    await configureDatabase(page);
    const dialog = await submitNewTenant(page, slug, 'Crash Test Ltd');
    // the engine is gone: the dialog reports it, the shell shows the lost connection
    await expect(dialog.getByTestId('create-failed')).toBeVisible({ timeout: 60_000 });
    await expect(page.getByText('Lost the connection to the console engine').first()).toBeVisible();
    await shootBothThemes(page, 'engine-lost');
    await expect.poll(() => first.child.exitCode ?? first.child.signalCode).toBeTruthy();

    const second = await serve();
    await page.goto(second.url);
    await ensureClusterSelected(page);
    await unlockSecretsIfLocked(page);
    await page.evaluate(() => (location.hash = '/tenants'));
    const unfinished = page.getByTestId('unfinished-operations');
    await expect(unfinished).toContainText(slug, { timeout: 30_000 });
    await expect(unfinished.getByRole('button', { name: 'Resume' })).toBeVisible();
    // each operation says which cluster it belongs to, who started it and when
    await expect(unfinished.getByTestId('operation-cluster').first()).toContainText('on gatehouse@gatehouse-harness');
    await expect(unfinished).toContainText(/started .* by /);
    await shootBothThemes(page, 'unfinished-operations');
    await unfinished
      .getByRole('row', { name: new RegExp(slug) })
      .getByRole('button', { name: 'Roll back' })
      .click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'rolled back' })).toBeVisible({ timeout: 60_000 });
    await expect(page.getByTestId('unfinished-operations')).toHaveCount(0);
    // nothing left: no row, no drift for that slug after a full reconcile
    await page.getByTestId('tenant-search').fill(slug);
    // the shared harness's API server may be restarting under another suite's fault test: retry the reconcile
    await expect(async () => {
      await page.getByRole('button', { name: 'Reconcile' }).click();
      await expect(page.getByTestId(`tenant-row-${slug}`)).toHaveCount(0, { timeout: 3_000 });
    }).toPass({ timeout: 60_000 });
    await expect(page.getByTestId('drift-panel').getByText(slug)).toHaveCount(0);
  } finally {
    for (const s of servers) await stopBrowserMode(s);
    fs.rmSync(home, { recursive: true, force: true });
  }
});
