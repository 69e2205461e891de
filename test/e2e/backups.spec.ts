import crypto from 'node:crypto';
import fs from 'node:fs';
import { expect, test } from '@playwright/test';
import { configureDatabase, ensureClusterSelected, openApp, shootBothThemes, submitNewTenant } from './fixtures';

test.describe('backups', () => {
  test('key escrow insisted on → take and verify → restore as a new tenant → delete with a verified final backup', async ({ page }) => {
    test.setTimeout(420_000);
    const slug = `e2eb-${crypto.randomBytes(3).toString('hex')}`;
    const clone = `${slug}-copy`;
    await openApp(page);
    await ensureClusterSelected(page);
    await configureDatabase(page);
    const dialog = await submitNewTenant(page, slug, 'Backup E2E');
    await expect(dialog.getByTestId('initial-password')).toBeVisible({ timeout: 120_000 });
    await dialog.getByTestId('new-tenant-close').click();

    // The cluster page: set up the key unless an earlier run on this harness did.
    await page.evaluate(() => (location.hash = '/backups'));
    await expect(page.getByTestId('backups-page')).toBeVisible();
    const keyState = page.getByTestId('key-state');
    await expect(keyState).toBeVisible({ timeout: 30_000 });
    if ((await keyState.textContent()) === 'none') {
      await shootBothThemes(page, 'backups-not-configured');
      await page.getByTestId('key-create').click();
      await expect(keyState).toHaveText('export and confirm');
    }
    if ((await keyState.textContent()) === 'import needed') {
      // An earlier run on this shared harness created the cluster's key and its console is gone: replace it.
      await page.getByTestId('key-replace').click();
      const confirm = page.getByTestId('confirm-dialog');
      await confirm.getByTestId('confirm-input').fill((await confirm.locator('label code').textContent()) ?? '');
      await confirm.getByTestId('confirm-action').click();
      await expect(keyState).toHaveText('export and confirm');
    }
    if ((await keyState.textContent()) === 'export and confirm') {
      // Not configured yet: the tenant's delete dialog does not offer a final backup as done.
      await page.getByTestId('key-export').click();
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('key-download').click()]);
      const content = fs.readFileSync((await download.path())!, 'utf8');
      expect(content).toMatch(/^AGE-SECRET-KEY-1/m);
      const code = /^# check: (\S+)$/m.exec(content)![1]!;
      await page.getByTestId('escrow-code').fill('WRNG-CODE');
      await page.getByTestId('escrow-confirm').click();
      await expect(page.getByTestId('toast-error')).toContainText('check code');
      await page.getByTestId('escrow-code').fill(code);
      await page.getByTestId('escrow-confirm').click();
      // the right code clears the wrong one's error
      await expect(page.getByTestId('toast-error')).toHaveCount(0);
    }
    await expect(keyState).toHaveText('ready');
    await expect(page.getByTestId('backups-not-configured')).toHaveCount(0);

    // Tenant → Backups: take a backup verified by a restore.
    await page.evaluate((s) => (location.hash = `/tenants/${s}/backups`), slug);
    const section = page.getByTestId('backups-section');
    await expect(section).toBeVisible();
    await expect(section.getByTestId('backups-empty')).toBeVisible();
    await section.getByTestId('backup-take').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Backup taken' })).toBeVisible({ timeout: 120_000 });
    const rows = section.getByTestId('backups-table').locator('tbody tr');
    await expect(rows).toHaveCount(1);
    await expect(rows.first().locator('.badge').first()).toContainText('verified');
    await shootBothThemes(page, 'tenant-backups');

    // Download: browser mode offers the export folders and a file name, never a free path.
    await rows.first().locator('[data-testid^="backup-download-"]').click();
    const dl = page.getByTestId('download-dialog');
    await expect(dl.getByTestId('download-native')).toHaveCount(0); // no native dialog in a browser
    await expect(dl.getByTestId('download-root')).toContainText('exports');
    const archive = `${slug}-e2e.gatehouse-backup.tar`;
    await dl.getByTestId('download-name').fill(archive);
    await shootBothThemes(page, 'backup-download');
    await dl.getByTestId('download-start').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Backup written' })).toBeVisible({ timeout: 60_000 });
    await expect(dl).toHaveCount(0);

    // Restore it as a new tenant; the steps stream and end done.
    await rows.first().getByRole('button', { name: 'Restore…' }).click();
    const restore = page.getByTestId('restore-dialog');
    await restore.getByTestId('restore-slug').fill(clone);
    await shootBothThemes(page, 'backup-restore');
    await restore.getByTestId('restore-start').click();
    await expect(restore.getByTestId('restore-done')).toBeVisible({ timeout: 180_000 });
    for (const step of ['reserve', 'database', 'load', 'schema', 'secret', 'registry'])
      await expect(restore.getByTestId(`step-${step}`)).toHaveAttribute('data-status', 'done');
    await shootBothThemes(page, 'backup-restored');
    await restore.getByTestId('restore-close').click();

    // Delete the original with the final backup offered (configured now).
    await page.evaluate((s) => (location.hash = `/tenants/${s}/danger`), slug);
    await expect(page.getByTestId('final-backup')).toBeEnabled();
    await expect(page.getByTestId('final-backup')).toBeChecked();
    await page.getByTestId('delete-tenant').click();
    await page.getByTestId('confirm-input').fill(slug);
    await page.getByTestId('confirm-action').click();
    const progress = page.getByTestId('delete-progress');
    await expect(progress.getByTestId('delete-done')).toBeVisible({ timeout: 180_000 });
    await expect(progress.getByTestId('step-final-backup')).toHaveAttribute('data-status', 'done');
    await progress.getByTestId('delete-close').click();

    // The cluster page lists the deleted tenant with its final backup, verified.
    await page.evaluate(() => (location.hash = '/backups'));
    await page.getByTestId('backups-filter').fill(slug);
    const row = page.getByTestId(`backups-row-${slug}`);
    await expect(row).toBeVisible();
    await expect(row).toContainText('before-delete');
    await expect(row).toContainText('verified');
    await page.getByTestId('backups-filter').fill('');
    // the downloaded archive is offered for import from the export folder
    await expect(page.getByTestId(`import-${archive}`)).toBeVisible();
    await shootBothThemes(page, 'backups-page');

    // Clean up the restored copy like an operator (no final backup needed).
    await page.evaluate((s) => (location.hash = `/tenants/${s}/danger`), clone);
    await page.getByTestId('final-backup').uncheck();
    await page.getByTestId('delete-tenant').click();
    await page.getByTestId('confirm-input').fill(clone);
    await page.getByTestId('confirm-action').click();
    await expect(page.getByTestId('delete-done')).toBeVisible({ timeout: 120_000 });
    await expect(page.getByTestId('step-final-backup')).toHaveCount(0);
  });
});
