import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { ContractError, roleRank, type OperatorIdentity, type Role } from '../../../src-shared/contract';
import type { TokenScopes, TokenSettings, TokenView } from '../../../src-shared/contract/tokens';
import type { PostgresAdmin } from '../../adapters/postgres';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { Logger } from '../core/logger';
import { checkTokenFormat, generateToken, tokenHash } from './format';
import { applicableLimits, checkScope, narrowToOwner, sameStanding, type NamedTenants, type OwnerStanding } from './scope';
import * as store from './store';

export const DEFAULT_EXPIRY_DAYS = 30;
/** Until an admin sets one, tokens live at most a year. */
export const DEFAULT_MAX_EXPIRY_DAYS = 365;
/** Expired and revoked tokens stay listed (and refused with their reason) this long, then are deleted. */
export const DEFAULT_RETENTION_DAYS = 7;

export type TokenRefusalReason =
  'malformed' | 'checksum' | 'unknown' | 'expired' | 'revoked' | 'owner-changed' | 'other-cluster' | 'command' | 'tenant' | 'limit';

/** A refused token: UNAUTHENTICATED (the token itself) or FORBIDDEN (scope, limit), with the reason in details and for the audit record. */
export class TokenRefused extends ContractError {
  constructor(
    readonly reason: TokenRefusalReason,
    message: string,
    readonly token: { id: string; name: string; ownerId: string } | null = null,
    extra: Record<string, unknown> = {},
  ) {
    super(
      reason === 'command' || reason === 'tenant' || reason === 'limit' || reason === 'other-cluster' ? 'FORBIDDEN' : 'UNAUTHENTICATED',
      message,
      { reason, ...extra },
    );
  }
}

export interface TokenServiceOptions {
  log: Logger;
  now?: () => Date;
  retentionDays?: number;
  /**
   * The owner's current role where this console knows the account (a local account), else
   * undefined: a token never acts above it. null: the account is known to be gone.
   */
  currentRole?: (ownerId: string) => Role | null | undefined;
  /**
   * A cluster member's standing now (role and grants in gatehouse_control), for tokens owned by
   * `member:<username>`: null once removed, undefined where the owner is not a member.
   */
  memberStanding?: (cluster: ClusterRuntime, ownerId: string) => Promise<OwnerStanding | null | undefined>;
}

/** An admitted command: what it gives back if it fails (limit counters), and the token's tenant scope (to filter fleet reads). */
export interface Admission {
  release(): Promise<void>;
  tenants: string[];
}

/**
 * API tokens of each cluster, in its gatehouse_control database. Plain functions of the
 * cluster the command resolved: no state here but which databases have been migrated.
 */
export class TokenService {
  private readonly prepared = new WeakMap<PostgresAdmin, Promise<void>>();
  private readonly pruning = new Map<string, NodeJS.Timeout>();
  private readonly now: () => Date;
  private readonly retentionDays: number;

  constructor(private readonly o: TokenServiceOptions) {
    this.now = o.now ?? (() => new Date());
    this.retentionDays = o.retentionDays ?? DEFAULT_RETENTION_DAYS;
  }

  private async control<T>(cluster: ClusterRuntime, fn: (c: pg.Client) => Promise<T>, doing: string): Promise<T> {
    const pgAdmin = await cluster.postgres();
    if (!pgAdmin) {
      throw new ContractError(
        'UNAVAILABLE',
        `The profile of "${cluster.contextName}" has no database connection, and API tokens live in the cluster's database. Set its PostgreSQL admin connection (Clusters → Profile).`,
      );
    }
    let p = this.prepared.get(pgAdmin);
    if (!p) {
      p = store.ensureTokenSchema(pgAdmin);
      p.catch(() => this.prepared.delete(pgAdmin));
      this.prepared.set(pgAdmin, p);
    }
    await p;
    return pgAdmin.withDatabase(store.CONTROL_DATABASE, fn, doing);
  }

