import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { expect, test } from '@playwright/test';
import { shootBothThemes } from './fixtures';
import { startBrowserMode, stopBrowserMode } from './serve';

/** A console in sign-in mode (the default outside tests): fresh data directory, nobody signed in. */
test.describe('sign-in mode', () => {
  let child: ChildProcess;
  let url = '';
  let home = '';
  test.beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-signin-'));
    const harness = JSON.parse(fs.readFileSync(process.env.GATEHOUSE_E2E_HARNESS!, 'utf8')) as { kubeconfigs: { operator: string } };
    ({ child, url } = await startBrowserMode({
      dataDir: path.join(home, 'data'),
      home,
      kubeconfig: harness.kubeconfigs.operator,
      identity: 'sign-in',
      logName: 'e2e-server-signin.log',
    }));
  });
  test.afterAll(async () => {
    if (child) await stopBrowserMode(child);
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  test('first run asks for the first admin, then the console opens; sign out returns to sign-in', async ({ page }) => {
    await page.goto(url);
    await expect(page).toHaveURL(/#\/signin$/);
    const signin = page.getByTestId('signin-page');
    await expect(signin.getByRole('heading', { name: 'Set up Gatehouse' })).toBeVisible();
    // no navigation to pages that would refuse anyway
    await expect(page.getByTestId('nav-dashboard')).toHaveCount(0);
    await shootBothThemes(page, 'signin-first-run');

    const password = 'Correct-Horse-Battery-Staple-9';
    await signin.getByLabel('Username').fill('alice');
    await signin.getByLabel('Password', { exact: true }).fill(password);
    await signin.getByLabel('Repeat password').fill(password);
    await signin.getByRole('button', { name: /create|set up|sign in/i }).click();

    await expect(page.getByTestId('nav-dashboard')).toBeVisible();
    await expect(page.getByTestId('sb-operator')).toContainText('alice');
    await expect(page.getByTestId('sb-operator')).toContainText('admin');

    await page.getByTestId('sign-out').click();
    await expect(page).toHaveURL(/#\/signin$/);
    await expect(signin.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    await signin.getByLabel('Username').fill('alice');
    await signin.getByLabel('Password', { exact: true }).fill(password);
    await signin
      .getByRole('button', { name: /sign in/i })
      .first()
      .click();
    await expect(page.getByTestId('sb-operator')).toContainText('alice');
  });
});
