import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { kubeRequest, type KubeConn } from '../harness/kubeapi';
import type { HarnessState } from '../harness/state';
import { ensureClusterSelected, openApp } from './fixtures';

/** The dashboard follows the cluster through WATCH: a deployment appears and disappears without a reload. */
test('the dashboard shows a new deployment live, then drops it when deleted', async ({ page }) => {
  const state = JSON.parse(fs.readFileSync(process.env.GATEHOUSE_E2E_HARNESS!, 'utf8')) as HarnessState;
  const pki = path.join(state.runDir, 'pki');
  const admin: KubeConn = {
    server: state.apiServer.url,
    caFile: state.apiServer.caFile,
    certFile: path.join(pki, 'admin.crt'),
    keyFile: path.join(pki, 'admin.key'),
  };
  const ns = state.platformNamespace;
  const name = `e2e-live-${crypto.randomBytes(3).toString('hex')}`;
  const labels = { app: name, 'app.kubernetes.io/managed-by': 'gatehouse-e2e' };

  await openApp(page, '#/dashboard');
  await ensureClusterSelected(page);
  await expect(page.getByTestId('workload-backend')).toBeVisible({ timeout: 30_000 });
  try {
    const created = await kubeRequest(admin, 'POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels }, spec: { containers: [{ name: 'web', image: 'registry.example/e2e-live:2.0.1' }] } },
      },
    });
    expect(created.status).toBe(201);
    const row = page.getByTestId(`workload-${name}`);
    await expect(row).toBeVisible({ timeout: 30_000 });
    await expect(row).toContainText('e2e-live:2.0.1');
  } finally {
    await kubeRequest(admin, 'DELETE', `/apis/apps/v1/namespaces/${ns}/deployments/${name}`).catch(() => undefined);
  }
  await expect(page.getByTestId(`workload-${name}`)).toHaveCount(0, { timeout: 30_000 });
});
