import crypto from 'node:crypto';
import { expect, test } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { kubeRequest, type KubeConn } from '../harness/kubeapi';
import type { HarnessState } from '../harness/state';
import { configureDatabase, ensureClusterSelected, openApp, shootBothThemes, submitNewTenant } from './fixtures';

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

test.describe('tenants', () => {
  test('create → live steps → in the list → detail → delete with typed confirmation', async ({ page }) => {
    test.setTimeout(240_000);
    const slug = `e2e-${crypto.randomBytes(3).toString('hex')}`;
    await openApp(page);
    await ensureClusterSelected(page);
    await configureDatabase(page);

    await page.keyboard.press('g');
    await page.keyboard.press('t');
    await expect(page.getByTestId('tenants-page')).toBeVisible();
    await page.getByTestId('new-tenant').click();
    const dialog = page.getByTestId('new-tenant-dialog');
    // live validation with the contract's own rules, before anything is sent
    await dialog.getByTestId('nt-slug').fill('Bad_Slug');
    await expect(dialog.getByTestId('nt-slug-error')).toContainText('lowercase');
    await dialog.getByTestId('nt-slug').fill('admin');
    await expect(dialog.getByTestId('nt-slug-error')).toContainText('reserved');
    await expect(dialog.getByTestId('create-tenant')).toBeDisabled();
    await dialog.getByTestId('nt-slug').fill(slug);
    await dialog.getByTestId('nt-name').fill('E2E Test Corp');
    await dialog.getByTestId('nt-tier').selectOption('PRO');
    await shootBothThemes(page, 'tenant-new');
    await dialog.getByTestId('create-tenant').click();

    // the step list appears and every step ends done; the password is shown once
    await expect(dialog.getByTestId('step-list')).toBeVisible();
    await expect(dialog.getByTestId('initial-password')).toBeVisible({ timeout: 120_000 });
    for (const step of ['reserve', 'database', 'schema', 'admin-user', 'secret', 'registry']) {
      await expect(dialog.getByTestId(`step-${step}`)).toHaveAttribute('data-status', 'done');
    }
    await expect(dialog.getByTestId('initial-password').locator('code')).toHaveText(/^\S{12,}$/);
    await shootBothThemes(page, 'tenant-created');
    await dialog.getByTestId('new-tenant-close').click();

    await page.getByTestId('tenant-search').fill(slug);
    const row = page.getByTestId(`tenant-row-${slug}`);
    await expect(row).toBeVisible();
    await expect(row).toContainText('PRO');
    await page.getByTestId('tenant-search').fill('');
    await shootBothThemes(page, 'tenants');

    await row.click();
    await expect(page.getByTestId('tenant-detail')).toBeVisible();
    await expect(page.getByTestId('tenant-stats')).toBeVisible();
    await shootBothThemes(page, 'tenant-overview');
    await page.getByTestId('tab-database').click();
    await expect(page.getByTestId('schema-card')).toBeVisible();
    await expect(page.getByText('••••••••').first()).toBeVisible();
    await shootBothThemes(page, 'tenant-database');
    await page.getByTestId('tab-admin').click();
    await page.getByTestId('reveal-password').click();
    await expect(page.getByTestId('revealed-password')).toBeVisible();
    await page.getByTestId('tab-danger').click();
    await shootBothThemes(page, 'tenant-danger');
    // suspend and resume: the status follows the registry
    await page.getByTestId('suspend-toggle').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Tenant suspended' })).toBeVisible({ timeout: 60_000 });
    await expect(page.getByTestId('tenant-detail').locator('h1')).toContainText('suspended');
    await page.getByTestId('suspend-toggle').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Tenant resumed' })).toBeVisible({ timeout: 60_000 });
    await expect(page.getByTestId('tenant-detail').locator('h1')).toContainText('active');

    await page.getByTestId('delete-tenant').click();
    const confirm = page.getByTestId('confirm-dialog');
    await confirm.getByTestId('confirm-input').fill(slug.slice(0, -1));
    await expect(confirm.getByTestId('confirm-action')).toBeDisabled();
    await confirm.getByTestId('confirm-input').fill(slug);
    await shootBothThemes(page, 'tenant-delete-confirm');
    await confirm.getByTestId('confirm-action').click();
    const progress = page.getByTestId('delete-progress');
    await expect(progress.getByTestId('delete-done')).toBeVisible({ timeout: 120_000 });
    await expect(progress.getByTestId('delete-done')).toContainText('found nothing behind');
    await progress.getByTestId('delete-close').click();
    await expect(page.getByTestId('tenants-page')).toBeVisible();
    await page.getByTestId('tenant-search').fill(slug);
    await expect(page.getByTestId(`tenant-row-${slug}`)).toHaveCount(0);
  });

  test('drift is shown and repaired: a tenant whose Secret was deleted behind the console', async ({ page }) => {
    test.setTimeout(240_000);
    const slug = `drift-${crypto.randomBytes(3).toString('hex')}`;
    await openApp(page);
    await ensureClusterSelected(page);
    await configureDatabase(page);
    const dialog = await submitNewTenant(page, slug, 'Drift Test');
    await expect(dialog.getByTestId('initial-password')).toBeVisible({ timeout: 120_000 });
    await dialog.getByTestId('new-tenant-close').click();

    // someone deletes the tenant's Secret with kubectl
    const state = harnessState();
    const admin = adminConn(state);
    const del = await kubeRequest(admin, 'DELETE', `/api/v1/namespaces/${state.platformNamespace}/secrets/tenant-${slug}`);
    expect(del.status).toBe(200);

    const drift = page.getByTestId('drift-panel');
    await expect(async () => {
      await page.getByRole('button', { name: 'Reconcile' }).click();
      await expect(drift.getByRole('row', { name: new RegExp(slug) })).toBeVisible({ timeout: 3_000 });
    }).toPass({ timeout: 60_000 });
    const finding = drift.getByRole('row', { name: new RegExp(slug) });
    await expect(finding).toContainText('registry-without-secret');
    await page.getByTestId('tenant-search').fill(slug);
    await expect(page.getByTestId(`tenant-row-${slug}`).getByTestId('drift-mark')).toBeVisible();
    await shootBothThemes(page, 'tenants-drift');

    await finding.getByRole('button', { name: 'Recreate Secret' }).click();
    const confirm = page.getByTestId('confirm-dialog');
    await confirm.getByTestId('confirm-input').fill(slug);
    await confirm.getByTestId('confirm-action').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Repaired' })).toBeVisible({ timeout: 60_000 });
    await expect(drift.getByRole('row', { name: new RegExp(slug) })).toHaveCount(0, { timeout: 30_000 });
    const secret = await kubeRequest(admin, 'GET', `/api/v1/namespaces/${state.platformNamespace}/secrets/tenant-${slug}`);
    expect(secret.status).toBe(200);

    // clean up through the UI like an operator
    await page.getByTestId(`tenant-row-${slug}`).click();
    await page.getByTestId('tab-danger').click();
    await page.getByTestId('delete-tenant').click();
    await page.getByTestId('confirm-input').fill(slug);
    await page.getByTestId('confirm-action').click();
    await expect(page.getByTestId('delete-done')).toBeVisible({ timeout: 120_000 });
  });
});
