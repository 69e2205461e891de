import { randomUUID } from 'node:crypto';
import type { V1Deployment } from '@kubernetes/client-node';
import { ContractError } from '../../../src-shared/contract';
import type { UpgradeStatus } from '../../../src-shared/contract/workers';
import { retryOnConflict as retryKubeConflict } from '../../adapters/kube';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import { errorText, type OperationHandle, type SagaDefinition, type SagaRunner } from '../core/saga';
import { mapLimit } from '../core/limit';
import type { WorkerPorts } from './config-saga';
import { COMPONENT_LABEL, NAME_LABEL, PART_OF, VERSION_LABEL, imageVersion, poolDeploymentName, withTag } from './manifests';
import { StuckDetector, failingPods, rolloutStatus, type RolloutWait } from './rollout';

/**
 * Version upgrades: one saga per upgrade — plan → canary → rest. Each Deployment it changes
 * gets annotations naming the operation and the image it had, so pause, resume and roll back
 * touch exactly what this upgrade changed. Rollouts are followed with one LIST per check for a
 * whole wave (not a GET per Deployment), and a Deployment that stops progressing (no movement
 * for N checks, or its new pods' restarts rising) is "stuck" long before its progress deadline:
 * with autoRollback the saga fails and its compensation restores the previous images; without,
 * it waits for the operator (resume or roll back) with the stuck Deployment paused.
 */
export const PLATFORM_UPGRADE = 'platform.upgrade';
export const UPGRADE_ANNOTATION = 'gatehouse.io/upgrade-operation';
export const PREVIOUS_IMAGE_ANNOTATION = 'gatehouse.io/previous-image';

type Component = UpgradeStatus['component'];
type Target = UpgradeStatus['targets'][number];

export interface UpgradeParams {
  component: Component;
  version: string;
  canaryPool: string | null;
  autoRollback: boolean;
  /** Set: this operation restores what that upgrade changed (a roll back after it finished). */
  restoreOf: string | null;
}

const COMPONENTS: Record<Exclude<Component, 'all'>, string> = {
  backend: 'backend',
  frontend: 'frontend',
  'login-workers': 'login-worker',
  agents: 'agent',
};

interface Control {
  paused: boolean;
  abort: string | null;
  /** Bumped by resume: stuck detection starts over. */
  generation: number;
}

interface UpgradeCtx {
  ports: WorkerPorts;
  op: OperationHandle;
  params: UpgradeParams;
  status: UpgradeStatus;
  control: Control;
}

export class Upgrades {
  /** Status of upgrades this console ran, by operation id; the newest per cluster. */
  private readonly statuses = new Map<string, UpgradeStatus>();
  private readonly latest = new Map<string, string>();
  private readonly controls = new Map<string, Control>();
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly clusterOf = new Map<string, string>();

  constructor(
    private readonly saga: SagaRunner,
    private readonly bus: EventBus | null,
    private readonly ports: (c: ClusterRuntime) => WorkerPorts,
    private readonly rollout: Omit<RolloutWait, 'onProgress'>,
  ) {
    saga.register(this.definition());
  }

  /** Starts the upgrade in the background; answers with its first status (the plan). Progress: operation.progress and upgrades.status. */
  async start(cluster: ClusterRuntime, input: Omit<UpgradeParams, 'restoreOf'>, actor?: string): Promise<UpgradeStatus> {
    const busy = [...this.statuses.values()].find(
      (s) => (s.state === 'running' || s.state === 'paused' || s.state === 'stuck') && this.latest.get(cluster.clusterId) === s.operationId,
    );
    if (busy)
      throw new ContractError(
        'CONFLICT',
        `Upgrade ${busy.operationId} (${busy.component} → ${busy.version}) is still ${busy.state}. Let it finish, or roll it back first.`,
      );
    const p = this.ports(cluster);
    const targets = await this.plan(p, input.component, input.canaryPool, null);
    if (targets.length === 0)
      throw new ContractError('NOT_FOUND', `No ${input.component} Deployment runs in ${p.kube.namespace}: nothing to upgrade.`);
    if (input.canaryPool && !targets.some((t) => t.wave === 'canary')) {
      throw new ContractError(
        'VALIDATION',
        `Canary pool "${input.canaryPool}" is not among the Deployments of this upgrade (${poolDeploymentName(input.canaryPool)} not found): choose a pool the upgrade covers.`,
      );
    }
    return this.launch(cluster, { ...input, restoreOf: null }, actor);
  }

