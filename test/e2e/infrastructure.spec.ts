import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { kubeJson, type KubeConn } from '../harness/kubeapi';
import type { HarnessState } from '../harness/state';
import { configureDatabase, ensureClusterSelected, openApp, shootBothThemes } from './fixtures';

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
/** Pods made directly on the kwok nodes (no controller): the page at scale, cheaply. Removed afterwards. */
const SCALE_PODS = Number(process.env.GATEHOUSE_E2E_INFRA_PODS ?? 1000);
const SCALE_LABEL = 'gatehouse.test/infra-scale';

async function createScalePods(conn: KubeConn, ns: string, n: number, run: string) {
  const nodes = ['kwok-node-0', 'kwok-node-1', 'kwok-node-2'];
  const one = (i: number) => {
    const slug = `scale${run}${String(Math.floor(i / 2)).padStart(5, '0')}`;
    return kubeJson(conn, 'POST', `/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `login-worker-${slug}-${i % 2}`,
        labels: {
          'app.kubernetes.io/name': `login-worker-${slug}`,
          'app.kubernetes.io/component': 'login-worker',
          'app.kubernetes.io/part-of': 'justiam',
          'gatehouse.io/tenant': slug,
          [SCALE_LABEL]: 'true',
        },
      },
      spec: { nodeName: nodes[i % 3], containers: [{ name: 'login-worker', image: 'ghcr.io/justiam/login-worker:1.8.2' }] },
    });
  };
  for (let i = 0; i < n; i += 25) await Promise.all(Array.from({ length: Math.min(25, n - i) }, (_, k) => one(i + k)));
}

async function podsReady(page: import('@playwright/test').Page): Promise<{ ready: number; total: number }> {
  const text = (await page.getByTestId('pods-ready').textContent()) ?? '';
  const [ready, total] = text.split('/').map((x) => Number(x.replace(/[^0-9]/g, '')));
  return { ready: ready ?? 0, total: total ?? 0 };
}

test.describe('infrastructure', () => {
  test('live workloads and pods of the platform with health, filters, and the database status', async ({ page }) => {
    await openApp(page);
    await ensureClusterSelected(page);
    await configureDatabase(page);
    await page.keyboard.press('g');
    await page.keyboard.press('n');
    await expect(page.getByTestId('infrastructure-page')).toBeVisible();
    const workloads = page.getByTestId('infra-workloads');
    for (const name of ['backend', 'frontend', 'login-worker-shared', 'agent-pool-default']) {
      await expect(workloads.locator('tr', { hasText: name }).first()).toContainText('Healthy');
    }
    await expect(page.getByTestId('infra-live')).toContainText('lists');
    await shootBothThemes(page, 'infrastructure-workloads');

    await page.getByTestId('infra-tab-pods').click();
    await expect(page.getByTestId('infra-pods').locator('tbody tr', { hasText: 'backend-' }).first()).toContainText('ready');
    await page.getByTestId('infra-filter').fill('agent-pool-default');
    await expect(page.getByTestId('infra-count')).toContainText(/^2 of/);
    await page.getByTestId('infra-filter').fill('');
    await shootBothThemes(page, 'infrastructure-pods');

    await page.getByTestId('infra-tab-database').click();
    await expect(page.getByTestId('infra-database')).toContainText('Connections');
    await expect(page.getByTestId('infra-database')).toContainText(/^.*Version\s*1[5-9]/);
    await shootBothThemes(page, 'infrastructure-database');

    await page.getByTestId('infra-tab-pools').click();
    await expect(page.getByTestId('pool-default')).toBeVisible();
    await shootBothThemes(page, 'infrastructure-pools');
    await page.getByTestId('infra-tab-upgrades').click();
    await expect(page.getByTestId('upgrades-panel')).toBeVisible();
    await shootBothThemes(page, 'infrastructure-upgrades');
  });

  test('a tenant switched to a dedicated login worker gets it rolled out, seen live on the Infrastructure page, and removed when switched back', async ({
    page,
  }) => {
    test.setTimeout(240_000);
    const slug = `e2e-${crypto.randomBytes(3).toString('hex')}`;
    await openApp(page);
    await ensureClusterSelected(page);
    await configureDatabase(page);
    await page.evaluate(() => (location.hash = '/tenants'));
    await page.getByTestId('new-tenant').click();
    const dialog = page.getByTestId('new-tenant-dialog');
    await dialog.getByTestId('nt-slug').fill(slug);
    await dialog.getByTestId('nt-name').fill('Dedicated Corp');
    await dialog.getByTestId('nt-tier').selectOption('PRO');
    await dialog.getByTestId('create-tenant').click();
    await expect(dialog.getByTestId('initial-password')).toBeVisible({ timeout: 120_000 });
    await dialog.getByTestId('new-tenant-close').click();

    await page.evaluate((s) => (location.hash = `/tenants/${s}/workers`), slug);
    const form = page.getByTestId('worker-config');
    await expect(form).toBeVisible();
    await form.getByTestId('login-mode').selectOption('dedicated');
    await form.getByTestId('worker-save').click();
    await expect(form.getByTestId('rollout-status')).toContainText('rolled out', { timeout: 60_000 });
    await expect(form.getByTestId('step-list')).toBeVisible();
    await expect(page.getByTestId('tenant-workloads')).toContainText(`login-worker-${slug}`, { timeout: 20_000 });
    await shootBothThemes(page, 'tenant-workers-dedicated');

    await page.evaluate(() => (location.hash = '/infrastructure/workloads'));
    await page.getByTestId('infra-filter').fill(slug);
    await expect(page.getByTestId('infra-workloads').locator('tr', { hasText: `login-worker-${slug}` })).toContainText('Healthy');

    await page.evaluate((s) => (location.hash = `/tenants/${s}/workers`), slug);
    await page.getByTestId('worker-config').getByTestId('login-mode').selectOption('inline');
    await page.getByTestId('worker-config').getByTestId('worker-save').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Worker configuration saved' }).last()).toBeVisible({
      timeout: 60_000,
    });
    await expect(page.getByTestId('tenant-workloads')).toContainText('No dedicated workload', { timeout: 20_000 });
  });

  test(`stays usable with ${SCALE_PODS.toLocaleString('en-US')} extra pods (virtualized, batched)`, async ({ page }) => {
    test.setTimeout(300_000);
    const state = harnessState();
    const conn = adminConn(state);
    const ns = state.platformNamespace;
    const run = crypto.randomBytes(2).toString('hex');
    await createScalePods(conn, ns, SCALE_PODS, run);
    try {
      await openApp(page);
      await ensureClusterSelected(page);
      await page.evaluate(() => (location.hash = '/infrastructure/pods'));
      // Every pod of the platform plus the extra ones, all ready (kwok), counted live as they come.
      await expect.poll(async () => podsReady(page), { timeout: 120_000, intervals: [500] }).toMatchObject({ ready: expect.any(Number) });
      await expect
        .poll(
          async () => {
            const c = await podsReady(page);
            return c.total >= SCALE_PODS + 7 && c.ready === c.total;
          },
          { timeout: 120_000, intervals: [500] },
        )
        .toBe(true);
      // Only the rows on screen are in the DOM.
      expect(await page.getByTestId('infra-pods').locator('tbody tr').count()).toBeLessThan(120);
      await page.getByTestId('infra-filter').fill(`scale${run}00042`);
      await expect(page.getByTestId('infra-count')).toContainText(/^2 of/);
      await page.getByTestId('infra-filter').fill('');
      await shootBothThemes(page, 'infrastructure-scale');
    } finally {
      await kubeJson(conn, 'DELETE', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`${SCALE_LABEL}=true`)}`).catch(
        () => undefined,
      );
    }
  });
});
