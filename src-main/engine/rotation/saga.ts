import { ContractError } from '../../../src-shared/contract';
import type { CredentialKind, SigningAlgorithm } from '../../../src-shared/contract/secrets';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { OperationHandle, SagaDefinition, SagaStep } from '../core/saga';
import { readTenantDoc, revision, updateTenantSecret, type TenantSecretDoc } from './document';
import {
  currentEntry,
  generateJwtKey,
  generateToken,
  openWindow,
  promote,
  retire,
  revoke,
  stageNext,
  stagedBy,
  unpromote,
  unstage,
  writeSet,
  type CredentialSet,
  type TokenKind,
} from './keyset';
import { annotateWorkloads, rotationKube, waitForRollout, type RotationKube, type WorkloadState } from './rollout';
import { overlapWindow } from './window';
import { LeaseKeeper, acquireTenantLease, releaseTenantLease } from '../tenants';

export interface RotationOptions {
  consoleId: string;
  leaseSeconds: number;
  /** A rollout not complete after this long stops the rotation at its safe phase. */
  rolloutTimeoutMs: number;
  pollMs: number;
  /**
   * With no dedicated workload, only the shared ones (backend, login-worker-shared) read
   * the Secret, through their WATCH: the time they need to see a change between phases.
   */
  sharedReloadMs: number;
  /** How long the database rotation waits for the old login's connections to end. */
  drainTimeoutMs: number;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Test hook: runs before each step. */
  beforeStep?: ((kind: string, step: string, slug: string) => Promise<void>) | undefined;
}

/** Journaled as is: no secret (the runner refuses one). */
export interface RotationParams {
  slug: string;
  kind: CredentialKind;
  algorithm: SigningAlgorithm | null;
  fleetId: string | null;
}

export interface RetireParams {
  slug: string;
  kind: 'jwt' | TokenKind;
  id: string;
  /** Emergency revoke: before the window ends (and the current entry too, replaced at once). */
  emergency: boolean;
}

export interface RotationCtx<P = RotationParams> {
  params: P;
  slug: string;
  op: OperationHandle;
  cluster: ClusterRuntime;
  kube: RotationKube;
  holder: string;
  lease: LeaseKeeper;
  leaseChecked: boolean;
  o: RotationOptions;
  /** Set when a rollout or drain step failed in this run: its compensation holds the safe phase instead of undoing. */
  hold: unknown;
  /** The last rollout seen (for the result). */
  rollout: WorkloadState[];
}

export const rotationKind = (kind: CredentialKind): string => `rotation.${kind}`;
export const RETIRE_KIND = 'rotation.retire';

// ---- shared pieces

export async function ensureLease(ctx: RotationCtx<unknown>): Promise<void> {
  ctx.lease.check();
  if (!ctx.leaseChecked) {
    await acquireTenantLease(ctx.kube, ctx.slug, ctx.holder, ctx.o.leaseSeconds);
    ctx.leaseChecked = true;
  }
  ctx.lease.start();
}

export function baseContext<P extends { slug: string }>(
  o: RotationOptions,
  params: P,
  op: OperationHandle,
  cluster: ClusterRuntime,
): RotationCtx<P> {
  const slug = params.slug;
  const resumed = typeof op.notes.started === 'string';
  if (!resumed) op.note('started', o.now().toISOString());
  const kube = rotationKube(cluster.kube, cluster.namespace);
  const holder = `${o.consoleId}/${op.id}`;
  return {
    params,
    slug,
    op,
    cluster,
    kube,
    holder,
    lease: new LeaseKeeper(kube, slug, holder, o.leaseSeconds),
    leaseChecked: !resumed,
    o,
    hold: null,
    rollout: [],
  };
}

/**
 * Rolls the tenant's workloads to the Secret's revision and waits for the rollout.
 * The first roll of an operation records what each pod template carried before, so a
 * rollback that restores the exact key set also restores the exact template.
 */
