import { expect, test } from '@playwright/test';
import { ensureClusterSelected, openApp, shootBothThemes } from './fixtures';
import { startTestSmtp, testCerts, type TestSmtp } from '../fixtures/smtp-server';

const PASSWORD = 'e2e-relay-Secr3t!';
const FROM = 'noreply@gatehouse-e2e.test';

test.describe('Settings → SMTP and the daily report', () => {
  let smtp: TestSmtp;
  const certs = testCerts();
  test.beforeAll(async () => {
    smtp = await startTestSmtp({ mode: 'starttls', key: certs.key, cert: certs.cert, users: { relay: PASSWORD }, allowedFrom: [FROM] });
  });
  test.afterAll(async () => {
    await smtp?.close();
  });

  test('configure SMTP, run the staged test on the form values, read the mail the server received; save; the password never shows', async ({
    page,
  }) => {
    test.setTimeout(180_000);
    await openApp(page);
    await ensureClusterSelected(page);
    await page.getByTestId('nav-settings').click();
    await expect(page.getByTestId('settings-page')).toBeVisible();
    const form = page.getByTestId('smtp-form');
    await expect(form).toBeVisible();
    await form.getByLabel('Host').fill('127.0.0.1');
    await form.getByLabel('TLS').selectOption('starttls');
    await form.getByLabel('Port').fill(String(smtp.port));
    await form.getByLabel('From address').fill('admin@operator-own.example');
    await form.getByLabel('Username').fill('relay');
    if (await form.getByTestId('smtp-password-change').isVisible()) await form.getByTestId('smtp-password-change').click();
    await form.getByTestId('smtp-password').fill(PASSWORD);
    await form.getByLabel('Trusted CA').selectOption('custom');
    await form.getByLabel('CA certificate (PEM)').fill(certs.caPem);
    await form.getByTestId('smtp-test-to').fill('ops@gatehouse-e2e.test');

    // The relay only takes its own From: the test names the stage and the sender.
    await form.getByTestId('smtp-test').click();
    const result = page.getByTestId('smtp-test-result');
    await expect(result.getByTestId('smtp-stage-mailFrom')).toHaveAttribute('data-status', 'failed', { timeout: 60_000 });
    await expect(result.getByTestId('smtp-stage-mailFrom')).toContainText('refused the sender admin@operator-own.example');
    await expect(result.getByTestId('smtp-stage-auth')).toHaveAttribute('data-status', 'ok');
    await expect(result.getByTestId('smtp-stage-rcptTo')).toHaveAttribute('data-status', 'not-run');

    // The configured From: every stage passes, the mail arrives (nothing was saved yet: the form's values were used).
    await form.getByLabel('From address').fill(FROM);
    await form.getByTestId('smtp-test').click();
    for (const stage of ['dns', 'tcp', 'tls', 'auth', 'mailFrom', 'rcptTo', 'data']) {
      await expect(result.getByTestId(`smtp-stage-${stage}`)).toHaveAttribute('data-status', 'ok', { timeout: 60_000 });
    }
    await expect(result).toContainText('mail accepted');
    await expect(result.getByTestId('smtp-stage-tls')).toContainText('gatehouse-smtp-test-ca');
    await expect.poll(() => smtp.received.length).toBe(1);
    expect(smtp.received[0]!.from).toBe(FROM);
    expect(smtp.received[0]!.to).toEqual(['ops@gatehouse-e2e.test']);
    expect(smtp.received[0]!.raw).toContain('Gatehouse SMTP test');
    await result.getByTestId('smtp-stage-auth').locator('summary').click();
    await expect(result.getByTestId('smtp-stage-auth')).toContainText('AUTH PLAIN [credentials hidden]');
    // on screen: the typed password is only in its masked field, never in the result or a transcript
    expect(await page.locator('body').innerText()).not.toContain(PASSWORD);
    expect(await result.innerHTML()).not.toContain(PASSWORD);
    await shootBothThemes(page, 'settings-smtp-test');

    await form.getByTestId('smtp-save').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'SMTP settings saved' })).toBeVisible();
    await expect(form.getByTestId('smtp-password-state')).toHaveText('set');
    await page.reload();
    await expect(page.getByTestId('smtp-form').getByTestId('smtp-password-state')).toHaveText('set');
    await expect(page.getByTestId('smtp-form').getByLabel('Port')).toHaveValue(String(smtp.port));
    expect(await page.content()).not.toContain(PASSWORD);
  });

  test('daily report: save, preview, send now; the mail arrives as HTML and text', async ({ page }) => {
    test.setTimeout(180_000);
    await openApp(page, '/settings/report');
    await ensureClusterSelected(page);
    const form = page.getByTestId('report-form');
    await expect(form).toBeVisible();
    await form.getByTestId('report-recipients').fill('ops@gatehouse-e2e.test, cto@gatehouse-e2e.test');
    await form.getByLabel('Hour').selectOption('6');
    await form.getByLabel('Time zone').fill('Europe/Berlin');
    // left disabled: the shared e2e console must not send on its own schedule
    await form.getByTestId('report-save').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Daily report saved' })).toBeVisible();
    await form.getByTestId('report-preview').click();
    const preview = page.getByTestId('report-preview-card');
    await expect(preview).toContainText('[Gatehouse] Daily report');
    // the alerts section comes from the console's alert state: it is never listed as missing
    await expect(preview).not.toContainText('alerts (');
    await preview.getByRole('tab', { name: 'Plain text' }).click();
    await expect(preview.getByTestId('report-preview-text')).toContainText('TENANTS');
    await expect(preview.getByTestId('report-preview-text')).toContainText('ALERTS OF THE DAY');
    await preview.getByRole('tab', { name: 'HTML' }).click();
    await expect(preview.getByTestId('report-preview-html')).toBeVisible();
    await shootBothThemes(page, 'settings-daily-report');
    const before = smtp.received.length;
    await form.getByTestId('report-send').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Daily report sent' })).toBeVisible({ timeout: 60_000 });
    await expect.poll(() => smtp.received.length).toBe(before + 1);
    const mail = smtp.received.at(-1)!;
    expect(mail.from).toBe(FROM);
    expect(mail.to).toEqual(['ops@gatehouse-e2e.test', 'cto@gatehouse-e2e.test']);
    expect(mail.raw).toContain('multipart/alternative');
    expect(mail.raw).toMatch(/Subject: .*Daily report/);
  });
});