  private settingsView(s: Awaited<ReturnType<typeof store.readSettings>>): TokenSettings {
    const max = s.maxExpiryDays ?? DEFAULT_MAX_EXPIRY_DAYS;
    return {
      maxExpiryDays: max,
      defaultExpiryDays: Math.min(DEFAULT_EXPIRY_DAYS, max),
      updatedAt: s.updatedAt?.toISOString() ?? null,
      updatedBy: s.updatedBy,
    };
  }

  async settings(cluster: ClusterRuntime): Promise<TokenSettings> {
    return this.control(cluster, async (c) => this.settingsView(await store.readSettings(c)), 'reading the API token settings');
  }

  async setMaxExpiry(cluster: ClusterRuntime, days: number, by: string): Promise<{ before: TokenSettings; after: TokenSettings }> {
    return this.control(
      cluster,
      async (c) => {
        const before = this.settingsView(await store.readSettings(c));
        await store.writeSettings(c, days, by);
        return { before, after: this.settingsView(await store.readSettings(c)) };
      },
      'saving the API token settings',
    );
  }

  /** A human creates a token for themselves; the secret is returned once and only its hash is kept. */
  async create(
    cluster: ClusterRuntime,
    owner: OperatorIdentity,
    input: { name: string; expiresInDays?: number; scopes: TokenScopes; limits: { command: string; tenantPrefix: string; max: number }[] },
  ): Promise<{ token: string; view: TokenView }> {
    if (owner.via === 'token') {
      throw new ContractError(
        'FORBIDDEN',
        'A token cannot create tokens. Sign in as yourself (console or `gatehouse login`) to create one.',
      );
    }
    return this.control(
      cluster,
      async (c) => {
        const settings = this.settingsView(await store.readSettings(c));
        const days = input.expiresInDays ?? settings.defaultExpiryDays;
        if (days > settings.maxExpiryDays) {
          throw new ContractError(
            'VALIDATION',
            `Tokens of this cluster expire after at most ${settings.maxExpiryDays} days (set by an admin); choose ${settings.maxExpiryDays} or fewer.`,
            {
              fields: { expiresInDays: `at most ${settings.maxExpiryDays}` },
            },
          );
        }
        const token = generateToken();
        const id = randomUUID();
        await store.insertToken(c, {
          id,
          hash: tokenHash(token),
          name: input.name,
          ownerId: owner.id,
          ownerName: owner.displayName,
          ownerRole: owner.role,
          ownerGrants: owner.grants?.length ? owner.grants : null,
          ownerGlobalRole: owner.globalRole !== false,
          scopes: input.scopes,
          expiresAt: new Date(this.now().getTime() + days * 86_400_000),
          limits: input.limits,
        });
        const found = (await store.tokenById(c, id))!;
        return { token, view: store.toView(found.row, found.limits, this.now()) };
      },
      'creating an API token',
    );
  }

  /** The caller's tokens; an admin may ask for another member's (owner) or everyone's. */
  async list(cluster: ClusterRuntime, caller: OperatorIdentity, input: { owner?: string; everyone: boolean }): Promise<TokenView[]> {
    const other = input.everyone || (input.owner !== undefined && input.owner !== caller.id);
    if (other && caller.role !== 'admin') throw new ContractError('FORBIDDEN', 'Only an admin may list other members’ tokens.');
    return this.control(
      cluster,
      async (c) => {
        const { rows, limits } = await store.listTokens(c, input.everyone ? null : (input.owner ?? caller.id));
        const now = this.now();
        return rows.map((r) => store.toView(r, limits, now));
      },
      'listing API tokens',
    );
  }

  async revoke(cluster: ClusterRuntime, caller: OperatorIdentity, id: string): Promise<{ before: TokenView; after: TokenView }> {
    return this.control(
      cluster,
      async (c) => {
        const found = await store.tokenById(c, id);
        if (!found) throw new ContractError('NOT_FOUND', 'No such token on this cluster (revoked and pruned, or made on another cluster).');
        if (found.row.owner_id !== caller.id && caller.role !== 'admin')
          throw new ContractError('FORBIDDEN', 'This token is another member’s; only its owner or an admin may revoke it.');
        const before = store.toView(found.row, found.limits, this.now());
        await store.markRevoked(c, id, caller.id);
        const again = (await store.tokenById(c, id))!;
        return { before, after: store.toView(again.row, again.limits, this.now()) };
      },
      'revoking an API token',
    );
  }

