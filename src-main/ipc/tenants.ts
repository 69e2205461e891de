import type { operationCommands, tenantCommands } from '../../src-shared/contract/tenants';
import type { Engine } from '../engine';
import type { HandlersFor } from './pipeline';

/** Binds the tenant and operation commands to the engine; audit notes name the tenant. */
export function tenantsHandlers(engine: Engine): HandlersFor<typeof tenantCommands> {
  const t = engine.tenants;
  return {
    'tenants.list': async (input, ctx) => t.list(await ctx.cluster(), input),
    'tenants.get': async (input, ctx) => t.get(await ctx.cluster(), input.slug),
    'tenants.create': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      ctx.audit.before = null;
      const out = await t.create(await ctx.cluster(), input, ctx.operator.id);
      // The password goes back to the operator once and never into the audit record.
      ctx.audit.after = { slug: input.slug, name: input.name, tier: input.tier, operationId: out.operationId };
      return out;
    },
    'tenants.delete': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      const out = await t.delete(await ctx.cluster(), input.slug, input.finalBackup, ctx.operator.id);
      ctx.audit.after = { deleted: input.slug, operationId: out.operationId, leftovers: out.leftovers };
      return out;
    },
    'tenants.suspend': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      const { result, before } = await t.maintenance.suspend(await ctx.cluster(), input.slug);
      ctx.audit.before = before;
      ctx.audit.after = result;
      return result;
    },
    'tenants.resume': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      const { result, before } = await t.maintenance.resume(await ctx.cluster(), input.slug);
      ctx.audit.before = before;
      ctx.audit.after = result;
      return result;
    },
    'tenants.reconcile': async (_input, ctx) => t.reconcile(await ctx.cluster(), false),
    'tenants.repair': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      const cluster = await ctx.cluster();
      const done =
        input.action === 'drop-orphan'
          ? `deleted every remnant of "${input.slug}" (leftovers: ${(await t.delete(cluster, input.slug, false, ctx.operator.id)).leftovers.length})`
          : await t.maintenance.repair(cluster, input.slug, input.action);
      ctx.audit.after = { action: input.action, done };
      return { slug: input.slug, action: input.action, done };
    },
    'tenants.schema.status': async (input, ctx) => {
      const cluster = await ctx.cluster();
      return t.maintenance.schemaStatus(cluster, input.slug ? [input.slug] : await t.slugsWithDatabase(cluster));
    },
    'tenants.schema.apply': async (input, ctx) => {
      const cluster = await ctx.cluster();
      const slugs = input.slug ? [input.slug] : await t.slugsWithDatabase(cluster);
      ctx.audit.target = input.slug ? `tenant:${input.slug}` : 'tenants:*';
      const out = await t.maintenance.schemaApply(cluster, slugs, input.concurrency);
      ctx.audit.after = { summary: out.summary, failed: out.results.filter((r) => !r.ok).map((r) => r.slug) };
      return out;
    },
    'tenants.adminPassword.reveal': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      ctx.audit.after = { revealed: 'initial admin password' };
      return t.maintenance.revealAdminPassword(await ctx.cluster(), input.slug);
    },
    'tenants.adminPassword.reset': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      const out = await t.maintenance.resetAdminPassword(await ctx.cluster(), input.slug);
      ctx.audit.after = { reset: 'initial admin password', username: out.username };
      return out;
    },
  };
}

export function operationsHandlers(engine: Engine): HandlersFor<typeof operationCommands> {
  const t = engine.tenants;
  return {
    'operations.unfinished': () => ({ operations: t.unfinished() }),
    'operations.resume': async (input, ctx) => {
      const op = engine.saga.get(input.operationId);
      ctx.audit.target = `operation:${op.kind}:${op.target}`;
      // The action belongs to the operation's cluster, whichever one this session looks at.
      ctx.audit.cluster = op.clusterId;
      ctx.audit.before = { status: op.status, failedStep: op.failedStep };
      const out = await t.resumeOperation(input.operationId);
      ctx.audit.after = { status: out.status };
      return out;
    },
    'operations.rollback': async (input, ctx) => {
      const op = engine.saga.get(input.operationId);
      ctx.audit.target = `operation:${op.kind}:${op.target}`;
      ctx.audit.cluster = op.clusterId;
      ctx.audit.before = { status: op.status, failedStep: op.failedStep };
      const out = await t.rollbackOperation(input.operationId);
      ctx.audit.after = { status: out.status };
      return out;
    },
  };
}
