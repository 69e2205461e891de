import { ContractError, type OperatorIdentity, type Role } from '../../../src-shared/contract';
import type { Sqlite } from '../../adapters/sqlite';
import type { SecretStore } from '../secrets-store';
import { accountView, LocalAccounts, SIGN_IN_RATE, type AccountRow } from './accounts';
import { OidcSignIn, unmappedGroups, type OidcOptions, type OidcProfileConfig, type OidcPurpose, type OidcTokens } from './oidc';
import { PASSWORD_POLICY_TEXT } from './password-policy';
import type { Session, SessionRegistry } from './sessions';

export type IdentityMode = 'sign-in' | 'os-user';

export interface OperatorsServiceOptions {
  db: Sqlite;
  secrets: Pick<SecretStore, 'get' | 'set'> & Partial<Pick<SecretStore, 'delete'>>;
  sessions: SessionRegistry;
  identityMode: IdentityMode;
  now?: () => number;
  oidc?: OidcOptions;
  /** Sign-in attempts checked per minute on this console, all usernames together. */
  signInRate?: { burst: number; perMinute: number };
}

const clientSecretKey = (profile: string) => `oidc-client-secret:${profile}`;
const tokenKey = (profile: string, operatorId: string) => `oidc-tokens:${profile}:${operatorId}`;

const localIdentity = (r: AccountRow): OperatorIdentity => ({
  id: `local:${r.username}`,
  displayName: r.display_name,
  role: r.role,
  via: 'local-account',
  // a workstation account, not a member of any cluster: the air-gapped recovery path
  ...(r.role === 'admin' ? { breakGlass: true } : {}),
});

/** Sign-in (local accounts, OIDC), first-run setup and roles. */
export class OperatorsService {
  readonly accounts: LocalAccounts;
  readonly oidc: OidcSignIn;

  constructor(private readonly o: OperatorsServiceOptions) {
    this.accounts = new LocalAccounts(o.db, o.now, o.signInRate ?? SIGN_IN_RATE);
    this.oidc = new OidcSignIn(o.oidc);
    // A session that ended without signing out (expired, role or mapping changed) leaves no tokens behind.
    o.sessions.onEnded = (ended) => void this.forgetTokens(ended);
  }

  private async forgetTokens(ended: Session): Promise<void> {
    const key = ended.extra.oidc?.tokenKey;
    // The same operator may be signed in on another window with the same tokens.
    if (!key || this.o.sessions.all().some(([, s]) => s.extra.oidc?.tokenKey === key)) return;
    await this.o.secrets.delete?.(key).catch(() => undefined);
  }

  /** Ends the OIDC sessions a profile's settings vouched for (its mapping or provider changed, or it was removed). */
  private endOidcSessions(profile: string): number {
    return this.o.sessions.signOutWhere((s) => s.extra.oidc?.profile === profile);
  }

  /** A fresh install: no local account and no OIDC profile. Only first-admin setup is possible then. */
  isFirstRun(): boolean {
    return this.accounts.count() === 0 && this.oidcProfiles().length === 0;
  }

  status(connectionId: string) {
    return {
      firstRun: this.isFirstRun(),
      identityMode: this.o.identityMode,
      operator: this.o.sessions.identify(connectionId),
      sessionExpiresAt: this.o.sessions.session(connectionId)?.extra.oidc?.expiresAt ?? null,
      localAccounts: this.accounts.count(),
      oidcProfiles: this.oidcProfiles().map((p) => p.profile),
      passwordPolicy: PASSWORD_POLICY_TEXT,
    };
  }

  async setupFirstAdmin(connectionId: string, input: { username: string; displayName?: string; password: string }) {
    if (!this.isFirstRun()) throw new ContractError('CONFLICT', 'This console is already set up. Sign in, or ask an admin for an account.');
    const row = await this.accounts.create({ ...input, role: 'admin' }, true);
    const operator = localIdentity(row);
    this.o.sessions.signIn(connectionId, operator);
    return { operator };
  }

  async signIn(connectionId: string, username: string, password: string) {
    const row = await this.accounts.authenticate(username, password);
    const operator = localIdentity(row);
    this.o.sessions.signIn(connectionId, operator);
    return { operator };
  }