  private roleOf(row: store.TokenRow): Role | null {
    const current = this.o.currentRole?.(row.owner_id);
    if (current === null) return null;
    if (current === undefined) return row.owner_role;
    return roleRank[current] < roleRank[row.owner_role] ? current : row.owner_role;
  }

  /**
   * What the token may do now: its owner's standing when it was made, narrowed to the owner's
   * standing now where it is known (a local account here, a member of the cluster).
   */
  private async standing(cluster: ClusterRuntime, row: store.TokenRow): Promise<OwnerStanding> {
    const role = this.roleOf(row)!;
    const created: OwnerStanding = { role, globalRole: row.owner_global_role, grants: row.owner_grants ?? [] };
    const now = await this.o.memberStanding?.(cluster, row.owner_id);
    if (now === null)
      throw new TokenRefused(
        'revoked',
        `The owner of the token "${row.name}" (${row.owner_id}) is no longer a member. Create a new token as a current member.`,
        { id: row.id, name: row.name, ownerId: row.owner_id },
      );
    return now ? narrowToOwner(created, now) : created;
  }

  private liveness(row: store.TokenRow): TokenRefused | null {
    const who = { id: row.id, name: row.name, ownerId: row.owner_id };
    if (row.revoked_at)
      return new TokenRefused(
        'revoked',
        `The token "${row.name}" was revoked${row.revoked_by ? ` by ${row.revoked_by}` : ''} at ${row.revoked_at.toISOString()}. Create a new one.`,
        who,
      );
    if (row.expires_at.getTime() <= this.now().getTime())
      return new TokenRefused('expired', `The token "${row.name}" expired at ${row.expires_at.toISOString()}. Create a new one.`, who);
    if (this.roleOf(row) === null)
      return new TokenRefused(
        'revoked',
        `The owner of the token "${row.name}" (${row.owner_id}) is no longer a member. Create a new token as a current member.`,
        who,
      );
    return null;
  }

  /**
   * Checks a presented token: its shape and checksum first (no database), then the hash in
   * this cluster's database, revocation and expiry. Expired and revoked tokens past the
   * retention are pruned on the way. Returns the identity it acts as.
   */
  async authenticate(
    resolveCluster: () => Promise<ClusterRuntime>,
    token: string,
  ): Promise<{ operator: OperatorIdentity; tokenId: string; expiresAt: string }> {
    const format = checkTokenFormat(token);
    if (!format.ok) {
      throw format.problem === 'malformed'
        ? new TokenRefused(
            'malformed',
            'This is not a Gatehouse API token (they look like ghct_…_…). Copy the whole token as it was shown when it was created.',
          )
        : new TokenRefused(
            'checksum',
            'This token’s checksum is wrong: it was mistyped or truncated. Copy the whole token as it was shown when it was created.',
          );
    }
    const cluster = await resolveCluster();
    return this.control(
      cluster,
      async (c) => {
        await store.pruneTokens(c, this.retentionDays, this.now());
        const row = await store.tokenByHash(c, tokenHash(token));
        if (!row) {
          throw new TokenRefused(
            'unknown',
            `The cluster "${cluster.contextName}" knows no such token: it was made on another cluster, or revoked or expired more than ${this.retentionDays} days ago. Create a new one.`,
          );
        }
        const refused = this.liveness(row);
        if (refused) throw refused;
        const standing = await this.standing(cluster, row);
        await store.touchLastUsed(c, row.id);
        return {
          operator: {
            id: row.owner_id,
            displayName: row.owner_name,
            role: standing.role,
            via: 'token',
            token: { id: row.id, name: row.name },
            // a member scoped to some tenants stays scoped through their token
            ...(standing.grants.length ? { grants: standing.grants } : {}),
            ...(standing.globalRole ? {} : { globalRole: false }),
          },
          tokenId: row.id,
          expiresAt: row.expires_at.toISOString(),
        };
      },
      'checking an API token',
    );
  }

