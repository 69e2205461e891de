import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { ContractError } from '../../../src-shared/contract';
import { kubeError, retryOnConflict, type KubeClients } from '../../adapters/kube';
import { TENANT_LABEL, tenantKube, type TenantKube } from '../tenants';

/** Pod-template annotation carrying the tenant Secret's revision: changing it rolls the Deployment. */
export const REVISION_ANNOTATION = 'gatehouse.io/tenant-secret-revision';

/** The tenants port plus the pods LIST that explains a stuck rollout. Same call counter. */
export interface RotationKube extends TenantKube {
  listPods(labelSelector: string): Promise<V1Pod[]>;
}

export function rotationKube(kube: KubeClients, namespace: string): RotationKube {
  const base = tenantKube(kube, namespace);
  return Object.assign(base, {
    async listPods(labelSelector: string): Promise<V1Pod[]> {
      base.calls.count++;
      try {
        return (await kube.core.listNamespacedPod({ namespace, labelSelector })).items;
      } catch (error) {
        throw kubeError(error, { verb: 'list', resource: 'pods', namespace });
      }
    },
  });
}

export interface WorkloadState {
  name: string;
  desired: number;
  updated: number;
  available: number;
  upToDate: boolean;
  /** The revision the pod template carries (null: never rolled by a rotation). */
  revision: string | null;
  complete: boolean;
  /** Why it is not complete (ProgressDeadlineExceeded, ReplicaFailure…). */
  problem: string | null;
}

/**
 * `kubectl rollout status` semantics: the controller saw the latest spec (observedGeneration),
 * every desired replica runs the new template (updatedReplicas), no old replica is left
 * (replicas), and the new ones are available.
 */
export function workloadState(d: V1Deployment, revision: string | null): WorkloadState {
  const desired = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  const observed = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const updated = s.updatedReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  const total = s.replicas ?? 0;
  const complete = observed && updated >= desired && total <= updated && available >= updated;
  const conditions = s.conditions ?? [];
  const deadline = conditions.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
  const failure = conditions.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  const problem = deadline
    ? `progress deadline exceeded (${deadline.message ?? ''})`
    : failure
      ? `${failure.reason ?? 'ReplicaFailure'}: ${failure.message ?? ''}`
      : null;
  const annotated = d.spec?.template?.metadata?.annotations?.[REVISION_ANNOTATION] ?? null;
  return {
    name: d.metadata?.name ?? '',
    desired,
    updated,
    available,
    upToDate: revision === null || annotated === revision,
    revision: annotated,
    complete,
    problem,
  };
}

/** The tenant's dedicated workloads: Deployments labelled gatehouse.io/tenant=<slug> (one LIST). */
export const tenantWorkloads = (kube: TenantKube, slug: string): Promise<V1Deployment[]> => kube.listDeployments(`${TENANT_LABEL}=${slug}`);

/**
 * Writes the revision into each workload's pod template (a rollout wherever it changed).
 * Returns the value each template carried before, so a rollback can restore it exactly:
 * the Deployment then returns to its previous ReplicaSet instead of starting a third one.
 */
export async function annotateWorkloads(
  kube: TenantKube,
  slug: string,
  revision: string | ((name: string) => string | null),
): Promise<Record<string, string | null>> {
  const before: Record<string, string | null> = {};
  for (const d of await tenantWorkloads(kube, slug)) {
    const name = d.metadata?.name;
    if (!name) continue;
    before[name] = d.spec?.template?.metadata?.annotations?.[REVISION_ANNOTATION] ?? null;
    const wanted = typeof revision === 'string' ? revision : revision(name);
    if (before[name] === wanted) continue;
    let fresh: V1Deployment | undefined = d;
    await retryOnConflict(async () => {
      if (!fresh) fresh = (await tenantWorkloads(kube, slug)).find((x) => x.metadata?.name === name);
      if (!fresh) return;
      const template = fresh.spec!.template;
      const annotations = { ...(template.metadata?.annotations ?? {}) };
      if (wanted === null) delete annotations[REVISION_ANNOTATION];
      else annotations[REVISION_ANNOTATION] = wanted;
      const body: V1Deployment = {
        ...fresh,
        spec: { ...fresh.spec!, template: { ...template, metadata: { ...(template.metadata ?? {}), annotations } } },
      };
      fresh = undefined; // a 409 re-reads
      await kube.replaceDeployment(name, body);
    });
  }
  return before;
}

