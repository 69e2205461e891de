import { createHash, randomBytes, randomUUID } from 'node:crypto';
import argon2 from 'argon2';
import { ContractError, type OperatorIdentity, type Role } from '../../../src-shared/contract';
import type { InvitationView, MemberView } from '../../../src-shared/contract/members';
import type { ClusterRuntime, PgAdminConfig } from '../core/cluster-runtime';
import { ARGON2_OPTIONS, LocalAccounts, UNKNOWN_USER_HASH } from './accounts';
import {
  INVITATION_COLUMNS,
  MEMBER_COLUMNS,
  MemberStore,
  type GrantRow,
  type InvitationRow,
  type MemberRow,
  type OidcLinkRow,
} from './members-store';
import type { SessionRegistry } from './sessions';

export interface MemberServiceOptions {
  /** The sign-in throttle (backoff, lockout, console-wide rate) of this console. */
  accounts: LocalAccounts;
  sessions: SessionRegistry;
  /** The cluster's SMTP relay (engine.mail.send) and whether it is configured. */
  mail: {
    send(cluster: ClusterRuntime, msg: { to: string[]; subject: string; text: string }): Promise<unknown>;
    configured(cluster: ClusterRuntime): Promise<boolean>;
  };
  now?: () => Date;
}

/** Why an invitation was refused: its id (when the code was known) and the reason, for the audit record. */
export class InvitationRefused extends ContractError {
  constructor(
    readonly reason: 'unknown' | 'expired' | 'used' | 'revoked',
    readonly invitationId: string | null,
    message: string,
  ) {
    super(reason === 'unknown' ? 'NOT_FOUND' : 'CONFLICT', message, { reason });
  }
}

const INVITE_PREFIX = 'ghinv_';
export const invitationHash = (code: string) => createHash('sha256').update(code, 'utf8').digest('hex');
/** The throttle key of a member on this console: failures are counted per cluster and username. */
export const memberThrottleKey = (clusterId: string, username: string) => `member:${clusterId}:${username}`;

const normaliseGrants = (grants: GrantRow[]): GrantRow[] => {
  const byRole = new Map<string, Set<string>>();
  for (const g of grants) {
    const set = byRole.get(g.role) ?? new Set<string>();
    for (const t of g.tenants) set.add(t);
    byRole.set(g.role, set);
  }
  return [...byRole].map(([role, set]) => ({ role: role as GrantRow['role'], tenants: [...set].sort() }));
};

const describeRole = (globalRole: Role | null, grants: GrantRow[]) =>
  [globalRole ? `${globalRole} (all tenants)` : null, ...grants.map((g) => `${g.role} on ${g.tenants.join(', ')}`)]
    .filter(Boolean)
    .join('; ');

/**
 * Members of each cluster, in its gatehouse_control database: accounts, roles (global, or
 * operator/admin on some tenants), OIDC subject links and invitations. Every console of
 * the cluster sees the same rows. Sign-in failures are throttled on each console.
 */
export class MemberService {
  private readonly stores = new Map<string, { key: string; store: MemberStore }>();
  private readonly now: () => Date;

  constructor(private readonly o: MemberServiceOptions) {
    this.now = o.now ?? (() => new Date());
  }

  private async store(cluster: ClusterRuntime): Promise<MemberStore> {
    const admin: PgAdminConfig | null = await cluster.pgAdmin();
    if (!admin) {
      throw new ContractError(
        'UNAVAILABLE',
        `The profile of "${cluster.contextName}" has no database connection, and members live in the cluster's database. Set its PostgreSQL admin connection (Clusters → Profile).`,
      );
    }
    const key = JSON.stringify([admin.host, admin.port, admin.user, admin.password, admin.database, admin.ssl]);
    const hit = this.stores.get(cluster.clusterId);
    if (hit && hit.key === key) return hit.store;
    await hit?.store.close();
    const store = new MemberStore(admin, cluster.clusterId);
    if (!hit) cluster.onClose(() => this.closeCluster(cluster.clusterId));
    this.stores.set(cluster.clusterId, { key, store });
    return store;
  }

  private async closeCluster(clusterId: string): Promise<void> {
    const hit = this.stores.get(clusterId);
    this.stores.delete(clusterId);
    await hit?.store.close();
  }

  private async links(store: MemberStore, ids: string[]): Promise<OidcLinkRow[]> {
    if (ids.length === 0) return [];
    return store.q<OidcLinkRow>(
      'reading OIDC links',
      'SELECT issuer, subject, member_id FROM member_oidc_links WHERE member_id = ANY($1::uuid[]) ORDER BY issuer, subject',
      [ids],
    );
  }

