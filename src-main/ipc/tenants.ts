import type { operationCommands, tenantCommands } from '../../src-shared/contract/tenants';
import type { Engine } from '../engine';
import type { HandlersFor } from './pipeline';

/** Binds the tenant and operation commands to the engine; audit notes name the tenant. */
export function tenantsHandlers(engine: Engine): HandlersFor<typeof tenantCommands> {
  const t = engine.tenants;
  return {
    'tenants.list': (input) => t.list(input),
    'tenants.get': (input) => t.get(input.slug),
    'tenants.create': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      ctx.audit.before = null;
      const out = await t.create(input, ctx.operator.id);
      // The password goes back to the operator once and never into the audit record.
      ctx.audit.after = { slug: input.slug, name: input.name, tier: input.tier, operationId: out.operationId };
      return out;
    },
    'tenants.delete': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      const out = await t.delete(input.slug, input.finalBackup, ctx.operator.id);
      ctx.audit.after = { deleted: input.slug, operationId: out.operationId, leftovers: out.leftovers };
      return out;
    },
    'tenants.suspend': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      ctx.audit.before = { status: 'active' };
      const out = await t.maintenance.suspend(input.slug);
      ctx.audit.after = out;
      return out;
    },
    'tenants.resume': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      ctx.audit.before = { status: 'suspended' };
      const out = await t.maintenance.resume(input.slug);
      ctx.audit.after = out;
      return out;
    },
    'tenants.reconcile': () => t.reconcile(false),
    'tenants.repair': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      const done =
        input.action === 'drop-orphan'
          ? `deleted every remnant of "${input.slug}" (leftovers: ${(await t.delete(input.slug, false, ctx.operator.id)).leftovers.length})`
          : await t.maintenance.repair(input.slug, input.action);
      ctx.audit.after = { action: input.action, done };
      return { slug: input.slug, action: input.action, done };
    },
    'tenants.schema.status': async (input) => t.maintenance.schemaStatus(input.slug ? [input.slug] : await t.slugsWithDatabase()),
    'tenants.schema.apply': async (input, ctx) => {
      const slugs = input.slug ? [input.slug] : await t.slugsWithDatabase();
      ctx.audit.target = input.slug ? `tenant:${input.slug}` : 'tenants:*';
      const out = await t.maintenance.schemaApply(slugs, input.concurrency);
      ctx.audit.after = { summary: out.summary, failed: out.results.filter((r) => !r.ok).map((r) => r.slug) };
      return out;
    },
    'tenants.adminPassword.reveal': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      ctx.audit.after = { revealed: 'initial admin password' };
      return t.maintenance.revealAdminPassword(input.slug);
    },
    'tenants.adminPassword.reset': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}`;
      const out = await t.maintenance.resetAdminPassword(input.slug);
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
      ctx.audit.before = { status: op.status, failedStep: op.failedStep };
      const out = await t.resumeOperation(input.operationId);
      ctx.audit.after = { status: out.status };
      return out;
    },
    'operations.rollback': async (input, ctx) => {
      const op = engine.saga.get(input.operationId);
      ctx.audit.target = `operation:${op.kind}:${op.target}`;
      ctx.audit.before = { status: op.status, failedStep: op.failedStep };
      const out = await t.rollbackOperation(input.operationId);
      ctx.audit.after = { status: out.status };
      return out;
    },
  };
}
