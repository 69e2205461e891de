import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { kubeJson, type KubeConn } from '../harness/kubeapi';
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

test.describe('secret rotation', () => {
  test('Tenant → Secrets: rotate the JWT key with live phases, emergency revoke; bootstrap token shown once; CP token; database password; fleet view', async ({
    page,
  }) => {
    test.setTimeout(300_000);
    const slug = `rot-${crypto.randomBytes(3).toString('hex')}`;
    await openApp(page);
    await ensureClusterSelected(page);
    await configureDatabase(page);
    const dialog = await submitNewTenant(page, slug, 'Rotation Corp');
    await expect(dialog.getByTestId('initial-password')).toBeVisible({ timeout: 120_000 });
    await dialog.getByTestId('new-tenant-close').click();

    // the tenant gets a dedicated workload (kwok rolls its pods on every phase)
    const state = harnessState();
    const admin = adminConn(state);
    const ns = state.platformNamespace;
    const labels = { 'app.kubernetes.io/name': `login-worker-${slug}` };
    await kubeJson(admin, 'POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `login-worker-${slug}`, labels: { ...labels, 'gatehouse.io/tenant': slug } },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'ghcr.io/justiam/login-worker:1.8.2' }] } },
      },
    });
    // short lifetimes so the window is small (an admin sets them on the page in real life)
    await kubeJson(
      admin,
      'PATCH',
      `/api/v1/namespaces/${ns}/secrets/tenant-${slug}`,
      {
        data: {
          TOKEN_POLICY: Buffer.from(
            JSON.stringify({ accessSeconds: 60, refreshSeconds: 0, offlineIdleSeconds: 0, jwksMaxAgeSeconds: 1 }),
          ).toString('base64'),
        },
      },
      'application/merge-patch+json',
    );

    await page.evaluate((s) => (location.hash = `/tenants/${s}/secrets`), slug);
    const tab = page.getByTestId('secrets-tab');
    await expect(tab).toBeVisible();
    await expect(tab.getByTestId('window-total')).toHaveText('2 min');
    const jwt = tab.getByTestId('kind-jwt');
    await expect(jwt.getByTestId('phase-jwt')).toHaveText('stable');
    const oldKid = (await jwt.getByTestId('current-jwt').textContent())!.trim();
    expect(oldKid).toMatch(/^k-\d{8}-[0-9a-f]{8}$/);
    await expect(tab.getByTestId('rollout-state')).toContainText(`login-worker-${slug} 1/1 updated`, { timeout: 30_000 });
    await shootBothThemes(page, 'rotation-secrets');

    await jwt.getByTestId('rotate-jwt').click();
    await expect(jwt.getByTestId('step-list')).toBeVisible();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'JWT signing keys rotated' })).toBeVisible({ timeout: 120_000 });
    for (const step of ['stage', 'roll-staged', 'caches', 'promote', 'roll-promoted', 'window'])
      await expect(jwt.getByTestId(`step-${step}`)).toHaveAttribute('data-status', 'done');
    const newKid = (await jwt.getByTestId('current-jwt').textContent())!.trim();
    expect(newKid).not.toBe(oldKid);
    // the previous key stays for the window: Retire is not offered yet
    await expect(jwt.getByTestId(`entry-${oldKid}`)).toContainText('previous');
    await expect(jwt.getByTestId(`retire-${oldKid}`)).toBeDisabled();
    await shootBothThemes(page, 'rotation-jwt-rotated');

    // emergency revoke: admin, typed kid
    await jwt.getByTestId(`revoke-${oldKid}`).click();
    const confirm = page.getByTestId('confirm-dialog');
    await confirm.getByTestId('confirm-input').fill(oldKid.slice(0, -1));
    await expect(confirm.getByTestId('confirm-action')).toBeDisabled();
    await confirm.getByTestId('confirm-input').fill(oldKid);
    await shootBothThemes(page, 'rotation-revoke-confirm');
    await confirm.getByTestId('confirm-action').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: `${oldKid} revoked` })).toBeVisible({ timeout: 60_000 });
    await expect(jwt.getByTestId(`entry-${oldKid}`)).toContainText('retired (revoked)');

    // database password: a second login takes over
    const db = tab.getByTestId('kind-database');
    await expect(db.getByTestId('current-database')).toContainText(`tenant_${slug.replace(/-/g, '_')}`);
    await db.getByTestId('rotate-database').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Database password rotated' })).toBeVisible({ timeout: 120_000 });
    await expect(db.getByTestId('current-database')).toContainText(`(login tenant_${slug.replace(/-/g, '_')}__a)`);

    // bootstrap token: shown once
    await page.getByTestId('tab-bootstrap').click();
    const boot = page.getByTestId('bootstrap-tab');
    await boot.getByTestId('issue-bootstrap').click();
    await expect(boot.getByTestId('issued-token-value')).toHaveText(/^gbt_[A-Za-z0-9_-]{43}$/, { timeout: 60_000 });
    await expect(boot.getByTestId('bootstrap-state')).toHaveText('active');
    await shootBothThemes(page, 'rotation-bootstrap-issued');
    await page.getByTestId('tab-secrets').click();
    await page.getByTestId('tab-bootstrap').click();
    await expect(page.getByTestId('bootstrap-tab').getByTestId('bootstrap-id')).toHaveText(/^bt-\d{8}-[0-9a-f]{8}$/);
    await expect(page.getByTestId('issued-token')).toHaveCount(0);
    await page.getByTestId('revoke-bootstrap').click();
    await page.getByTestId('confirm-input').fill(slug);
    await page.getByTestId('confirm-action').click();
    await expect(page.getByTestId('bootstrap-state')).toHaveText('none', { timeout: 60_000 });

    // CP token tab rotates the control-plane token only
    await page.getByTestId('tab-cp-token').click();
    const cp = page.getByTestId('kind-cp');
    await expect(page.getByTestId('kind-jwt')).toHaveCount(0);
    const oldCp = (await cp.getByTestId('current-cp').textContent())!.trim();
    await cp.getByTestId('rotate-cp').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Control-plane token rotated' })).toBeVisible({ timeout: 120_000 });
    await expect(cp.getByTestId('current-cp')).not.toHaveText(oldCp);
    await shootBothThemes(page, 'rotation-cp-token');

    // fleet view: this tenant with its ages, the policy, alerts
    await page.keyboard.press('g');
    await page.keyboard.press('s');
    const fleet = page.getByTestId('secrets-page');
    await expect(fleet).toBeVisible();
    await expect(fleet.getByTestId(`age-row-${slug}`)).toBeVisible();
    await expect(fleet.getByTestId('rotation-policy')).toBeVisible();
    await expect(fleet.getByTestId('rotation-alerts')).toBeVisible();
    await shootBothThemes(page, 'rotation-fleet');

    // the dashboard shows credential age
    await page.keyboard.press('g');
    await page.keyboard.press('d');
    await expect(page.getByTestId('key-age-card')).toBeVisible();
    await expect(page.getByTestId('key-age-card')).toContainText(/policy/);

    // clean up like an operator
    await page.evaluate((s) => (location.hash = `/tenants/${s}/danger`), slug);
    await page.getByTestId('delete-tenant').click();
    await page.getByTestId('confirm-input').fill(slug);
    await page.getByTestId('confirm-action').click();
    await expect(page.getByTestId('delete-done')).toBeVisible({ timeout: 120_000 });
  });
});