  private view(clusterId: string, r: MemberRow, links: OidcLinkRow[]): MemberView {
    const throttle = this.o.accounts.failures(memberThrottleKey(clusterId, r.username));
    return {
      id: r.id,
      username: r.username,
      displayName: r.display_name,
      email: r.email,
      globalRole: r.global_role,
      grants: r.grants,
      hasPassword: r.password_hash !== null,
      oidcLinks: links.filter((l) => l.member_id === r.id).map((l) => ({ issuer: l.issuer, subject: l.subject })),
      version: r.version,
      createdAt: r.created_at.toISOString(),
      createdBy: r.created_by,
      updatedAt: r.updated_at.toISOString(),
      updatedBy: r.updated_by,
      lastSignInAt: r.last_sign_in_at?.toISOString() ?? null,
      failedAttempts: throttle?.failedAttempts ?? 0,
      lockedUntil: throttle?.lockedUntil ?? null,
    };
  }

  private invitationView(r: InvitationRow): InvitationView {
    const now = this.now().getTime();
    const status = r.revoked_at ? 'revoked' : r.accepted_at ? 'accepted' : r.expires_at.getTime() <= now ? 'expired' : 'pending';
    return {
      id: r.id,
      email: r.email,
      delivery: r.delivery,
      globalRole: r.global_role,
      grants: r.grants,
      createdBy: r.created_by,
      createdAt: r.created_at.toISOString(),
      expiresAt: r.expires_at.toISOString(),
      status,
      acceptedBy: r.accepted_by,
      acceptedAt: r.accepted_at?.toISOString() ?? null,
      revokedBy: r.revoked_by,
      revokedAt: r.revoked_at?.toISOString() ?? null,
    };
  }

  /** The identity a member acts with on its cluster. */
  identity(clusterId: string, r: MemberRow): OperatorIdentity {
    return {
      id: `member:${r.username}`,
      displayName: r.display_name,
      role: r.global_role ?? 'viewer',
      via: 'member',
      ...(r.grants.length > 0 ? { grants: r.grants } : {}),
      ...(r.global_role === null ? { globalRole: false } : {}),
      member: { cluster: clusterId, username: r.username, version: r.version },
    };
  }

  async list(cluster: ClusterRuntime): Promise<MemberView[]> {
    const store = await this.store(cluster);
    const rows = await store.q<MemberRow>('listing members', `SELECT ${MEMBER_COLUMNS} FROM members ORDER BY username`);
    const links = await this.links(
      store,
      rows.map((r) => r.id),
    );
    return rows.map((r) => this.view(cluster.clusterId, r, links));
  }

  async find(cluster: ClusterRuntime, username: string): Promise<MemberView | null> {
    const store = await this.store(cluster);
    const row = (await store.q<MemberRow>('reading a member', `SELECT ${MEMBER_COLUMNS} FROM members WHERE username = $1`, [username]))[0];
    return row ? this.view(cluster.clusterId, row, await this.links(store, [row.id])) : null;
  }

  private async requireRow(store: MemberStore, username: string): Promise<MemberRow> {
    const row = (await store.q<MemberRow>('reading a member', `SELECT ${MEMBER_COLUMNS} FROM members WHERE username = $1`, [username]))[0];
    if (!row) throw new ContractError('NOT_FOUND', `"${username}" is not a member of this cluster. Reload the Operators page.`);
    return row;
  }

  /** The refusal a stale version gets: who changed the member, when, and what to do. */
  private stale(current: MemberRow, expected: number): ContractError {
    return new ContractError(
      'CONFLICT',
      `"${current.username}" was changed by ${current.updated_by} at ${current.updated_at.toISOString()} (version ${current.version}; your change was made against version ${expected}). Reload the Operators page, check the member's role and apply your change again.`,
      { currentVersion: current.version, updatedBy: current.updated_by },
    );
  }

