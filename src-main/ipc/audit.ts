import type { auditCommands } from '../../src-shared/contract/audit';
import type { Engine } from '../engine';
import type { HandlersFor } from './pipeline';

/** Binds audit.* to the audit service (thin: the service holds the logic). */
export function auditHandlers(engine: Engine): HandlersFor<typeof auditCommands> {
  const audit = engine.auditLog;
  return {
    'audit.status': () => audit.status(),
    'audit.query': (input) => audit.query(input),
    'audit.get': (input) => audit.get(input.source, input.seq),
    'audit.verify': (input) => audit.verify(input.source),
    'audit.export': async (input, ctx) => {
      ctx.audit.target = `audit-bundle:${input.path}`;
      const result = await audit.export(input.path, { from: input.from, to: input.to });
      ctx.audit.after = result;
      return result;
    },
    'audit.import': async (input, ctx) => {
      ctx.audit.target = `audit-bundle:${input.path}`;
      const result = await audit.import(input.path, input.trustSigner);
      ctx.audit.after = { id: result.id, count: result.count, signer: result.signer };
      return result;
    },
    'audit.bundles': () => ({ bundles: audit.bundles() }),
    'audit.sync': () => audit.sync(),
    'audit.signers': () => ({ signers: audit.signers() }),
  };
}
