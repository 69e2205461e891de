import fs from 'node:fs';
import path from 'node:path';
import { ContractError } from '../../../src-shared/contract';
import type { ClusterContext, ClustersList, ConnectionTest } from '../../../src-shared/contract/clusters';
import { kubeClients, kubeError, type KubeClients } from '../../adapters/kube';
import type { PgAdminConfig } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import type { Logger } from '../core/logger';
import { describeNetworkFailure, withDeadline } from './kube-call';
import {
  discoverKubeconfigFiles,
  expandHome,
  KubeconfigCache,
  loadKubeconfigs,
  type KubeconfigSnapshot,
  type LoadedContext,
  type TrustRequest,
} from './kubeconfig';
import { ConnectionMonitor } from './monitor';
import { missingPermissions } from './permissions';
import type { ProfileInput, ProfileStore } from './profiles';
import { FileSetWatcher, type FileWatcherOptions } from './watcher';

export interface ClustersOptions {
  store: ProfileStore;
  bus: EventBus;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** false: no file watching (one-shot tools). */
  watch?: FileWatcherOptions | false;
  monitorIntervalMs?: number;
  /** Deadline for each request the console makes on its own (checks, dashboard). */
  requestTimeoutMs?: number;
}

/** How a context reaches its cluster: kube clients, platform namespace, database profile. */
export interface ContextConnection {
  contextId: string;
  kube: KubeClients;
  namespace: string;
  pgAdmin(): Promise<PgAdminConfig | null>;
}

const approvalGone = () =>
  new ContractError(
    'NOT_FOUND',
    'That kubeconfig command or file is no longer what the file names (it changed or was removed). Review the list again.',
  );

/**
 * The kubeconfig contexts this workstation knows and how each reaches its cluster.
 * It holds no "selected cluster": each session selects its own (ClusterSelections),
 * and every context in use has its own connection monitor.
 */
export class ClustersService {
  private snapshot: KubeconfigSnapshot;
  private signature = '';
  private readonly watcher: FileSetWatcher | null;
  private readonly connections = new Map<string, { key: string; connection: ContextConnection }>();
  private readonly monitors = new Map<string, ConnectionMonitor>();
  private readonly cache = new KubeconfigCache();
  private started = false;
  readonly timeoutMs: number;
  /** Told when a context must be reached differently (its kubeconfig entry or profile namespace changed). */
  onContextChanged: ((contextId: string) => void) | null = null;
  /** Told what a successful check read: the UID of the cluster behind the context. */
  onIdentity: ((contextId: string, uid: string, labels: Record<string, string>) => void) | null = null;
  /** Extra fields for the list (last known cluster identity), supplied by the directory. */
  describeIdentity: ((contextId: string) => Pick<ClusterContext, 'clusterUid' | 'identityChange'>) | null = null;

  constructor(private readonly o: ClustersOptions) {
    this.timeoutMs = o.requestTimeoutMs ?? 8000;
    this.snapshot = this.read();
    this.signature = this.listSignature();
    this.watcher = o.watch === false ? null : new FileSetWatcher(() => this.reload(), o.watch);
    this.watcher?.setFiles(this.snapshot.watchedFiles);
  }

  /** The connection monitor of one context (created on first use; checks periodically once started). */
  monitorFor(contextId: string): ConnectionMonitor {
    let monitor = this.monitors.get(contextId);
    if (!monitor) {
      monitor = new ConnectionMonitor({
        selected: () => {
          const ctx = this.snapshot.contexts.find((c) => c.id === contextId);
          const error = !ctx
            ? 'This context is no longer in any kubeconfig file. Select another cluster.'
            : ctx.error
              ? `This context cannot be used: ${ctx.error}`
              : null;
          return { clusterId: contextId, expectedOffline: this.o.store.get(contextId).expectedOffline, error };
        },
        // One request proves the cluster answers and tells which cluster it is.
        check: async (id) => {
          const connection = this.runtimeFor(id);
          let ns;
          try {
            ns = await connection.kube.core.readNamespace({ name: 'kube-system' }, withDeadline(this.timeoutMs));
          } catch (error) {
            throw this.failure(error, id, { verb: 'get', resource: 'namespaces', namespace: 'kube-system' });
          }
          if (ns.metadata?.uid) this.onIdentity?.(id, ns.metadata.uid, ns.metadata.labels ?? {});
        },
        lastSync: (id) => this.o.store.lastSync(id),
        recordSync: (id, at) => this.o.store.recordSync(id, at),
        publish: (state) => this.o.bus.publish('cluster.state', state),
        intervalMs: this.o.monitorIntervalMs,
      });
      this.monitors.set(contextId, monitor);
      if (this.started) monitor.start();
    }
    return monitor;
  }

