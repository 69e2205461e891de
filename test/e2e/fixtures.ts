import fs from 'node:fs';
import path from 'node:path';
import { expect, type Page } from '@playwright/test';

/** Where the console lives: origin + the instance's base path, ending with "/" (no token). */
export const baseUrl = () => required('GATEHOUSE_E2E_URL');

/** A fresh single-use sign-in link of the shared server (each link opens one browser context once). */
export async function openUrl(): Promise<string> {
  const r = await fetch(required('GATEHOUSE_E2E_LINKS'));
  if (!r.ok) throw new Error(`no fresh sign-in link from the e2e link broker: ${r.status} ${await r.text()}`);
  return r.text();
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the e2e suite through playwright.config.ts (its globalSetup starts browser mode).`);
  return v;
}

/** Opens the console the way an operator does: the printed URL with its token. */
export async function openApp(page: Page, hash = '') {
  await page.goto(await openUrl());
  await expect(page.getByTestId('app')).toBeVisible();
  if (hash) await page.evaluate((h) => (location.hash = h), hash);
}

const SHOTS = path.resolve('test-results/screenshots');

/** A screenshot of the current screen in both themes, kept under test-results/screenshots/. */
export async function shootBothThemes(page: Page, name: string) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const original = await page.evaluate(() => document.documentElement.dataset.theme ?? 'light');
  for (const theme of ['light', 'dark']) {
    await page.evaluate((t) => {
      document.documentElement.dataset.theme = t;
      document.documentElement.style.colorScheme = t;
    }, theme);
    await page.waitForTimeout(50);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${theme}.png`) });
  }
  await page.evaluate((t) => {
    document.documentElement.dataset.theme = t;
    document.documentElement.style.colorScheme = t;
  }, original);
}

/** The harness kubeconfig has one context; select it through the switcher if nothing is selected yet. */
export async function ensureClusterSelected(page: Page) {
  const name = page.getByTestId('sb-cluster');
  await expect(name).not.toHaveText('', { timeout: 15_000 });
  if ((await name.textContent()) === 'no cluster') {
    await page.getByTestId('cluster-switcher').click();
    await page.getByRole('option').first().click();
  }
  await expect(name).not.toHaveText('no cluster');
}

/** PostgreSQL of the running harness (from its harness.json). */
export function harnessPostgres(): { host: string; port: number; user: string; password: string; database: string } {
  const state = JSON.parse(fs.readFileSync(required('GATEHOUSE_E2E_HARNESS'), 'utf8')) as {
    postgres: { host: string; port: number; user: string; password: string; database: string };
  };
  return state.postgres;
}

/** The tenant saga needs the database admin connection in the cluster profile; set it the way an operator does. */
export async function configureDatabase(page: Page) {
  const pg = harnessPostgres();
  await page.evaluate(() => (location.hash = '/clusters'));
  const form = page.getByTestId('profile-form');
  await expect(form).toBeVisible();
  const enabled = form.getByTestId('db-enabled');
  if (!(await enabled.isChecked())) await enabled.check();
  await form.getByLabel('Host').fill(pg.host);
  await form.getByLabel('Port').fill(String(pg.port));
  await form.getByLabel('User').fill(pg.user);
  await form.getByLabel('Database', { exact: true }).fill(pg.database);
  await form.getByLabel('Password').fill(pg.password);
  // the harness PostgreSQL has no TLS: say so explicitly, as an operator of such a server must
  await form.getByTestId('pf-sslmode').selectOption('disable');
  await form.getByTestId('pf-allow-insecure').check();
  const locked = form.getByTestId('secrets-locked');
  if (await locked.isVisible().catch(() => false)) {
    await form.getByTestId('secrets-passphrase').fill(SECRET_STORE_PASSPHRASE);
    await form.getByTestId('secrets-unlock').click();
    await expect(locked).toHaveCount(0);
  }
  await form.getByTestId('profile-save').click();
  await expect(page.getByTestId('toast-success').filter({ hasText: 'Profile saved' })).toBeVisible();
}

/** Passphrase of the encrypted secret file (no OS keychain in the private HOME of the e2e servers). */
export const SECRET_STORE_PASSPHRASE = 'e2e-secret-store-passphrase';

/** After a restart the encrypted secret file is locked again: unlock it from the cluster profile. */
export async function unlockSecretsIfLocked(page: Page) {
  await page.evaluate(() => (location.hash = '/clusters'));
  const form = page.getByTestId('profile-form');
  await expect(form).toBeVisible();
  await expect(form.getByTestId('password-stored')).toBeVisible();
  const locked = form.getByTestId('secrets-locked');
  if (await locked.isVisible().catch(() => false)) {
    await form.getByTestId('secrets-passphrase').fill(SECRET_STORE_PASSPHRASE);
    await form.getByTestId('secrets-unlock').click();
    await expect(locked).toHaveCount(0);
  }
}

/** Opens the New tenant dialog on the Tenants page and submits slug + name; returns the dialog. */
export async function submitNewTenant(page: Page, slug: string, name: string) {
  await page.evaluate(() => (location.hash = '/tenants'));
  await page.getByTestId('new-tenant').click();
  const dialog = page.getByTestId('new-tenant-dialog');
  await dialog.getByTestId('nt-slug').fill(slug);
  await dialog.getByTestId('nt-name').fill(name);
  await dialog.getByTestId('create-tenant').click();
  return dialog;
}