  private async launch(cluster: ClusterRuntime, params: UpgradeParams, actor?: string): Promise<UpgradeStatus> {
    const id = randomUUID();
    const status: UpgradeStatus = {
      operationId: id,
      component: params.component,
      version: params.version,
      canaryPool: params.canaryPool,
      state: 'running',
      startedAt: new Date().toISOString(),
      finishedAt: null,
      error: null,
      targets: [],
    };
    this.statuses.set(id, status);
    this.latest.set(cluster.clusterId, id);
    this.controls.set(id, { paused: false, abort: null, generation: 0 });
    this.clusterOf.set(id, cluster.clusterId);
    let planned!: () => void;
    const ready = new Promise<void>((r) => (planned = r));
    this.planned.set(id, planned);
    const run = this.saga.start(PLATFORM_UPGRADE, params, cluster, { id, ...(actor ? { actor } : {}) }).then(
      (outcome) => {
        status.finishedAt = new Date().toISOString();
        if (outcome.error) {
          status.error = errorText(outcome.error);
          status.state = outcome.operation.status === 'rolled-back' ? 'rolled-back' : 'failed';
          if (status.state === 'rolled-back') for (const t of status.targets) if (t.state !== 'pending') t.state = 'rolled-back';
        } else status.state = 'done';
        planned();
        this.publish(status, 'done');
      },
      (error: unknown) => {
        status.state = 'failed';
        status.error = errorText(error);
        status.finishedAt = new Date().toISOString();
        planned();
      },
    );
    this.running.set(id, run);
    await ready;
    return structuredClone(status);
  }

  private readonly planned = new Map<string, () => void>();

  status(cluster: ClusterRuntime, operationId: string | null): UpgradeStatus | null {
    const id = operationId ?? this.latest.get(cluster.clusterId) ?? null;
    const s = id ? this.statuses.get(id) : undefined;
    if (operationId && !s)
      throw new ContractError(
        'NOT_FOUND',
        `Upgrade ${operationId} is not known to this console (it ran elsewhere, or before a restart: see Unfinished operations).`,
      );
    return s ? structuredClone(s) : null;
  }

  /** Resolves when the upgrade's saga ends (tests, the CLI). */
  async settled(operationId: string): Promise<UpgradeStatus> {
    await this.running.get(operationId);
    return structuredClone(this.statuses.get(operationId)!);
  }

  private own(cluster: ClusterRuntime, operationId: string): { status: UpgradeStatus; control: Control } {
    const status = this.statuses.get(operationId);
    const control = this.controls.get(operationId);
    if (!status || !control || this.clusterOf.get(operationId) !== cluster.clusterId)
      throw new ContractError('NOT_FOUND', `Upgrade ${operationId} is not known to this console.`);
    return { status, control };
  }

  /** Pauses the Deployments still rolling and holds the next ones back. */
  async pause(cluster: ClusterRuntime, operationId: string): Promise<UpgradeStatus> {
    const { status, control } = this.own(cluster, operationId);
    if (status.state !== 'running' && status.state !== 'stuck')
      throw new ContractError('CONFLICT', `Upgrade ${operationId} is ${status.state}; only a running upgrade can be paused.`);
    control.paused = true;
    const p = this.ports(cluster);
    for (const t of status.targets) if (t.state === 'rolling' || t.state === 'stuck') await setPaused(p, t.deployment, true);
    status.state = 'paused';
    for (const t of status.targets) if (t.state === 'rolling') t.state = 'paused';
    this.publish(status, 'paused');
    return structuredClone(status);
  }

  async resume(cluster: ClusterRuntime, operationId: string): Promise<UpgradeStatus> {
    const { status, control } = this.own(cluster, operationId);
    if (status.state !== 'paused' && status.state !== 'stuck')
      throw new ContractError('CONFLICT', `Upgrade ${operationId} is ${status.state}; only a paused or stuck upgrade can be resumed.`);
    const p = this.ports(cluster);
    for (const t of status.targets)
      if (t.state === 'paused' || t.state === 'stuck') {
        await setPaused(p, t.deployment, false);
        t.state = 'rolling';
      }
    control.paused = false;
    control.generation++;
    status.state = 'running';
    status.error = null;
    this.publish(status, 'resumed');
    return structuredClone(status);
  }

