import type { infraCommands } from '../../src-shared/contract/infra';
import type { workersCommands } from '../../src-shared/contract/workers';
import type { Engine } from '../engine';
import type { HandlersFor } from './pipeline';

/** Worker configuration and tenant profile: audit notes carry the state read before and what was written. */
export function workersHandlers(engine: Engine): HandlersFor<typeof workersCommands> {
  const w = engine.workers;
  return {
    'workers.config.get': async (input, ctx) => w.getConfig(await ctx.cluster(), input.slug),
    'workers.config.set': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `tenant:${input.slug}`;
      const before = await w.getConfig(cluster, input.slug);
      ctx.audit.before = { config: before.config, stored: before.stored, loginWorker: before.loginWorker?.name ?? null };
      const out = await w.setConfig(cluster, input, ctx.operator.id);
      ctx.audit.after = { config: out.config, operationId: out.operationId, loginWorker: out.loginWorker ? { name: out.loginWorker.name, available: out.loginWorker.available } : null };
      return out;
    },
    'tenants.profile.set': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `tenant:${input.slug}`;
      const before = await w.getConfig(cluster, input.slug).catch(() => null);
      ctx.audit.before = before ? { name: before.name, tier: before.tier } : null;
      const out = await w.setProfile(cluster, input, ctx.operator.id);
      ctx.audit.after = { name: out.name, tier: out.tier, operationId: out.operationId };
      return out;
    },
  };
}

/** The Infrastructure page: answered from the cluster's watch (started on first use). */
export function infraHandlers(engine: Engine): HandlersFor<typeof infraCommands> {
  return {
    'infra.snapshot': async (_input, ctx) => engine.infra.snapshot(await ctx.cluster()),
    'infra.tenant': async (input, ctx) => engine.infra.tenant(await ctx.cluster(), input.slug),
    'infra.database': async (_input, ctx) => engine.infra.database(await ctx.cluster()),
  };
}
