// A real oidc-provider on loopback and the operator's browser typing into its login form,
// shared by the OIDC sign-in tests and the members tests (an invitation accepted through OIDC).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
// @ts-expect-error oidc-provider ships no type declarations (@types/oidc-provider is not a dependency)
import ProviderUntyped from 'oidc-provider';
import type { Browser } from 'playwright-core';

const Provider = ProviderUntyped as new (issuer: string, configuration: Record<string, unknown>) => { callback(): http.RequestListener };
export const CHROMIUM = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';
export const GROUPS: Record<string, string[]> = { alice: ['staff', 'ops'], bob: ['contractors'] };
export const PW = 'Correct-Horse-42';

export async function startProvider(issuerHost = '127.0.0.1'): Promise<{ issuer: string; url: string; close(): Promise<void> }> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://${issuerHost}:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'gatehouse',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        // RFC 8252: any port on the loopback address is accepted for native clients
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    ],
    scopes: ['openid', 'offline_access', 'profile', 'groups'],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], groups: ['groups'] },
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, name: id.toUpperCase(), preferred_username: id, groups: GROUPS[id] ?? [] }),
    }),
    features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
    issueRefreshToken: async () => true,
    // an ID token shorter-lived than the access token: the session must follow the ID token
    ttl: { IdToken: 600, AccessToken: 3600 },
    cookies: { keys: ['oidc-test-cookie-key'] },
  });
  server.on('request', provider.callback());
  return {
    issuer,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The operator in the system browser: types into the provider's real login form, then consents. */
export async function signInInBrowser(browser: Browser, authorizationUrl: string, login: string): Promise<string> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(authorizationUrl);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any password');
    await page.locator('button[type="submit"]').click();
    await page.locator('button[type="submit"]', { hasText: 'Continue' }).click();
    await page.waitForURL(/127\.0\.0\.1:\d+\/callback/);
    return (await page.locator('body').innerText()).trim();
  } finally {
    await context.close();
  }
}
