import type { entitiesCommands } from '../../src-shared/contract/entities';
import type { Engine } from '../engine';
import type { HandlersFor } from './pipeline';

/** Binds the entity commands to the entities service; the audit record carries the definition before and after (read, not assumed). */
export function entitiesHandlers(engine: Engine): HandlersFor<typeof entitiesCommands> {
  const e = engine.entities;
  return {
    'entities.list': async (_input, ctx) => e.list(await ctx.cluster()),
    'entities.resourceServers.create': async (input, ctx) => {
      ctx.audit.target = `entity:resource-server:${input.identifier}`;
      const { before, ...out } = await e.createResourceServer(await ctx.cluster(), input, ctx.operator.id);
      ctx.audit.before = before;
      ctx.audit.after = { ...out.entity, revision: out.revision };
      return out;
    },
    'entities.resourceServers.update': async (input, ctx) => {
      ctx.audit.target = `entity:resource-server:${input.identifier}`;
      const { before, ...out } = await e.updateResourceServer(await ctx.cluster(), input, ctx.operator.id);
      ctx.audit.before = before;
      ctx.audit.after = out.changed ? { ...out.entity, revision: out.revision } : { unchanged: true };
      return out;
    },
    'entities.resourceServers.delete': async (input, ctx) => {
      ctx.audit.target = `entity:resource-server:${input.identifier}`;
      const { before, ...out } = await e.deleteResourceServer(await ctx.cluster(), input);
      ctx.audit.before = before;
      ctx.audit.after = { deleted: out.deleted, revision: out.revision, rolesAffected: out.rolesAffected };
      return out;
    },
    'entities.roles.create': async (input, ctx) => {
      ctx.audit.target = `entity:role:${input.name}`;
      const { before, ...out } = await e.createRole(await ctx.cluster(), input, ctx.operator.id);
      ctx.audit.before = before;
      ctx.audit.after = { ...out.entity, revision: out.revision };
      return out;
    },
    'entities.roles.update': async (input, ctx) => {
      ctx.audit.target = `entity:role:${input.name}`;
      const { before, ...out } = await e.updateRole(await ctx.cluster(), input, ctx.operator.id);
      ctx.audit.before = before;
      ctx.audit.after = out.changed ? { ...out.entity, revision: out.revision } : { unchanged: true };
      return out;
    },
    'entities.roles.delete': async (input, ctx) => {
      ctx.audit.target = `entity:role:${input.name}`;
      const { before, ...out } = await e.deleteRole(await ctx.cluster(), input);
      ctx.audit.before = before;
      ctx.audit.after = { deleted: out.deleted, revision: out.revision };
      return out;
    },
    'entities.plan': async (input, ctx) => e.plan(await ctx.cluster(), input),
    'entities.apply': async (input, ctx) => {
      ctx.audit.target = input.slugs
        ? `entities:sync:${input.slugs.length === 1 ? `tenant:${input.slugs[0]}` : `${input.slugs.length} tenants`}`
        : 'entities:sync:*';
      const out = await e.apply(await ctx.cluster(), input, ctx.operator.id);
      ctx.audit.after = {
        operationId: out.operationId,
        status: out.status,
        revision: out.revision,
        summary: out.summary,
        failed: out.results.filter((r) => r.status === 'failed').map((r) => r.slug),
      };
      return out;
    },
    'entities.applyResult': (input) => e.result(input.operationId),
  };
}