export async function rollTo(ctx: RotationCtx<unknown>, doc: TenantSecretDoc): Promise<WorkloadState[]> {
  const rev = revision(doc);
  const before = ctx.op.notes.annotationsBefore as Record<string, string | null> | undefined;
  const restoring = before && ctx.op.notes.revisionBefore === rev;
  const target = restoring ? (name: string) => (name in before ? before[name]! : rev) : rev;
  const seen = await annotateWorkloads(ctx.kube, ctx.slug, target);
  if (!before) ctx.op.note('annotationsBefore', seen);
  const names = Object.keys(seen);
  if (names.length === 0) {
    // Only shared workloads read this Secret (by WATCH): give them the time to see it.
    if (ctx.o.sharedReloadMs > 0) await ctx.o.sleep(ctx.o.sharedReloadMs);
    ctx.rollout = [];
    return [];
  }
  ctx.rollout = await waitForRollout(ctx.kube, ctx.slug, restoring ? null : rev, {
    timeoutMs: ctx.o.rolloutTimeoutMs,
    pollMs: ctx.o.pollMs,
    names,
    guard: () => ctx.lease.check(),
    sleep: ctx.o.sleep,
  });
  return ctx.rollout;
}

/** A rollout (or drain) step: a failure is remembered so its compensation holds the phase. */
export function holdingStep<C extends RotationCtx<unknown>>(name: string, run: (ctx: C) => Promise<void>, phase: string): SagaStep<C> {
  return {
    name,
    async run(ctx) {
      await ensureLease(ctx);
      try {
        await run(ctx);
      } catch (error) {
        ctx.hold = error;
        throw error;
      }
    },
    async compensate(ctx) {
      if (!ctx.hold) return;
      // Undoing now would roll the workloads again while they are stuck: stop here instead.
      // The Lease is released so the operator (or a resume) can act; the key set is consistent.
      await releaseTenantLease(ctx.kube, ctx.slug, ctx.holder).catch(() => undefined);
      throw new ContractError('UNAVAILABLE', `held at a safe phase (${phase}); fix the cause, then resume or roll back the operation`);
    },
  };
}

const reserveStep: SagaStep<RotationCtx<unknown>> = {
  name: 'reserve',
  async run(ctx) {
    await acquireTenantLease(ctx.kube, ctx.slug, ctx.holder, ctx.o.leaseSeconds);
    ctx.leaseChecked = true;
    ctx.lease.start();
    const doc = await readTenantDoc(ctx.kube, ctx.slug);
    if (typeof ctx.op.notes.revisionBefore !== 'string') ctx.op.note('revisionBefore', revision(doc));
  },
  compensate: (ctx) => releaseTenantLease(ctx.kube, ctx.slug, ctx.holder),
};

const releaseStep: SagaStep<RotationCtx<unknown>> = {
  name: 'release',
  run: (ctx) => releaseTenantLease(ctx.kube, ctx.slug, ctx.holder),
};

export function hooked<C extends RotationCtx<unknown>>(kind: string, o: RotationOptions, steps: SagaStep<C>[]): SagaStep<C>[] {
  const hook = o.beforeStep;
  if (!hook) return steps;
  return steps.map((s) => ({
    ...s,
    run: async (ctx: C) => {
      await hook(kind, s.name, ctx.slug);
      await s.run(ctx);
    },
  }));
}

// ---- JWT keys and service tokens: stage next → roll → (JWKS caches) → promote → roll → window / retire previous

const setOf = (doc: TenantSecretDoc, kind: 'jwt' | TokenKind): CredentialSet => (kind === 'jwt' ? doc.jwt : doc.tokens[kind]);

