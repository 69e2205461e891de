import crypto from 'node:crypto';
import { expect, test } from '@playwright/test';
import pg from 'pg';
import { configureDatabase, ensureClusterSelected, harnessPostgres, openApp, shootBothThemes, submitNewTenant } from './fixtures';

const tag = crypto.randomBytes(3).toString('hex');

test.describe('control-plane entities', () => {
  // The harness may be shared with later specs: a failed run must not leave its definitions for their new tenants.
  test.afterAll(async () => {
    const c = new pg.Client({ ...harnessPostgres(), database: 'gatehouse_control' });
    await c.connect();
    try {
      await c.query(`DELETE FROM entity_roles WHERE name = $1`, [`Auditor ${tag}`]);
      await c.query(`DELETE FROM entity_resource_servers WHERE identifier = $1`, [`https://api-${tag}.e2e.test`]);
    } catch (error) {
      if ((error as { code?: string }).code !== '42P01') throw error; // the tables never got created
    } finally {
      await c.end();
    }
  });

  test('define → a new tenant receives them → edit → plan shows the change → apply → delete, with typed confirmation', async ({ page }) => {
    test.setTimeout(300_000);
    const identifier = `https://api-${tag}.e2e.test`;
    const role = `Auditor ${tag}`;
    const slug = `ent-${tag}`;
    await openApp(page);
    await ensureClusterSelected(page);
    await configureDatabase(page);

    await page.keyboard.press('g');
    await page.keyboard.press('e');
    await expect(page.getByTestId('entities-page')).toBeVisible();

    // a resource server with two scopes; live validation with the contract's own rules
    await page.getByTestId('new-rs').click();
    const rs = page.getByTestId('rs-editor');
    await rs.getByTestId('rs-identifier').fill('has spaces');
    await rs.getByTestId('rs-name').fill(`E2E API ${tag}`);
    await rs.getByTestId('rs-save').click();
    await expect(rs.getByTestId('rs-error')).toContainText('no spaces');
    await rs.getByTestId('rs-identifier').fill(identifier);
    await rs.getByTestId('add-scope').click();
    await rs.getByTestId('scope-value-0').fill('read:reports');
    await rs.getByTestId('add-scope').click();
    await rs.getByTestId('scope-value-1').fill('export:reports');
    await shootBothThemes(page, 'entities-rs-editor');
    await rs.getByTestId('rs-save').click();
    await expect(rs).toHaveCount(0);
    await expect(page.getByTestId(`rs-${identifier}`)).toContainText('export:reports');

    await page.getByTestId('new-role').click();
    const editor = page.getByTestId('role-editor');
    await editor.getByTestId('role-name').fill(role);
    await editor.getByTestId('role-description').fill('Reads reports');
    await editor.getByTestId(`perm-${identifier}-read:reports`).check();
    await editor.getByTestId('role-save').click();
    await expect(editor).toHaveCount(0);
    await expect(page.getByTestId(`role-${role}`)).toContainText('read:reports');

    // a new tenant gets the current definitions in its create saga (its own step)
    const dialog = await submitNewTenant(page, slug, `Entities ${tag}`);
    await expect(dialog.getByTestId('initial-password')).toBeVisible({ timeout: 120_000 });
    await expect(dialog.getByTestId('step-system-entities')).toHaveAttribute('data-status', 'done');
    await dialog.getByTestId('new-tenant-close').click();

    await page.evaluate(() => (location.hash = '/entities'));
    const row = page.getByTestId(`plan-row-${slug}`);
    await expect(row.getByTestId('plan-status')).toHaveText('in sync', { timeout: 60_000 });
    await shootBothThemes(page, 'entities');

    // edit the role: the plan shows exactly that field for the tenant
    await page.getByTestId(`edit-role-${role}`).click();
    await page.getByTestId('role-editor').getByTestId('role-description').fill('Reads and exports reports');
    await page.getByTestId('role-editor').getByTestId(`perm-${identifier}-export:reports`).check();
    await page.getByTestId('role-editor').getByTestId('role-save').click();
    await expect(row.getByTestId('plan-status')).toHaveText('pending', { timeout: 60_000 });
    await row.click();
    const fields = page.getByTestId('plan-field');
    await expect(fields.filter({ hasText: 'description' })).toContainText('Reads reports → Reads and exports reports');
    await expect(fields.filter({ hasText: 'permissions' })).toContainText(`${identifier} export:reports`);
    await expect(page.getByTestId('apply-fleet')).toBeEnabled();
    await shootBothThemes(page, 'entities-plan');

    await page.getByTestId('apply-fleet').click();
    await expect(page.getByTestId('apply-result')).toContainText('0 failed', { timeout: 120_000 });
    await expect(row.getByTestId('plan-status')).toHaveText('in sync', { timeout: 60_000 });
    await shootBothThemes(page, 'entities-applied');

    // deleting a definition needs the typed identifier, then an apply removes it everywhere
    await page.getByTestId(`delete-rs-${identifier}`).click();
    const confirm = page.getByTestId('confirm-dialog');
    await confirm.getByTestId('confirm-input').fill(identifier.slice(0, -1));
    await expect(confirm.getByTestId('confirm-action')).toBeDisabled();
    await confirm.getByTestId('confirm-input').fill(identifier);
    await confirm.getByTestId('confirm-action').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'deleted' })).toBeVisible();
    await expect(page.getByTestId(`rs-${identifier}`)).toHaveCount(0);
    await expect(row.getByTestId('plan-status')).toHaveText('pending', { timeout: 60_000 });
    await page.getByTestId(`delete-role-${role}`).click();
    await page.getByTestId('confirm-dialog').getByTestId('confirm-input').fill(role);
    await page.getByTestId('confirm-dialog').getByTestId('confirm-action').click();
    await expect(page.getByTestId(`role-${role}`)).toHaveCount(0);
    // the plan of the new revision, not the one shown before the delete
    await expect(page.getByTestId('plan-change').filter({ hasText: `delete role ${role}` })).toBeVisible({ timeout: 60_000 });
    await page.getByTestId('apply-fleet').click();
    await expect(page.getByTestId('apply-result')).toContainText('0 failed', { timeout: 120_000 });
    await expect(row.getByTestId('plan-status')).toHaveText('in sync', { timeout: 60_000 });

    // leave the harness as found: delete the tenant
    await page.evaluate((s) => (location.hash = `/tenants/${s}`), slug);
    await page.getByTestId('tab-danger').click();
    await page.getByTestId('delete-tenant').click();
    await page.getByTestId('confirm-dialog').getByTestId('confirm-input').fill(slug);
    await page.getByTestId('confirm-dialog').getByTestId('confirm-action').click();
    await expect(page.getByTestId('delete-progress').getByTestId('delete-done')).toBeVisible({ timeout: 120_000 });
  });
});
