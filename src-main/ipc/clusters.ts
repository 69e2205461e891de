import { ContractError } from '../../src-shared/contract';
import type { clustersCommands } from '../../src-shared/contract/clusters';
import type { dashboardCommands } from '../../src-shared/contract/dashboard';
import type { Engine } from '../engine';
import type { HandlersFor } from './pipeline';

/** Kubeconfig contexts, selection, profiles, connection state and the secret store. */
export function clustersHandlers(engine: Engine): HandlersFor<typeof clustersCommands> {
  const { clusters, secrets, selections } = engine;
  /** An explicit context in the input, else the one this session selected. */
  const contextOf = (explicit: string | undefined, ctx: { contextId: string | null }) => {
    const id = explicit ?? ctx.contextId;
    if (!id) throw new ContractError('VALIDATION', 'No cluster is selected. Choose one on the Clusters page first.');
    return id;
  };
  return {
    // Re-reads the files: cheap, and right even where file watching is unreliable (network homes).
    'clusters.list': (_input, ctx) => clusters.reload(ctx.contextId),
    'clusters.addKubeconfig': (input, ctx) => {
      ctx.audit.target = `kubeconfig:${input.path}`;
      return clusters.addKubeconfig(input.path, ctx.contextId);
    },
    'clusters.removeKubeconfig': (input, ctx) => {
      ctx.audit.target = `kubeconfig:${input.path}`;
      return clusters.removeKubeconfig(input.path, ctx.contextId);
    },
    'clusters.kubeconfig.approve': (input, ctx) => {
      const { list, approval } = clusters.approveKubeconfig(input.approvalId, ctx.operator.id, ctx.contextId);
      ctx.audit.target = `kubeconfig:${approval.sourceFile}#${approval.contextName}`;
      ctx.audit.after = { kind: approval.kind, detail: approval.detail, server: approval.server, approved: true };
      return list;
    },
    'clusters.kubeconfig.revoke': (input, ctx) => {
      const { list, approval } = clusters.revokeKubeconfigApproval(input.approvalId, ctx.contextId);
      ctx.audit.target = `kubeconfig:${approval.sourceFile}#${approval.contextName}`;
      ctx.audit.before = { kind: approval.kind, detail: approval.detail, server: approval.server, approved: true };
      return list;
    },
    // A view choice of this session: other sessions and running work are not affected.
    'clusters.select': async (input, ctx) => {
      ctx.audit.target = `cluster:${input.clusterId}`;
      ctx.audit.before = { selected: ctx.contextId };
      clusters.selectable(input.clusterId);
      selections.set(ctx.connectionId, input.clusterId);
      ctx.audit.after = { selected: input.clusterId };
      return clusters.monitorFor(input.clusterId).reset();
    },
    'clusters.test': (input, ctx) => clusters.test(contextOf(input.clusterId, ctx)),
    'clusters.profile.get': (input, ctx) => clusters.profile(contextOf(input.clusterId, ctx)),
    'clusters.profile.save': async (input, ctx) => {
      ctx.audit.target = `cluster:${input.clusterId}`;
      const { before, after } = await clusters.saveProfile(input);
      ctx.audit.before = before;
      ctx.audit.after = { ...after, passwordChanged: input.database?.password !== undefined };
      return after;
    },
    'clusters.state': async (input, ctx) => {
      if (!ctx.contextId) return { clusterId: null, state: 'unknown' as const, lastSyncAt: null, checkedAt: null, error: null };
      const monitor = clusters.monitorFor(ctx.contextId);
      return input.refresh ? monitor.refresh() : monitor.state();
    },
    'secrets.status': () => secrets.status(),
    'secrets.unlock': async (input, ctx) => {
      ctx.audit.target = 'secret-store';
      // Creating the file chooses the passphrase every stored credential depends on: admins only.
      const status = await secrets.unlock(input.passphrase, { mayCreate: ctx.operator.role === 'admin' });
      ctx.audit.after = { kind: status.kind, locked: status.locked };
      return status;
    },
  };
}

export function dashboardHandlers(engine: Engine): HandlersFor<typeof dashboardCommands> {
  return {
    'dashboard.get': (input, ctx) => {
      const id = input.clusterId ?? ctx.contextId;
      if (!id) throw new ContractError('VALIDATION', 'No cluster is selected. Choose one on the Clusters page first.');
      return engine.dashboard.get(id);
    },
  };
}
