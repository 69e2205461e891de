import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { configureDatabase, ensureClusterSelected, openApp } from './fixtures';
import { startBrowserMode, stopBrowserMode } from './serve';

/**
 * Accessibility: dialogs trap focus and give it back, sortable headers work from
 * the keyboard, and axe-core finds nothing serious or critical on any screen,
 * in either theme.
 */

type Theme = 'light' | 'dark';
const THEMES: Theme[] = ['light', 'dark'];

/** Findings we know of and do not fix here, each with its reason. Anything else serious or critical fails the test. */
const KNOWN: { screen: RegExp; rule: string; target: RegExp; why: string }[] = [];

async function setTheme(page: Page, theme: Theme) {
  await page.evaluate((t) => {
    document.documentElement.dataset.theme = t;
    document.documentElement.style.colorScheme = t;
  }, theme);
  await page.evaluate(() => Promise.all(document.getAnimations().map((a) => a.finished)));
}

/** Serious and critical axe-core findings on the current screen in both themes, one line each. */
async function audit(page: Page, screen: string, found: Record<string, string[]>) {
  const original = await page.evaluate(() => document.documentElement.dataset.theme ?? 'light');
  for (const theme of THEMES) {
    await setTheme(page, theme);
    const { violations } = await new AxeBuilder({ page }).analyze();
    const lines: string[] = [];
    for (const v of violations) {
      if (v.impact !== 'serious' && v.impact !== 'critical') continue;
      for (const n of v.nodes) {
        const target = n.target.join(' ');
        const known = KNOWN.find((k) => k.screen.test(screen) && k.rule === v.id && k.target.test(target));
        if (known) {
          test
            .info()
            .annotations.push({ type: 'known a11y finding', description: `${screen} [${theme}]: ${v.id} on ${target} (${known.why})` });
          continue;
        }
        lines.push(`${v.id} (${v.impact}): ${v.help} — ${target} — ${(n.failureSummary ?? '').replace(/\s+/g, ' ')}`);
      }
    }
    if (lines.length) found[`${screen} [${theme}]`] = lines;
  }
  await setTheme(page, original as Theme);
}

async function expectFocusInside(page: Page, container: Locator) {
  expect(await container.evaluate((el) => el.contains(document.activeElement))).toBe(true);
}

const focusedTestId = (page: Page) =>
  page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);

test('dialogs and menus keep focus inside while open and give it back when they close', async ({ page }) => {
  await openApp(page, '#/dashboard');
  await ensureClusterSelected(page);

  // the shortcut help, opened from its button: Tab and Shift+Tab cycle inside
  const help = page.getByTestId('shortcuts-help');
  await page.getByTestId('shortcuts-button').click();
  await expect(help).toBeVisible();
  await expectFocusInside(page, help);
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('Tab');
    await expectFocusInside(page, help);
  }
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('Shift+Tab');
    await expectFocusInside(page, help);
  }
  await page.keyboard.press('Escape');
  await expect(help).toHaveCount(0);
  expect(await focusedTestId(page)).toBe('shortcuts-button');
  // closed with its button, too
  await page.getByTestId('shortcuts-button').click();
  await help.getByRole('button', { name: 'Close' }).click();
  await expect(help).toHaveCount(0);
  expect(await focusedTestId(page)).toBe('shortcuts-button');

  // the cluster menu: Escape gives focus back to its button
  await page.getByTestId('cluster-switcher').click();
  await expect(page.getByRole('listbox', { name: 'Cluster contexts' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('listbox', { name: 'Cluster contexts' })).toHaveCount(0);
  expect(await focusedTestId(page)).toBe('cluster-switcher');

  // the New tenant form: focus starts in it, stays in it, returns to "New tenant" on Cancel
  await configureDatabase(page);
  await page.evaluate(() => (location.hash = '/tenants'));
  await page.getByTestId('new-tenant').click();
  const dialog = page.getByTestId('new-tenant-dialog');
  await expect(dialog).toBeVisible();
  expect(await focusedTestId(page)).toBe('nt-slug');
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Tab');
    await expectFocusInside(page, dialog);
  }
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
  expect(await focusedTestId(page)).toBe('new-tenant');
});

test('sortable column headers are buttons: Enter and Space sort, aria-sort tells the order', async ({ page }) => {
  await openApp(page);
  await ensureClusterSelected(page);
  await configureDatabase(page);
  await page.evaluate(() => (location.hash = '/tenants'));
  const table = page.getByTestId('tenants-table');
  await expect(table).toBeVisible({ timeout: 30_000 });
  const header = (name: RegExp) => table.getByRole('columnheader', { name });
  const ariaSortFor: Record<string, string | null> = {
    'sort ascending': 'ascending',
    'sort descending': 'descending',
    'remove sorting': null,
  };

  /** Focuses the header's button, presses `key`, and checks the order it announced beforehand. */
  const activate = async (name: RegExp, key: string) => {
    const button = header(name).getByRole('button');
    const promised = await button.evaluate((b) => document.getElementById(b.getAttribute('aria-describedby') ?? '')?.textContent ?? '');
    expect(Object.keys(ariaSortFor)).toContain(promised);
    await button.focus();
    await page.keyboard.press(key);
    const expected = ariaSortFor[promised];
    if (expected) await expect(header(name)).toHaveAttribute('aria-sort', expected);
    else await expect(header(name)).not.toHaveAttribute('aria-sort', /./);
  };

  await expect(header(/Tenant/)).toHaveAttribute('aria-sort', 'ascending');
  await activate(/Tenant/, 'Enter');
  await activate(/Tenant/, 'Enter');
  // another column, by Space: it takes over the order
  await activate(/Users/, 'Space');
  await expect(header(/Users/)).toHaveAttribute('aria-sort', /ascending|descending/);
  await expect(header(/Tenant/)).not.toHaveAttribute('aria-sort', /./);
  // reachable with Tab: from the Tenant header, Tab lands on the next header's button
  await header(/Tenant/)
    .getByRole('button')
    .focus();
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.closest('th')?.textContent)).toMatch(/Status/);
});

