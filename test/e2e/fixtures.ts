import fs from 'node:fs';
import path from 'node:path';
import { expect, type Page } from '@playwright/test';

export const openUrl = () => required('GATEHOUSE_E2E_OPEN_URL');
export const baseUrl = () => required('GATEHOUSE_E2E_URL');

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the e2e suite through playwright.config.ts (its globalSetup starts browser mode).`);
  return v;
}

/** Opens the console the way an operator does: the printed URL with its token. */
export async function openApp(page: Page, hash = '') {
  await page.goto(openUrl());
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
