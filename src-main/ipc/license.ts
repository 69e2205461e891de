import type { licenseCommands } from '../../src-shared/contract/license';
import type { Engine } from '../engine';
import type { CommandContext } from '../engine/core/context';
import type { HandlersFor } from './pipeline';

/** Binds the license commands to the license service; audit notes say what changed. */
export function licenseHandlers(engine: Engine): HandlersFor<typeof licenseCommands> {
  /** The license service of the cluster this command acts on. */
  const license = (ctx: CommandContext) => engine.license(ctx.cluster);
  const summary = (claims: { lid: string; customer: string; tier: string; exp: number } | null) =>
    claims ? { lid: claims.lid, customer: claims.customer, tier: claims.tier, exp: new Date(claims.exp * 1000).toISOString() } : null;
  return {
    'license.status': (_input, ctx) => license(ctx).status(),
    'license.activate': async (input, ctx) => {
      ctx.audit.target = 'license';
      const { status, fanout, previous } = await license(ctx).activate(
        {
          content: input.license,
          encoding: input.encoding,
          ...(input.allocations ? { allocations: input.allocations } : {}),
          ...(input.confirmReplace !== undefined ? { confirmReplace: input.confirmReplace } : {}),
        },
        ctx.operator.id,
      );
      ctx.audit.before = summary(previous);
      ctx.audit.after = {
        ...(status.license
          ? { lid: status.license.lid, customer: status.license.customer, tier: status.license.tier, exp: status.license.expiresAt }
          : {}),
        fanout: { id: fanout.operationId, status: fanout.status, failed: fanout.failed.length },
      };
      return { status, fanout };
    },
    'license.clear': async (input, ctx) => {
      ctx.audit.target = 'license';
      const { status, fanout, previous } = await license(ctx).clear(input.customer, ctx.operator.id);
      ctx.audit.before = summary(previous);
      ctx.audit.after = { tier: 'FREE', fanout: { id: fanout.operationId, status: fanout.status, failed: fanout.failed.length } };
      return { status, fanout };
    },
    'license.allocations.get': (_input, ctx) => license(ctx).allocations(),
    'license.allocations.set': async (input, ctx) => {
      ctx.audit.target = 'license.allocations';
      const result = await license(ctx).setAllocations(input.allocations, ctx.operator.id);
      ctx.audit.after = { changed: input.allocations, fanout: { id: result.fanout.operationId, status: result.fanout.status } };
      return result;
    },
    'license.fanout.resume': async (_input, ctx) => {
      ctx.audit.target = 'license.fanout';
      const fanout = await license(ctx).resume(ctx.operator.id);
      ctx.audit.after = { id: fanout.operationId, status: fanout.status, written: fanout.written, failed: fanout.failed.length };
      return { fanout };
    },
    'license.renew.online': async (_input, ctx) => {
      ctx.audit.target = 'license';
      const { status, fanout, previous } = await license(ctx).renewOnline(ctx.operator.id);
      ctx.audit.before = summary(previous);
      ctx.audit.after = status.license ? { lid: status.license.lid, exp: status.license.expiresAt } : null;
      return { status, fanout };
    },
    'license.renew.exportRequest': async (_input, ctx) => {
      ctx.audit.target = 'license.renewal-request';
      const request = await license(ctx).exportRenewalRequest();
      ctx.audit.after = { fileName: request.fileName, nonce: request.nonce };
      return request;
    },
    'license.renew.importAnswer': async (input, ctx) => {
      ctx.audit.target = 'license';
      const { status, fanout, previous } = await license(ctx).importAnswer(
        { content: input.license, encoding: input.encoding },
        ctx.operator.id,
      );
      ctx.audit.before = summary(previous);
      ctx.audit.after = status.license ? { lid: status.license.lid, exp: status.license.expiresAt } : null;
      return { status, fanout };
    },
    'license.revocations.import': async (input, ctx) => {
      ctx.audit.target = 'license.revocations';
      const result = await license(ctx).importRevocations({ content: input.content, encoding: input.encoding }, ctx.operator.id);
      ctx.audit.after = result;
      return result;
    },
    'license.history': async (_input, ctx) => ({ entries: await license(ctx).history() }),
  };
}