  /** While it runs: stop it and restore every image it changed (the saga's compensation). After it finished: a new operation restoring them. */
  async rollback(cluster: ClusterRuntime, operationId: string, actor?: string): Promise<UpgradeStatus> {
    const { status, control } = this.own(cluster, operationId);
    if (status.state === 'running' || status.state === 'paused' || status.state === 'stuck') {
      control.abort = 'rolled back by the operator';
      control.paused = false;
      await this.settled(operationId);
      return structuredClone(this.statuses.get(operationId)!);
    }
    if (status.state !== 'done')
      throw new ContractError('CONFLICT', `Upgrade ${operationId} is ${status.state}; there is nothing of it to roll back.`);
    const restore = await this.launch(
      cluster,
      {
        component: status.component,
        version: `previous of ${status.version}`.slice(0, 128),
        canaryPool: null,
        autoRollback: true,
        restoreOf: operationId,
      },
      actor,
    );
    return restore;
  }

  private publish(s: UpgradeStatus, message: string): void {
    const done = s.targets.filter((t) => t.state === 'done').length;
    this.bus?.publish('operation.progress', {
      operationId: s.operationId,
      kind: PLATFORM_UPGRADE,
      target: `${s.component}@${s.version}`,
      step: 'rollout',
      status:
        s.state === 'done'
          ? 'done'
          : s.state === 'failed' || s.state === 'stuck'
            ? 'failed'
            : s.state === 'rolled-back'
              ? 'compensated'
              : 'running',
      done,
      total: s.targets.length,
      at: new Date().toISOString(),
      message,
    });
  }

  /** The Deployments of a component (one LIST); a canary pool goes first. */
  private async plan(p: WorkerPorts, component: Component, canaryPool: string | null, restoreOf: string | null): Promise<Target[]> {
    const all = await p.kube.listDeployments(`${Object.keys(PART_OF)[0]}=${Object.values(PART_OF)[0]}`);
    const wanted = component === 'all' ? new Set(Object.values(COMPONENTS)) : new Set([COMPONENTS[component]]);
    return all
      .filter((d) =>
        restoreOf ? d.metadata?.annotations?.[UPGRADE_ANNOTATION] === restoreOf : wanted.has(d.metadata?.labels?.[COMPONENT_LABEL] ?? ''),
      )
      .map((d) => {
        const from = d.spec?.template?.spec?.containers?.[0]?.image ?? null;
        const to = restoreOf ? (d.metadata?.annotations?.[PREVIOUS_IMAGE_ANNOTATION] ?? from ?? '') : '';
        const wave: Target['wave'] = canaryPool && d.metadata?.name === poolDeploymentName(canaryPool) ? 'canary' : 'rest';
        return { deployment: d.metadata?.name ?? '', wave, from, to, state: 'pending' as const, rollout: null, failingPods: [] };
      })
      .sort((a, b) => (a.wave === b.wave ? a.deployment.localeCompare(b.deployment) : a.wave === 'canary' ? -1 : 1));
  }

  private definition(): SagaDefinition<UpgradeParams, UpgradeCtx> {
    const wave = (which: Target['wave']) => ({
      name: which,
      run: (ctx: UpgradeCtx) => this.runWave(ctx, which),
      compensate: (ctx: UpgradeCtx) => this.restoreWave(ctx, which),
    });
    return {
      kind: PLATFORM_UPGRADE,
      target: (p) => `${p.component}@${p.version}`,
      context: (params, op, cluster) => {
        const status = this.statuses.get(op.id) ?? {
          operationId: op.id,
          component: params.component,
          version: params.version,
          canaryPool: params.canaryPool,
          state: 'running' as const,
          startedAt: new Date().toISOString(),
          finishedAt: null,
          error: null,
          targets: (op.notes.targets as Target[] | undefined) ?? [],
        };
        this.statuses.set(op.id, status);
        this.latest.set(cluster.clusterId, op.id);
        const control = this.controls.get(op.id) ?? { paused: false, abort: null, generation: 0 };
        this.clusterOf.set(op.id, cluster.clusterId);
        this.controls.set(op.id, control);
        return { ports: this.ports(cluster), op, params, status, control };
      },
      steps: [
        {
          name: 'plan',
          run: async (ctx) => {
            const targets = await this.plan(ctx.ports, ctx.params.component, ctx.params.canaryPool, ctx.params.restoreOf);
            for (const t of targets) if (!ctx.params.restoreOf) t.to = t.from ? withTag(t.from, ctx.params.version) : '';
            ctx.status.targets = targets;
            // Names and images only (no secrets): what a resume or roll back after a crash works from.
            ctx.op.note(
              'targets',
              targets.map((t) => ({ ...t, rollout: null, failingPods: [] })),
            );
            this.planned.get(ctx.op.id)?.();
          },
        },
        wave('canary'),
        wave('rest'),
      ],
    };
  }

