import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import YAML from 'yaml';
import type { HarnessState } from '../harness/state';
import { ensureClusterSelected, openApp, shootBothThemes } from './fixtures';

/**
 * A cluster that goes away: the harness API server is shared with other suites, so
 * this test reaches it through a TCP relay of its own and cuts the relay instead.
 */
test('when the cluster stops answering, the dashboard shows the cached copy with its time, read-only', async ({ page }) => {
  const state = JSON.parse(fs.readFileSync(process.env.GATEHOUSE_E2E_HARNESS!, 'utf8')) as HarnessState;
  const upstream = new URL(state.apiServer.url);
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const server = net.connect(Number(upstream.port), upstream.hostname);
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(server).pipe(client);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
  const relayPort = (relay.address() as net.AddressInfo).port;

  const kc = YAML.parse(fs.readFileSync(state.kubeconfigs.operator, 'utf8')) as {
    clusters: { cluster: { server: string } }[];
    contexts: { name: string }[];
    'current-context': string;
  };
  for (const c of kc.clusters) c.cluster.server = `https://127.0.0.1:${relayPort}`;
  for (const c of kc.contexts) c.name = 'via-relay';
  kc['current-context'] = 'via-relay';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-relay-'));
  const file = path.join(dir, 'relay.kubeconfig');
  fs.writeFileSync(file, YAML.stringify(kc));

  await openApp(page, '#/clusters');
  await ensureClusterSelected(page);
  const previous = (await page.getByTestId('sb-cluster').textContent()) ?? '';
  try {
    await page.getByTestId('kubeconfig-path').fill(file);
    await page.getByRole('button', { name: 'Add kubeconfig' }).click();
    await page.getByTestId('context-via-relay').getByRole('button', { name: 'Select' }).click();
    await expect(page.getByTestId('sb-state')).toHaveText('Online', { timeout: 30_000 });
    await page.evaluate(() => (location.hash = '/dashboard'));
    await expect(page.getByTestId('node-count')).toHaveText('3 / 3', { timeout: 30_000 });

    // cut the cluster off
    await new Promise<void>((r) => {
      relay.close(() => r());
      for (const s of sockets) s.destroy();
    });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(page.getByTestId('dashboard-offline')).toBeVisible({ timeout: 60_000 });
    await expect(page.getByTestId('dashboard-offline')).toContainText('cached');
    await expect(page.getByTestId('node-count')).toHaveText('3 / 3');
    await expect(page.getByTestId('workload-backend')).toBeVisible();
    await expect(page.getByTestId('sb-state')).toHaveText('Offline', { timeout: 60_000 });
    await expect(page.getByTestId('offline-banner')).toContainText('read-only');
    await shootBothThemes(page, 'dashboard-offline');
  } finally {
    relay.close();
    for (const s of sockets) s.destroy();
    await page.evaluate(() => (location.hash = '/clusters'));
    await page.getByTestId(`context-${previous}`).getByRole('button', { name: 'Select' }).click();
    await expect(page.getByTestId('sb-state')).toHaveText('Online', { timeout: 30_000 });
    await page
      .getByTestId('sources')
      .getByRole('row', { name: /relay\.kubeconfig/ })
      .getByRole('button', { name: 'Remove' })
      .click();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
