import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { TENANT_LABEL } from '../tenants';
import type { Health, InfraGroup, InfraPod, InfraWorkload } from '../../../src-shared/contract/infra';
import { kubeError, kubeStatusCode } from '../../adapters/kube';
import type { Logger } from '../core/logger';

/**
 * One resource kept current by LIST + WATCH, holding only the compact row each object
 * maps to (never the objects): 10,000 pods cost ~10,000 small rows, not ~10,000 full pods.
 *
 * The LIST is paged (`limit`), the WATCH asks for bookmarks so its resourceVersion stays
 * fresh, and it resumes from the last resourceVersion whenever the server or the client's
 * idle timer closes it. Only a 410 Gone (the version was compacted away) re-lists — once,
 * whatever the number of objects — and the owner is told to replace its view (`resync`).
 */

/** The part of @kubernetes/client-node's Watch used here; tests pass another. */
export type WatchLike = Pick<Watch, 'watch'>;

export interface ListPage<O> {
  items: O[];
  metadata?: { resourceVersion?: string; _continue?: string };
}

export interface StreamDeps<O, R> {
  name: string;
  path: string;
  labelSelector: string;
  list: (opts: { limit: number; _continue?: string; labelSelector: string }) => Promise<ListPage<O>>;
  /** Key and row of an object; the row is what is kept. */
  key: (o: O) => string;
  row: (o: O) => R;
  watch: WatchLike;
  pageSize?: number;
  log?: Logger | undefined;
  counters: { lists: number; watches: number; events: number; relists: number };
  onChange: (key: string, row: R | null) => void;
  onResync: () => void;
  /** A failure other than 410: the owner stops and restarts later. */
  onFail: (error: unknown) => void;
}

const BOOKMARK_TIMEOUT_SECONDS = 600;

export class ListWatchStream<O, R> {
  readonly rows = new Map<string, R>();
  private rv = '';
  private abort: AbortController | null = null;
  private stopped = false;

  constructor(private readonly d: StreamDeps<O, R>) {}

  /** The initial LIST (paged); resolves once every row is in. */
  async start(): Promise<void> {
    await this.relist(false);
    this.openWatch();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    this.abort = null;
  }

  private async relist(resync: boolean): Promise<void> {
    const fresh = new Map<string, R>();
    let cont: string | undefined;
    do {
      this.d.counters.lists++;
      const page = await this.d.list({
        limit: this.d.pageSize ?? 500,
        labelSelector: this.d.labelSelector,
        ...(cont ? { _continue: cont } : {}),
      });
      for (const o of page.items) fresh.set(this.d.key(o), this.d.row(o));
      cont = page.metadata?._continue || undefined;
      this.rv = page.metadata?.resourceVersion ?? this.rv;
    } while (cont && !this.stopped);
    if (this.stopped) return;
    this.rows.clear();
    for (const [k, v] of fresh) this.rows.set(k, v);
    if (resync) {
      this.d.counters.relists++;
      this.d.onResync();
    }
  }

  private openWatch(): void {
    if (this.stopped) return;
    this.d.counters.watches++;
    let gone = false;
    const query = {
      resourceVersion: this.rv,
      allowWatchBookmarks: true,
      labelSelector: this.d.labelSelector,
      timeoutSeconds: BOOKMARK_TIMEOUT_SECONDS,
    };
    this.d.watch
      .watch(
        this.d.path,
        query,
        (type: string, obj: O & { metadata?: { resourceVersion?: string }; code?: number }) => {
          if (this.stopped) return;
          if (type === 'BOOKMARK') {
            this.rv = obj.metadata?.resourceVersion ?? this.rv;
            return;
          }
          if (type === 'ERROR') {
            if (obj.code === 410) gone = true;
            return;
          }
          this.d.counters.events++;
          this.rv = obj.metadata?.resourceVersion ?? this.rv;
          const key = this.d.key(obj);
          if (type === 'DELETED') {
            if (this.rows.delete(key)) this.d.onChange(key, null);
            return;
          }
          const row = this.d.row(obj);
          this.rows.set(key, row);
          this.d.onChange(key, row);
        },
        (error: unknown) => {
          if (this.stopped) return;
          if (gone || kubeStatusCode(error) === 410) {
            // Compacted away: one fresh LIST, then watch from its version.
            void this.relist(true).then(
              () => this.openWatch(),
              (e: unknown) => this.d.onFail(e),
            );
            return;
          }
          const timeout = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
          if (error && !timeout) {
            this.d.onFail(error);
            return;
          }
          // Closed by the server or idle: resume from where we are.
          this.openWatch();
        },
      )
      .then(
        (controller) => {
          if (this.stopped) controller.abort();
          else this.abort = controller;
        },
        (error: unknown) => this.d.onFail(error),
      );
  }
}