export function setRotationSaga(kind: 'jwt' | TokenKind, o: RotationOptions): SagaDefinition<RotationParams, RotationCtx> {
  const windowSeconds = (doc: TenantSecretDoc) => (kind === 'jwt' ? overlapWindow(doc.lifetimes).seconds : 0);
  const write = (ctx: RotationCtx<unknown>, change: (set: CredentialSet, doc: TenantSecretDoc) => CredentialSet | null) =>
    updateTenantSecret(ctx.kube, ctx.slug, (doc) => {
      const before = setOf(doc, kind);
      const after = change(before, doc);
      return after && after !== before ? writeSet(after) : null;
    });

  const steps: SagaStep<RotationCtx>[] = [
    reserveStep,
    {
      name: 'stage',
      async run(ctx) {
        await ensureLease(ctx);
        const doc = await write(ctx, (set) => {
          if (stagedBy(set, ctx.op.id)) return set;
          const fresh =
            kind === 'jwt'
              ? generateJwtKey(ctx.params.algorithm ?? currentEntry(set)?.alg ?? 'ES256', ctx.op.id, ctx.o.now())
              : generateToken(kind, ctx.op.id, ctx.o.now());
          return stageNext(set, fresh);
        });
        ctx.op.note('entryId', stagedBy(setOf(doc, kind), ctx.op.id)?.id ?? null);
      },
      async compensate(ctx) {
        await ensureLease(ctx);
        const doc = await write(ctx, (set, d) => unstage(set, ctx.op.id, windowSeconds(d), ctx.o.now()));
        // Workloads never rolled for this operation have nothing to undo.
        if (ctx.op.notes.annotationsBefore) await rollTo(ctx, doc);
      },
    },
    holdingStep(
      'roll-staged',
      async (ctx) => {
        await rollTo(ctx, await readTenantDoc(ctx.kube, ctx.slug));
        if (typeof ctx.op.notes.stagedAt !== 'string') ctx.op.note('stagedAt', ctx.o.now().toISOString());
      },
      'the new entry is accepted, nothing signs or presents it yet',
    ),
    {
      name: 'caches',
      // Relying parties cache the JWKS: a key must be published for the cache max-age before it signs.
      async run(ctx) {
        if (kind !== 'jwt') return;
        const doc = await readTenantDoc(ctx.kube, ctx.slug);
        const mine = stagedBy(doc.jwt, ctx.op.id);
        if (!mine || mine.alg === 'HS256' || mine.state !== 'next') return;
        const until = new Date(String(ctx.op.notes.stagedAt)).getTime() + doc.lifetimes.jwksMaxAgeSeconds * 1000;
        for (let left = until - ctx.o.now().getTime(); left > 0; left = until - ctx.o.now().getTime()) {
          ctx.lease.check();
          await ctx.o.sleep(Math.min(left, 1000));
        }
      },
    },
    {
      name: 'promote',
      async run(ctx) {
        await ensureLease(ctx);
        await write(ctx, (set) => promote(set, ctx.op.id, ctx.o.now()));
      },
      async compensate(ctx) {
        await ensureLease(ctx);
        let refused = false;
        const doc = await write(ctx, (set) => {
          const back = unpromote(set, ctx.op.id);
          if (back === null) refused = true;
          return back;
        });
        if (refused) ctx.op.notice(`The previous ${kind} entry was already retired, so the new one stays current.`);
        await rollTo(ctx, doc);
      },
    },
    holdingStep(
      'roll-promoted',
      async (ctx) => {
        await rollTo(ctx, await readTenantDoc(ctx.kube, ctx.slug));
      },
      'the new entry signs or is presented; the old one is still accepted',
    ),
    {
      name: 'window',
      async run(ctx) {
        await ensureLease(ctx);
        const doc = await write(ctx, (set, d) => openWindow(set, ctx.op.id, windowSeconds(d), ctx.o.now()));
        const demoted = setOf(doc, kind).entries.find((e) => e.demotedBy === ctx.op.id);
        ctx.op.note('retireAfter', demoted?.retireAfter ?? null);
      },
    },
  ];
  if (kind !== 'jwt') {
    // Tokens have no lifetime: once every presenter rolled to the new one, the old one goes.
    steps.push(
      {
        name: 'retire-previous',
        async run(ctx) {
          await ensureLease(ctx);
          await write(ctx, (set) =>
            retire(
              set,
              set.entries.filter((e) => e.demotedBy === ctx.op.id && e.state === 'previous').map((e) => e.id),
              ctx.o.now(),
            ),
          );
        },
      },
      holdingStep(
        'roll-retired',
        async (ctx) => {
          await rollTo(ctx, await readTenantDoc(ctx.kube, ctx.slug));
        },
        'the new token is in use; the old one is no longer in the Secret',
      ),
    );
  }
  steps.push(releaseStep);
  const sagaKind = rotationKind(kind);
  return {
    kind: sagaKind,
    target: (p) => p.slug,
    context: (params, op, cluster) => baseContext(o, params, op, cluster),
    guard: (ctx) => ctx.lease.check(),
    async dispose(ctx) {
      ctx.lease.stop();
    },
    steps: hooked<RotationCtx>(sagaKind, o, steps),
  };
}