  /** Starts the periodic checks of every context in use (and of those used from now on). */
  start(): void {
    this.started = true;
    for (const m of this.monitors.values()) m.start();
  }

  close(): void {
    this.watcher?.close();
    for (const m of this.monitors.values()) m.stop();
  }

  private read(): KubeconfigSnapshot {
    return loadKubeconfigs(
      discoverKubeconfigFiles(this.o.env ?? process.env, this.o.store.addedKubeconfigs(), this.o.home),
      this.cache,
      this.o.store,
    );
  }

  private listSignature(): string {
    return JSON.stringify([
      this.snapshot.sources,
      this.snapshot.contexts.map((c) => [c.id, c.error, c.fingerprint, c.server, c.namespace]),
    ]);
  }

  /** Re-reads every kubeconfig; publishes clusters.changed (without any session's selection) when anything moved. */
  reload(selectedId: string | null = null): ClustersList {
    const before = new Map(this.snapshot.contexts.map((c) => [c.id, c.fingerprint]));
    this.snapshot = this.read();
    this.watcher?.setFiles(this.snapshot.watchedFiles);
    const signature = this.listSignature();
    if (signature !== this.signature) {
      this.signature = signature;
      const broadcast = this.list(null);
      this.o.log.info({ sources: broadcast.sources.length, contexts: broadcast.contexts.length }, 'kubeconfigs changed');
      this.o.bus.publish('clusters.changed', broadcast);
      for (const [id, monitor] of this.monitors) {
        const after = this.snapshot.contexts.find((c) => c.id === id)?.fingerprint ?? null;
        if (before.get(id) !== after) {
          this.onContextChanged?.(id);
          void monitor.reset();
        }
      }
    }
    return this.list(selectedId);
  }

  /** The contexts, marked with the given session's selection. */
  list(selectedId: string | null): ClustersList {
    const contexts: ClusterContext[] = this.snapshot.contexts.map((c) => ({
      id: c.id,
      contextName: c.contextName,
      clusterName: c.clusterName,
      server: c.server,
      userName: c.userName,
      namespace: c.namespace,
      sourceFile: c.sourceFile,
      status: c.error ? 'error' : 'ok',
      error: c.error,
      current: c.current,
      selected: c.id === selectedId,
      ...(this.describeIdentity?.(c.id) ?? { clusterUid: null, identityChange: null }),
    }));
    return { sources: this.snapshot.sources, contexts, selectedId, approvals: this.snapshot.approvals };
  }

  /** An admin approves exactly what was shown: the id is its fingerprint, so a file changed since is refused. */
  approveKubeconfig(approvalId: string, by: string, selectedId: string | null = null): { list: ClustersList; approval: TrustRequest } {
    this.reload();
    const request = this.snapshot.approvals.find((a) => a.id === approvalId);
    if (!request) throw approvalGone();
    this.o.store.approve(request, by);
    return { list: this.reload(selectedId), approval: request };
  }

  revokeKubeconfigApproval(approvalId: string, selectedId: string | null = null): { list: ClustersList; approval: TrustRequest } {
    const request = this.snapshot.approvals.find((a) => a.id === approvalId && a.approved);
    if (!request || !this.o.store.revoke(request)) throw approvalGone();
    return { list: this.reload(selectedId), approval: request };
  }

