import type { clustersCommands } from '../../src-shared/contract/clusters';
import type { dashboardCommands } from '../../src-shared/contract/dashboard';
import type { Engine } from '../engine';
import type { HandlersFor } from './pipeline';

/** Kubeconfig contexts, selection, profiles, connection state and the secret store. */
export function clustersHandlers(engine: Engine): HandlersFor<typeof clustersCommands> {
  const { clusters, secrets } = engine;
  return {
    // Re-reads the files: cheap, and right even where file watching is unreliable (network homes).
    'clusters.list': () => clusters.reload(),
    'clusters.addKubeconfig': (input, ctx) => {
      ctx.audit.target = `kubeconfig:${input.path}`;
      return clusters.addKubeconfig(input.path);
    },
    'clusters.removeKubeconfig': (input, ctx) => {
      ctx.audit.target = `kubeconfig:${input.path}`;
      return clusters.removeKubeconfig(input.path);
    },
    'clusters.kubeconfig.approve': (input, ctx) => {
      const { list, approval } = clusters.approveKubeconfig(input.approvalId, ctx.operator.id);
      ctx.audit.target = `kubeconfig:${approval.sourceFile}#${approval.contextName}`;
      ctx.audit.after = { kind: approval.kind, detail: approval.detail, server: approval.server, approved: true };
      return list;
    },
    'clusters.kubeconfig.revoke': (input, ctx) => {
      const { list, approval } = clusters.revokeKubeconfigApproval(input.approvalId);
      ctx.audit.target = `kubeconfig:${approval.sourceFile}#${approval.contextName}`;
      ctx.audit.before = { kind: approval.kind, detail: approval.detail, server: approval.server, approved: true };
      return list;
    },
    'clusters.select': async (input, ctx) => {
      ctx.audit.target = `cluster:${input.clusterId}`;
      ctx.audit.before = { selected: clusters.selectedId() };
      ctx.audit.after = { selected: input.clusterId };
      return clusters.select(input.clusterId);
    },
    'clusters.test': (input) => clusters.test(input.clusterId),
    'clusters.profile.get': (input) => clusters.profile(input.clusterId),
    'clusters.profile.save': async (input, ctx) => {
      ctx.audit.target = `cluster:${input.clusterId}`;
      const { before, after } = await clusters.saveProfile(input);
      ctx.audit.before = before;
      ctx.audit.after = { ...after, passwordChanged: input.database?.password !== undefined };
      return after;
    },
    'clusters.state': async (input) => (input.refresh ? clusters.monitor.refresh() : clusters.monitor.state()),
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
    'dashboard.get': (input) => engine.dashboard.get(input.clusterId),
  };
}