  /**
   * Before a command of a token identity runs: the token is still live on this cluster, the
   * command and its tenants are inside its scopes, and every limit it counts against has room
   * (reserved atomically in the database; given back if the command fails).
   */
  async admit(
    cluster: ClusterRuntime,
    tokenId: string,
    command: string,
    named: NamedTenants,
    /** The standing the connection signed in with: refused when the owner's has changed since. */
    acting?: OwnerStanding,
  ): Promise<Admission> {
    return this.control(
      cluster,
      async (c) => {
        const found = await store.tokenById(c, tokenId);
        if (!found)
          throw new TokenRefused(
            'other-cluster',
            `This connection's token is not one of "${cluster.contextName}": a token acts only on the cluster it was made on (or it was pruned). Sign in again.`,
          );
        const { row, limits } = found;
        const who = { id: row.id, name: row.name, ownerId: row.owner_id };
        const refused = this.liveness(row);
        if (refused) throw refused;
        if (acting) {
          const standing = await this.standing(cluster, row);
          if (!sameStanding(standing, acting))
            throw new TokenRefused(
              'owner-changed',
              `The role of the token's owner (${row.owner_id}) changed since this connection signed in with "${row.name}" (now ${standing.globalRole ? standing.role : 'tenant grants only'}). Sign in with the token again.`,
              who,
            );
        }
        const scope = checkScope(row.scopes, command, named);
        if (scope)
          throw new TokenRefused(scope.reason, scope.message, who, scope.reason === 'tenant' ? { tenants: scope.tenants } : { command });
        const uses = applicableLimits(store.limitRules(limits), command, named);
        const full = await store.reserveLimits(c, row.id, uses);
        if (full) {
          throw new TokenRefused(
            'limit',
            `The token "${row.name}" reached its limit: at most ${full.max} × ${full.command}${full.tenantPrefix ? ` on tenants starting with "${full.tenantPrefix}"` : ''}. Ask its owner for a new token.`,
            who,
            {
              limit: { command: full.command, tenantPrefix: full.tenantPrefix, max: full.max },
            },
          );
        }
        await store.touchLastUsed(c, row.id);
        if (uses.length === 0) return { release: async () => undefined, tenants: row.scopes.tenants };
        return {
          tenants: row.scopes.tenants,
          release: () =>
            this.control(cluster, (c2) => store.releaseLimits(c2, row.id, uses), 'giving back a token limit').catch((error: unknown) =>
              this.o.log.warn({ err: error, tokenId }, 'a token limit could not be given back'),
            ),
        };
      },
      'checking an API token',
    );
  }

  /** Deletes tokens expired or revoked more than the retention ago. */
  async prune(cluster: ClusterRuntime): Promise<number> {
    return this.control(cluster, (c) => store.pruneTokens(c, this.retentionDays, this.now()), 'pruning expired API tokens');
  }

  /** Prunes this cluster's tokens now and then every `everyMs` while the cluster's services live. */
  startPruning(cluster: ClusterRuntime, everyMs = 3_600_000): void {
    if (this.pruning.has(cluster.clusterId)) return;
    const run = () =>
      void this.prune(cluster).then(
        (n) => n && this.o.log.info({ cluster: cluster.clusterId, pruned: n }, 'expired API tokens pruned'),
        (error: unknown) => this.o.log.warn({ err: error, cluster: cluster.clusterId }, 'pruning API tokens failed'),
      );
    const timer = setInterval(run, everyMs);
    timer.unref();
    this.pruning.set(cluster.clusterId, timer);
    cluster.onClose(() => {
      clearInterval(timer);
      this.pruning.delete(cluster.clusterId);
    });
    run();
  }

  close(): void {
    for (const t of this.pruning.values()) clearInterval(t);
    this.pruning.clear();
  }
}