  /** Changes a member's role and grants if nobody changed the member since `expectedVersion`. */
  async setRole(
    cluster: ClusterRuntime,
    actor: OperatorIdentity,
    input: { username: string; globalRole: Role | null; grants: GrantRow[]; expectedVersion: number },
  ): Promise<{ before: MemberView; after: MemberView }> {
    const store = await this.store(cluster);
    const grants = normaliseGrants(input.grants);
    const before = await this.requireRow(store, input.username);
    if (actor.member?.username === input.username && actor.member.cluster === cluster.clusterId && input.globalRole !== 'admin') {
      throw new ContractError(
        'CONFLICT',
        'You cannot take the admin role away from yourself. Ask another admin, or use the break-glass account.',
      );
    }
    // One statement: the version check and the change are atomic, so of two consoles only one wins.
    const updated = await store.q<MemberRow>(
      'changing a member',
      `UPDATE members SET global_role = $2, grants = $3::jsonb, version = version + 1, updated_at = $4, updated_by = $5
       WHERE username = $1 AND version = $6 RETURNING ${MEMBER_COLUMNS}`,
      [input.username, input.globalRole, JSON.stringify(grants), this.now(), actor.id, input.expectedVersion],
    );
    const after = updated[0];
    if (!after) throw this.stale(await this.requireRow(store, input.username), input.expectedVersion);
    const links = await this.links(store, [after.id]);
    return { before: this.view(cluster.clusterId, before, links), after: this.view(cluster.clusterId, after, links) };
  }

  async remove(cluster: ClusterRuntime, actor: OperatorIdentity, username: string, expectedVersion: number): Promise<MemberView> {
    const store = await this.store(cluster);
    if (actor.member?.username === username && actor.member.cluster === cluster.clusterId) {
      throw new ContractError('CONFLICT', 'You cannot remove yourself. Ask another admin.');
    }
    const before = await this.requireRow(store, username);
    const links = await this.links(store, [before.id]);
    const deleted = await store.q<{ id: string }>(
      'removing a member',
      'DELETE FROM members WHERE username = $1 AND version = $2 RETURNING id',
      [username, expectedVersion],
    );
    if (deleted.length === 0) throw this.stale(await this.requireRow(store, username), expectedVersion);
    this.o.accounts.clearFailures(memberThrottleKey(cluster.clusterId, username));
    // This console's sessions end now; other consoles' at their next command (the member is gone).
    this.o.sessions.signOutWhere((s) => s.operator.member?.cluster === cluster.clusterId && s.operator.member.username === username);
    return this.view(cluster.clusterId, before, links);
  }

  async unlock(cluster: ClusterRuntime, username: string): Promise<MemberView> {
    const store = await this.store(cluster);
    await this.requireRow(store, username);
    this.o.accounts.clearFailures(memberThrottleKey(cluster.clusterId, username));
    return (await this.find(cluster, username))!;
  }

  /** Signs a member in with a password, through this console's throttle (same work for unknown names). */
  async authenticate(cluster: ClusterRuntime, username: string, password: string): Promise<OperatorIdentity> {
    const store = await this.store(cluster);
    const row = await this.o.accounts.throttled(memberThrottleKey(cluster.clusterId, username), username, async () => {
      const found = (
        await store.q<MemberRow>('reading a member', `SELECT ${MEMBER_COLUMNS} FROM members WHERE username = $1`, [username])
      )[0];
      const ok = (await argon2.verify(found?.password_hash ?? UNKNOWN_USER_HASH, password).catch(() => false)) && !!found?.password_hash;
      if (!ok || !found) return null;
      const signedIn = await store.q<MemberRow>(
        'recording the sign-in',
        `UPDATE members SET last_sign_in_at = $2 WHERE id = $1 RETURNING ${MEMBER_COLUMNS}`,
        [found.id, this.now()],
      );
      return signedIn[0] ?? null;
    });
    return this.identity(cluster.clusterId, row);
  }

  /** The member linked to this provider identity on the cluster (an invitation accepted through OIDC), or null. */
  async byOidcLink(cluster: ClusterRuntime, issuer: string, subject: string): Promise<OperatorIdentity | null> {
    const store = await this.store(cluster);
    const row = (
      await store.q<MemberRow>(
        'signing a linked member in',
        `UPDATE members m SET last_sign_in_at = $3 FROM member_oidc_links l
          WHERE l.member_id = m.id AND l.issuer = $1 AND l.subject = $2
          RETURNING ${MEMBER_COLUMNS.split(', ')
            .map((c) => `m.${c}`)
            .join(', ')}`,
        [issuer, subject, this.now()],
      )
    )[0];
    return row ? this.identity(cluster.clusterId, row) : null;
  }

  /**
   * The identity as the member record says now: the same object while its version is
   * unchanged, a new one after another console changed the member, null once removed.
   */
  async current(cluster: ClusterRuntime, operator: OperatorIdentity): Promise<OperatorIdentity | null> {
    const m = operator.member;
    if (!m) return operator;
    const store = await this.store(cluster);
    const row = (
      await store.q<MemberRow>('reading a member', `SELECT ${MEMBER_COLUMNS} FROM members WHERE username = $1`, [m.username])
    )[0];
    if (!row) return null;
    if (row.version === m.version) return operator;
    return this.identity(cluster.clusterId, row);
  }

