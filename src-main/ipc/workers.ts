import type { infraCommands } from '../../src-shared/contract/infra';
import type { poolsCommands, upgradesCommands, workersCommands } from '../../src-shared/contract/workers';
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
      ctx.audit.after = {
        config: out.config,
        operationId: out.operationId,
        loginWorker: out.loginWorker ? { name: out.loginWorker.name, available: out.loginWorker.available } : null,
      };
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

/** Agent pools: before states are read from the cluster, never assumed; key values never reach the audit record (ids only). */
export function poolsHandlers(engine: Engine): HandlersFor<typeof poolsCommands> {
  const pools = engine.workers.pools;
  return {
    'pools.list': async (_input, ctx) => ({ pools: await pools.list(await ctx.cluster()) }),
    'pools.create': async (input, ctx) => {
      ctx.audit.target = `pool:${input.name}`;
      ctx.audit.before = null;
      const out = await pools.create(await ctx.cluster(), input, ctx.operator.id);
      ctx.audit.after = { name: out.pool.name, labels: out.pool.labels, replicas: out.pool.replicas, operationId: out.operationId };
      return out;
    },
    'pools.delete': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `pool:${input.name}`;
      const before = (await pools.list(cluster)).find((p) => p.name === input.name);
      ctx.audit.before = before ? { replicas: before.replicas, tenants: before.tenants } : null;
      const out = await pools.delete(cluster, input, ctx.operator.id);
      ctx.audit.after = { deleted: input.name, reassignedTo: input.reassignTo, reassigned: out.reassigned, operationId: out.operationId };
      return out;
    },
    'pools.assign': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      const out = await engine.workers.assign(await ctx.cluster(), input.slug, input.pool, ctx.operator.id);
      ctx.audit.before = { task: out.before.task };
      ctx.audit.after = { task: out.config.task };
      return { slug: out.slug, config: out.config };
    },
    'pools.scale': async (input, ctx) => {
      ctx.audit.target = `pool:${input.name}`;
      const out = await pools.scale(await ctx.cluster(), input.name, input.replicas);
      ctx.audit.before = { replicas: out.before };
      ctx.audit.after = { replicas: out.replicas };
      return { name: out.name, replicas: out.replicas, rollout: out.rollout };
    },
    'pools.shared.init': async (input, ctx) => {
      ctx.audit.target = 'pool:shared';
      ctx.audit.before = null;
      const out = await pools.initShared(await ctx.cluster(), input, ctx.operator.id);
      ctx.audit.after = { replicas: out.pool.replicas, keyId: out.pool.keyId, operationId: out.operationId };
      return out;
    },
    'pools.shared.rotateKey': async (_input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = 'pool:shared';
      const before = (await pools.list(cluster)).find((p) => p.shared);
      ctx.audit.before = before ? { keyId: before.keyId } : null;
      const out = await pools.rotateKey(cluster, ctx.operator.id);
      ctx.audit.after = { keyId: out.pool.keyId, previousKeyId: out.pool.previousKeyId, operationId: out.operationId };
      return out;
    },
    'pools.agents.revoke': async (input, ctx) => {
      ctx.audit.target = `agent:${input.pool}/${input.agent}`;
      const out = await pools.setAgent(await ctx.cluster(), input.pool, input.agent, true);
      ctx.audit.before = out.before;
      ctx.audit.after = { epoch: out.epoch, revoked: out.revoked };
      return { pool: out.pool, agent: out.agent, epoch: out.epoch, revoked: out.revoked };
    },
    'pools.agents.readmit': async (input, ctx) => {
      ctx.audit.target = `agent:${input.pool}/${input.agent}`;
      const out = await pools.setAgent(await ctx.cluster(), input.pool, input.agent, false);
      ctx.audit.before = out.before;
      ctx.audit.after = { epoch: out.epoch, revoked: out.revoked };
      return { pool: out.pool, agent: out.agent, epoch: out.epoch, revoked: out.revoked };
    },
  };
}

/** Upgrades: each command audited with the upgrade's state before and after. */
export function upgradesHandlers(engine: Engine): HandlersFor<typeof upgradesCommands> {
  const u = engine.workers.upgrades;
  const brief = (s: { state: string; component: string; version: string } | null) =>
    s ? { state: s.state, component: s.component, version: s.version } : null;
  return {
    'upgrades.start': async (input, ctx) => {
      ctx.audit.target = `upgrade:${input.component}`;
      ctx.audit.before = null;
      const out = await u.start(await ctx.cluster(), input, ctx.operator.id);
      ctx.audit.after = {
        ...brief(out),
        operationId: out.operationId,
        canaryPool: out.canaryPool,
        targets: out.targets.map((t) => ({ deployment: t.deployment, from: t.from, to: t.to })),
      };
      return out;
    },
    'upgrades.status': async (input, ctx) => ({ upgrade: u.status(await ctx.cluster(), input.operationId) }),
    'upgrades.pause': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `upgrade:${input.operationId}`;
      ctx.audit.before = brief(u.status(cluster, input.operationId));
      const out = await u.pause(cluster, input.operationId);
      ctx.audit.after = brief(out);
      return out;
    },
    'upgrades.resume': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `upgrade:${input.operationId}`;
      ctx.audit.before = brief(u.status(cluster, input.operationId));
      const out = await u.resume(cluster, input.operationId);
      ctx.audit.after = brief(out);
      return out;
    },
    'upgrades.rollback': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `upgrade:${input.operationId}`;
      ctx.audit.before = brief(u.status(cluster, input.operationId));
      const out = await u.rollback(cluster, input.operationId, ctx.operator.id);
      ctx.audit.after = { ...brief(out), operationId: out.operationId };
      return out;
    },
  };
}
