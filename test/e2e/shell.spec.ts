import { expect, test } from '@playwright/test';
import { ensureClusterSelected, openApp, shootBothThemes } from './fixtures';

test.describe('console shell and dashboard', () => {
  test('opens through the token URL and shows the Dashboard with real cluster data', async ({ page }) => {
    await openApp(page);
    await ensureClusterSelected(page);
    await page.getByTestId('nav-dashboard').click();
    await expect(page.getByTestId('dashboard')).toBeVisible();
    // the harness runs three kwok nodes, all Ready
    await expect(page.getByTestId('node-count')).toHaveText('3 / 3', { timeout: 30_000 });
    await expect(page.getByTestId('server-version')).toHaveText(/^v1\.\d+/);
    for (const name of ['backend', 'frontend', 'login-worker-shared']) {
      await expect(page.getByTestId(`workload-${name}`)).toBeVisible();
    }
    await expect(page.getByTestId('workload-backend').getByRole('meter')).toBeVisible();
    await expect(page.getByTestId('sb-state')).toHaveText('Online');
    await expect(page.getByTestId('sb-operator')).not.toHaveText('not signed in');
    await expect(page.getByTestId('dev-badge')).toBeVisible();
    await shootBothThemes(page, 'dashboard');
  });

  test('switches theme, and the choice survives a reload', async ({ page }) => {
    await openApp(page);
    const html = page.locator('html');
    const before = await html.getAttribute('data-theme');
    const after = before === 'dark' ? 'light' : 'dark';
    await page.getByTestId('theme-toggle').click();
    await expect(html).toHaveAttribute('data-theme', after);
    await page.reload();
    await expect(page.getByTestId('app')).toBeVisible();
    await expect(html).toHaveAttribute('data-theme', after);
    // Shift+T toggles back
    await page.locator('body').press('Shift+T');
    await expect(html).toHaveAttribute('data-theme', before ?? 'light');
    await page.waitForTimeout(300); // let the setting land before the next test
  });

  test('navigates by keyboard: g-sequences, Ctrl+digit, arrows in the sidebar, ? for help', async ({ page }) => {
    await openApp(page);
    await ensureClusterSelected(page);
    await page.keyboard.press('g');
    await page.keyboard.press('c');
    await expect(page).toHaveURL(/#\/clusters$/);
    await expect(page.getByTestId('clusters-page')).toBeVisible();
    await page.keyboard.press('g');
    await page.keyboard.press('d');
    await expect(page).toHaveURL(/#\/dashboard$/);
    await page.keyboard.press('Control+2');
    await expect(page).not.toHaveURL(/#\/dashboard$/);
    await page.keyboard.press('Control+1');
    await expect(page).toHaveURL(/#\/dashboard$/);
    // arrows move focus between sidebar entries, Enter follows the link
    await page.getByTestId('nav-dashboard').focus();
    await page.keyboard.press('ArrowDown');
    const focused = await page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
    expect(focused).toMatch(/^nav-/);
    expect(focused).not.toBe('nav-dashboard');
    await page.keyboard.press('Enter');
    await expect(page).toHaveURL(new RegExp(`#/${focused!.slice(4)}$`));
    await page.keyboard.press('?');
    await expect(page.getByTestId('shortcuts-help')).toBeVisible();
    await shootBothThemes(page, 'shortcuts');
    await page.keyboard.press('Escape');
    await expect(page.getByTestId('shortcuts-help')).toHaveCount(0);
  });

  test('the cluster switcher lists the contexts with their state', async ({ page }) => {
    await openApp(page);
    await ensureClusterSelected(page);
    await page.getByTestId('cluster-switcher').click();
    await expect(page.getByRole('option', { selected: true })).toBeVisible();
    await shootBothThemes(page, 'cluster-switcher');
    await page.keyboard.press('Escape');
  });
});

test('every page in the navigation renders, captured in both themes', async ({ page }) => {
  await openApp(page);
  await ensureClusterSelected(page);
  const links = page.locator('nav[aria-label="Pages"] a.nav-link');
  const ids = await links.evaluateAll((as) => as.map((a) => a.getAttribute('data-testid')!.slice(4)));
  expect(ids.length).toBeGreaterThanOrEqual(3);
  for (const id of ids) {
    await page.getByTestId(`nav-${id}`).click();
    await expect(page).toHaveURL(new RegExp(`#/${id}$`));
    await expect(page.locator('.content > *').first()).toBeVisible();
    await expect(page.getByText('This page failed to render')).toHaveCount(0);
    await page.waitForTimeout(300); // let first data arrive before the capture
    await shootBothThemes(page, `page-${id}`);
  }
});
