import type { operatorsCommands } from '../../src-shared/contract/operators';
import type { Engine } from '../engine';
import type { HandlersFor } from './pipeline';

/** Binds operators.* to the operators service; each mutating handler names its target for the audit log. */
export function operatorsHandlers(engine: Engine): HandlersFor<typeof operatorsCommands> {
  const ops = engine.operators;
  return {
    'operators.status': (_input, ctx) => ({
      ...ops.status(ctx.connectionId),
      // names only: which clusters' members can sign in here
      signInContexts: engine.clusters
        .list(null)
        .contexts.filter((c) => c.status === 'ok')
        .map((c) => ({ id: c.id, name: c.contextName })),
    }),
    'operators.setupFirstAdmin': async (input, ctx) => {
      ctx.audit.target = `operator:local:${input.username}`;
      const result = await ops.setupFirstAdmin(ctx.connectionId, input);
      ctx.audit.after = { username: input.username, role: 'admin' };
      return result;
    },
    'operators.signIn': async (input, ctx) => {
      if (input.context === undefined) {
        ctx.audit.target = `operator:local:${input.username}`;
        const out = await ops.signIn(ctx.connectionId, input.username, input.password);
        ctx.audit.actor = { id: out.operator.id, role: out.operator.role };
        return out;
      }
      // A member of the context's cluster (gatehouse_control), throttled on this console.
      ctx.audit.target = `member:${input.username}`;
      engine.clusters.selectable(input.context);
      const cluster = await engine.directory.forContext(input.context);
      ctx.audit.cluster = cluster.clusterId;
      const operator = await engine.members.authenticate(cluster, input.username, input.password);
      engine.selections.set(ctx.connectionId, input.context);
      engine.sessions.signIn(ctx.connectionId, operator);
      ctx.audit.actor = { id: operator.id, role: operator.role };
      return { operator };
    },
    'operators.signOut': (_input, ctx) => {
      ctx.audit.target = `operator:${ctx.operator.id}`;
      return ops.signOut(ctx.connectionId);
    },
    'operators.changePassword': (input, ctx) => {
      ctx.audit.target = `operator:${ctx.operator.id}`;
      return ops.changePassword(ctx.operator, input.currentPassword, input.newPassword);
    },
    'operators.list': () => ops.list(),
    'operators.create': async (input, ctx) => {
      ctx.audit.target = `operator:local:${input.username}`;
      const view = await ops.create(input);
      ctx.audit.after = { username: view.username, role: view.role };
      return view;
    },
    'operators.setRole': (input, ctx) => {
      ctx.audit.target = `operator:local:${input.username}`;
      ctx.audit.before = { role: ops.accounts.find(input.username)?.role ?? null };
      const { view, endedSessions } = ops.setRole(input.username, input.role);
      ctx.audit.after = { role: view.role, endedSessions };
      return view;
    },
    'operators.unlock': (input, ctx) => {
      ctx.audit.target = `operator:local:${input.username}`;
      return ops.unlock(input.username);
    },
    'operators.delete': (input, ctx) => {
      ctx.audit.target = `operator:local:${input.username}`;
      const row = ops.delete(input.username);
      ctx.audit.before = { username: row.username, role: row.role };
      return {};
    },
    'operators.oidc.get': async () => ({ profiles: await Promise.all(ops.oidcProfiles().map((p) => ops.oidcView(p))) }),
    'operators.oidc.configure': async (input, ctx) => {
      ctx.audit.target = `oidc-profile:${input.profile}`;
      ctx.audit.before = ops.oidcProfile(input.profile);
      const { view, endedSessions } = await ops.configureOidc(input);
      ctx.audit.after = { ...view, endedSessions };
      return view;
    },
    'operators.oidc.remove': async (input, ctx) => {
      ctx.audit.target = `oidc-profile:${input.profile}`;
      ctx.audit.before = ops.oidcProfile(input.profile);
      const { endedSessions } = await ops.removeOidc(input.profile);
      ctx.audit.after = { endedSessions };
      return {};
    },
    'operators.oidc.begin': (input, ctx) => ops.oidcBegin(ctx.connectionId, input.profile, input.context ?? ctx.contextId, input.purpose),
    'operators.oidc.complete': async (input, ctx) => {
      ctx.audit.target = 'operator:oidc';
      // A member of the window's cluster who accepted an invitation through OIDC signs in as that member.
      const context = input.context ?? ctx.contextId;
      let linkedOn: string | null = null;
      const linked = async (issuer: string, subject: string) => {
        if (!context) return null;
        const cluster = await engine.directory.forContext(context).catch(() => null);
        const member = cluster ? await engine.members.byOidcLink(cluster, issuer, subject) : null;
        if (member && cluster) {
          linkedOn = context;
          ctx.audit.cluster = cluster.clusterId;
        }
        return member;
      };
      const result = await ops.oidcComplete(ctx.connectionId, input.flowId, input.timeoutMs, linked);
      if (linkedOn) {
        // signed in as a member of that cluster: the window works on it
        engine.clusters.selectable(linkedOn);
        engine.selections.set(ctx.connectionId, linkedOn);
      }
      ctx.audit.target = `operator:${result.operator.id}`;
      ctx.audit.after = { operator: result.operator.id, role: result.operator.role };
      return result;
    },
    'operators.oidc.test': async (input, ctx) => {
      ctx.audit.target = 'oidc-test';
      const result = await ops.oidcTest(ctx.connectionId, input.flowId, input.timeoutMs);
      ctx.audit.target = `oidc-test:${result.operator.id}`;
      ctx.audit.after = { operator: result.operator.id, role: result.operator.role, grants: result.operator.grants ?? [] };
      return result;
    },
    // Audited: a refresh re-reads the groups, and the role may change with them.
    'operators.oidc.refresh': async (_input, ctx) => {
      ctx.audit.target = `operator:${ctx.operator.id}`;
      ctx.audit.before = { role: ctx.operator.role };
      const { previousRole, ...result } = await ops.oidcRefresh(ctx.connectionId);
      ctx.audit.after = { role: result.operator.role, roleChanged: result.operator.role !== previousRole, expiresAt: result.expiresAt };
      return result;
    },
  };
}
