import path from 'node:path';
import type { z } from 'zod';
import { ContractError } from '../../src-shared/contract';
import type { auditCommands, BundleLocation } from '../../src-shared/contract/audit';
import type { Engine } from '../engine';
import type { CommandContext } from '../engine/core/context';
import type { ShellServices } from './handlers';
import { hasDialogs, locateLocal, needAdmin } from './local-files';
import type { HandlersFor } from './pipeline';

/**
 * The cluster this session works on, as the audit log names clusters (its kube-system UID,
 * what records carry in `cluster`). Known without a network call once the context was
 * reached; else resolved (read-only commands only: a mutating one would be bound to it).
 */
async function clusterOf(engine: Engine, ctx: CommandContext, resolve: boolean): Promise<string | null> {
  if (!ctx.contextId) return null;
  const known = engine.directory.knownUid(ctx.contextId);
  if (known || !resolve) return known;
  return ctx.cluster().then(
    (c) => c.clusterId,
    () => null,
  );
}

/** Binds audit.* to the audit service (thin: the service holds the logic; paths come from a dialog or an export root, never from the page). */
export function auditHandlers(engine: Engine, shell: ShellServices = {}): HandlersFor<typeof auditCommands> {
  const audit = engine.auditLog;
  const source = async (s: string, ctx: CommandContext, resolve = true) => {
    const resolved = audit.resolveSource(s, s === 'cluster' ? await clusterOf(engine, ctx, resolve) : null);
    if (resolved) return resolved;
    // a cluster is selected but was never reached: its identity (and so its log) is unknown here
    if (s === 'cluster' && ctx.contextId)
      throw new ContractError(
        'UNAVAILABLE',
        `The cluster ${ctx.contextId.split('#').pop()} has not been reached from this console yet, so there is no copy of its audit log to read. Reconnect to it and try again, or pick the workstation log or a bundle.`,
      );
    throw new ContractError('VALIDATION', 'No cluster is selected. Choose a cluster, or pick the workstation log or a bundle.');
  };

  /** The folder a bundle goes to or comes from; null when the operator cancelled the dialog. */
  const locate = (loc: z.infer<typeof BundleLocation>, mode: 'new' | 'existing', ctx: CommandContext): Promise<string | null> =>
    locateLocal(audit.folders, shell, loc, mode, ctx, {
      what: 'a bundle',
      save: { title: 'Export audit bundle: name a new folder', defaultName: `audit-${new Date().toISOString().slice(0, 10)}` },
      open: {
        title: 'Open an audit bundle: choose its manifest.json',
        filters: [{ name: 'Audit bundle manifest', extensions: ['json'] }],
        toPath: (f) => path.dirname(f),
      },
    });

  return {
    'audit.status': async (_input, ctx) => audit.status(await clusterOf(engine, ctx, true)),
    'audit.query': async (input, ctx) => {
      const resolved = audit.resolveSource(input.source, input.source === 'cluster' ? await clusterOf(engine, ctx, true) : null);
      return resolved ? audit.query({ ...input, source: resolved }) : { entries: [], nextCursor: null, total: input.withTotal ? 0 : null };
    },
    'audit.get': async (input, ctx) => audit.get(await source(input.source, ctx), input.seq),
    'audit.verify': async (input, ctx) => audit.verify(await source(input.source, ctx)),
    'audit.export': async (input, ctx) => {
      const src = await source(input.source, ctx, false);
      const dir = await locate(input.destination, 'new', ctx);
      if (!dir) return { path: '', count: 0, firstSeq: null, lastSeq: null, written: false };
      ctx.audit.target = `audit-bundle:${dir}`;
      const result = await audit.export(src, dir, { from: input.from, to: input.to });
      ctx.audit.after = { ...result, source: src };
      return result;
    },
    'audit.import': async (input, ctx) => {
      // Trusting a signer this console has not enrolled is an admin's decision.
      if (input.trustFingerprint) needAdmin(ctx, 'Importing a bundle signed by a key that is not enrolled');
      const dir = await locate(input.location, 'existing', ctx);
      if (!dir) return null;
      ctx.audit.target = `audit-bundle:${dir}`;
      const result = await audit.import(dir, input.trustFingerprint);
      ctx.audit.after = { id: result.id, count: result.count, signer: result.signer, trustedBy: result.trustedBy };
      return result;
    },
    'audit.bundles': () => ({ bundles: audit.bundles() }),
    'audit.folders': () => ({ roots: audit.folders.list(), dialog: hasDialogs(shell) }),
    'audit.folders.set': (input, ctx) => {
      ctx.audit.target = 'audit-export-roots';
      ctx.audit.before = {
        roots: audit.folders
          .roots()
          .filter((r) => r.origin === 'admin')
          .map((r) => r.path),
      };
      audit.folders.setRoots(input.roots);
      const roots = audit.folders.list();
      ctx.audit.after = { roots: roots.filter((r) => r.origin === 'admin').map((r) => r.path) };
      return { roots, dialog: hasDialogs(shell) };
    },
    'audit.witnessFile.set': async (input, ctx) => {
      const cluster = (await ctx.cluster()).clusterId;
      ctx.audit.target = `audit-checkpoint-file:${cluster}`;
      ctx.audit.before = { folder: audit.witnessFolder(cluster)?.folder ?? null };
      const result = await audit.setWitnessFolder(cluster, input.root);
      ctx.audit.after = result;
      return result;
    },
    'audit.sync': async (_input, ctx) => audit.sync(ctx.contextId ? (await ctx.cluster()).clusterId : null),
    'audit.signers': () => audit.signers(),
    'audit.signers.enroll': async (input, ctx) => {
      ctx.audit.target = `audit-signer:${input.vkey.split('+')[0]}`;
      const result = await audit.enroll(input.vkey, input.fingerprint, ctx.operator.id);
      ctx.audit.after = { name: result.name, fingerprint: result.fingerprint };
      return result;
    },
    'audit.signers.remove': (input, ctx) => {
      ctx.audit.target = `audit-signer:${input.name}`;
      return audit.removeSigner(input.name);
    },
    'audit.alarms.resolve': async (input, ctx) => {
      ctx.audit.target = `audit-alarm:${input.id}`;
      const before = audit.alarms.get(input.id);
      ctx.audit.before = before ? { kind: before.kind, cluster: before.cluster, message: before.message } : null;
      const result = await audit.resolveAlarm(input.id, input.accept, input.note, ctx.operator.id);
      ctx.audit.after = { resolution: result.resolution };
      return result;
    },
  };
}
