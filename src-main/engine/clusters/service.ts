import fs from 'node:fs';
import path from 'node:path';
import { ContractError } from '../../../src-shared/contract';
import type { ClusterContext, ClustersList, ClusterState, ConnectionTest } from '../../../src-shared/contract/clusters';
import { kubeClients, kubeError } from '../../adapters/kube';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import type { Logger } from '../core/logger';
import type { SettingsService } from '../settings';
import { describeNetworkFailure, withDeadline } from './kube-call';
import {
  discoverKubeconfigFiles,
  expandHome,
  KubeconfigCache,
  loadKubeconfigs,
  type KubeconfigSnapshot,
  type LoadedContext,
} from './kubeconfig';
import { ConnectionMonitor } from './monitor';
import { missingPermissions } from './permissions';
import type { ProfileInput, ProfileStore } from './profiles';
import { FileSetWatcher, type FileWatcherOptions } from './watcher';

export interface ClustersOptions {
  store: ProfileStore;
  settings: SettingsService;
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

const SELECTED_KEY = 'clusters.selected';

/**
 * The kubeconfig contexts this workstation knows, the one it works on, and the
 * ClusterRuntime the other capabilities use to reach it.
 */
export class ClustersService {
  private snapshot: KubeconfigSnapshot;
  private signature = '';
  private readonly watcher: FileSetWatcher | null;
  private readonly runtimes = new Map<string, { key: string; runtime: ClusterRuntime }>();
  private readonly cache = new KubeconfigCache();
  readonly monitor: ConnectionMonitor;
  readonly timeoutMs: number;
  /** Told when the selected context must be reached differently (selection or credentials changed). */
  onSelectionChanged: (() => void) | null = null;

  constructor(private readonly o: ClustersOptions) {
    this.timeoutMs = o.requestTimeoutMs ?? 8000;
    this.snapshot = this.read();
    this.signature = this.listSignature();
    this.watcher = o.watch === false ? null : new FileSetWatcher(() => this.reload(), o.watch);
    this.watcher?.setFiles(this.snapshot.watchedFiles);
    this.monitor = new ConnectionMonitor({
      selected: () => {
        const id = this.selectedId();
        if (!id) return null;
        const ctx = this.snapshot.contexts.find((c) => c.id === id);
        const error = !ctx
          ? 'The selected context is no longer in any kubeconfig file. Select another cluster.'
          : ctx.error
            ? `The selected context cannot be used: ${ctx.error}`
            : null;
        return { clusterId: id, expectedOffline: o.store.get(id).expectedOffline, error };
      },
      check: async (id) => {
        const runtime = this.runtimeFor(id);
        try {
          await runtime.kube.version.getCode({}, withDeadline(this.timeoutMs));
        } catch (error) {
          throw this.failure(error, id, { verb: 'get', resource: 'version' });
        }
      },
      lastSync: (id) => o.store.lastSync(id),
      recordSync: (id, at) => o.store.recordSync(id, at),
      publish: (state) => o.bus.publish('cluster.state', state),
      intervalMs: o.monitorIntervalMs,
    });
  }

  start(): void {
    this.monitor.start();
  }

  close(): void {
    this.watcher?.close();
    this.monitor.stop();
  }

  private read(): KubeconfigSnapshot {
    return loadKubeconfigs(discoverKubeconfigFiles(this.o.env ?? process.env, this.o.store.addedKubeconfigs(), this.o.home), this.cache);
  }

  private listSignature(): string {
    return JSON.stringify([
      this.snapshot.sources,
      this.snapshot.contexts.map((c) => [c.id, c.error, c.fingerprint, c.server, c.namespace]),
    ]);
  }

  /** Re-reads every kubeconfig; publishes clusters.changed when anything moved. */
  reload(): ClustersList {
    const selected = this.selectedId();
    const before = this.snapshot.contexts.find((c) => c.id === selected)?.fingerprint ?? null;
    this.snapshot = this.read();
    this.watcher?.setFiles(this.snapshot.watchedFiles);
    const signature = this.listSignature();
    const list = this.list();
    if (signature !== this.signature) {
      this.signature = signature;
      this.o.log.info({ sources: list.sources.length, contexts: list.contexts.length }, 'kubeconfigs changed');
      this.o.bus.publish('clusters.changed', list);
      const after = this.snapshot.contexts.find((c) => c.id === selected)?.fingerprint ?? null;
      if (selected && before !== after) {
        this.onSelectionChanged?.();
        void this.monitor.reset();
      }
    }
    return list;
  }

