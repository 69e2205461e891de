import type { membersCommands } from '../../src-shared/contract/members';
import type { Engine } from '../engine';
import { InvitationRefused } from '../engine/operators/members';
import { sessionDigest } from '../engine/operators/sessions';
import type { HandlersFor } from './pipeline';

/** Binds members.* to the member service of the command's cluster; every change names its target and before/after for the audit log. */
export function membersHandlers(engine: Engine): HandlersFor<typeof membersCommands> {
  const members = engine.members;
  return {
    'members.list': async (_input, ctx) => {
      const cluster = await ctx.cluster();
      return { clusterId: cluster.clusterId, members: await members.list(cluster) };
    },
    'members.setRole': async (input, ctx) => {
      ctx.audit.target = `member:${input.username}`;
      const { before, after } = await members.setRole(await ctx.cluster(), ctx.operator, input);
      ctx.audit.before = { globalRole: before.globalRole, grants: before.grants, version: before.version };
      ctx.audit.after = { globalRole: after.globalRole, grants: after.grants, version: after.version };
      return after;
    },
    'members.unlock': async (input, ctx) => {
      ctx.audit.target = `member:${input.username}`;
      const cluster = await ctx.cluster();
      const before = await members.find(cluster, input.username);
      ctx.audit.before = before ? { failedAttempts: before.failedAttempts, lockedUntil: before.lockedUntil } : null;
      return members.unlock(cluster, input.username);
    },
    'members.remove': async (input, ctx) => {
      ctx.audit.target = `member:${input.username}`;
      const before = await members.remove(await ctx.cluster(), ctx.operator, input.username, input.expectedVersion);
      ctx.audit.before = { globalRole: before.globalRole, grants: before.grants, version: before.version };
      return {};
    },
    'members.invite': async (input, ctx) => {
      ctx.audit.target = `invitation:${input.delivery === 'email' ? input.email : 'code'}`;
      const out = await members.invite(await ctx.cluster(), ctx.operator, input);
      ctx.audit.target = `invitation:${out.invitation.id}`;
      // never the code
      ctx.audit.after = {
        delivery: out.invitation.delivery,
        email: out.invitation.email,
        globalRole: out.invitation.globalRole,
        grants: out.invitation.grants,
        expiresAt: out.invitation.expiresAt,
      };
      return out;
    },
    'members.invitations.list': async (_input, ctx) => ({ invitations: await members.invitations(await ctx.cluster()) }),
    'members.invitations.revoke': async (input, ctx) => {
      ctx.audit.target = `invitation:${input.id}`;
      const { before, after } = await members.revokeInvitation(await ctx.cluster(), ctx.operator, input.id);
      ctx.audit.before = { status: before.status };
      ctx.audit.after = { status: after.status };
      return after;
    },
    // Public: the invitee has no session yet. The audit record names them (the member created) as the actor.
    'members.invitations.accept': async (input, ctx) => {
      ctx.audit.target = 'invitation:unknown';
      const cluster = await engine.directory.forContext(input.context);
      ctx.audit.cluster = cluster.clusterId;
      try {
        // The identity the invitee confirmed at the provider (a flow this window began with purpose "link").
        const oidc = input.oidcFlowId ? await engine.operators.oidcLinkIdentity(ctx.connectionId, input.oidcFlowId, 300_000) : undefined;
        const out = await members.accept(cluster, {
          code: input.secretCode,
          username: input.username,
          displayName: input.displayName ?? oidc?.displayName,
          password: input.password,
          oidc: oidc && { issuer: oidc.issuer, subject: oidc.subject },
        });
        ctx.audit.target = `invitation:${out.invitation.id}`;
        ctx.audit.actor = { id: out.identity.id, role: out.identity.role };
        ctx.audit.after = {
          member: out.member.username,
          globalRole: out.member.globalRole,
          grants: out.member.grants,
          linkedOidc: oidc ? { issuer: oidc.issuer, subject: oidc.subject } : null,
        };
        engine.clusters.selectable(input.context);
        engine.selections.set(ctx.connectionId, input.context);
        engine.sessions.signIn(ctx.connectionId, out.identity);
        return { member: out.member };
      } catch (error) {
        if (error instanceof InvitationRefused) {
          ctx.audit.denied = true;
          if (error.invitationId) ctx.audit.target = `invitation:${error.invitationId}`;
          ctx.audit.after = { refused: error.reason, username: input.username };
        }
        throw error;
      }
    },
    'members.sessions.list': (_input, ctx) => ({
      sessions: engine.sessions.all().map(([connectionId, s]) => ({
        id: sessionDigest(connectionId),
        operatorId: s.operator.id,
        displayName: s.operator.displayName,
        role: s.operator.role,
        via: s.operator.via,
        since: s.since,
        expiresAt: s.extra.oidc?.expiresAt ?? null,
        current: connectionId === ctx.connectionId,
      })),
    }),
    'members.sessions.end': async (input, ctx) => {
      ctx.audit.target = `session:${input.id}`;
      const connectionId = engine.sessions.byDigest(input.id);
      if (!connectionId) return { ended: false };
      ctx.audit.before = { operator: engine.sessions.session(connectionId)?.operator.id ?? null };
      await engine.operators.signOut(connectionId);
      return { ended: true };
    },
  };
}