  private async runWave(ctx: UpgradeCtx, which: Target['wave']): Promise<void> {
    const targets = ctx.status.targets.filter((t) => t.wave === which);
    if (!targets.length) return;
    // Set the new image (8 at a time), remembering the previous one on the Deployment itself.
    await mapLimit(targets, 8, async (t) => {
      if (t.state === 'done') return;
      await this.waitWhilePaused(ctx);
      await setImage(ctx.ports, t.deployment, t.to, ctx.op.id, !ctx.params.restoreOf);
      t.state = 'rolling';
    });
    this.publish(ctx.status, `${which}: ${targets.length} Deployment(s) set to ${ctx.params.version}`);
    await this.follow(ctx, targets);
  }

  /** Follows a wave with one LIST per check; names the failing pods of a stuck Deployment. */
  private async follow(ctx: UpgradeCtx, targets: Target[]): Promise<void> {
    const fresh = () =>
      new Map(targets.map((t) => [t.deployment, new StuckDetector(this.rollout.stuckPeriods, this.rollout.restartBudget)]));
    let detectors = fresh();
    let generation = ctx.control.generation;
    const deadline = Date.now() + this.rollout.timeoutMs;
    const selector = `${Object.keys(PART_OF)[0]}=${Object.values(PART_OF)[0]}`;
    for (;;) {
      if (ctx.control.abort) throw new ContractError('CONFLICT', `Upgrade ${ctx.op.id} was ${ctx.control.abort}.`);
      if (generation !== ctx.control.generation) {
        generation = ctx.control.generation;
        detectors = fresh();
      }
      const byName = new Map((await ctx.ports.kube.listDeployments(selector)).map((d) => [d.metadata?.name ?? '', d]));
      let pending = 0;
      for (const t of targets) {
        if (t.state === 'done') continue;
        const d = byName.get(t.deployment) ?? null;
        const r = rolloutStatus(t.deployment, d);
        t.rollout = r;
        if (!d) {
          t.state = 'failed';
          throw new ContractError('NOT_FOUND', `Deployment ${t.deployment} disappeared during the upgrade.`);
        }
        if (r.complete && r.image === t.to) {
          t.state = 'done';
          t.failingPods = [];
          continue;
        }
        pending++;
        if (ctx.control.paused) continue;
        const pods = failingPods(await this.podsOf(ctx, d), t.to);
        t.failingPods = pods;
        const verdict = detectors.get(t.deployment)!.observe(
          r,
          pods.reduce((n, x) => n + x.restarts, 0),
        );
        if (verdict.stuck && t.state !== 'stuck') {
          t.state = 'stuck';
          const named = pods.length ? ` Failing pods: ${pods.map((x) => `${x.name} (${x.reason ?? 'not ready'})`).join(', ')}.` : '';
          const why = `Deployment ${t.deployment} is stuck: ${verdict.why}.${named}`;
          if (ctx.params.autoRollback) {
            ctx.status.state = 'stuck';
            ctx.status.error = why;
            this.publish(ctx.status, why);
            throw new ContractError('UNAVAILABLE', `${why} Rolling back to the previous version.`, { deployment: t.deployment, pods });
          }
          // Hold it where it is and let the operator decide (resume to keep waiting, or roll back).
          await setPaused(ctx.ports, t.deployment, true);
          ctx.control.paused = true;
          ctx.status.state = 'stuck';
          ctx.status.error = why;
          this.publish(ctx.status, why);
        }
      }
      this.publish(ctx.status, `${targets.filter((t) => t.state === 'done').length}/${targets.length} rolled out`);
      if (pending === 0) return;
      if (!ctx.control.paused && Date.now() > deadline)
        throw new ContractError(
          'UNAVAILABLE',
          `The upgrade did not finish within ${Math.round(this.rollout.timeoutMs / 1000)} s (${pending} Deployment(s) still rolling).`,
        );
      await new Promise((r) => setTimeout(r, this.rollout.periodMs));
    }
  }

