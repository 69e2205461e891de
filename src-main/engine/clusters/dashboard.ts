import { makeInformer, type Informer, type KubernetesListObject, type V1Deployment, type V1Node } from '@kubernetes/client-node';
import { ContractError } from '../../../src-shared/contract';
import type { Dashboard, WorkloadSummary } from '../../../src-shared/contract/dashboard';
import { kubeStatusCode } from '../../adapters/kube';
import type { Sqlite } from '../../adapters/sqlite';
import type { EventBus } from '../core/events';
import type { Logger } from '../core/logger';
import { withDeadline } from './kube-call';
import type { ClustersService } from './service';

/** "registry:5000/iam/backend:1.4.2@sha256:…" → "1.4.2"; no tag means Kubernetes pulls "latest". */
export function imageTag(image: string): string {
  const [name, digest] = image.split('@');
  const lastSegment = (name ?? '').split('/').pop() ?? '';
  const colon = lastSegment.lastIndexOf(':');
  if (colon >= 0) return lastSegment.slice(colon + 1);
  return digest ? `@${digest.slice(0, 19)}` : 'latest';
}

export function summarizeDeployment(d: V1Deployment): WorkloadSummary {
  const desired = d.spec?.replicas ?? 1;
  const status = d.status ?? {};
  const conditions = status.conditions ?? [];
  const available = conditions.find((c) => c.type === 'Available');
  const progressing = conditions.find((c) => c.type === 'Progressing');
  const failure = conditions.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  const ready = status.readyReplicas ?? 0;
  let condition: WorkloadSummary['condition'];
  let explain = available;
  if (desired === 0) condition = 'scaled-down';
  else if (failure || progressing?.reason === 'ProgressDeadlineExceeded' || available?.status === 'False') {
    condition = 'degraded';
    explain = failure ?? (progressing?.reason === 'ProgressDeadlineExceeded' ? progressing : available);
  } else if (ready >= desired && (status.updatedReplicas ?? 0) >= desired && available?.status === 'True') condition = 'available';
  else {
    condition = 'progressing';
    explain = progressing ?? available;
  }
  return {
    name: d.metadata?.name ?? '',
    desired,
    ready,
    updated: status.updatedReplicas ?? 0,
    available: status.availableReplicas ?? 0,
    images: (d.spec?.template?.spec?.containers ?? []).map((c) => ({
      container: c.name,
      image: c.image ?? '',
      tag: imageTag(c.image ?? ''),
    })),
    condition,
    reason: explain?.reason ?? null,
    message: explain?.message ?? null,
  };
}

