import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { base64url } from 'jose';
import { kubeJson, kubeRequest, type KubeConn } from '../harness/kubeapi';
import type { HarnessState } from '../harness/state';
import { makeLicense, nowS } from '../fixtures/license/helpers';
import { configureDatabase, ensureClusterSelected, openApp, shootBothThemes, submitNewTenant } from './fixtures';

/**
 * The License page end to end: browser mode started with --dev (test/e2e/serve.ts), so licenses
 * signed with the test keys in test/fixtures/license/ are accepted; the least-privilege operator
 * kubeconfig; a real tenant (database included) so usage is counted from its database.
 */

const harnessState = () => JSON.parse(fs.readFileSync(process.env.GATEHOUSE_E2E_HARNESS!, 'utf8')) as HarnessState;
const adminConn = (state: HarnessState): KubeConn => {
  const pki = path.join(state.runDir, 'pki');
  return {
    server: state.apiServer.url,
    caFile: state.apiServer.caFile,
    certFile: path.join(pki, 'admin.crt'),
    keyFile: path.join(pki, 'admin.key'),
  };
};
type Secret = { metadata: { resourceVersion: string }; data?: Record<string, string> };
const decode = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8'));

/** What the platform's backend will read: the tenant Secret and the license Secret, straight from the API server. */
async function readSecret(name: string): Promise<Secret | null> {
  const state = harnessState();
  const r = await kubeRequest(adminConn(state), 'GET', `/api/v1/namespaces/${state.platformNamespace}/secrets/${name}`);
  if (r.status === 404) return null;
  expect(r.status).toBe(200);
  return r.json<Secret>();
}

/** Same payload, signature of the original: a tampered license (e.g. someone raised the limits). */
function tamper(jws: string): string {
  const [h, p, sig] = jws.split('.') as [string, string, string];
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p))) as Record<string, unknown>;
  return `${h}.${base64url.encode(JSON.stringify({ ...claims, limits: { tenants: 9999, users: 999_999 } }))}.${sig}`;
}

async function createTenant(page: Page, slug: string) {
  const dialog = await submitNewTenant(page, slug, 'License E2E');
  await expect(dialog.getByTestId('initial-password')).toBeVisible({ timeout: 120_000 });
  await dialog.getByTestId('new-tenant-close').click();
}

async function deleteTenant(page: Page, slug: string) {
  await page.evaluate(() => (location.hash = '/tenants'));
  await page.getByTestId('tenant-search').fill(slug);
  await page.getByTestId(`tenant-row-${slug}`).click();
  await page.getByTestId('tab-danger').click();
  await page.getByTestId('delete-tenant').click();
  await page.getByTestId('confirm-input').fill(slug);
  await page.getByTestId('confirm-action').click();
  await expect(page.getByTestId('delete-done')).toBeVisible({ timeout: 120_000 });
}

async function openLicensePage(page: Page) {
  await page.evaluate(() => (location.hash = '/license'));
  await expect(page.getByTestId('license-page')).toBeVisible();
  await expect(page.getByTestId('license-state')).toBeVisible({ timeout: 30_000 });
}

/** Another run may have left a license on the shared harness cluster: start from the free tier. */
async function clearIfLicensed(page: Page) {
  const clear = page.getByTestId('license-clear');
  if (!(await clear.isVisible())) return;
  await clear.click();
  const expected = await page.getByTestId('confirm-dialog').locator('label code').textContent();
  await page.getByTestId('confirm-input').fill(expected ?? '');
  await page.getByTestId('confirm-action').click();
  await expect(page.getByTestId('license-state')).toHaveAttribute('data-state', 'none', { timeout: 60_000 });
}

/** The page without the toasts of earlier steps on top of it. */
async function shoot(page: Page, name: string) {
  const dismiss = page.getByRole('button', { name: 'Dismiss', exact: true });
  while ((await dismiss.count()) > 0) await dismiss.first().click();
  await shootBothThemes(page, name);
}