  private async podsOf(ctx: UpgradeCtx, d: V1Deployment) {
    const name = d.spec?.selector?.matchLabels?.[NAME_LABEL];
    return name ? ctx.ports.kube.listPods(`${NAME_LABEL}=${name}`) : [];
  }

  private async waitWhilePaused(ctx: UpgradeCtx): Promise<void> {
    while (ctx.control.paused && !ctx.control.abort) await new Promise((r) => setTimeout(r, this.rollout.periodMs));
    if (ctx.control.abort) throw new ContractError('CONFLICT', `Upgrade ${ctx.op.id} was ${ctx.control.abort}.`);
  }

  /** Compensation: every Deployment of the wave this operation changed gets its previous image back, unpaused. */
  private async restoreWave(ctx: UpgradeCtx, which: Target['wave']): Promise<void> {
    const targets = ctx.status.targets.filter((t) => t.wave === which);
    await mapLimit(targets, 8, async (t) => {
      await retryKubeConflict(async () => {
        const d = await ctx.ports.kube.getDeployment(t.deployment);
        if (!d?.spec?.template?.spec?.containers?.[0]) return;
        const ann = d.metadata?.annotations ?? {};
        if (ann[UPGRADE_ANNOTATION] !== ctx.op.id) return; // not changed by this upgrade (or changed again since)
        const previous = ann[PREVIOUS_IMAGE_ANNOTATION] ?? t.from;
        if (!previous) return;
        applyImage(d, previous);
        d.spec.paused = false;
        const rest = { ...ann };
        delete rest[UPGRADE_ANNOTATION];
        delete rest[PREVIOUS_IMAGE_ANNOTATION];
        d.metadata = { ...d.metadata, annotations: rest };
        await ctx.ports.kube.replaceDeployment(t.deployment, d);
      });
      t.state = 'rolled-back';
    });
  }
}

function applyImage(d: V1Deployment, image: string): void {
  const c = d.spec!.template!.spec!.containers[0]!;
  c.image = image;
  const version = imageVersion(image);
  if (version) {
    d.metadata = { ...d.metadata, labels: { ...(d.metadata?.labels ?? {}), [VERSION_LABEL]: version } };
    d.spec!.template!.metadata = {
      ...d.spec!.template!.metadata,
      labels: { ...(d.spec!.template!.metadata?.labels ?? {}), [VERSION_LABEL]: version },
    };
  }
}

/** New image (and version labels) with the operation and the previous image recorded on the Deployment; a restore clears them. */
async function setImage(p: WorkerPorts, name: string, image: string, operationId: string, record: boolean): Promise<void> {
  await retryKubeConflict(async () => {
    const d = await p.kube.getDeployment(name);
    if (!d?.spec?.template?.spec?.containers?.[0])
      throw new ContractError('NOT_FOUND', `Deployment ${name} disappeared during the upgrade.`);
    const current = d.spec.template.spec.containers[0].image ?? '';
    const ann = { ...(d.metadata?.annotations ?? {}) };
    if (record) {
      // A resumed run must not overwrite the image it recorded first with its own new one.
      if (ann[UPGRADE_ANNOTATION] !== operationId) ann[PREVIOUS_IMAGE_ANNOTATION] = current;
      ann[UPGRADE_ANNOTATION] = operationId;
    } else {
      delete ann[UPGRADE_ANNOTATION];
      delete ann[PREVIOUS_IMAGE_ANNOTATION];
    }
    if (current === image && d.spec.paused !== true && JSON.stringify(ann) === JSON.stringify(d.metadata?.annotations ?? {})) return;
    applyImage(d, image);
    d.spec.paused = false;
    d.metadata = { ...d.metadata, annotations: ann };
    await p.kube.replaceDeployment(name, d);
  });
}

async function setPaused(p: WorkerPorts, name: string, paused: boolean): Promise<void> {
  await retryKubeConflict(async () => {
    const d = await p.kube.getDeployment(name);
    if (!d?.spec || d.spec.paused === paused || (!paused && d.spec.paused === undefined)) return;
    d.spec.paused = paused;
    await p.kube.replaceDeployment(name, d);
  });
}