  async invitations(cluster: ClusterRuntime): Promise<InvitationView[]> {
    const store = await this.store(cluster);
    const rows = await store.q<InvitationRow>(
      'listing invitations',
      `SELECT ${INVITATION_COLUMNS} FROM member_invitations ORDER BY created_at DESC LIMIT 500`,
    );
    return rows.map((r) => this.invitationView(r));
  }

  /** Creates an invitation; the code is returned for delivery "code", or mailed (never returned) for "email". */
  async invite(
    cluster: ClusterRuntime,
    actor: OperatorIdentity,
    input: { delivery: 'email' | 'code'; email?: string | undefined; globalRole: Role | null; grants: GrantRow[]; expiresInHours: number },
  ): Promise<{ invitation: InvitationView; code: string | null }> {
    const store = await this.store(cluster);
    if (input.delivery === 'email' && !(await this.o.mail.configured(cluster))) {
      throw new ContractError(
        'VALIDATION',
        `SMTP is not configured for "${cluster.contextName}", so the invitation cannot be e-mailed. Configure it on Settings → SMTP, or invite with a one-time code.`,
        { fields: { delivery: 'SMTP is not configured' } },
      );
    }
    const code = `${INVITE_PREFIX}${randomBytes(24).toString('base64url')}`;
    const id = randomUUID();
    const now = this.now();
    const expires = new Date(now.getTime() + input.expiresInHours * 3600_000);
    const grants = normaliseGrants(input.grants);
    const rows = await store.q<InvitationRow>(
      'creating the invitation',
      `INSERT INTO member_invitations (id, code_hash, email, delivery, global_role, grants, created_by, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9) RETURNING ${INVITATION_COLUMNS}`,
      [id, invitationHash(code), input.email ?? null, input.delivery, input.globalRole, JSON.stringify(grants), actor.id, now, expires],
    );
    const invitation = this.invitationView(rows[0]!);
    if (input.delivery === 'email') {
      try {
        await this.o.mail.send(cluster, {
          to: [input.email!],
          subject: `Gatehouse: you are invited to operate ${cluster.contextName}`,
          text: [
            `${actor.displayName} invited you to operate the cluster "${cluster.contextName}" in Gatehouse as ${describeRole(input.globalRole, grants)}.`,
            '',
            `Open Gatehouse, choose "Accept an invitation" on the sign-in page, choose the cluster "${cluster.contextName}" and enter this one-time code:`,
            '',
            `    ${code}`,
            '',
            `Then choose a username and a password. The code works once and expires at ${expires.toISOString()}.`,
            'If you did not expect this, ignore this mail.',
          ].join('\n'),
        });
      } catch (error) {
        // Not delivered: the invitation must not stay usable by a code nobody received.
        await store
          .q('withdrawing the undelivered invitation', 'DELETE FROM member_invitations WHERE id = $1', [id])
          .catch(() => undefined);
        throw error;
      }
    }
    return { invitation, code: input.delivery === 'code' ? code : null };
  }

  async revokeInvitation(
    cluster: ClusterRuntime,
    actor: OperatorIdentity,
    id: string,
  ): Promise<{ before: InvitationView; after: InvitationView }> {
    const store = await this.store(cluster);
    return store.tx('revoking the invitation', async (c) => {
      const row = (await c.query<InvitationRow>(`SELECT ${INVITATION_COLUMNS} FROM member_invitations WHERE id = $1 FOR UPDATE`, [id]))
        .rows[0];
      if (!row) throw new ContractError('NOT_FOUND', 'There is no such invitation on this cluster. Reload the Operators page.');
      const before = this.invitationView(row);
      if (before.status !== 'pending') {
        throw new ContractError('CONFLICT', `This invitation is already ${before.status}; only a pending invitation can be revoked.`, {
          status: before.status,
        });
      }
      const after = (
        await c.query<InvitationRow>(
          `UPDATE member_invitations SET revoked_at = $2, revoked_by = $3 WHERE id = $1 RETURNING ${INVITATION_COLUMNS}`,
          [id, this.now(), actor.id],
        )
      ).rows[0]!;
      return { before, after: this.invitationView(after) };
    });
  }