  async signOut(connectionId: string) {
    const session = this.o.sessions.session(connectionId);
    this.o.sessions.signOut(connectionId);
    let endSessionUrl: string | null = null;
    if (session?.extra.oidc) {
      const { profile, tokenKey: key } = session.extra.oidc;
      const cfg = this.oidcProfile(profile);
      const saved = await this.o.secrets.get(key);
      await this.o.secrets.delete?.(key);
      if (cfg && saved)
        endSessionUrl = await this.oidc.signOut(cfg, await this.o.secrets.get(clientSecretKey(profile)), JSON.parse(saved) as OidcTokens);
    }
    return { endSessionUrl };
  }

  async changePassword(operator: OperatorIdentity, current: string, next: string) {
    if (operator.via !== 'local-account')
      throw new ContractError('CONFLICT', 'Only local accounts have a password here; change yours at your identity provider.');
    await this.accounts.changePassword(operator.id.replace(/^local:/, ''), current, next);
    return {};
  }

  list() {
    return { accounts: this.accounts.list().map(accountView) };
  }

  async create(input: { username: string; displayName?: string; role: Role; password: string }) {
    return accountView(await this.accounts.create(input));
  }

  setRole(username: string, role: Role) {
    const row = this.accounts.setRole(username, role);
    // The new role applies from the next sign-in; open sessions are ended so nobody keeps the old one.
    const endedSessions = this.o.sessions.signOutEverywhere(`local:${username}`);
    return { view: accountView(row), endedSessions };
  }

  unlock(username: string) {
    return accountView(this.accounts.unlock(username));
  }

  delete(username: string) {
    const row = this.accounts.delete(username);
    this.o.sessions.signOutEverywhere(`local:${username}`);
    return accountView(row);
  }

  oidcProfiles(): OidcProfileConfig[] {
    return (this.o.db.prepare('SELECT config FROM operators_oidc ORDER BY profile').pluck().all() as string[]).map(
      (s) => JSON.parse(s) as OidcProfileConfig,
    );
  }

  oidcProfile(profile: string): OidcProfileConfig | null {
    const s = this.o.db.prepare('SELECT config FROM operators_oidc WHERE profile = ?').pluck().get(profile) as string | undefined;
    return s ? (JSON.parse(s) as OidcProfileConfig) : null;
  }

  async oidcView(cfg: OidcProfileConfig) {
    return {
      ...cfg,
      // settings saved before tenant-scoped groups existed have none
      roleMapping: { ...cfg.roleMapping, tenants: cfg.roleMapping.tenants ?? [] },
      hasClientSecret: (await this.o.secrets.get(clientSecretKey(cfg.profile))) !== null,
    };
  }

  async configureOidc(input: OidcProfileConfig & { clientSecret?: string }) {
    const { clientSecret, ...cfg } = input;
    const before = this.oidcProfile(cfg.profile);
    // Refuse a provider we cannot discover before storing anything.
    await this.oidc.discover(cfg, clientSecret ?? null);
    if (clientSecret) await this.o.secrets.set(clientSecretKey(cfg.profile), clientSecret);
    this.o.db
      .prepare(
        'INSERT INTO operators_oidc (profile, config, updated_at) VALUES (?, ?, ?) ON CONFLICT (profile) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at',
      )
      .run(cfg.profile, JSON.stringify(cfg), new Date().toISOString());
    // Roles were mapped with the old settings: nobody keeps one the new mapping may not give.
    const endedSessions = before && JSON.stringify(before) !== JSON.stringify(cfg) ? this.endOidcSessions(cfg.profile) : 0;
    return { view: await this.oidcView(cfg), endedSessions };
  }

  async removeOidc(profile: string) {
    if (!this.oidcProfile(profile)) throw new ContractError('NOT_FOUND', `No OIDC settings for profile "${profile}".`);
    this.o.db.prepare('DELETE FROM operators_oidc WHERE profile = ?').run(profile);
    await this.o.secrets.delete?.(clientSecretKey(profile));
    return { endedSessions: this.endOidcSessions(profile) };
  }

  private requireProfile(profile: string | undefined, fallback: string | null): OidcProfileConfig {
    const cfg = this.oidcProfile(profile ?? fallback ?? 'default') ?? (profile ? null : this.oidcProfile('default'));
    if (!cfg)
      throw new ContractError(
        'NOT_FOUND',
        `OIDC is not configured for profile "${profile ?? fallback ?? 'default'}". An admin can configure it with the operators.oidc.configure command (docs/operators.md).`,
      );
    return cfg;
  }