export interface WaitOptions {
  /** Give up after this long (a stuck rollout). */
  timeoutMs: number;
  /** First poll interval; doubles up to 2 s. */
  pollMs?: number;
  /** Only these workloads (those that were rolled); default all of the tenant's. */
  names?: string[];
  /** Checked between polls: throws to stop (the tenant Lease was lost). */
  guard?: () => void;
  sleep?: (ms: number) => Promise<void>;
}

/** A rollout that did not complete in time, with the pods that are not ready and why. */
export class RolloutStuck extends ContractError {
  constructor(
    readonly slug: string,
    readonly workloads: WorkloadState[],
    readonly pods: string[],
  ) {
    const stuck = workloads.filter((w) => !w.complete);
    super(
      'UNAVAILABLE',
      `The rollout of ${stuck.map((w) => `${w.name} (${w.updated}/${w.desired} updated, ${w.available} available${w.problem ? `, ${w.problem}` : ''})`).join(', ')} did not complete. ` +
        (pods.length ? `Pods not ready: ${pods.join('; ')}. ` : 'No new pod was created (check quotas and the ReplicaSet events). ') +
        'The rotation stopped at a safe phase: fix the workload, then resume the operation, or roll it back.',
      { workloads: stuck.map((w) => w.name), pods },
    );
    this.name = 'RolloutStuck';
  }
}

/** Pods of a Deployment that are not Ready, each with its phase and the reason (Unschedulable, ImagePullBackOff…). */
export async function unreadyPods(kube: RotationKube, d: V1Deployment): Promise<string[]> {
  const labels = d.spec?.selector?.matchLabels ?? {};
  const selector = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (!selector) return [];
  const pods = await kube.listPods(selector);
  const out: string[] = [];
  for (const p of pods) {
    if (p.metadata?.deletionTimestamp) continue;
    const ready = (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    if (ready) continue;
    const scheduled = (p.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False');
    const waiting = (p.status?.containerStatuses ?? []).map((c) => c.state?.waiting).find((w) => w);
    const why = scheduled
      ? `${scheduled.reason ?? 'Unschedulable'}: ${scheduled.message ?? ''}`
      : waiting
        ? `${waiting.reason ?? 'Waiting'}: ${waiting.message ?? ''}`
        : 'not ready';
    out.push(`${p.metadata?.name ?? '?'} (${p.status?.phase ?? 'Unknown'}, ${why.trim()})`);
  }
  return out;
}

/**
 * Waits until every rolled workload reports its rollout complete; RolloutStuck after the
 * timeout or as soon as a Deployment reports ProgressDeadlineExceeded.
 */
export async function waitForRollout(kube: RotationKube, slug: string, revision: string | null, o: WaitOptions): Promise<WorkloadState[]> {
  const sleep = o.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const started = Date.now();
  let poll = o.pollMs ?? 250;
  for (;;) {
    o.guard?.();
    const deployments = (await tenantWorkloads(kube, slug)).filter((d) => !o.names || o.names.includes(d.metadata?.name ?? ''));
    const states = deployments.map((d) => workloadState(d, revision));
    if (states.every((s) => s.complete)) return states;
    const deadline = states.some((s) => !s.complete && s.problem?.startsWith('progress deadline'));
    if (deadline || Date.now() - started >= o.timeoutMs) {
      const pods: string[] = [];
      for (const d of deployments) if (!workloadState(d, revision).complete) pods.push(...(await unreadyPods(kube, d)));
      throw new RolloutStuck(slug, states, pods);
    }
    await sleep(poll);
    poll = Math.min(2000, poll * 2);
  }
}
