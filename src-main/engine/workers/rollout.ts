import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { ContractError } from '../../../src-shared/contract';
import type { RolloutStatus } from '../../../src-shared/contract/workers';
import type { WorkersKube } from './kube';
import { NAME_LABEL } from './manifests';

/** A Deployment's rollout as its controller reports it (kubectl rollout status's rule). */
export function rolloutStatus(name: string, d: V1Deployment | null): RolloutStatus {
  if (!d)
    return {
      name,
      exists: false,
      desired: 0,
      updated: 0,
      ready: 0,
      available: 0,
      observed: true,
      complete: false,
      paused: false,
      image: null,
      message: 'does not exist',
    };
  const desired = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  const observed = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const updated = s.updatedReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  const total = s.replicas ?? 0;
  // Complete: the controller saw this spec, every replica is the new one, all available, no old ones left.
  const complete = observed && updated >= desired && available >= desired && total <= updated;
  const progressing = (s.conditions ?? []).find((c) => c.type === 'Progressing');
  const message = complete
    ? null
    : !observed
      ? 'waiting for the controller to see the change'
      : updated < desired
        ? `${updated} of ${desired} replicas updated`
        : total > updated
          ? `${total - updated} old replicas pending termination`
          : available < desired
            ? `${available} of ${updated} updated replicas available`
            : (progressing?.message ?? null);
  return {
    name,
    exists: true,
    desired,
    updated,
    ready: s.readyReplicas ?? 0,
    available,
    observed,
    complete,
    paused: d.spec?.paused === true,
    image: d.spec?.template?.spec?.containers?.[0]?.image ?? null,
    message,
  };
}

export interface FailingPod {
  name: string;
  reason: string | null;
  restarts: number;
}

export const podRestarts = (p: V1Pod): number => (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
export const podReady = (p: V1Pod): boolean => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Why a pod is not ready: a container's waiting/terminated reason, else the unmet condition, else its phase. */
export function podReason(p: V1Pod): string | null {
  for (const c of p.status?.containerStatuses ?? []) {
    const why = c.state?.waiting?.reason ?? c.state?.terminated?.reason ?? c.lastState?.terminated?.reason;
    if (why && !c.ready) return why;
  }
  const unmet = (p.status?.conditions ?? []).find((c) => c.status !== 'True' && (c.reason || c.message));
  if (unmet) return unmet.reason ?? unmet.message ?? null;
  if (p.status?.phase && p.status.phase !== 'Running') return p.status.phase;
  return podReady(p) ? null : 'not ready';
}

/** Pods of the Deployment running `image` that are not ready: the ones a stuck rollout names. */
export function failingPods(pods: V1Pod[], image: string | null): FailingPod[] {
  return pods
    .filter(
      (p) =>
        !p.metadata?.deletionTimestamp && !podReady(p) && (image === null || (p.spec?.containers ?? []).some((c) => c.image === image)),
    )
    .map((p) => ({ name: p.metadata?.name ?? '', reason: podReason(p), restarts: podRestarts(p) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Says "stuck" before the Deployment's own progress deadline: no movement in updated/ready/
 * available replicas for `periods` observations in a row, or the new pods' restarts rising by
 * `restartBudget` since the rollout started (a crash loop makes "progress" look alive).
 */
export class StuckDetector {
  private last = '';
  private still = 0;
  private firstRestarts: number | null = null;

  constructor(
    readonly periods = 5,
    readonly restartBudget = 3,
  ) {}

  observe(r: RolloutStatus, restarts: number): { stuck: boolean; why: string | null } {
    if (r.complete) return { stuck: false, why: null };
    this.firstRestarts ??= restarts;
    const marker = `${r.observed}/${r.updated}/${r.ready}/${r.available}/${r.desired}`;
    if (marker === this.last) this.still++;
    else {
      this.last = marker;
      this.still = 0;
    }
    if (r.paused) return { stuck: false, why: null };
    if (restarts - this.firstRestarts >= this.restartBudget)
      return { stuck: true, why: `the new pods restarted ${restarts - this.firstRestarts} times since the rollout began` };
    if (this.still >= this.periods) return { stuck: true, why: `no progress for ${this.still} checks (${r.message ?? 'no message'})` };
    return { stuck: false, why: null };
  }
}

export interface RolloutWait {
  periodMs: number;
  stuckPeriods: number;
  restartBudget?: number;
  /** Gives up (UNAVAILABLE) after this long even without a stuck verdict. */
  timeoutMs: number;
  onProgress?: (r: RolloutStatus) => void;
}

/** Thrown when a rollout stops progressing; carries the failing pods. */
export class RolloutStuck extends ContractError {
  constructor(
    readonly rollout: RolloutStatus,
    readonly pods: FailingPod[],
    why: string,
  ) {
    const named = pods.length
      ? ` Failing pods: ${pods.map((p) => `${p.name} (${p.reason ?? 'not ready'}, ${p.restarts} restarts)`).join(', ')}.`
      : '';
    super('UNAVAILABLE', `Deployment ${rollout.name} is stuck: ${why}.${named} Check the image and the pods' events, then roll back.`, {
      deployment: rollout.name,
      pods,
    });
  }
}

/** Waits (one GET per period, per Deployment) until the rollout completes; throws RolloutStuck when it stops moving. */
export async function waitForRollout(kube: WorkersKube, name: string, o: RolloutWait): Promise<RolloutStatus> {
  const detector = new StuckDetector(o.stuckPeriods, o.restartBudget);
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const d = await kube.getDeployment(name);
    const r = rolloutStatus(name, d);
    o.onProgress?.(r);
    if (!d || r.complete) return r;
    const selector = d.spec?.selector?.matchLabels?.[NAME_LABEL] ? `${NAME_LABEL}=${d.spec.selector.matchLabels[NAME_LABEL]}` : null;
    const pods = selector ? await kube.listPods(selector) : [];
    const failing = failingPods(pods, r.image);
    const verdict = detector.observe(
      r,
      failing.reduce((n, p) => n + p.restarts, 0),
    );
    if (verdict.stuck) throw new RolloutStuck(r, failing, verdict.why!);
    if (Date.now() > deadline) throw new RolloutStuck(r, failing, `not rolled out after ${Math.round(o.timeoutMs / 1000)} s`);
    await new Promise((res) => setTimeout(res, o.periodMs));
  }
}