  async oidcBegin(connectionId: string, profile: string | undefined, clusterId: string | null, purpose: OidcPurpose = 'sign-in') {
    const cfg = this.requireProfile(profile, clusterId);
    return this.oidc.begin(connectionId, cfg, await this.o.secrets.get(clientSecretKey(cfg.profile)), purpose);
  }

  /**
   * Finishes a browser sign-in. `linked` looks the provider identity up among the members of the
   * window's cluster: a linked member signs in as that member (its role and grants from the member
   * record); anyone else gets the role their groups map to, or is refused.
   */
  async oidcComplete(
    connectionId: string,
    flowId: string,
    timeoutMs: number,
    linked?: (issuer: string, subject: string) => Promise<OperatorIdentity | null>,
  ) {
    const result = await this.oidc.complete(connectionId, flowId, timeoutMs);
    const member = linked ? await linked(result.issuer, result.subject) : null;
    if (!member && !result.mapped) throw unmappedGroups(result.profile, result.groups);
    const operator = member ?? result.operator;
    const key = tokenKey(result.profile, operator.id);
    await this.o.secrets.set(key, JSON.stringify(result.tokens));
    this.o.sessions.signIn(connectionId, operator, {
      oidc: { profile: result.profile, tokenKey: key, expiresAt: result.tokens.expiresAt },
    });
    return { operator, expiresAt: result.tokens.expiresAt };
  }

  /** A test sign-in: the identity the provider and mapping give, nothing signed in or stored (the tokens are dropped). */
  async oidcTest(connectionId: string, flowId: string, timeoutMs: number) {
    const result = await this.oidc.complete(connectionId, flowId, timeoutMs);
    if (!result.mapped) throw unmappedGroups(result.profile, result.groups);
    return { operator: result.operator, expiresAt: result.tokens.expiresAt };
  }

  /** The provider identity of a flow begun with purpose "link" (an invitation being accepted); nothing signed in or stored. */
  async oidcLinkIdentity(connectionId: string, flowId: string, timeoutMs: number) {
    const result = await this.oidc.complete(connectionId, flowId, timeoutMs, 'link');
    return { issuer: result.issuer, subject: result.subject, displayName: result.operator.displayName, email: result.email };
  }

  /** New tokens, groups re-read; the session then lasts until the new ID token expires. */
  async oidcRefresh(connectionId: string) {
    const session = this.o.sessions.session(connectionId);
    if (!session?.extra.oidc)
      throw new ContractError('UNAUTHENTICATED', 'This window is not signed in with OIDC (or its session has ended). Sign in again.');
    const { profile, tokenKey: key } = session.extra.oidc;
    const cfg = this.requireProfile(profile, null);
    const saved = await this.o.secrets.get(key);
    const tokens = saved ? (JSON.parse(saved) as OidcTokens) : null;
    if (!tokens?.refreshToken)
      throw new ContractError('UNAUTHENTICATED', 'The session cannot be refreshed (no refresh token). Sign in again.');
    try {
      const result = await this.oidc.refresh(
        cfg,
        await this.o.secrets.get(clientSecretKey(profile)),
        tokens.refreshToken,
        session.operator,
      );
      const next = {
        ...result.tokens,
        refreshToken: result.tokens.refreshToken ?? tokens.refreshToken,
        idToken: result.tokens.idToken ?? tokens.idToken,
      };
      await this.o.secrets.set(key, JSON.stringify(next));
      // A linked member stays that member: its role follows the member record (re-read at every command).
      const operator = session.operator.member ? session.operator : result.operator;
      this.o.sessions.signIn(connectionId, operator, { oidc: { profile, tokenKey: key, expiresAt: next.expiresAt } });
      return { operator, expiresAt: next.expiresAt, previousRole: session.operator.role };
    } catch (error) {
      // A refused refresh ends the session: the provider no longer vouches for this operator.
      this.o.sessions.signOut(connectionId);
      await this.o.secrets.delete?.(key);
      throw error;
    }
  }

  close(): void {
    this.oidc.close();
  }
}