// ---- retire / emergency revoke (forward only: retired material cannot come back)

export function retireSaga(o: RotationOptions): SagaDefinition<RetireParams, RotationCtx<RetireParams>> {
  return {
    kind: RETIRE_KIND,
    forwardOnly: true,
    target: (p) => p.slug,
    context: (params, op, cluster) => baseContext(o, params, op, cluster),
    guard: (ctx) => ctx.lease.check(),
    async dispose(ctx) {
      ctx.lease.stop();
    },
    steps: hooked<RotationCtx<RetireParams>>(RETIRE_KIND, o, [
      reserveStep,
      {
        name: 'retire',
        async run(ctx) {
          await ensureLease(ctx);
          const p = ctx.params;
          await updateTenantSecret(ctx.kube, ctx.slug, (doc) => {
            const set = setOf(doc, p.kind);
            const target = set.entries.find((e) => e.id === p.id);
            if (!target)
              throw new ContractError('NOT_FOUND', `No ${p.kind} entry "${p.id}" in Secret tenant-${ctx.slug}; refresh the page.`);
            if (target.state === 'retired') return null; // done before a crash
            if (!p.emergency) {
              refuseBeforeWindow(p.kind, target, ctx.o.now());
              return writeSet(retire(set, [p.id], ctx.o.now()));
            }
            const replacement =
              target.state === 'current'
                ? p.kind === 'jwt'
                  ? generateJwtKey(target.alg ?? 'ES256', ctx.op.id, ctx.o.now())
                  : generateToken(p.kind, ctx.op.id, ctx.o.now())
                : null;
            return writeSet(revoke(set, p.id, replacement, ctx.o.now()));
          });
        },
      },
      {
        name: 'roll',
        async run(ctx) {
          await ensureLease(ctx);
          await rollTo(ctx, await readTenantDoc(ctx.kube, ctx.slug));
        },
      },
      releaseStep,
    ]),
  };
}

/** Retiring is refused before the overlap window ends (an emergency revoke is the admin's way). */
export function refuseBeforeWindow(kind: string, e: { id: string; state: string; retireAfter: string | null }, now: Date): void {
  if (e.state !== 'previous') {
    throw new ContractError(
      'VALIDATION',
      `${e.id} is ${e.state}: only a previous ${kind} entry can be retired. To stop accepting it now, an admin can revoke it (emergency).`,
    );
  }
  if (!e.retireAfter) {
    throw new ContractError(
      'VALIDATION',
      `The overlap window of ${e.id} has not started: its rotation has not finished rolling out. Finish (resume) that rotation first.`,
    );
  }
  if (now.getTime() < new Date(e.retireAfter).getTime()) {
    throw new ContractError(
      'VALIDATION',
      `The overlap window of ${e.id} ends at ${e.retireAfter}: tokens it signed may still be in use until then. Wait, or an admin can revoke it now (emergency, logs those sessions out).`,
      { retireAfter: e.retireAfter },
    );
  }
}
