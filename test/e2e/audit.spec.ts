import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { configureDatabase, ensureClusterSelected, openApp, shootBothThemes } from './fixtures';

/**
 * The Audit log page end to end in browser mode: it syncs and verifies by itself when
 * opened, always shows the verification state, the witness and the signers; entries are a
 * real grid driven by the keyboard; bundles go out to and come back from an export root
 * (no path typed, no window.prompt).
 */
test('audit page: state on open, keyboard grid, bundle export and import through the export folder', async ({ page }) => {
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  await openApp(page);
  await ensureClusterSelected(page);
  await configureDatabase(page);
  // two workstation actions (local settings: no cluster), so the workstation log has entries
  await page.getByTestId('theme-toggle').click();
  await page.getByTestId('theme-toggle').click();

  await page.evaluate(() => (location.hash = '/audit'));
  await expect(page.getByTestId('audit-page')).toBeVisible();
  // without pressing Sync or Verify: the cluster's log was synced (witness recorded) and verified
  await expect(page.getByTestId('audit-verify-state')).toHaveText(/^(verified|unverifiable)/, { timeout: 30_000 });
  await expect(page.getByTestId('audit-witness')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('audit-status')).not.toContainText('synced never');
  await expect(page.getByTestId('audit-own-fingerprint')).toHaveText(/^SHA256:/);

  await page.getByTestId('audit-source').selectOption('workstation');
  await expect(page.getByTestId('audit-verify-state')).toHaveText(/^verified/, { timeout: 30_000 });
  const grid = page.getByRole('grid', { name: 'Audit entries' });
  await expect(grid.getByRole('columnheader')).toHaveText(['Seq', 'Time', 'Actor', 'Action', 'Target', 'Outcome']);
  const rows = grid.locator('[role=row][data-row-index]');
  await expect(rows.first().getByRole('gridcell').nth(3)).toHaveText(/\S/);
  expect(await rows.count()).toBeGreaterThanOrEqual(2);

  // keyboard: focus moves row by row, Enter opens the entry
  await rows.first().focus();
  await page.keyboard.press('ArrowDown');
  await expect(page.locator('[role=row][data-row-index="1"]')).toBeFocused();
  const seq = await page.locator('[role=row][data-row-index="1"] [role=gridcell]').first().textContent();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('audit-detail')).toContainText(`Entry ${seq}`);
  await expect(page.getByTestId('audit-detail')).toContainText('hash valid');
  await page.keyboard.press('ArrowUp');
  await expect(page.locator('[role=row][data-row-index="0"]')).toBeFocused();
  await shootBothThemes(page, 'audit');

  // export into the built-in export folder, by name (browser mode has no native dialog)
  const name = `e2e-bundle-${Date.now()}`;
  await page.getByTestId('audit-export').click();
  const exportDialog = page.getByTestId('audit-export-dialog');
  await expect(exportDialog.getByTestId('audit-export-root')).toContainText('exports');
  await exportDialog.getByTestId('audit-export-name').fill(name);
  await exportDialog.getByTestId('audit-export-submit').click();
  await expect(page.getByTestId('toast-success').filter({ hasText: 'Bundle written' })).toBeVisible();
  await expect(exportDialog).toHaveCount(0);

  // and back: the bundle is listed in the export folder; signed by this installation, so trusted
  await page.getByTestId('audit-import').click();
  const importDialog = page.getByTestId('audit-import-dialog');
  await importDialog.getByTestId(`audit-import-${name}`).click();
  await expect(page.getByTestId('toast-success').filter({ hasText: 'Bundle verified and imported' })).toBeVisible();
  await expect(page.getByTestId('audit-source')).toHaveValue(/^bundle:/);
  await expect(page.getByTestId('audit-verify-state')).toHaveText(/^verified/, { timeout: 30_000 });

  // the signers dialog shows this installation's key with its fingerprint
  await page.getByTestId('audit-manage-signers').click();
  await expect(page.getByTestId('audit-signers-dialog')).toContainText('this installation');
  expect(dialogs).toEqual([]);
});

test('audit folders: an admin adds a share and makes it the checkpoint file of the cluster', async ({ page }) => {
  const share = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-share-')));
  await openApp(page);
  await ensureClusterSelected(page);
  await configureDatabase(page);
  await page.evaluate(() => (location.hash = '/audit'));
  await expect(page.getByTestId('audit-witness')).toBeVisible({ timeout: 30_000 });
  await page.getByTestId('audit-folders').click();
  const dialog = page.getByTestId('audit-folders-dialog');
  await expect(dialog).toContainText('(built-in)');
  await dialog.getByTestId('audit-roots').fill(share);
  await dialog.getByTestId('audit-roots-save').click();
  await expect(page.getByTestId('toast-success').filter({ hasText: 'Export folders saved' })).toBeVisible();
  await dialog.getByRole('button', { name: `Use ${share}` }).click();
  await expect(page.getByTestId('toast-success').filter({ hasText: 'Checkpoint file set' })).toBeVisible();
  await expect(dialog.getByTestId('audit-checkpoint-folder')).toContainText(share);
  await page.screenshot({ path: 'test-results/e2e/audit-folders.png' });
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(page.getByTestId('audit-checkpoint-file')).toContainText(`checkpoint file in ${share}`);
  const files = fs.readdirSync(share).filter((f) => f.startsWith('gatehouse-audit-checkpoints-'));
  expect(files).toHaveLength(1);
  // every line is a signed note of this cluster's log
  const lines = fs.readFileSync(path.join(share, files[0]!), 'utf8').trim().split('\n');
  for (const l of lines) expect((JSON.parse(l) as { note: string }).note).toMatch(/^gatehouse\/audit\//);
});
