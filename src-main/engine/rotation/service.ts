import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ContractError } from '../../../src-shared/contract';
import {
  MaxAgePolicy,
  PolicyKind,
  type BootstrapStatus,
  type CredentialKind,
  type FleetSummary,
  type KindStatus,
  type RotationAlert,
  type RotationResult,
  type SigningAlgorithm,
  type TenantSecretsStatus,
  type TokenLifetimes,
} from '../../../src-shared/contract/secrets';
import { MANAGED_BY_LABEL } from '../../adapters/kube';
import type { Sqlite } from '../../adapters/sqlite';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import { errorText, type SagaOutcome, type SagaRunner } from '../core/saga';
import { BOOTSTRAP_KEYS, LIFETIMES_KEY, readDoc, readTenantDoc, revision, updateTenantSecret, type TenantSecretDoc } from './document';
import { databaseRotationSaga } from './database-saga';
import { FleetRotation } from './fleet';
import { TOKEN_KINDS, currentEntry, describe, phaseOf, type CredentialSet, type TokenKind } from './keyset';
import {
  RolloutStuck,
  annotateWorkloads,
  rotationKube,
  tenantWorkloads,
  waitForRollout,
  workloadState,
  type RotationKube,
  type WorkloadState,
} from './rollout';
import {
  RETIRE_KIND,
  refuseBeforeWindow,
  retireSaga,
  rotationKind,
  setRotationSaga,
  type RetireParams,
  type RotationOptions,
  type RotationParams,
} from './saga';
import { overlapWindow } from './window';
import { LEASE_SECONDS, TENANT_LABEL, acquireTenantLease, releaseTenantLease, writeConfigMapKey } from '../tenants';

export const POLICY_CONFIGMAP = 'gatehouse-rotation-policy';
const POLICY_KEY = 'policy.json';
export const DEFAULT_POLICY: MaxAgePolicy = { jwt: 90, 'login-worker': 180, proxy: 180, cp: 90, database: 180, bootstrap: 30 };
const SET_KINDS = ['jwt', ...TOKEN_KINDS] as const;
const DAY = 86_400;

export interface RotationServiceOptions {
  db: Sqlite;
  bus: EventBus | null;
  saga: SagaRunner;
  consoleId: string;
  /** Test knobs: timeouts, the clock, the shared-workload reload wait, a hook before each step. */
  options?: Partial<Omit<RotationOptions, 'consoleId'>>;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const seconds = (from: string | null, now: Date): number | null =>
  from ? Math.max(0, Math.floor((now.getTime() - new Date(from).getTime()) / 1000)) : null;

/**
 * Rotation of tenant credentials (docs/secrets.md): JWT signing keys and service tokens
 * as next/current/previous sets rolled out in two phases, the database password through a
 * pair of login roles, the bootstrap token, fleet runs, key age against a max-age policy.
 * Every method takes the cluster it acts on; nothing returns a secret except the bootstrap
 * token at issue time.
 */
export class RotationService {
  readonly o: RotationOptions;
  readonly fleet: FleetRotation;