export const makeWatch = (config: KubeConfig): WatchLike => {
  const w = new Watch(config);
  // Bookmarks arrive about once a minute: the idle timer must outlast them.
  (w as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 150_000;
  return w;
};

// ---- rows ------------------------------------------------------------------------------

interface Meta {
  uid?: string;
  name?: string;
  labels?: Record<string, string>;
  generation?: number;
  deletionTimestamp?: unknown;
}

export const NAME = 'app.kubernetes.io/name';
const COMPONENT = 'app.kubernetes.io/component';
const POOL = 'justiam.io/agent-pool';

export function groupOf(labels: Record<string, string> | undefined, name: string | null): InfraGroup {
  switch (labels?.[COMPONENT]) {
    case 'backend':
      return 'backend';
    case 'frontend':
      return 'frontend';
    case 'login-worker':
      return name === 'login-worker-shared' ? 'login-shared' : 'login-dedicated';
    case 'agent':
      return 'agent-pool';
    default:
      return 'other';
  }
}

export function tagOf(image: string | null | undefined): string | null {
  if (!image) return null;
  const name = image.split('@')[0] ?? '';
  const last = name.split('/').pop() ?? '';
  const colon = last.lastIndexOf(':');
  return colon >= 0 ? last.slice(colon + 1) : image.includes('@') ? image.slice(image.indexOf('@') + 1, image.indexOf('@') + 20) : 'latest';
}

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : null);

interface PodLike {
  metadata?: Meta;
  spec?: { nodeName?: string; containers?: { image?: string }[] };
  status?: {
    phase?: string;
    startTime?: unknown;
    conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
    containerStatuses?: {
      ready?: boolean;
      restartCount?: number;
      state?: { waiting?: { reason?: string }; terminated?: { reason?: string } };
    }[];
  };
}

export function podRow(p: PodLike): InfraPod {
  const labels = p.metadata?.labels ?? {};
  const workload = labels[NAME] ?? null;
  const ready = (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  const statuses = p.status?.containerStatuses ?? [];
  let reason: string | null = null;
  if (!ready) {
    for (const c of statuses) reason ??= c.state?.waiting?.reason ?? c.state?.terminated?.reason ?? null;
    reason ??= (p.status?.conditions ?? []).find((c) => c.status !== 'True' && c.reason)?.reason ?? null;
    reason ??= p.metadata?.deletionTimestamp ? 'Terminating' : (p.status?.phase ?? 'Pending');
  }
  const image = p.spec?.containers?.[0]?.image ?? null;
  return {
    uid: p.metadata?.uid ?? p.metadata?.name ?? '',
    name: p.metadata?.name ?? '',
    workload,
    group: groupOf(labels, workload),
    tenant: labels[TENANT_LABEL] ?? null,
    pool: labels[POOL] ?? null,
    phase: p.metadata?.deletionTimestamp ? 'Terminating' : (p.status?.phase ?? 'Pending'),
    ready,
    restarts: statuses.reduce((n, c) => n + (c.restartCount ?? 0), 0),
    node: p.spec?.nodeName ?? null,
    image,
    version: tagOf(image),
    reason,
    startedAt: iso(p.status?.startTime),
  };
}

interface DeploymentLike {
  metadata?: Meta;
  spec?: { replicas?: number; paused?: boolean; template?: { spec?: { containers?: { image?: string }[] } } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
  };
}

/** Argo CD's rule for a Deployment: Suspended (paused or at 0), Degraded (deadline exceeded / replica failure), Healthy (rolled out), else Progressing. */
export function deploymentHealth(d: DeploymentLike): { health: Health; message: string | null } {
  const desired = d.spec?.replicas ?? 1;
  const s = d.status;
  if (d.spec?.paused) return { health: 'Suspended', message: 'rollout paused' };
  if (!s) return { health: 'Unknown', message: 'no status reported yet' };
  const conditions = s.conditions ?? [];
  const progressing = conditions.find((c) => c.type === 'Progressing');
  const failure = conditions.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  if (progressing?.reason === 'ProgressDeadlineExceeded')
    return { health: 'Degraded', message: progressing.message ?? 'progress deadline exceeded' };
  if (failure) return { health: 'Degraded', message: failure.message ?? failure.reason ?? 'replica failure' };
  if (desired === 0) return { health: 'Suspended', message: 'scaled to 0' };
  const observed = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const updated = s.updatedReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  if (observed && updated >= desired && available >= desired && (s.replicas ?? 0) <= updated) return { health: 'Healthy', message: null };
  return { health: 'Progressing', message: `${updated}/${desired} updated, ${available} available` };
}

export function workloadRow(d: DeploymentLike): InfraWorkload {
  const labels = d.metadata?.labels ?? {};
  const name = d.metadata?.name ?? '';
  const image = d.spec?.template?.spec?.containers?.[0]?.image ?? null;
  const { health, message } = deploymentHealth(d);
  return {
    name,
    group: groupOf(labels, name),
    tenant: labels[TENANT_LABEL] ?? null,
    pool: labels[POOL] ?? null,
    desired: d.spec?.replicas ?? 1,
    updated: d.status?.updatedReplicas ?? 0,
    ready: d.status?.readyReplicas ?? 0,
    available: d.status?.availableReplicas ?? 0,
    version: tagOf(image),
    image,
    health,
    message,
    paused: d.spec?.paused === true,
  };
}

export function missingRow(name: string, group: InfraGroup, tenant: string | null, pool: string | null, why: string): InfraWorkload {
  return {
    name,
    group,
    tenant,
    pool,
    desired: 0,
    updated: 0,
    ready: 0,
    available: 0,
    version: null,
    image: null,
    health: 'Missing',
    message: why,
    paused: false,
  };
}

export const watchFailure = (error: unknown, resource: string, namespace: string) =>
  kubeError(error, { verb: 'watch', resource, namespace });
