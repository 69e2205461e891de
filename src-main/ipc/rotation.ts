import type { rotationCommands } from '../../src-shared/contract/secrets';
import type { Engine } from '../engine';
import type { HandlersFor } from './pipeline';

/**
 * Binds the rotation commands. Audit notes carry kinds, ids (kid, token id, database
 * credential id) and phases, never a value: the redactor would catch key names, but
 * nothing secret is put there in the first place.
 */
export function rotationHandlers(engine: Engine): HandlersFor<typeof rotationCommands> {
  const r = engine.rotation;
  return {
    'rotation.status': async (input, ctx) => r.status(await ctx.cluster(), input.slug),
    'rotation.rotate': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}:${input.kind}`;
      const cluster = await ctx.cluster();
      const before = await r.status(cluster, input.slug);
      const kind = before.kinds.find((k) => k.kind === input.kind);
      ctx.audit.before = { kind: input.kind, currentId: kind?.currentId ?? null, phase: kind?.phase ?? null };
      const out = await r.rotate(cluster, input, ctx.operator.id);
      ctx.audit.after = {
        kind: input.kind,
        newId: out.id,
        operationId: out.operationId,
        phases: out.steps.map((s) => `${s.name}:${s.status}`),
        retireAfter: out.retireAfter,
      };
      return out;
    },
    'rotation.retire': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}:${input.kind}`;
      const cluster = await ctx.cluster();
      // read, not assumed: the entry's state as the cluster has it now
      const status = await r.status(cluster, input.slug);
      const entry = status.kinds.find((k) => k.kind === input.kind)?.entries.find((e) => e.id === input.id);
      ctx.audit.before = { kind: input.kind, id: input.id, state: entry?.state ?? null, revoked: entry?.revoked ?? null };
      const out = await r.retire(cluster, input, ctx.operator.id);
      ctx.audit.after = { kind: input.kind, id: input.id, state: 'retired', operationId: out.operationId };
      return out;
    },
    'rotation.revoke': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}:${input.kind}`;
      const { before, ...out } = await r.revoke(await ctx.cluster(), input, ctx.operator.id);
      ctx.audit.before = { kind: input.kind, id: input.id, state: before };
      ctx.audit.after = { kind: input.kind, id: input.id, state: 'retired', emergency: true, operationId: out.operationId };
      return out;
    },
    'rotation.lifetimes.set': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}:lifetimes`;
      const { result, before } = await r.setLifetimes(await ctx.cluster(), input.slug, input.lifetimes);
      ctx.audit.before = before;
      ctx.audit.after = { lifetimes: result.lifetimes, windowSeconds: result.window.seconds };
      return result;
    },
    'rotation.bootstrap.issue': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}:bootstrap`;
      const { result, replaced } = await r.issueBootstrap(await ctx.cluster(), input.slug, input.expiresInDays, ctx.operator.id);
      // The token goes back to the operator once; the record holds its id and expiry only.
      ctx.audit.before = { replacedId: replaced };
      ctx.audit.after = { id: result.id, expires: result.expires };
      return result;
    },
    'rotation.bootstrap.revoke': async (input, ctx) => {
      ctx.audit.target = `tenant:${input.slug}:bootstrap`;
      const out = await r.revokeBootstrap(await ctx.cluster(), input.slug);
      ctx.audit.before = { id: out.revokedId };
      ctx.audit.after = { id: null, revokedId: out.revokedId };
      return out;
    },
    'rotation.fleet.status': async (_input, ctx) => r.fleetStatus(await ctx.cluster()),
    'rotation.fleet.rotate': async (input, ctx) => {
      ctx.audit.target = `tenants:*:${input.kind}`;
      const out = await r.fleetRotate(await ctx.cluster(), input, ctx.operator.id);
      ctx.audit.after = {
        fleetId: out.fleetId,
        kind: out.kind,
        status: out.status,
        total: out.total,
        done: out.done,
        failed: out.items.filter((i) => i.status === 'failed').map((i) => i.slug),
      };
      return out;
    },
    'rotation.fleet.resume': async (input, ctx) => {
      const cluster = await ctx.cluster();
      const before = r.fleet.get(input.fleetId);
      ctx.audit.target = `tenants:*:${before.kind}`;
      ctx.audit.before = { fleetId: before.fleetId, status: before.status, done: before.done, failed: before.failed };
      const out = await r.fleetResume(cluster, input.fleetId, ctx.operator.id);
      ctx.audit.after = {
        fleetId: out.fleetId,
        status: out.status,
        done: out.done,
        failed: out.items.filter((i) => i.status === 'failed').map((i) => i.slug),
      };
      return out;
    },
    'rotation.fleet.list': async (_input, ctx) => ({ fleets: r.fleetList(await ctx.cluster()) }),
    'rotation.policy.set': async (input, ctx) => {
      ctx.audit.target = 'rotation.policy';
      const { before, after } = await r.setPolicy(await ctx.cluster(), input.maxAgeDays);
      ctx.audit.before = { maxAgeDays: before };
      ctx.audit.after = { maxAgeDays: after };
      return { policy: after };
    },
  };
}
