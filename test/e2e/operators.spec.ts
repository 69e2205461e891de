import { expect, test } from '@playwright/test';
import { configureDatabase, ensureClusterSelected, openApp, shootBothThemes } from './fixtures';

/**
 * The Operators page end to end (browser mode, the harness cluster and its PostgreSQL): an admin
 * invites with a one-time code scoped to two tenants; the invitee accepts it in a second browser
 * context (its own session) and is signed in as that member; the admin sees the member, changes
 * its role, sees the invitation used, and the code is refused a second time with the reason.
 */
test.describe('Operators', () => {
  test.use({ viewport: { width: 1280, height: 1000 } });

  test('invite by code, accept in a second browser context, change the role', async ({ page, browser }) => {
    test.setTimeout(180_000);
    const suffix = Math.random().toString(36).slice(2, 7);
    const username = `e2e-${suffix}`;
    await openApp(page);
    await ensureClusterSelected(page);
    await configureDatabase(page);
    await page.evaluate(() => (location.hash = '/operators/invitations'));
    const form = page.getByTestId('invite-form');
    await expect(form).toBeVisible({ timeout: 30_000 });
    await form.getByTestId('access-global-role').selectOption('none');
    await form.getByTestId('access-grants').fill(`operator: acme-${suffix}, globex-${suffix}`);
    await form.getByTestId('invite-hours').fill('24');
    await form.getByTestId('invite-submit').click();
    const shown = page.getByTestId('invite-code');
    await expect(shown).toBeVisible();
    const code = await shown.getByTestId('invite-code-value').inputValue();
    expect(code).toMatch(/^ghinv_/);
    await expect(page.getByTestId('invitation-row').first().getByTestId('invitation-status')).toHaveText('pending');
    await shootBothThemes(page, 'operators-invitation');

    // the invitee: another browser context (its own cookie session) on the same console
    const other = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const invitee = await other.newPage();
    await openApp(invitee, '/signin');
    await invitee.getByTestId('signin-toggle-accept').click();
    const accept = invitee.getByTestId('accept-form');
    await expect(accept).toBeVisible();
    await accept.getByLabel('Invitation code').fill(code);
    await accept.getByLabel('Username').fill(username);
    await accept.getByLabel('Password', { exact: true }).fill('Invited-Operator-42');
    await accept.getByLabel('Repeat password').fill('Invited-Operator-42');
    await shootBothThemes(invitee, 'operators-accept');
    await accept.getByRole('button', { name: 'Join and sign in' }).click();
    // signed in as the new member: the status bar names them
    await expect(invitee.getByTestId('app')).toContainText(username, { timeout: 30_000 });
    await shootBothThemes(invitee, 'operators-accepted');

    // the same code again, from a third context: refused with the reason
    const third = await browser.newContext();
    const reuse = await third.newPage();
    await openApp(reuse, '/signin');
    await reuse.getByTestId('signin-toggle-accept').click();
    const again = reuse.getByTestId('accept-form');
    await again.getByLabel('Invitation code').fill(code);
    await again.getByLabel('Username').fill(`${username}-2`);
    await again.getByLabel('Password', { exact: true }).fill('Invited-Operator-42');
    await again.getByLabel('Repeat password').fill('Invited-Operator-42');
    await again.getByRole('button', { name: 'Join and sign in' }).click();
    await expect(again.getByRole('alert')).toContainText(`already used (by member:${username}`);

    // the admin sees the member with its scope, and the invitation used
    await page.evaluate(() => (location.hash = '/operators/members'));
    const row = page.getByTestId(`member-row-${username}`);
    await expect(row).toBeVisible({ timeout: 30_000 });
    await expect(row.getByTestId('member-access')).toHaveText(`operator on acme-${suffix}, globex-${suffix}`);
    await shootBothThemes(page, 'operators-members');

    await row.getByTestId('member-edit').click();
    const dialog = page.getByTestId('role-dialog');
    await dialog.getByTestId('access-global-role').selectOption('viewer');
    await dialog.getByTestId('role-save').click();
    await expect(row.getByTestId('member-access')).toHaveText(`viewer (all tenants) · operator on acme-${suffix}, globex-${suffix}`);

    await page.evaluate(() => (location.hash = '/operators/access'));
    await expect(page.getByTestId('session-row').filter({ hasText: username })).toBeVisible();
    await shootBothThemes(page, 'operators-sessions');
    await page.getByTestId('session-row').filter({ hasText: username }).getByTestId('session-end').click();
    await expect(page.getByTestId('toast-success').filter({ hasText: 'Session ended' })).toBeVisible();
    await expect(page.getByTestId('session-row').filter({ hasText: username })).toHaveCount(0);

    await page.evaluate(() => (location.hash = '/operators/invitations'));
    await expect(page.getByTestId('invitation-row').first().getByTestId('invitation-status')).toHaveText('accepted');
    await page.evaluate(() => (location.hash = '/operators/oidc'));
    await expect(page.getByTestId('oidc-card')).toBeVisible();
    await shootBothThemes(page, 'operators-oidc');
    await other.close();
    await third.close();
  });
});