test.describe('license', () => {
  // tall enough that one screenshot shows status, actions and allocations together
  test.use({ viewport: { width: 1280, height: 1400 } });

  test('activate a pasted license, refuse a tampered one, allocate caps, clear with typed confirmation', async ({ page }) => {
    test.setTimeout(300_000);
    const slug = `lic-${crypto.randomBytes(3).toString('hex')}`;
    const customer = `E2E Licensing ${crypto.randomBytes(2).toString('hex')}`;
    const lid = `lic-e2e-${crypto.randomBytes(4).toString('hex')}`;
    // 90 days: "valid" (more than 30 days left) however long the test takes
    const { jws } = await makeLicense({
      lid,
      customer,
      tier: 'PRO',
      limits: { tenants: 10, users: 500 },
      features: ['sso', 'audit-export'],
      exp: nowS() + 90 * 86400,
    });
    // issued an hour earlier, expiring sooner: activating it over the first one is a downgrade
    const olderLid = `${lid}-older`;
    const older = await makeLicense({
      lid: olderLid,
      customer,
      tier: 'PRO',
      limits: { tenants: 10, users: 500 },
      iat: nowS() - 3600,
      nbf: nowS() - 3600,
      exp: nowS() + 60 * 86400,
    });

    await openApp(page);
    await ensureClusterSelected(page);
    await configureDatabase(page);
    await createTenant(page, slug);

    await openLicensePage(page);
    await clearIfLicensed(page);
    // development mode is visible: test keys are accepted only because the server runs with --dev
    await expect(page.getByTestId('license-dev-mode')).toBeVisible();
    await expect(page.getByTestId('license-tier')).toHaveText('FREE');
    await shoot(page, 'license-free');

    await test.step('activate a pasted development license', async () => {
      await page.getByTestId('license-paste').fill(jws);
      await page.getByTestId('license-activate').click();
      await expect(page.getByTestId('toast-success').filter({ hasText: 'License activated' })).toBeVisible({ timeout: 60_000 });
      await expect(page.getByTestId('license-state')).toHaveAttribute('data-state', 'valid');
      await expect(page.getByTestId('license-state')).toHaveText('valid');
      await expect(page.getByTestId('license-tier')).toHaveText('PRO');
      await expect(page.getByTestId('license-users')).toContainText('500');
      await expect(page.getByTestId('license-tenants')).toContainText('of 10');
      // 90 days minus however long the test has run: 89 or 90 whole days
      await expect(page.getByTestId('license-countdown')).toHaveText(/^expires in (89|90) d \d+ h$/);
      await expect(page.getByTestId('license-expiry')).toHaveText(/^(89|90) days$/);
      const status = page.getByTestId('license-status');
      await expect(status).toContainText(customer);
      await expect(status).toContainText(lid);
      await expect(status.getByText('test key')).toBeVisible();
      await expect(page.getByTestId('license-paste')).toHaveValue('');

      const row = page.getByTestId(`alloc-row-${slug}`);
      await expect(row).toBeVisible();
      // usage is counted in the tenant's own database: its first admin user
      await expect(row.getByTestId('alloc-users')).toHaveText(/^[1-9]\d*$/);
      await expect(row.getByTestId('alloc-effective')).toHaveText(/^\d+$/);

      const activation = page.locator('[data-testid="license-history-row"][data-action="activate"]').filter({ hasText: lid });
      await expect(activation).toHaveCount(1);
      await expect(activation).toContainText(customer);

      // the fan-out reached the tenant: its Secret carries the license and its cap
      const tenantSecret = await readSecret(`tenant-${slug}`);
      expect(decode(tenantSecret?.data?.LICENSE_JWS)).toBe(jws);
      expect(Number(decode(tenantSecret?.data?.LICENSE_USER_CAP))).toBeGreaterThan(0);
      await shoot(page, 'license-active');
    });

    await test.step('a tampered license is refused with its reason; nothing changes', async () => {
      const before = await readSecret('gatehouse-license');
      await page.getByTestId('license-paste').fill(tamper(jws));
      await page.getByTestId('license-activate').click();
      const problem = page.getByTestId('license-problem');
      await expect(problem).toBeVisible({ timeout: 30_000 });
      await expect(problem).toContainText('License refused');
      await expect(problem).toContainText('altered after issue, or forged');
      await expect(problem).toContainText('SIGNATURE_INVALID');
      await expect(page.getByTestId('license-state')).toHaveAttribute('data-state', 'valid');
      await expect(page.getByTestId('license-users')).toContainText('500');
      await expect(page.getByTestId('license-status')).toContainText(lid);
      // the pasted text stays so the operator can see what was refused
      await expect(page.getByTestId('license-paste')).not.toHaveValue('');
      const after = await readSecret('gatehouse-license');
      expect(after?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
      await shoot(page, 'license-tampered');
      // the refusal belongs to the text that was sent: editing it dismisses the message
      await page.getByTestId('license-paste').fill('');
      await expect(problem).toHaveCount(0);

      // a file goes as bytes: one that is not even UTF-8 gets its own reason
      await page.getByTestId('license-file').setInputFiles({
        name: 'license.jws',
        mimeType: 'application/octet-stream',
        buffer: Buffer.from([0x65, 0x79, 0x4a, 0xff, 0xfe, 0xc3, 0x28]),
      });
      await expect(problem).toContainText('NOT_UTF8', { timeout: 30_000 });
      await expect(page.getByTestId('license-state')).toHaveAttribute('data-state', 'valid');
      expect((await readSecret('gatehouse-license'))?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
      await problem.getByRole('button', { name: 'Dismiss message' }).click();
      await expect(problem).toHaveCount(0);
    });

    await test.step('set a cap for the tenant; a cap beyond the license is refused', async () => {
      const row = page.getByTestId(`alloc-row-${slug}`);
      await row.getByTestId(`alloc-cap-${slug}`).fill('120');
      await page.getByTestId('allocations-save').click();
      await expect(page.getByTestId('toast-success').filter({ hasText: 'Caps applied' })).toBeVisible({ timeout: 60_000 });
      await expect(row.getByTestId(`alloc-cap-${slug}`)).toHaveValue('120');
      await expect(row.getByTestId('alloc-effective')).toHaveText('120');
      await expect(page.locator('[data-testid="license-history-row"][data-action="allocations"]').first()).toBeVisible();
      const tenantSecret = await readSecret(`tenant-${slug}`);
      expect(decode(tenantSecret?.data?.LICENSE_USER_CAP)).toBe('120');

      const before = await readSecret('gatehouse-license');
      await row.getByTestId(`alloc-cap-${slug}`).fill('501');
      const over = page.getByTestId('allocations-over');
      await expect(over).toBeVisible();
      await expect(over).toContainText('the license allows 500');
      await expect(page.getByTestId('allocations-save')).toBeDisabled();
      await expect(row.getByTestId(`alloc-cap-${slug}`)).toHaveAttribute('aria-invalid', 'true');
      await shoot(page, 'license-allocation-over');
      // nothing was sent: the saved cap and the cluster are as they were
      await page.getByRole('button', { name: 'Reset' }).click();
      await expect(row.getByTestId(`alloc-cap-${slug}`)).toHaveValue('120');
      expect((await readSecret('gatehouse-license'))?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
    });

    await test.step("a downgrade asks for the older license's id to be typed; nothing changes until it is", async () => {
      const before = await readSecret('gatehouse-license');
      await page.getByTestId('license-paste').fill(older.jws);
      await page.getByTestId('license-activate').click();
      const confirm = page.getByTestId('confirm-dialog');
      await expect(confirm).toBeVisible({ timeout: 30_000 });
      await expect(confirm).toContainText('Downgrade the license');
      await expect(confirm.getByTestId('replace-message')).toContainText('downgrade');
      await expect(confirm.locator('label code')).toHaveText(olderLid);
      await expect(page.getByTestId('license-problem')).toHaveCount(0);
      expect((await readSecret('gatehouse-license'))?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
      // the active license's id does not arm it
      await confirm.getByTestId('confirm-input').fill(lid);
      await expect(confirm.getByTestId('confirm-action')).toBeDisabled();
      await confirm.getByTestId('confirm-input').fill(olderLid);
      await shoot(page, 'license-downgrade-confirm');
      await confirm.getByTestId('confirm-action').click();
      await expect(confirm).toHaveCount(0, { timeout: 60_000 });
      await expect(page.getByTestId('license-status')).toContainText(olderLid);
      await expect(page.getByTestId('license-paste')).toHaveValue('');
      await expect(page.locator('[data-testid="license-history-row"][data-action="activate"]').filter({ hasText: olderLid })).toContainText(
        'confirmed downgrade',
      );
      const tenantSecret = await readSecret(`tenant-${slug}`);
      expect(decode(tenantSecret?.data?.LICENSE_JWS)).toBe(older.jws);
    });

    await test.step('clear the license with the typed customer name: free tier', async () => {
      await page.getByTestId('license-clear').click();
      const confirm = page.getByTestId('confirm-dialog');
      await expect(confirm).toContainText(customer);
      await confirm.getByTestId('confirm-input').fill(customer.slice(0, -1));
      await expect(confirm.getByTestId('confirm-action')).toBeDisabled();
      await confirm.getByTestId('confirm-input').fill(customer);
      await shoot(page, 'license-clear-confirm');
      await confirm.getByTestId('confirm-action').click();
      await expect(page.getByTestId('toast-success').filter({ hasText: 'License cleared' })).toBeVisible({ timeout: 60_000 });
      await expect(page.getByTestId('confirm-dialog')).toHaveCount(0);
      await expect(page.getByTestId('license-state')).toHaveAttribute('data-state', 'none');
      await expect(page.getByTestId('license-state')).toHaveText('no license');
      await expect(page.getByTestId('license-tier')).toHaveText('FREE');
      await expect(page.getByTestId('license-users')).toContainText('50 per tenant');
      await expect(page.getByTestId('license-clear')).toHaveCount(0);
      await expect(page.getByTestId('license-history-row').first()).toHaveAttribute('data-action', 'clear');
      const tenantSecret = await readSecret(`tenant-${slug}`);
      expect(tenantSecret?.data?.LICENSE_JWS).toBeUndefined();
      expect(decode(tenantSecret?.data?.LICENSE_USER_CAP)).toBe('50');
      await shoot(page, 'license-cleared');
    });

    await deleteTenant(page, slug);
    // the license Secret itself stays (history); its data says "no license"
    const licenseSecret = await kubeJson<Secret>(
      adminConn(harnessState()),
      'GET',
      `/api/v1/namespaces/${harnessState().platformNamespace}/secrets/gatehouse-license`,
    );
    expect(licenseSecret.data?.LICENSE_JWS).toBeUndefined();
  });
});