  /**
   * Accepts an invitation: checks the code (unknown, revoked, used or expired codes are
   * refused with the reason), creates the member with the invitation's role and marks it used,
   * in one transaction (two people racing with one code: one wins).
   */
  async accept(
    cluster: ClusterRuntime,
    input: {
      code: string;
      username: string;
      displayName?: string | undefined;
      /** Exactly one: a password, or the provider identity the invitee confirmed in the browser. */
      password?: string | undefined;
      oidc?: { issuer: string; subject: string } | undefined;
    },
  ): Promise<{ member: MemberView; identity: OperatorIdentity; invitation: InvitationView }> {
    const store = await this.store(cluster);
    if ((input.password === undefined) === (input.oidc === undefined))
      throw new ContractError('VALIDATION', 'Accept the invitation with a password or by signing in with OIDC (one of them).');
    if (input.password !== undefined) LocalAccounts.checkPolicy(input.password, input.username);
    const hash = input.password !== undefined ? await argon2.hash(input.password, ARGON2_OPTIONS) : null;
    const now = this.now();
    const { row, invitation } = await store.tx('accepting the invitation', async (c) => {
      const inv = (
        await c.query<InvitationRow>(`SELECT ${INVITATION_COLUMNS} FROM member_invitations WHERE code_hash = $1 FOR UPDATE`, [
          invitationHash(input.code),
        ])
      ).rows[0];
      if (!inv) {
        throw new InvitationRefused(
          'unknown',
          null,
          `This code is not an invitation of "${cluster.contextName}". Check that you chose the cluster named in the invitation and typed the code exactly, or ask an admin for a new invitation.`,
        );
      }
      if (inv.revoked_at) {
        throw new InvitationRefused(
          'revoked',
          inv.id,
          `This invitation was revoked by ${inv.revoked_by} at ${inv.revoked_at.toISOString()}. Ask an admin for a new one.`,
        );
      }
      if (inv.accepted_at) {
        throw new InvitationRefused(
          'used',
          inv.id,
          `This invitation was already used (by ${inv.accepted_by} at ${inv.accepted_at.toISOString()}); a code works once. Ask an admin for a new invitation.`,
        );
      }
      if (inv.expires_at.getTime() <= now.getTime()) {
        throw new InvitationRefused(
          'expired',
          inv.id,
          `This invitation expired at ${inv.expires_at.toISOString()}. Ask an admin for a new one.`,
        );
      }
      const taken = (await c.query('SELECT 1 FROM members WHERE username = $1', [input.username])).rowCount;
      if (taken) {
        throw new ContractError('CONFLICT', `The username "${input.username}" is taken on this cluster. Choose another one.`, {
          fields: { username: 'taken' },
        });
      }
      const created = (
        await c.query<MemberRow>(
          `INSERT INTO members (id, username, display_name, email, global_role, grants, password_hash, created_at, created_by, updated_at, updated_by, last_sign_in_at)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $8, $9, $8) RETURNING ${MEMBER_COLUMNS}`,
          [
            randomUUID(),
            input.username,
            input.displayName || input.username,
            inv.email,
            inv.global_role,
            JSON.stringify(inv.grants),
            hash,
            now,
            `invitation:${inv.id} from ${inv.created_by}`,
          ],
        )
      ).rows[0]!;
      if (input.oidc) {
        const linked = await c.query<{ username: string }>(
          `INSERT INTO member_oidc_links (issuer, subject, member_id, linked_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (issuer, subject) DO NOTHING RETURNING member_id`,
          [input.oidc.issuer, input.oidc.subject, created.id, now],
        );
        if (!linked.rowCount) {
          const owner = (
            await c.query<{ username: string }>(
              'SELECT m.username FROM member_oidc_links l JOIN members m ON m.id = l.member_id WHERE l.issuer = $1 AND l.subject = $2',
              [input.oidc.issuer, input.oidc.subject],
            )
          ).rows[0];
          throw new ContractError(
            'CONFLICT',
            `Your identity at ${input.oidc.issuer} is already linked to the member "${owner?.username ?? 'unknown'}" of this cluster. Sign in with OIDC instead; the invitation stays unused.`,
            { linkedTo: owner?.username ?? null },
          );
        }
      }
      const used = (
        await c.query<InvitationRow>(
          `UPDATE member_invitations SET accepted_at = $2, accepted_by = $3 WHERE id = $1 RETURNING ${INVITATION_COLUMNS}`,
          [inv.id, now, `member:${input.username}`],
        )
      ).rows[0]!;
      return { row: created, invitation: used };
    });
    const links = input.oidc ? [{ issuer: input.oidc.issuer, subject: input.oidc.subject, member_id: row.id }] : [];
    return {
      member: this.view(cluster.clusterId, row, links),
      identity: this.identity(cluster.clusterId, row),
      invitation: this.invitationView(invitation),
    };
  }

  async close(): Promise<void> {
    const all = [...this.stores.values()];
    this.stores.clear();
    await Promise.all(all.map((s) => s.store.close()));
  }
}