test('axe-core finds no serious or critical violation on any page, dialog or menu, in both themes', async ({ page }) => {
  test.setTimeout(300_000);
  const found: Record<string, string[]> = {};
  await openApp(page);
  await ensureClusterSelected(page);
  await configureDatabase(page);

  // every page of the navigation
  const ids = await page
    .locator('nav[aria-label="Pages"] a.nav-link')
    .evaluateAll((as) => as.map((a) => a.getAttribute('data-testid')!.slice(4)));
  expect(ids.length).toBeGreaterThanOrEqual(3);
  for (const id of ids) {
    await page.getByTestId(`nav-${id}`).click();
    await expect(page).toHaveURL(new RegExp(`#/${id}$`));
    await expect(page.locator('.content > *').first()).toBeVisible();
    await expect(page.locator('.content .loading')).toHaveCount(0, { timeout: 30_000 });
    await audit(page, id, found);
  }

  // the shell's dialog and menu
  await page.getByTestId('shortcuts-button').click();
  await audit(page, 'shortcuts help', found);
  await page.keyboard.press('Escape');
  await page.getByTestId('cluster-switcher').click();
  await audit(page, 'cluster menu', found);
  await page.keyboard.press('Escape');

  // a tenant, from the New tenant dialog to its deletion: every dialog and tab on the way
  const slug = `a11y-${crypto.randomBytes(3).toString('hex')}`;
  await page.evaluate(() => (location.hash = '/tenants'));
  await page.getByTestId('new-tenant').click();
  const dialog = page.getByTestId('new-tenant-dialog');
  await dialog.getByTestId('nt-slug').fill('Not A Slug');
  await dialog.getByTestId('nt-name').fill('A11y Test');
  await dialog.getByTestId('nt-slug').blur();
  await audit(page, 'new tenant (invalid input)', found);
  await dialog.getByTestId('nt-slug').fill(slug);
  await dialog.getByTestId('create-tenant').click();
  await expect(dialog.getByTestId('initial-password')).toBeVisible({ timeout: 120_000 });
  await audit(page, 'new tenant (created)', found);
  await dialog.getByTestId('new-tenant-close').click();
  await page.getByTestId('tenant-search').fill(slug);
  await page.getByTestId(`tenant-row-${slug}`).click();
  await expect(page.getByTestId('tenant-detail')).toBeVisible();
  for (const tab of await page.getByRole('tab').evaluateAll((ts) => ts.map((t) => t.getAttribute('data-testid')!))) {
    await page.getByTestId(tab).click();
    await expect(page.locator('.content .loading')).toHaveCount(0, { timeout: 30_000 });
    await audit(page, `tenant detail ${tab}`, found);
  }
  await page.getByTestId('tab-danger').click();
  await page.getByTestId('delete-tenant').click();
  await audit(page, 'delete confirmation', found);
  await page.getByTestId('confirm-input').fill(slug);
  await page.getByTestId('confirm-action').click();
  await expect(page.getByTestId('delete-done')).toBeVisible({ timeout: 120_000 });
  await audit(page, 'delete progress', found);

  // the sign-in screen (os-user mode shows who acts)
  await page.evaluate(() => (location.hash = '/signin'));
  await expect(page.locator('.content > *').first()).toBeVisible();
  await expect(page.locator('.content .loading')).toHaveCount(0, { timeout: 30_000 });
  await audit(page, 'signin', found);

  expect(found).toEqual({});
});

test('axe-core finds no serious or critical violation on the sign-in screens of sign-in mode, in both themes', async ({ page }) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-a11y-signin-'));
  const harness = JSON.parse(fs.readFileSync(process.env.GATEHOUSE_E2E_HARNESS!, 'utf8')) as { kubeconfigs: { operator: string } };
  const { child, url } = await startBrowserMode({
    dataDir: path.join(home, 'data'),
    home,
    kubeconfig: harness.kubeconfigs.operator,
    identity: 'sign-in',
    logName: 'e2e-server-a11y-signin.log',
  });
  try {
    const found: Record<string, string[]> = {};
    await page.goto(url);
    await expect(page).toHaveURL(/#\/signin$/);
    const signin = page.getByTestId('signin-page');
    await expect(signin.getByRole('heading', { name: 'Set up Gatehouse' })).toBeVisible();
    await audit(page, 'signin first admin', found);
    // a refused password shows its reasons
    await signin.getByLabel('Username').fill('alice');
    await signin.getByLabel('Password', { exact: true }).fill('short');
    await signin.getByLabel('Repeat password').fill('short');
    await signin.getByRole('button', { name: /create|set up|sign in/i }).click();
    await expect(page.getByTestId('toast-error').or(signin.locator('.field-error, .callout-err')).first()).toBeVisible();
    await audit(page, 'signin first admin (refused)', found);
    expect(found).toEqual({});
  } finally {
    await stopBrowserMode(child);
    fs.rmSync(home, { recursive: true, force: true });
  }
});
