import { commands, ContractError, type CommandName } from '../../src-shared/contract';
import type { tokensCommands } from '../../src-shared/contract/tokens';
import type { Engine } from '../engine';
import { commandMatches, tenantMatches, TokenRefused, type NamedTenants } from '../engine/tokens';
import type { HandlersFor, TokenGate } from './pipeline';
import { SCOPED_OUTPUTS, tenantsNamedBy } from './tenant-scope';

/** The audit notes of a refused token: the reason, and which token when it is known (never the secret). */
function noteRefusal(ctx: { audit: { target?: string; after?: unknown; denied?: boolean } }, error: unknown, targetToken: boolean) {
  if (!(error instanceof TokenRefused)) return;
  ctx.audit.denied = true;
  if (error.token && targetToken) ctx.audit.target = `token:${error.token.id}`;
  ctx.audit.after = { refused: error.reason, ...(error.token ? { token: error.token.name, owner: error.token.ownerId } : {}) };
}

/** A token scope or limit naming no command of this console is a typo: refused before the token exists. */
function checkCommandPatterns(input: { scopes: { commands: string[] }; limits: { command: string }[] }) {
  const names = Object.keys(commands);
  const fields: Record<string, string> = {};
  input.scopes.commands.forEach((p, i) => {
    if (!names.some((n) => commandMatches(p, n))) fields[`scopes.commands.${i}`] = `"${p}" matches no command`;
  });
  input.limits.forEach((l, i) => {
    if (!names.some((n) => commandMatches(l.command, n))) fields[`limits.${i}.command`] = `"${l.command}" matches no command`;
  });
  const first = Object.values(fields)[0];
  if (first)
    throw new ContractError('VALIDATION', `${first}: use a command name such as tenants.create, a prefix such as tenants.*, or *.`, {
      fields,
    });
}

/** Binds tokens.* to the token service; every mutation names the token (never its secret) for the audit log. */
export function tokensHandlers(engine: Engine): HandlersFor<typeof tokensCommands> {
  const tokens = engine.tokens;
  return {
    'tokens.list': async (input, ctx) => {
      const cluster = await ctx.cluster();
      return { tokens: await tokens.list(cluster, ctx.operator, input), settings: await tokens.settings(cluster) };
    },
    'tokens.create': async (input, ctx) => {
      ctx.audit.target = `token:${ctx.operator.id}/${input.name}`;
      checkCommandPatterns(input);
      const out = await tokens.create(await ctx.cluster(), ctx.operator, input);
      ctx.audit.target = `token:${out.view.id}`;
      // the view, never the token itself
      ctx.audit.after = {
        name: out.view.name,
        owner: out.view.ownerId,
        role: out.view.role,
        expiresAt: out.view.expiresAt,
        scopes: out.view.scopes,
        limits: out.view.limits,
      };
      return out;
    },
    'tokens.revoke': async (input, ctx) => {
      ctx.audit.target = `token:${input.id}`;
      const { before, after } = await tokens.revoke(await ctx.cluster(), ctx.operator, input.id);
      ctx.audit.before = { name: before.name, owner: before.ownerId, status: before.status };
      ctx.audit.after = { status: after.status };
      // connections signed in with it stop now, not only at their next command
      engine.sessions.signOutWhere((s) => s.operator.via === 'token' && s.operator.token?.id === input.id);
      return after;
    },
    'tokens.settings.set': async (input, ctx) => {
      ctx.audit.target = 'tokens.settings';
      const { before, after } = await tokens.setMaxExpiry(await ctx.cluster(), input.maxExpiryDays, ctx.operator.id);
      ctx.audit.before = { maxExpiryDays: before.maxExpiryDays };
      ctx.audit.after = { maxExpiryDays: after.maxExpiryDays };
      return after;
    },
    'tokens.signIn': async (input, ctx) => {
      ctx.audit.target = 'token:(presented)';
      try {
        // shape and checksum are checked before the cluster is even resolved
        const out = await tokens.authenticate(ctx.cluster, input.token);
        engine.sessions.signIn(ctx.connectionId, out.operator);
        ctx.audit.target = `token:${out.tokenId}`;
        ctx.audit.after = { owner: out.operator.id, token: out.operator.token?.name, role: out.operator.role };
        return out;
      } catch (error) {
        noteRefusal(ctx, error, true);
        throw error;
      }
    },
  };
}

/**
 * Which tenants a command acts on, as a token's tenant scope sees it. Stricter than for a
 * signed-in member: a mutation that names no tenant (a license, a pool, a cluster profile)
 * reaches every tenant, and a backup or an operation named by id does not say whose data it
 * is, so both need the tenant scope "*".
 */
export function tenantsForToken(name: CommandName, parsedInput: unknown): NamedTenants {
  const input = (parsedInput ?? {}) as Record<string, unknown>;
  if (typeof input.backupId === 'string' || typeof input.operationId === 'string') return 'fleet';
  const named = tenantsNamedBy(name, parsedInput);
  if (named === null && commands[name].mutating) return 'fleet';
  return named;
}

/** The pipeline's check before a token identity's command: liveness on this cluster, scopes, limits. */
export function tokenGate(engine: Engine): TokenGate {
  return {
    async admit(operator, name, parsedInput, ctx) {
      if (!operator.token) throw new ContractError('UNAUTHENTICATED', 'This connection’s token is unknown. Sign in again.');
      try {
        const cluster = await ctx.cluster();
        let named = tenantsForToken(name, parsedInput);
        // a fleet read with a per-tenant filter (tenants.list) is answered with the token's tenants only
        const filter = named === 'fleet' && !commands[name].mutating ? SCOPED_OUTPUTS[name] : undefined;
        if (filter) named = null;
        const acting = { role: operator.role, globalRole: operator.globalRole !== false, grants: operator.grants ?? [] };
        const admission = await engine.tokens.admit(cluster, operator.token.id, name, named, acting);
        if (!filter || admission.tenants.includes('*')) return admission;
        const patterns = admission.tenants;
        return {
          release: () => admission.release(),
          output: (out) => filter(out, (slug) => patterns.some((p) => tenantMatches(p, slug))),
        };
      } catch (error) {
        // the command's own target stays (the tenant it named is in its parameters)
        noteRefusal(ctx, error, false);
        throw error;
      }
    },
  };
}
