import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { ContractError, type OperatorIdentity, type Role } from '../../../src-shared/contract';

export interface OidcProfileConfig {
  profile: string;
  issuer: string;
  clientId: string;
  scopes: string[];
  groupsClaim: string;
  roleMapping: {
    admin: string[];
    operator: string[];
    viewer: string[];
    /** Groups granting a role on some tenants only; absent in settings saved before scoped roles. */
    tenants?: { group: string; role: 'operator' | 'admin'; tenants: string[] }[];
  };
}

export interface OidcTokens {
  idToken: string | null;
  refreshToken: string | null;
  accessToken: string;
  /** When the session these tokens carry ends: the ID token's `exp`. */
  expiresAt: string | null;
}

export interface OidcResult {
  operator: OperatorIdentity;
  tokens: OidcTokens;
  profile: string;
  /** The provider's identity of the person: what an invitation links to a member. */
  issuer: string;
  subject: string;
  email: string | null;
  /** The groups mapped to a role. False: only a linked member (or an invitation link) may use this result. */
  mapped: boolean;
  groups: string[];
}

/** What a browser sign-in is for: signing this window in, or linking the identity to an invitation. */
export type OidcPurpose = 'sign-in' | 'link';

/** The refusal for an identity whose groups give no role (and that is linked to no member). */
export function unmappedGroups(profile: string, groups: string[]): ContractError {
  return new ContractError(
    'FORBIDDEN',
    `Your groups (${groups.join(', ') || 'none'}) map to no Gatehouse role in profile "${profile}", and your identity is linked to no member of this cluster. Ask an admin to map one of them, or to invite you.`,
    { groups },
  );
}

export interface OidcOptions {
  /** Seconds added to the local clock for token time checks (tests use it to make tokens look expired). */
  clockSkewSeconds?: number;
  /** Flows not completed in this time are abandoned and their loopback port closed. */
  flowTimeoutMs?: number;
}

/** The highest role whose groups intersect the token's groups, or null. */
export function roleFromGroups(groups: string[], mapping: OidcProfileConfig['roleMapping']): Role | null {
  for (const role of ['admin', 'operator', 'viewer'] as const) {
    if (mapping[role].some((g) => groups.includes(g))) return role;
  }
  return null;
}

/** The tenant grants the token's groups carry (scoped roles), merged per role. */
export function grantsFromGroups(
  groups: string[],
  mapping: OidcProfileConfig['roleMapping'],
): { role: 'operator' | 'admin'; tenants: string[] }[] {
  const byRole = new Map<'operator' | 'admin', Set<string>>();
  for (const m of mapping.tenants ?? []) {
    if (!groups.includes(m.group)) continue;
    const set = byRole.get(m.role) ?? new Set<string>();
    for (const t of m.tenants) set.add(t);
    byRole.set(m.role, set);
  }
  return [...byRole].map(([role, tenants]) => ({ role, tenants: [...tenants].sort() }));
}

const isLoopbackHost = (u: URL) => ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);

interface Flow {
  id: string;
  connectionId: string;
  cfg: OidcProfileConfig;
  config: client.Configuration;
  server: http.Server;
  redirectUri: string;
  verifier: string;
  state: string;
  nonce: string;
  purpose: OidcPurpose;
  expiresAt: number;
  done: Promise<OidcResult>;
  settle: { resolve(r: OidcResult): void; reject(e: unknown): void };
  timer: NodeJS.Timeout;
}

/** openid-client says "unexpected JWT claim value encountered"; its cause names the claim: say which. */
function describeOidcError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // openid-client wraps oauth4webapi's error, whose own cause names the claim
  let claim: string | null = null;
  const messages: string[] = [];
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const rec = e as { claim?: unknown; message?: unknown };
    if (typeof rec.claim === 'string') claim ??= rec.claim;
    if (typeof rec.message === 'string') messages.push(rec.message);
  }
  const detail = messages.join(' ');
  const code = (error as { code?: string }).code;
  if (claim === 'exp') return 'the ID token has expired (check the clock of this machine and of the provider)';
  if (claim === 'nonce') return 'the ID token nonce does not match this sign-in (a replayed or foreign token)';
  if (claim === 'iss') return 'the ID token was issued by another issuer';
  if (claim === 'aud') return 'the ID token is meant for another client';
  if (claim) return `the ID token claim "${claim}" is not valid (${error.message})`;
  if (/"nonce"/.test(detail)) return 'the ID token nonce does not match this sign-in (a replayed or foreign token)';
  if (/"state"/.test(detail)) return 'the state returned by the browser does not match this sign-in (a forged or stale response)';
  if (/"issuer"/.test(detail)) return `the provider answers with a different issuer than configured (${error.message})`;
  return code ? `${messages[messages.length - 1] ?? error.message} (${code})` : error.message;
}