  selectedId(): string | null {
    return this.o.settings.get<string | null>(SELECTED_KEY, null);
  }

  list(): ClustersList {
    const selectedId = this.selectedId();
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
    }));
    return { sources: this.snapshot.sources, contexts, selectedId };
  }

  addKubeconfig(input: string): ClustersList {
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
    return this.reload();
  }

  removeKubeconfig(input: string): ClustersList {
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
    return this.reload();
  }

  context(id: string): LoadedContext {
    const ctx = this.snapshot.contexts.find((c) => c.id === id);
    if (!ctx) throw new ContractError('NOT_FOUND', `No kubeconfig context "${id}". Refresh the cluster list; the file may have changed.`);
    return ctx;
  }

  /** Persists the choice for this workstation and checks the cluster right away. */
  async select(id: string): Promise<ClusterState> {
    const ctx = this.context(id);
    if (ctx.error) throw new ContractError('VALIDATION', `The context "${ctx.contextName}" cannot be used: ${ctx.error}`);
    this.o.settings.set(SELECTED_KEY, id);
    this.onSelectionChanged?.();
    return this.monitor.reset();
  }

  /** The selected cluster, or a given one, to act on; refuses with a clear message when none. */
  resolveId(clusterId: string | undefined): string {
    const id = clusterId ?? this.selectedId();
    if (!id) throw new ContractError('VALIDATION', 'No cluster is selected. Choose one on the Clusters page first.');
    return id;
  }

  /** For the other capabilities: the selected cluster, or null when none is selected or usable. */
  runtime(): ClusterRuntime | null {
    const id = this.selectedId();
    if (!id) return null;
    const ctx = this.snapshot.contexts.find((c) => c.id === id);
    if (!ctx || ctx.error) return null;
    return this.runtimeFor(id);
  }

  runtimeFor(id: string): ClusterRuntime {
    const ctx = this.context(id);
    if (ctx.error || !ctx.config) throw new ContractError('VALIDATION', `The context "${ctx.contextName}" cannot be used: ${ctx.error}`);
    const namespace = this.o.store.get(id).namespace;
    const key = `${ctx.fingerprint}|${namespace}`;
    const cached = this.runtimes.get(id);
    if (cached?.key === key) return cached.runtime;
    const runtime: ClusterRuntime = {
      clusterId: id,
      kube: kubeClients(ctx.config),
      namespace,
      pgAdmin: () => this.o.store.pgAdmin(id),
    };
    this.runtimes.set(id, { key, runtime });
    return runtime;
  }

  /** Turns a failed request into the operator's sentence: network trouble named, else kubeError. */
  failure(error: unknown, id: string, doing: { verb: string; resource: string; namespace?: string }): ContractError {
    const server = this.snapshot.contexts.find((c) => c.id === id)?.server ?? 'of this context';
    const network = describeNetworkFailure(error, server, this.timeoutMs);
    return network ? new ContractError('UNAVAILABLE', network) : kubeError(error, doing);
  }

  /** Server version plus one SelfSubjectAccessReview per permission Gatehouse needs. */
  async test(clusterId: string | undefined): Promise<ConnectionTest> {
    const id = this.resolveId(clusterId);
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
    if (id === this.selectedId()) this.monitor.markOnline(id);
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

  profile(clusterId: string | undefined) {
    return this.o.store.get(this.resolveId(clusterId));
  }

  async saveProfile(input: ProfileInput) {
    this.context(input.clusterId);
    const before = this.o.store.get(input.clusterId);
    const after = await this.o.store.save(input);
    if (before.namespace !== after.namespace && input.clusterId === this.selectedId()) this.onSelectionChanged?.();
    if (before.expectedOffline !== after.expectedOffline && input.clusterId === this.selectedId()) void this.monitor.refresh();
    return { before, after };
  }
}