const nodeReady = (n: V1Node) => (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const byName = (a: WorkloadSummary, b: WorkloadSummary) => a.name.localeCompare(b.name);

/**
 * The cluster overview: read with three LISTs (version, nodes, deployments), kept
 * live by a WATCH on the platform namespace's deployments, and cached per cluster
 * in SQLite so an unreachable cluster still shows its last known state.
 */
export class DashboardService {
  /** One deployments WATCH per context in use (each session may look at another cluster). */
  private readonly informers = new Map<
    string,
    { clusterId: string; namespace: string; informer: Informer<V1Deployment>; ready: Promise<boolean> }
  >();

  constructor(
    private readonly db: Sqlite,
    private readonly clusters: ClustersService,
    private readonly bus: EventBus,
    private readonly log: Logger,
  ) {}

  cached(clusterId: string): Dashboard | null {
    const row = this.db.prepare('SELECT json FROM cluster_dashboards WHERE cluster_id = ?').get(clusterId) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as Dashboard) : null;
  }

  private save(d: Dashboard): void {
    this.db
      .prepare(
        'INSERT INTO cluster_dashboards (cluster_id, json, fetched_at) VALUES (?, ?, ?) ON CONFLICT(cluster_id) DO UPDATE SET json = excluded.json, fetched_at = excluded.fetched_at',
      )
      .run(d.clusterId, JSON.stringify({ ...d, offline: false, error: null }), d.lastSyncAt);
  }

  async get(clusterId: string): Promise<Dashboard> {
    const monitor = this.clusters.monitorFor(clusterId);
    const state = monitor.state();
    const knownDown = state.state === 'offline' || state.state === 'expected-offline';
    if (knownDown) return this.fallback(clusterId, new ContractError('UNAVAILABLE', state.error ?? 'The cluster is unreachable.'));
    try {
      const live = await this.read(clusterId);
      this.save(live);
      monitor.markOnline(clusterId);
      this.ensureWatch(clusterId);
      return live;
    } catch (error) {
      if (error instanceof ContractError && error.code !== 'UNAVAILABLE') throw error; // RBAC or a bad context: say so
      return this.fallback(clusterId, error as ContractError);
    }
  }

  private fallback(clusterId: string, error: ContractError): Dashboard {
    const cached = this.cached(clusterId);
    if (!cached)
      throw new ContractError('UNAVAILABLE', `${error.message} No earlier copy of this cluster's dashboard is stored on this workstation.`);
    return { ...cached, offline: true, error: error.message };
  }

  private async read(clusterId: string): Promise<Dashboard> {
    const runtime = this.clusters.runtimeFor(clusterId);
    const { kube, namespace } = runtime;
    const call = withDeadline(this.clusters.timeoutMs);
    const step = <T>(p: Promise<T>, verb: string, resource: string, ns?: string) =>
      p.catch((error: unknown) => {
        throw this.clusters.failure(error, clusterId, { verb, resource, ...(ns ? { namespace: ns } : {}) });
      });
    const [version, nodes, deployments] = await Promise.all([
      step(kube.version.getCode({}, call), 'get', 'version'),
      step(kube.core.listNode({}, call), 'list', 'nodes'),
      step(kube.apps.listNamespacedDeployment({ namespace }, call), 'list', 'deployments', namespace),
    ]);
    return {
      clusterId,
      namespace,
      serverVersion: version.gitVersion,
      nodes: { total: nodes.items.length, ready: nodes.items.filter(nodeReady).length },
      deployments: deployments.items.map(summarizeDeployment).sort(byName),
      lastSyncAt: new Date().toISOString(),
      offline: false,
      error: null,
    };
  }

  /** Starts (or keeps) the deployments WATCH of one context; a changed namespace restarts it. */
  ensureWatch(clusterId: string): void {
    let runtime;
    try {
      runtime = this.clusters.runtimeFor(clusterId);
    } catch {
      this.stopWatch(clusterId);
      return;
    }
    const existing = this.informers.get(clusterId);
    if (existing && existing.namespace !== runtime.namespace) this.stopWatch(clusterId);
    if (this.informers.has(clusterId)) return;
    const { namespace, kube } = runtime;
    const informer = makeInformer<V1Deployment>(
      kube.config,
      `/apis/apps/v1/namespaces/${namespace}/deployments`,
      () => kube.apps.listNamespacedDeployment({ namespace }) as Promise<KubernetesListObject<V1Deployment>>,
    );
    let synced = false;
    const publish = (change: 'added' | 'modified' | 'deleted') => (obj: V1Deployment) => {
      // The initial LIST replays every deployment as "add": those are not changes, and
      // with thousands of workers one cache write per item would be quadratic.
      if (!synced || this.informers.get(clusterId)?.informer !== informer) return;
      const deployment = summarizeDeployment(obj);
      this.applyToCache(clusterId, namespace, change, deployment);
      this.bus.publish('workloads.changed', { clusterId, namespace, change, deployment, at: new Date().toISOString() });
    };
    informer.on('add', publish('added'));
    informer.on('update', publish('modified'));
    informer.on('delete', publish('deleted'));
    informer.on('error', (error: unknown) => {
      // The monitor notices the outage; the watch is restarted at the next successful check.
      this.log.warn({ clusterId, status: kubeStatusCode(error), err: String(error).slice(0, 200) }, 'deployments watch stopped');
      if (this.informers.get(clusterId)?.informer === informer) this.informers.delete(clusterId);
      void informer.stop();
    });
    const ready = informer.start().then(
      () => {
        if (this.informers.get(clusterId)?.informer !== informer) return false; // stopped (or the console closed) meanwhile
        synced = true;
        this.replaceCachedDeployments(clusterId, namespace, informer.list().map(summarizeDeployment));
        return true;
      },
      (error: unknown) => {
        this.log.warn({ clusterId, err: String(error).slice(0, 200) }, 'deployments watch could not start');
        if (this.informers.get(clusterId)?.informer === informer) this.informers.delete(clusterId);
        return false;
      },
    );
    this.informers.set(clusterId, { clusterId, namespace, informer, ready });
  }

  /** Resolves true once the context's WATCH runs (its initial LIST is done), false when there is none. */
  watchReady(clusterId: string): Promise<boolean> {
    return this.informers.get(clusterId)?.ready ?? Promise.resolve(false);
  }

  /** Stops one context's WATCH, or every one. */
  stopWatch(clusterId?: string): void {
    for (const [id, current] of this.informers) {
      if (clusterId !== undefined && id !== clusterId) continue;
      this.informers.delete(id);
      void current.informer.stop().catch(() => undefined);
    }
  }

  /** Called after each connection check of a context. */
  onState(state: { clusterId: string | null; state: string }): void {
    if (!state.clusterId) return;
    if (state.state === 'online') this.ensureWatch(state.clusterId);
    else this.stopWatch(state.clusterId);
  }

  private replaceCachedDeployments(clusterId: string, namespace: string, deployments: WorkloadSummary[]): void {
    const cached = this.cached(clusterId);
    if (!cached || cached.namespace !== namespace) return;
    this.save({ ...cached, deployments: deployments.sort(byName), lastSyncAt: new Date().toISOString() });
  }

  private applyToCache(clusterId: string, namespace: string, change: 'added' | 'modified' | 'deleted', d: WorkloadSummary): void {
    const cached = this.cached(clusterId);
    if (!cached || cached.namespace !== namespace) return;
    const rest = cached.deployments.filter((x) => x.name !== d.name);
    const deployments = change === 'deleted' ? rest : [...rest, d].sort(byName);
    this.save({ ...cached, deployments, lastSyncAt: new Date().toISOString() });
  }
}
