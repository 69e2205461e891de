import { expect, test } from '@playwright/test';
import { openApp, shootBothThemes } from './fixtures';

test.describe('clusters page', () => {
  test('lists the harness context and checks its permissions in plain words', async ({ page }) => {
    await openApp(page, '#/clusters');
    await expect(page.getByTestId('clusters-page')).toBeVisible();
    const rows = page.getByTestId('contexts-table').locator('tbody tr');
    await expect(rows.first()).toBeVisible();
    const first = rows.first();
    await first.getByRole('button', { name: 'Test' }).click();
    const result = page.getByTestId('test-result');
    await expect(result).toBeVisible({ timeout: 30_000 });
    await expect(result).toContainText(/v1\.\d+/);
    // the least-privilege operator either has everything or sees each missing permission spelled out
    const missing = page.getByTestId('permissions-missing');
    if (await missing.count()) await expect(missing.locator('li').first()).toContainText(/cannot `\w+ [\w./-]+`/);
    else await expect(page.getByTestId('permissions-ok')).toBeVisible();
    await expect(page.getByTestId('profile-form')).toBeVisible();
    await shootBothThemes(page, 'clusters');
  });

  test('an unreadable kubeconfig file is listed with its reason and hides nothing else', async ({ page }) => {
    await openApp(page, '#/clusters');
    await expect(page.getByTestId('contexts-table').locator('tbody tr').first()).toBeVisible();
    const before = await page.getByTestId('contexts-table').locator('tbody tr').count();
    await page.getByTestId('kubeconfig-path').fill('/nonexistent/gatehouse-e2e.kubeconfig');
    await page.getByRole('button', { name: 'Add kubeconfig' }).click();
    // either refused with a toast naming the problem, or listed as a broken source
    const toast = page.getByTestId('toast-error');
    const source = page.getByTestId('sources').getByText('/nonexistent/gatehouse-e2e.kubeconfig');
    await expect(toast.or(source).first()).toBeVisible();
    await expect(page.getByTestId('contexts-table').locator('tbody tr')).toHaveCount(before);
    if (await source.count()) await page.getByTestId('sources').getByRole('row', { name: /gatehouse-e2e/ }).getByRole('button', { name: 'Remove' }).click();
  });
});