  constructor(private readonly opts: RotationServiceOptions) {
    this.o = {
      consoleId: opts.consoleId,
      leaseSeconds: LEASE_SECONDS,
      rolloutTimeoutMs: 300_000,
      pollMs: 250,
      sharedReloadMs: 10_000,
      drainTimeoutMs: 120_000,
      now: () => new Date(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      ...opts.options,
    };
    for (const kind of SET_KINDS) opts.saga.register(setRotationSaga(kind, this.o));
    opts.saga.register(
      databaseRotationSaga(this.o, async (ctx) => {
        const pg = await ctx.cluster.postgres();
        if (!pg)
          throw new ContractError(
            'UNAVAILABLE',
            `The profile of "${ctx.cluster.contextName}" has no database connection. Set its PostgreSQL admin connection (Clusters → Profile) to rotate database passwords.`,
          );
        return pg;
      }),
    );
    opts.saga.register(retireSaga(this.o));
    this.fleet = new FleetRotation(opts.db, opts.bus, opts.saga);
  }

  private kube(cluster: ClusterRuntime): RotationKube {
    return rotationKube(cluster.kube, cluster.namespace);
  }

  // ---- reading

  async status(cluster: ClusterRuntime, slug: string): Promise<TenantSecretsStatus> {
    const kube = this.kube(cluster);
    const [doc, policy, deployments] = await Promise.all([readTenantDoc(kube, slug), this.policy(cluster), tenantWorkloads(kube, slug)]);
    const now = this.o.now();
    const rev = revision(doc);
    return {
      slug,
      kinds: kindStatuses(doc, policy, now),
      bootstrap: bootstrapStatus(doc, policy, now),
      lifetimes: doc.lifetimes,
      lifetimesSource: doc.lifetimesSource,
      window: overlapWindow(doc.lifetimes),
      workloads: deployments.map((d) => rolloutView(workloadState(d, rev))),
      revision: rev,
    };
  }

  async policy(cluster: ClusterRuntime): Promise<MaxAgePolicy> {
    const cm = await this.kube(cluster).getConfigMap(POLICY_CONFIGMAP);
    const raw = cm?.data?.[POLICY_KEY];
    if (!raw) return DEFAULT_POLICY;
    try {
      const parsed = MaxAgePolicy.partial().safeParse(JSON.parse(raw));
      if (parsed.success) return { ...DEFAULT_POLICY, ...parsed.data };
    } catch {
      // fall through
    }
    throw new ContractError(
      'VALIDATION',
      `ConfigMap ${POLICY_CONFIGMAP} holds a malformed policy. Set it again on the Secrets page (or fix ${POLICY_KEY}).`,
    );
  }

  /** Shared by every console of the cluster: a ConfigMap in the platform namespace, written with its resourceVersion. */
  async setPolicy(cluster: ClusterRuntime, policy: MaxAgePolicy): Promise<{ before: MaxAgePolicy; after: MaxAgePolicy }> {
    const kube = this.kube(cluster);
    let before = DEFAULT_POLICY;
    await writeConfigMapKey(kube, POLICY_CONFIGMAP, POLICY_KEY, JSON.stringify(policy), async (cm) => {
      before = cm ? await this.policy(cluster).catch(() => DEFAULT_POLICY) : DEFAULT_POLICY;
    });
    return { before, after: policy };
  }

  /** Key age of every tenant with one LIST of tenant Secrets (and one GET of the policy). */
  async fleetStatus(cluster: ClusterRuntime) {
    const kube = this.kube(cluster);
    const [secrets, policy] = await Promise.all([
      kube.listSecrets(`${Object.keys(MANAGED_BY_LABEL)[0]}=${Object.values(MANAGED_BY_LABEL)[0]},${TENANT_LABEL}`),
      this.policy(cluster),
    ]);
    const now = this.o.now();
    const tenants: {
      slug: string;
      kinds: { kind: PolicyKind; currentId: string | null; ageSeconds: number | null; phase: string; overdue: boolean }[];
      error: string | null;
    }[] = [];
    const alerts: RotationAlert[] = [];
    for (const s of secrets) {
      const slug = s.metadata?.labels?.[TENANT_LABEL];
      if (!slug || s.metadata?.name !== `tenant-${slug}`) continue;
      try {
        const doc = readDoc(slug, s);
        const kinds = [
          ...kindStatuses(doc, policy, now).map((k) => ({
            kind: k.kind as PolicyKind,
            currentId: k.currentId,
            ageSeconds: k.ageSeconds,
            phase: k.phase,
            overdue: k.overdue,
          })),
          (() => {
            const b = bootstrapStatus(doc, policy, now);
            return {
              kind: 'bootstrap' as const,
              currentId: b.present ? b.id : null,
              ageSeconds: b.present ? b.ageSeconds : null,
              phase: b.present ? (b.expired ? 'expired' : 'active') : 'none',
              overdue: b.overdue,
            };
          })(),
        ];
        for (const k of kinds) {
          const max = policy[k.kind];
          if (k.overdue && max !== null && k.ageSeconds !== null) {
            alerts.push({
              slug,
              kind: k.kind,
              ageSeconds: k.ageSeconds,
              maxAgeDays: max,
              message: `${slug}: ${k.kind} is ${Math.floor(k.ageSeconds / DAY)} days old (policy: ${max} days). Rotate it.`,
            });
          }
        }
        tenants.push({ slug, kinds, error: null });
      } catch (error) {
        tenants.push({ slug, kinds: [], error: errorText(error) });
      }
    }
    tenants.sort((a, b) => a.slug.localeCompare(b.slug));
    return { clusterId: cluster.clusterId, policy, tenants, alerts, readAt: now.toISOString() };
  }

  /** Slugs of every tenant Secret (the fleet's default scope), one LIST. */
  async tenantSlugs(cluster: ClusterRuntime): Promise<string[]> {
    const secrets = await this.kube(cluster).listSecrets(
      `${Object.keys(MANAGED_BY_LABEL)[0]}=${Object.values(MANAGED_BY_LABEL)[0]},${TENANT_LABEL}`,
    );
    return secrets
      .map((s) => s.metadata?.labels?.[TENANT_LABEL] ?? '')
      .filter(Boolean)
      .sort();
  }

  // ---- rotating

  async rotate(
    cluster: ClusterRuntime,
    input: { slug: string; kind: CredentialKind; algorithm?: SigningAlgorithm | undefined },
    actor?: string,
  ): Promise<RotationResult> {
    if (input.algorithm && input.kind !== 'jwt') throw new ContractError('VALIDATION', 'An algorithm applies to JWT signing keys only.');
    // Refused before anything is journaled: the tenant must exist.
    await readTenantDoc(this.kube(cluster), input.slug);
    const params: RotationParams = { slug: input.slug, kind: input.kind, algorithm: input.algorithm ?? null, fleetId: null };
    const outcome = await this.opts.saga.start(rotationKind(input.kind), params, cluster, actor ? { actor } : {});
    return this.result(input.slug, input.kind, outcome, `Rotating the ${input.kind} credential of "${input.slug}"`);
  }

  /** Retires a previous entry once its window ended (refused before, naming when it ends). */
  async retire(
    cluster: ClusterRuntime,
    input: { slug: string; kind: 'jwt' | TokenKind; id: string },
    actor?: string,
  ): Promise<RotationResult> {
    const doc = await readTenantDoc(this.kube(cluster), input.slug);
    const target = setOf(doc, input.kind).entries.find((e) => e.id === input.id);
    if (!target)
      throw new ContractError('NOT_FOUND', `No ${input.kind} entry "${input.id}" in Secret tenant-${input.slug}; refresh the page.`);
    refuseBeforeWindow(input.kind, target, this.o.now());
    return this.runRetire(cluster, { ...input, emergency: false }, actor);
  }

  /** Emergency revoke (admin, typed confirmation): retired now, whatever its window; the current entry is replaced in the same write. */
  async revoke(
    cluster: ClusterRuntime,
    input: { slug: string; kind: 'jwt' | TokenKind; id: string },
    actor?: string,
  ): Promise<RotationResult & { before: string }> {
    const doc = await readTenantDoc(this.kube(cluster), input.slug);
    const target = setOf(doc, input.kind).entries.find((e) => e.id === input.id);
    if (!target)
      throw new ContractError('NOT_FOUND', `No ${input.kind} entry "${input.id}" in Secret tenant-${input.slug}; refresh the page.`);
    if (target.state === 'retired') throw new ContractError('CONFLICT', `${input.id} is already retired.`);
    const out = await this.runRetire(cluster, { ...input, emergency: true }, actor);
    return { ...out, before: target.state };
  }

  private async runRetire(cluster: ClusterRuntime, params: RetireParams, actor?: string): Promise<RotationResult> {
    const outcome = await this.opts.saga.start(RETIRE_KIND, params, cluster, actor ? { actor } : {});
    return this.result(params.slug, params.kind, outcome, `${params.emergency ? 'Revoking' : 'Retiring'} ${params.id} of "${params.slug}"`);
  }

  private async result(slug: string, kind: CredentialKind, outcome: SagaOutcome<unknown>, doing: string): Promise<RotationResult> {
    const op = outcome.operation;
    if (outcome.error) {
      const cause = outcome.error instanceof ContractError ? outcome.error : null;
      const left =
        op.status === 'rolled-back'
          ? 'Everything it had done was rolled back.'
          : `It is listed under Unfinished operations (${op.id}): resume it${op.canRollback ? ' or roll it back' : ''} once the cause is fixed.`;
      throw new ContractError(
        cause?.code ?? 'INTERNAL',
        `${doing} failed at step "${op.failedStep ?? '?'}": ${cause?.message ?? errorText(outcome.error)} ${left}${op.notices.length ? ` ${op.notices.join(' ')}` : ''}`,
        { ...(cause?.details ?? {}), operationId: op.id, step: op.failedStep, status: op.status },
      );
    }
    const notes = (outcome.ctx as { op?: { notes: Record<string, unknown> } } | null)?.op?.notes ?? {};
    return {
      slug,
      kind,
      operationId: op.id,
      status: op.status,
      steps: op.steps,
      id: typeof notes.entryId === 'string' ? notes.entryId : null,
      retireAfter: typeof notes.retireAfter === 'string' ? notes.retireAfter : null,
      notices: op.notices,
    };
  }

  // ---- short locked operations (lifetimes, bootstrap token): the tenant Lease, one write, one rollout

  private async locked<T>(cluster: ClusterRuntime, slug: string, fn: (kube: RotationKube) => Promise<T>): Promise<T> {
    const kube = this.kube(cluster);
    const holder = `${this.o.consoleId}/${randomUUID()}`;
    await acquireTenantLease(kube, slug, holder, this.o.leaseSeconds);
    try {
      return await fn(kube);
    } finally {
      await releaseTenantLease(kube, slug, holder).catch(() => undefined);
    }
  }

  /** Rolls to the Secret's revision and reports the rollout instead of throwing when it is stuck (the write stands). */
  private async rollReport(kube: RotationKube, doc: TenantSecretDoc): Promise<WorkloadState[]> {
    const rev = revision(doc);
    const names = Object.keys(await annotateWorkloads(kube, doc.slug, rev));
    if (names.length === 0) return [];
    try {
      return await waitForRollout(kube, doc.slug, rev, {
        timeoutMs: this.o.rolloutTimeoutMs,
        pollMs: this.o.pollMs,
        names,
        sleep: this.o.sleep,
      });
    } catch (error) {
      if (error instanceof RolloutStuck) return error.workloads;
      throw error;
    }
  }

  async setLifetimes(cluster: ClusterRuntime, slug: string, lifetimes: TokenLifetimes) {
    return this.locked(cluster, slug, async (kube) => {
      let before: TokenLifetimes | null = null;
      const doc = await updateTenantSecret(kube, slug, (d) => {
        before = d.lifetimesSource === 'secret' ? d.lifetimes : null;
        return { [LIFETIMES_KEY]: JSON.stringify(lifetimes) };
      });
      await this.rollReport(kube, doc);
      return { result: { slug, lifetimes: doc.lifetimes, window: overlapWindow(doc.lifetimes) }, before };
    });
  }

  /** A new bootstrap token: returned once, only its SHA-256 stays (in the Secret), with its expiry. Replaces the one before. */
  async issueBootstrap(cluster: ClusterRuntime, slug: string, expiresInDays: number, actor: string) {
    return this.locked(cluster, slug, async (kube) => {
      const now = this.o.now();
      const id = `bt-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`;
      const token = `gbt_${randomBytes(32).toString('base64url')}`;
      const expires = new Date(now.getTime() + expiresInDays * DAY * 1000).toISOString();
      let replaced: string | null = null;
      const doc = await updateTenantSecret(kube, slug, (d) => {
        replaced = d.bootstrap?.hash ? d.bootstrap.id : null;
        return {
          [BOOTSTRAP_KEYS.hash]: `sha256:${sha256(token)}`,
          [BOOTSTRAP_KEYS.meta]: JSON.stringify({
            id,
            created: now.toISOString(),
            expires,
            createdBy: actor,
            revoked: null,
            revokedId: null,
          }),
        };
      });
      const rollout = await this.rollReport(kube, doc);
      return { result: { slug, id, token, expires, rollout: rollout.map(rolloutView) }, replaced };
    });
  }

  async revokeBootstrap(cluster: ClusterRuntime, slug: string) {
    return this.locked(cluster, slug, async (kube) => {
      let revokedId: string | null = null;
      const doc = await updateTenantSecret(kube, slug, (d) => {
        if (!d.bootstrap?.hash) return null;
        revokedId = d.bootstrap.id;
        const now = this.o.now().toISOString();
        return {
          [BOOTSTRAP_KEYS.hash]: null,
          [BOOTSTRAP_KEYS.meta]: JSON.stringify({
            id: null,
            created: null,
            expires: null,
            createdBy: null,
            revoked: now,
            revokedId: d.bootstrap.id,
          }),
        };
      });
      const rollout = revokedId ? await this.rollReport(kube, doc) : [];
      return { slug, revokedId: revokedId as string | null, rollout: rollout.map(rolloutView) };
    });
  }

  // ---- fleet

  async fleetRotate(
    cluster: ClusterRuntime,
    input: { kind: CredentialKind; concurrency: number; slugs?: string[] | undefined; algorithm?: SigningAlgorithm | undefined },
    actor: string | null,
  ): Promise<FleetSummary> {
    if (input.algorithm && input.kind !== 'jwt') throw new ContractError('VALIDATION', 'An algorithm applies to JWT signing keys only.');
    const slugs = input.slugs?.length ? input.slugs : await this.tenantSlugs(cluster);
    if (slugs.length === 0) throw new ContractError('NOT_FOUND', 'This cluster has no tenant to rotate.');
    return this.fleet.start(
      cluster,
      { kind: input.kind, concurrency: input.concurrency, algorithm: input.algorithm ?? null, slugs },
      actor,
    );
  }

  fleetResume(cluster: ClusterRuntime, fleetId: string, actor: string | null): Promise<FleetSummary> {
    return this.fleet.resume(fleetId, cluster, actor);
  }

  fleetList(cluster: ClusterRuntime): FleetSummary[] {
    return this.fleet.list(cluster.clusterId);
  }
}

// ---- views

const setOf = (doc: TenantSecretDoc, kind: 'jwt' | TokenKind): CredentialSet => (kind === 'jwt' ? doc.jwt : doc.tokens[kind]);

const rolloutView = (w: WorkloadState) => ({
  name: w.name,
  desired: w.desired,
  updated: w.updated,
  available: w.available,
  upToDate: w.upToDate,
  revision: w.revision,
  complete: w.complete,
});

function overdue(age: number | null, maxDays: number | null): boolean {
  return age !== null && maxDays !== null && age > maxDays * DAY;
}

export function kindStatuses(doc: TenantSecretDoc, policy: MaxAgePolicy, now: Date): KindStatus[] {
  const out: KindStatus[] = [];
  for (const kind of SET_KINDS) {
    const set = setOf(doc, kind);
    const current = currentEntry(set);
    const since = current ? (current.activated ?? current.created) : null;
    const age = seconds(since, now);
    const inFlight =
      set.entries.find((e) => e.state === 'next')?.op ??
      set.entries.find((e) => e.state === 'previous' && e.demotedBy && !e.retireAfter)?.demotedBy ??
      null;
    const legacy =
      kind === 'jwt'
        ? doc.data.JWT_KEYS === undefined
        : doc.data[`${kind === 'login-worker' ? 'LOGIN_WORKER' : kind.toUpperCase()}_TOKENS`] === undefined;
    out.push({
      kind,
      currentId: current?.id ?? null,
      ageSeconds: age,
      since,
      phase: phaseOf(set),
      entries: set.entries.map(describe),
      databaseUser: null,
      operationId: inFlight,
      maxAgeDays: policy[kind],
      overdue: overdue(age, policy[kind]),
      legacy,
    });
  }
  const db = doc.database;
  const dbAge = seconds(db?.created ?? null, now);
  out.push({
    kind: 'database',
    currentId: db?.id ?? null,
    ageSeconds: dbAge,
    since: db?.created ?? null,
    phase: db?.next ? 'staged' : db?.previous ? 'promoted' : 'stable',
    entries: [],
    databaseUser: db?.user ?? null,
    operationId: db?.next?.op ?? db?.previous?.op ?? null,
    maxAgeDays: policy.database,
    overdue: overdue(dbAge, policy.database),
    // DATABASE_URL is the same in both layouts; without DATABASE_CREDENTIAL the age counts from the Secret's creation.
    legacy: false,
  });
  return out;
}

export function bootstrapStatus(doc: TenantSecretDoc, policy: MaxAgePolicy, now: Date): BootstrapStatus {
  const b = doc.bootstrap;
  const present = Boolean(b?.hash);
  const age = present ? seconds(b?.created ?? null, now) : null;
  const expired = Boolean(present && b?.expires && new Date(b.expires).getTime() <= now.getTime());
  return {
    present,
    id: present ? (b?.id ?? null) : null,
    created: present ? (b?.created ?? null) : null,
    expires: present ? (b?.expires ?? null) : null,
    expired,
    revoked: b?.revoked ?? null,
    createdBy: b?.createdBy ?? null,
    legacy: Boolean(b?.legacy),
    ageSeconds: age,
    maxAgeDays: policy.bootstrap,
    overdue: present && overdue(age, policy.bootstrap),
  };
}
