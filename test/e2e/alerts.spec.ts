import { expect, test } from '@playwright/test';
import { configureDatabase, ensureClusterSelected, openApp, shootBothThemes } from './fixtures';

// Records every `new Notification(...)` the page makes (and still creates the real one), so the
// test sees the desktop notification the renderer shows with the permission granted.
const RECORD_NOTIFICATIONS = `
  (() => {
    const Real = window.Notification;
    const calls = [];
    window.__notifications = calls;
    function Recording(title, options) {
      calls.push({ title: String(title), body: String((options && options.body) || '') });
      return new Real(title, options);
    }
    Recording.prototype = Real.prototype;
    Object.defineProperty(Recording, 'permission', { get: () => Real.permission });
    Recording.requestPermission = (...a) => Real.requestPermission(...a);
    window.Notification = Recording;
  })();
`;

type Recorded = { title: string; body: string }[];

test.describe('Alerts', () => {
  test('a real condition fires (PostgreSQL connections over a 1 % threshold), notifies the desktop, is acknowledged and silenced', async ({
    page,
    context,
  }) => {
    test.setTimeout(240_000);
    await context.grantPermissions(['notifications']);
    await page.addInitScript(RECORD_NOTIFICATIONS);
    await openApp(page);
    await ensureClusterSelected(page);
    await configureDatabase(page);

    await test.step('Settings → Alerts: threshold at 1 %, group wait 0 s; saved to the cluster', async () => {
      await page.evaluate(() => (location.hash = '/settings/alerts'));
      const form = page.getByTestId('alert-rules-form');
      await expect(form).toBeVisible();
      await expect(form).toContainText('gatehouse-alert-rules');
      await page.getByTestId('db-warn').fill('1');
      await page.getByTestId('group-wait').fill('0');
      await page.getByTestId('alert-rules-save').click();
      await expect(page.getByTestId('toast-success').filter({ hasText: 'Alert rules saved' })).toBeVisible();
      await shootBothThemes(page, 'settings-alerts');
    });

    const row = page.getByTestId('alert-db_connections:postgres');
    await test.step('the alert fires, shows on the Alerts page, and the desktop notification is shown', async () => {
      await page.getByTestId('nav-alerts').click();
      await expect(page.getByTestId('alerts-page')).toBeVisible();
      await expect(page.getByTestId('alerts-delivery')).toContainText('notifications on');
      await page.getByTestId('alerts-evaluate').click();
      await expect(row).toBeVisible({ timeout: 30_000 });
      await expect(row.getByTestId('alert-state')).toHaveText('firing');
      await expect(row).toContainText(/PostgreSQL has \d+ of \d+ connections in use/);
      await expect
        .poll(
          async () => (await page.evaluate(() => (window as unknown as { __notifications: Recorded }).__notifications)).map((n) => n.title),
          {
            timeout: 30_000,
          },
        )
        .toContainEqual(expect.stringMatching(/1 db connections alert$/));
      const note = (await page.evaluate(() => (window as unknown as { __notifications: Recorded }).__notifications)).find((n) =>
        n.title.endsWith('db connections alert'),
      )!;
      expect(note.body).toMatch(/PostgreSQL has \d+ of \d+ connections/);
      expect(await page.evaluate(() => Notification.permission)).toBe('granted');
      await shootBothThemes(page, 'alerts-firing');
    });

    await test.step('acknowledge, silence for an hour, lift the silence', async () => {
      await row.getByTestId('alert-ack').click();
      await expect(row.getByTestId('alert-state')).toHaveText('acknowledged');
      await row.getByTestId('alert-silence').click();
      const dialog = page.getByTestId('silence-dialog');
      await expect(dialog).toBeVisible();
      await dialog.getByTestId('silence-hours').selectOption('1');
      await dialog.getByTestId('silence-confirm').click();
      await expect(dialog).toHaveCount(0);
      await expect(row.getByTestId('alert-state')).toHaveText('silenced');
      await expect(row).toContainText('until');
      await page.getByTestId('alerts-filter-state').selectOption('silenced');
      await expect(row).toBeVisible();
      await shootBothThemes(page, 'alerts-silenced');
      await row.getByTestId('alert-unsilence').click();
      await expect(row).toHaveCount(0); // no longer silenced: filtered out
      await page.getByTestId('alerts-filter-state').selectOption('active');
      await expect(row.getByTestId('alert-state')).toHaveText('acknowledged');
      const history = page.getByTestId('alerts-history');
      await expect(history).toContainText('acknowledged');
      await expect(history).toContainText('silenced');
      await expect(history).toContainText('unsilenced');
      await expect(history).toContainText('notified');
    });

    await test.step('the dashboard counts it and links to the Alerts page', async () => {
      await page.getByTestId('nav-dashboard').click();
      const card = page.getByTestId('card-alerts');
      await expect(card).toBeVisible();
      await expect(card).toContainText('acknowledged');
      await expect(page.getByTestId('card-activity')).toContainText('alerts.acknowledge', { timeout: 30_000 });
      await shootBothThemes(page, 'dashboard-overview');
      await card.getByRole('link', { name: 'Alerts →' }).click();
      await expect(page).toHaveURL(/#\/alerts$/);
    });

    await test.step('back to the defaults; the alert resolves', async () => {
      await page.evaluate(() => (location.hash = '/settings/alerts'));
      await expect(page.getByTestId('alert-rules-form')).toBeVisible();
      await page.getByTestId('db-warn').fill('80');
      await page.getByTestId('group-wait').fill('30');
      await page.getByTestId('alert-rules-save').click();
      await expect(page.getByTestId('toast-success').filter({ hasText: 'Alert rules saved' })).toBeVisible();
      await page.getByTestId('nav-alerts').click();
      await page.getByTestId('alerts-evaluate').click();
      await page.getByTestId('alerts-filter-state').selectOption('resolved');
      await expect(row.getByTestId('alert-state')).toHaveText('resolved', { timeout: 30_000 });
    });
  });
});
