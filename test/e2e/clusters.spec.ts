import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { ensureClusterSelected, openApp, shootBothThemes } from './fixtures';

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
    if (await source.count())
      await page
        .getByTestId('sources')
        .getByRole('row', { name: /gatehouse-e2e/ })
        .getByRole('button', { name: 'Remove' })
        .click();
  });
});

test.describe('unreachable clusters', () => {
  test('a context whose server is down puts the console offline; marked expected-offline it is not an error', async ({ page }) => {
    // a kubeconfig of our own whose server is a closed loopback port
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-kc-'));
    const file = path.join(dir, 'vpn.kubeconfig');
    fs.writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: behind-vpn, cluster: {server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]`,
        'users: [{name: nobody, user: {token: not-a-real-token}}]',
        'contexts: [{name: vpn-only, context: {cluster: behind-vpn, user: nobody}}]',
        'current-context: vpn-only',
      ].join('\n'),
    );
    await openApp(page, '#/clusters');
    await ensureClusterSelected(page);
    const previous = (await page.getByTestId('sb-cluster').textContent()) ?? '';
    await page.getByTestId('kubeconfig-path').fill(file);
    await page.getByRole('button', { name: 'Add kubeconfig' }).click();
    const row = page.getByTestId('context-vpn-only');
    await expect(row).toBeVisible();
    await row.getByRole('button', { name: 'Select' }).click();
    await expect(page.getByTestId('sb-cluster')).toHaveText('vpn-only');
    await expect(page.getByTestId('sb-state')).toHaveText('Offline', { timeout: 30_000 });
    await expect(page.getByTestId('offline-banner')).toContainText('offline');
    await shootBothThemes(page, 'cluster-offline');

    // VPN-only: expected offline is shown as such, not as an error
    await row.click();
    await page.getByTestId('profile-form').getByTestId('expected-offline').check();
    await page.getByTestId('profile-save').click();
    await expect(page.getByTestId('sb-state')).toHaveText('Expected offline', { timeout: 30_000 });
    await expect(page.getByTestId('offline-banner')).toContainText('expected offline');

    // back to the harness cluster for the other specs
    await page.getByTestId(`context-${previous}`).getByRole('button', { name: 'Select' }).click();
    await expect(page.getByTestId('sb-state')).toHaveText('Online', { timeout: 30_000 });
    await page
      .getByTestId('sources')
      .getByRole('row', { name: /vpn\.kubeconfig/ })
      .getByRole('button', { name: 'Remove' })
      .click();
    await expect(row).toHaveCount(0);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
