import type { operatorsCommands } from '../../src-shared/contract/operators';
import type { Engine } from '../engine';
import type { HandlersFor } from './pipeline';

/** Binds operators.* to the operators service; each mutating handler names its target for the audit log. */
export function operatorsHandlers(engine: Engine): HandlersFor<typeof operatorsCommands> {
  const ops = engine.operators;
  return {
    'operators.status': (_input, ctx) => ops.status(ctx.connectionId),
    'operators.setupFirstAdmin': async (input, ctx) => {
      ctx.audit.target = `operator:local:${input.username}`;
      const result = await ops.setupFirstAdmin(ctx.connectionId, input);
      ctx.audit.after = { username: input.username, role: 'admin' };
      return result;
    },
    'operators.signIn': (input, ctx) => {
      ctx.audit.target = `operator:local:${input.username}`;
      return ops.signIn(ctx.connectionId, input.username, input.password);
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
    'operators.oidc.begin': (input, ctx) => ops.oidcBegin(ctx.connectionId, input.profile, ctx.contextId),
    'operators.oidc.complete': async (input, ctx) => {
      ctx.audit.target = 'operator:oidc';
      const result = await ops.oidcComplete(ctx.connectionId, input.flowId, input.timeoutMs);
      ctx.audit.target = `operator:${result.operator.id}`;
      ctx.audit.after = { operator: result.operator.id, role: result.operator.role };
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