  addKubeconfig(input: string, selectedId: string | null = null): ClustersList {
    const file = path.resolve(expandHome(input));
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      throw new ContractError('VALIDATION', `There is no file at ${file}. Check the path and try again.`, {
        fields: { path: 'no such file' },
      });
    }
    if (!stat.isFile()) throw new ContractError('VALIDATION', `${file} is not a file.`, { fields: { path: 'not a file' } });
    if (this.snapshot.sources.some((s) => s.path === file)) {
      throw new ContractError('CONFLICT', `${file} is already in the list.`);
    }
    this.o.store.addKubeconfig(file);
    return this.reload(selectedId);
  }

  removeKubeconfig(input: string, selectedId: string | null = null): ClustersList {
    const file = path.resolve(expandHome(input));
    const source = this.snapshot.sources.find((s) => s.path === file);
    if (source && source.origin !== 'added') {
      throw new ContractError(
        'VALIDATION',
        source.origin === 'env'
          ? `${file} comes from the KUBECONFIG variable; remove it there and restart the console.`
          : `${file} is kubectl's default kubeconfig; set KUBECONFIG to read other files instead.`,
      );
    }
    if (!this.o.store.removeKubeconfig(file)) throw new ContractError('NOT_FOUND', `${file} is not a kubeconfig added in the console.`);
    return this.reload(selectedId);
  }

  context(id: string): LoadedContext {
    const ctx = this.snapshot.contexts.find((c) => c.id === id);
    if (!ctx) throw new ContractError('NOT_FOUND', `No kubeconfig context "${id}". Refresh the cluster list; the file may have changed.`);
    return ctx;
  }

  /** Checks that a context can be selected; the session's choice itself lives in ClusterSelections. */
  selectable(id: string): LoadedContext {
    const ctx = this.context(id);
    if (ctx.error) throw new ContractError('VALIDATION', `The context "${ctx.contextName}" cannot be used: ${ctx.error}`);
    return ctx;
  }

  /** How a context reaches its cluster (kube clients rebuilt when its kubeconfig entry changes). */
  runtimeFor(id: string): ContextConnection {
    const ctx = this.context(id);
    if (ctx.error || !ctx.config) throw new ContractError('VALIDATION', `The context "${ctx.contextName}" cannot be used: ${ctx.error}`);
    const namespace = this.o.store.get(id).namespace;
    const key = `${ctx.fingerprint}|${namespace}`;
    const cached = this.connections.get(id);
    if (cached?.key === key) return cached.connection;
    const connection: ContextConnection = {
      contextId: id,
      kube: kubeClients(ctx.config),
      namespace,
      pgAdmin: () => this.o.store.pgAdmin(id),
    };
    this.connections.set(id, { key, connection });
    return connection;
  }

  /** Turns a failed request into the operator's sentence: network trouble named, else kubeError. */
  failure(error: unknown, id: string, doing: { verb: string; resource: string; namespace?: string }): ContractError {
    const server = this.snapshot.contexts.find((c) => c.id === id)?.server ?? 'of this context';
    const network = describeNetworkFailure(error, server, this.timeoutMs);
    return network ? new ContractError('UNAVAILABLE', network) : kubeError(error, doing);
  }

  /** Server version plus one SelfSubjectAccessReview per permission Gatehouse needs. */
  async test(id: string): Promise<ConnectionTest> {
    const runtime = this.runtimeFor(id);
    let version;
    try {
      version = await runtime.kube.version.getCode({}, withDeadline(this.timeoutMs));
    } catch (error) {
      throw this.failure(error, id, { verb: 'get', resource: 'version' });
    }
    let result;
    try {
      result = await missingPermissions(runtime.kube.authorization, runtime.namespace, { call: withDeadline(this.timeoutMs) });
    } catch (error) {
      throw this.failure(error, id, { verb: 'create', resource: 'selfsubjectaccessreviews' });
    }
    this.monitors.get(id)?.markOnline(id);
    return {
      clusterId: id,
      serverVersion: { gitVersion: version.gitVersion, platform: version.platform },
      namespace: runtime.namespace,
      permissionsChecked: result.checked,
      missing: result.missing,
      ok: result.missing.length === 0,
      testedAt: new Date().toISOString(),
    };
  }

  profile(id: string) {
    this.context(id);
    return this.o.store.get(id);
  }

  async saveProfile(input: ProfileInput) {
    this.context(input.clusterId);
    const before = this.o.store.get(input.clusterId);
    const after = await this.o.store.save(input);
    if (before.namespace !== after.namespace) this.onContextChanged?.(input.clusterId);
    if (before.expectedOffline !== after.expectedOffline) void this.monitors.get(input.clusterId)?.refresh();
    return { before, after };
  }
}
