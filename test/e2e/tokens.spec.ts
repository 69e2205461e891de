import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { configureDatabase, ensureClusterSelected, openApp, shootBothThemes } from './fixtures';

/** Serious or critical axe findings on the screen as it is, in both themes (the a11y spec covers the page too). */
async function axeFindings(page: Page): Promise<string[]> {
  const out: string[] = [];
  for (const theme of ['light', 'dark']) {
    await page.evaluate((t) => (document.documentElement.dataset.theme = t), theme);
    const { violations } = await new AxeBuilder({ page }).analyze();
    for (const v of violations)
      if (v.impact === 'serious' || v.impact === 'critical')
        out.push(`[${theme}] ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }
  return out;
}

/**
 * The API tokens page end to end (browser mode, the harness cluster and its PostgreSQL): create a
 * token with scopes and a limit, see it exactly once, find it in the list, revoke it.
 */
test.describe('API tokens', () => {
  test.use({ viewport: { width: 1280, height: 1100 } });

  test('create a token, see it once, revoke it', async ({ page }) => {
    test.setTimeout(180_000);
    const name = `e2e ${Math.random().toString(36).slice(2, 7)}`;
    await openApp(page);
    await ensureClusterSelected(page);
    await configureDatabase(page);
    await page.evaluate(() => (location.hash = '/tokens'));
    const form = page.getByTestId('token-create');
    await expect(form).toBeVisible({ timeout: 30_000 });

    await form.getByTestId('token-name').fill(name);
    await form.getByTestId('token-days').fill('7');
    await form.getByTestId('token-commands').fill('tenants.*');
    await form.getByTestId('token-tenants').fill('ci-*');
    await form.getByTestId('token-add-limit').click();
    await form.getByTestId('token-submit').click();

    const once = page.getByTestId('token-created');
    await expect(once).toBeVisible();
    const value = await once.getByTestId('token-value').inputValue();
    expect(value).toMatch(/^ghct_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/);
    const row = page.getByTestId(`token-row-${name}`);
    await expect(row).toBeVisible();
    await expect(row.getByTestId('token-status')).toHaveText('active');
    await expect(row).toContainText('tenants: ci-*');
    await expect(row).toContainText('tenants.create on ci-*: 0/3');
    await shootBothThemes(page, 'tokens-created');
    expect(await axeFindings(page)).toEqual([]);

    // shown once: after "Done" (or a reload) the secret is nowhere on the page
    await once.getByTestId('token-dismiss').click();
    await expect(once).toHaveCount(0);
    await page.reload();
    await expect(page.getByTestId(`token-row-${name}`)).toBeVisible({ timeout: 30_000 });
    expect(await page.content()).not.toContain(value);

    await page.getByTestId(`token-row-${name}`).getByTestId('token-revoke').click();
    await expect(page.getByTestId('revoke-dialog')).toBeVisible();
    expect(await axeFindings(page)).toEqual([]);
    await page.getByTestId('revoke-dialog').getByTestId('revoke-confirm').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Token revoked' })).toBeVisible();
    await expect(page.getByTestId(`token-row-${name}`).getByTestId('token-status')).toHaveText('revoked');
    await expect(page.getByTestId(`token-row-${name}`).getByTestId('token-revoke')).toHaveCount(0);

    // the admin's expiry cap is enforced by the engine, not only by the form
    await page.getByTestId('token-max-days').fill('5');
    await page.getByTestId('token-max-save').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Maximum expiry saved' })).toBeVisible();
    await shootBothThemes(page, 'tokens-revoked');
    await page.getByTestId('token-max-days').fill('365');
    await page.getByTestId('token-max-save').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Maximum expiry saved' }).first()).toBeVisible();
  });
});