function refused(error: unknown, stage: string): ContractError {
  if (error instanceof ContractError) return error;
  const reason = describeOidcError(error);
  return new ContractError(
    'UNAUTHENTICATED',
    `OIDC sign-in was refused at ${stage}: ${reason}. Try again, or check the provider settings with an admin.`,
    { stage },
  );
}

/**
 * OIDC for a native app (RFC 8252): authorization code + PKCE, a one-shot
 * loopback listener on 127.0.0.1 and a random port; the shell opens the
 * returned URL in the system browser. ID tokens are validated by openid-client
 * (issuer, audience, signature, nonce, expiry) and state is checked on return.
 */
export class OidcSignIn {
  private readonly flows = new Map<string, Flow>();
  constructor(private readonly options: OidcOptions = {}) {}

  async discover(cfg: OidcProfileConfig, clientSecret: string | null): Promise<client.Configuration> {
    const issuer = new URL(cfg.issuer);
    const metadata: Partial<client.ClientMetadata> = { client_id: cfg.clientId };
    if (this.options.clockSkewSeconds) metadata[client.clockSkew] = this.options.clockSkewSeconds;
    try {
      return await client.discovery(issuer, cfg.clientId, metadata, clientSecret ? client.ClientSecretPost(clientSecret) : client.None(), {
        // Plain http is accepted only for a provider on this machine (development, tests).
        execute: issuer.protocol === 'http:' && isLoopbackHost(issuer) ? [client.allowInsecureRequests] : [],
        timeout: 15,
      });
    } catch (error) {
      throw refused(error, `discovery of ${cfg.issuer}`);
    }
  }

