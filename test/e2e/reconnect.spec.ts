import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect, test, type WebSocketRoute } from '@playwright/test';
import { kubeJson, kubeRequest, type KubeConn } from '../harness/kubeapi';
import type { HarnessState } from '../harness/state';
import { ensureClusterSelected, openApp } from './fixtures';

/**
 * The WebSocket to the engine drops (the page's side is cut and new connections are
 * refused for a while) and something changes in the cluster meanwhile: the events
 * about it are lost with the socket, so the page must read its data again when the
 * engine answers, and its subscriptions must work on the new socket.
 */
test('after the WebSocket comes back, the open page reloads what changed meanwhile and live updates flow again', async ({ page }) => {
  test.setTimeout(180_000);
  const state = JSON.parse(fs.readFileSync(process.env.GATEHOUSE_E2E_HARNESS!, 'utf8')) as HarnessState;
  const pki = path.join(state.runDir, 'pki');
  const admin: KubeConn = {
    server: state.apiServer.url,
    caFile: state.apiServer.caFile,
    certFile: path.join(pki, 'admin.crt'),
    keyFile: path.join(pki, 'admin.key'),
  };
  const ns = state.platformNamespace;
  const suffix = crypto.randomBytes(3).toString('hex');
  const whileDown = `e2e-gap-${suffix}`;
  const afterBack = `e2e-back-${suffix}`;
  const labels = (name: string) => ({ app: name, 'app.kubernetes.io/managed-by': 'gatehouse-e2e' });
  const deployment = (name: string) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: labels(name) },
    // no replicas: nothing keeps changing it after the controller's first pass
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: labels(name) }, spec: { containers: [{ name: 'web', image: 'registry.example/e2e-gap:1.0.0' }] } },
    },
  });

  let refusing = false;
  const sockets: WebSocketRoute[] = [];
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (refusing) {
      void ws.close({ code: 1011, reason: 'test: engine unreachable' });
      return;
    }
    ws.connectToServer();
    sockets.push(ws);
  });

  await openApp(page, '#/dashboard');
  await ensureClusterSelected(page);
  await expect(page.getByTestId('workload-backend')).toBeVisible({ timeout: 30_000 });
  try {
    // the connection drops, and stays down
    refusing = true;
    for (const ws of sockets.splice(0)) await ws.close({ code: 1011, reason: 'test: connection lost' });
    // the banner (a command in flight at that moment may also fail with a toast saying the same)
    await expect(page.getByText('Lost the connection to the console engine. Reconnecting')).toBeVisible();

    // meanwhile a deployment appears; wait until the cluster is done with it (its events are gone with the socket)
    expect((await kubeRequest(admin, 'POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deployment(whileDown))).status).toBe(201);
    await expect
      .poll(
        async () => {
          const d = await kubeJson<{ metadata: { generation: number }; status?: { observedGeneration?: number } }>(
            admin,
            'GET',
            `/apis/apps/v1/namespaces/${ns}/deployments/${whileDown}`,
          );
          return d.status?.observedGeneration === d.metadata.generation;
        },
        { timeout: 30_000 },
      )
      .toBe(true);
    await expect(page.getByTestId(`workload-${whileDown}`)).toHaveCount(0);

    // the engine answers again: the dashboard reads its data again and shows what it missed
    refusing = false;
    await expect(page.getByText('Lost the connection to the console engine. Reconnecting')).toHaveCount(0, { timeout: 30_000 });
    await expect(page.getByTestId(`workload-${whileDown}`)).toBeVisible({ timeout: 30_000 });

    // and the subscription was replayed on the new socket: a later change arrives live
    expect((await kubeRequest(admin, 'POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deployment(afterBack))).status).toBe(201);
    await expect(page.getByTestId(`workload-${afterBack}`)).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('sb-state')).toHaveText('Online');
  } finally {
    refusing = false;
    for (const name of [whileDown, afterBack])
      await kubeRequest(admin, 'DELETE', `/apis/apps/v1/namespaces/${ns}/deployments/${name}`).catch(() => undefined);
  }
});