  async begin(connectionId: string, cfg: OidcProfileConfig, clientSecret: string | null, purpose: OidcPurpose = 'sign-in') {
    const config = await this.discover(cfg, clientSecret);
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const redirectUri = `http://127.0.0.1:${port}/callback`;
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: cfg.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    let settle!: Flow['settle'];
    const done = new Promise<OidcResult>((resolve, reject) => (settle = { resolve, reject }));
    done.catch(() => undefined); // observed by complete(); never an unhandled rejection
    const timeoutMs = this.options.flowTimeoutMs ?? 10 * 60_000;
    const flow: Flow = {
      id: randomUUID(),
      connectionId,
      cfg,
      config,
      server,
      redirectUri,
      verifier,
      state,
      nonce,
      purpose,
      expiresAt: Date.now() + timeoutMs,
      done,
      settle,
      timer: setTimeout(
        () => this.finish(flow, new ContractError('UNAUTHENTICATED', 'The sign-in in the browser was not finished in time. Start again.')),
        timeoutMs,
      ),
    };
    flow.timer.unref();
    server.on('request', (req, res) => {
      this.callback(flow, req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    this.flows.set(flow.id, flow);
    return { flowId: flow.id, authorizationUrl: authorizationUrl.href, redirectUri, expiresAt: new Date(flow.expiresAt).toISOString() };
  }

  private async callback(flow: Flow, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // Any local process can reach this port: a request line that is not a URL gets 400, never a crash.
    let url: URL;
    try {
      url = new URL(req.url ?? '/', flow.redirectUri);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    try {
      const tokens = await client.authorizationCodeGrant(flow.config, url, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      // Unmapped groups are decided by the console: a member linked to this identity still signs in.
      const result = await this.toResult(flow.cfg, flow.config, tokens, undefined, true);
      page(
        res,
        200,
        flow.purpose === 'link' ? 'Identity confirmed' : 'Signed in to Gatehouse',
        flow.purpose === 'link' || !result.mapped
          ? `The provider confirmed you as ${result.operator.displayName}. Return to Gatehouse to finish; you can close this tab.`
          : `You are signed in as ${result.operator.displayName} (${result.operator.role}). You can close this tab.`,
      );
      this.finish(flow, result);
    } catch (error) {
      const e = refused(error, 'the callback');
      page(res, 400, 'Sign-in refused', e.message);
      this.finish(flow, e);
    }
  }

  private async toResult(
    cfg: OidcProfileConfig,
    config: client.Configuration,
    tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
    previous?: OperatorIdentity,
    allowUnmapped = false,
  ): Promise<OidcResult> {
    const claims = tokens.claims();
    if (!claims && !previous) throw new ContractError('UNAUTHENTICATED', 'The provider returned no ID token.');
    const previousSub = previous?.id.replace(/^oidc:[^:]*:/, '');
    let profile: Record<string, unknown> = { ...(claims ?? {}) };
    if (!claims || profile[cfg.groupsClaim] === undefined) {
      // Many providers put groups (and names) only in userinfo, and a refresh may bring no new
      // ID token: the groups are read there then. The ID token's own claims win.
      const sub = claims?.sub ?? previousSub!;
      const info = await client.fetchUserInfo(config, tokens.access_token, sub).catch(() => null);
      profile = { ...(info ?? {}), ...profile };
    }
    const groups = profile[cfg.groupsClaim];
    const list = Array.isArray(groups) ? groups.map(String) : typeof groups === 'string' ? [groups] : [];
    // The groups decide. Only a refresh that brought no ID token and no userinfo keeps the role it had.
    const keep = groups === undefined && previous !== undefined && !claims;
    const globalRole = keep ? (previous.globalRole === false ? null : previous.role) : roleFromGroups(list, cfg.roleMapping);
    const grants = keep ? (previous.grants ?? []) : grantsFromGroups(list, cfg.roleMapping);
    const mapped = globalRole !== null || grants.length > 0;
    if (!mapped && !allowUnmapped) throw unmappedGroups(cfg.profile, list);
    // Only tenant grants: nominally viewer, limited to those tenants (ipc/tenant-scope.ts).
    // Unmapped: no global role and no grant; the result is only ever used through a linked member.
    const role: Role = globalRole ?? 'viewer';
    const scope = grants.length > 0 || !mapped ? { grants, ...(globalRole ? {} : { globalRole: false }) } : {};
    const sub = claims?.sub ?? previousSub!;
    const name = (profile.name ?? profile.preferred_username ?? profile.email ?? previous?.displayName ?? sub) as string;
    const expiresIn = tokens.expiresIn();
    // The session ends when the ID token does; a refresh without a new ID token lasts as long as its access token.
    const expiresAt = claims?.exp
      ? new Date(claims.exp * 1000).toISOString()
      : expiresIn
        ? new Date(Date.now() + expiresIn * 1000).toISOString()
        : null;
    return {
      profile: cfg.profile,
      issuer: cfg.issuer,
      subject: sub,
      email: typeof profile.email === 'string' ? profile.email : null,
      mapped,
      groups: list,
      operator: { id: `oidc:${new URL(cfg.issuer).host}:${sub}`, displayName: String(name), role, via: 'oidc', ...scope },
      tokens: {
        idToken: tokens.id_token ?? null,
        refreshToken: tokens.refresh_token ?? null,
        accessToken: tokens.access_token,
        expiresAt,
      },
    };
  }

  private finish(flow: Flow, outcome: OidcResult | ContractError): void {
    clearTimeout(flow.timer);
    flow.server.close();
    flow.server.closeAllConnections();
    if (outcome instanceof ContractError) flow.settle.reject(outcome);
    else flow.settle.resolve(outcome);
    // keep the settled flow a little so complete() called late still gets the answer
    setTimeout(() => this.flows.delete(flow.id), 60_000).unref();
  }

  /** Waits for the browser to come back; only the connection that began the flow may finish it. */
  async complete(connectionId: string, flowId: string, timeoutMs: number, purpose: OidcPurpose = 'sign-in'): Promise<OidcResult> {
    const flow = this.flows.get(flowId);
    if (!flow || flow.connectionId !== connectionId)
      throw new ContractError('NOT_FOUND', 'No sign-in in progress with that id. Start again.');
    // A flow started to link an invitation never signs a window in, and the other way round.
    if (flow.purpose !== purpose)
      throw new ContractError(
        'VALIDATION',
        `That browser sign-in was started for ${flow.purpose === 'link' ? 'an invitation' : 'signing in'}. Start again.`,
      );
    let timer: NodeJS.Timeout | undefined;
    const wait = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ContractError('UNAVAILABLE', 'Still waiting for the browser. Finish signing in there, then try again.')),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([flow.done, wait]);
    } finally {
      clearTimeout(timer);
    }
  }

  async refresh(
    cfg: OidcProfileConfig,
    clientSecret: string | null,
    refreshToken: string,
    previous: OperatorIdentity,
  ): Promise<OidcResult> {
    const config = await this.discover(cfg, clientSecret);
    try {
      const tokens = await client.refreshTokenGrant(config, refreshToken);
      // a linked member's role comes from the member record, not the groups
      return await this.toResult(cfg, config, tokens, previous, previous.member !== undefined);
    } catch (error) {
      throw refused(error, 'refresh');
    }
  }

  /** Revokes the refresh token where the provider supports it; returns the provider's sign-out URL if any. */
  async signOut(cfg: OidcProfileConfig, clientSecret: string | null, tokens: OidcTokens): Promise<string | null> {
    const config = await this.discover(cfg, clientSecret).catch(() => null);
    if (!config) return null;
    const meta = config.serverMetadata();
    if (tokens.refreshToken && meta.revocation_endpoint) await client.tokenRevocation(config, tokens.refreshToken).catch(() => undefined);
    return meta.end_session_endpoint && tokens.idToken ? client.buildEndSessionUrl(config, { id_token_hint: tokens.idToken }).href : null;
  }

  close(): void {
    for (const flow of this.flows.values()) {
      clearTimeout(flow.timer);
      flow.server.close();
    }
    this.flows.clear();
  }
}

function page(res: http.ServerResponse, status: number, title: string, text: string): void {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'",
    'cache-control': 'no-store',
  });
  res.end(`<!doctype html><meta charset="utf-8"><title>${esc(title)}</title><h1>${esc(title)}</h1><p>${esc(text)}</p>`);
}
