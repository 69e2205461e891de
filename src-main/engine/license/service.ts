import { randomUUID } from 'node:crypto';
import { ContractError, isContractError } from '../../../src-shared/contract';
import type { Allocations, LicenseStatus } from '../../../src-shared/contract/license';
import type { Sqlite } from '../../adapters/sqlite';
import type { EventBus } from '../core/events';
import { LicenseCache } from './cache';
import { systemClock, TrustedTime, type Clock } from './clock';
import { runFanout, type DesiredTenant, type FanoutResult } from './fanout';
import { FREE_TIER, type LicenseClaims, type RevocationClaims } from './format';
import { invalid, LicenseInvalid } from './jws';
import { sha256 } from './kube-targets';
import { checkAllocations, effectiveCaps, licenseState, usageWarning, type StateInfo } from './policy';
import {
  emptyRecord,
  unknownUsage,
  type HistoryAction,
  type HistoryEntry,
  type LicenseCluster,
  type LicenseRecord,
  type SecretStore,
  type TenantLicenseState,
  type UsageProvider,
} from './ports';
import { clusterFingerprint, fetchRenewal, signRenewalRequest } from './renewal';
import { mapLimit } from '../core/limit';
import { buildStatus } from './status';
import { withoutTestKeys, type TrustedRoots } from './trust';
import { checkRevocationSuccessor, verifyLicense, verifyRevocations, type VerifiedLicense, type VerifiedRevocations } from './verify';

export interface LicenseServiceDeps {
  db: Sqlite;
  bus: EventBus;
  roots: TrustedRoots;
  developmentMode: boolean;
  /** The selected cluster's license Secret and tenants; throws UNAVAILABLE when none is selected. */
  cluster: () => Promise<LicenseCluster>;
  /** Holds the installation's private key (OS keychain in production). */
  secrets: SecretStore;
  usage?: UsageProvider;
  /** The workstation clock (seconds since epoch); injectable for tests. Licenses are judged by TrustedTime over it. */
  now?: Clock;
  concurrency?: number;
  fetch?: typeof fetch;
  consoleVersion?: string;
}

interface Loaded {
  cluster: LicenseCluster;
  record: LicenseRecord;
  clusterUid: string | null;
  /** The roots to verify with on this cluster: test roots only in development mode on the harness. */
  roots: TrustedRoots;
  revocations: RevocationClaims | null;
}

/** The stored license judged now: verified, refused (with why), and whether the clock itself is the problem. */
interface Judged {
  now: number;
  verified: VerifiedLicense | null;
  invalid: { reason: string; message: string } | null;
  /** The clock was wound back (or is behind a signed iat): nothing may be decided from the license until it is fixed. */
  clockProblem: LicenseInvalid | null;
}

const NOT_HARNESS =
  'this cluster is not the local development harness (its kube-system namespace lacks the label gatehouse.io/dev-harness=true, or its API server is not on this machine)';

type Input = { content: string; encoding: 'text' | 'base64' };
const toBytes = ({ content, encoding }: Input): string | Uint8Array =>
  encoding === 'base64' ? new Uint8Array(Buffer.from(content, 'base64')) : content;
const iso = (s: number) => new Date(s * 1000).toISOString();

/** Claims of a license already verified once (cache, export); never used to grant anything. */
function unverifiedClaims(jws: string): LicenseClaims | null {
  try {
    return JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as LicenseClaims;
  } catch {
    return null;
  }
}

/** `iat` of a signed document without verifying it (to re-check an already accepted list at its own time). */
function unverifiedIat(jws: string): number | null {
  const iat = (unverifiedClaims(jws) as { iat?: unknown } | null)?.iat;
  return typeof iat === 'number' ? iat : null;
}

/** The renewal rules: same customer, issued later and expiring no earlier. */
function replacementProblem(current: LicenseClaims, next: LicenseClaims): 'OTHER_CUSTOMER' | 'OLDER_THAN_CURRENT' | null {
  if (next.customer !== current.customer) return 'OTHER_CUSTOMER';
  if (next.iat <= current.iat || next.exp < current.exp) return 'OLDER_THAN_CURRENT';
  return null;
}

export class LicenseService {
  readonly cache: LicenseCache;
  /** The latest trustworthy time seen, in durable state: refuses a clock wound back. */
  readonly time: TrustedTime;
  private readonly usage: UsageProvider;
  private readonly clock: Clock;

  constructor(private readonly deps: LicenseServiceDeps) {
    this.cache = new LicenseCache(deps.db);
    this.usage = deps.usage ?? unknownUsage;
    this.clock = deps.now ?? systemClock;
    this.time = new TrustedTime(deps.db, this.clock);
  }

  // ---------------------------------------------------------------- reading

  private async load(): Promise<Loaded> {
    const cluster = await this.deps.cluster();
    const [record, facts] = await Promise.all([cluster.store.read(), cluster.store.facts()]);
    const rec = record ?? emptyRecord();
    this.cache.put(cluster.clusterId, { jws: rec.jws, allocations: rec.allocations, history: rec.history, devHarness: facts.devHarness });
    this.time.observe(facts.serverTime, `the Kubernetes API server's Date header (cluster ${cluster.clusterId})`);
    const roots = this.rootsFor(facts.devHarness);
    return { cluster, record: rec, clusterUid: facts.uid, roots, revocations: await this.effectiveRevocations(rec, roots) };
  }

  /** Development mode trusts the test roots only on the cluster the command acts on being the local harness. */
  private rootsFor(devHarness: boolean): TrustedRoots {
    if (!this.deps.roots.includesTestKeys || devHarness) return this.deps.roots;
    return withoutTestKeys(this.deps.roots, NOT_HARNESS);
  }

  /**
   * The revocation list in force: the one in this workstation's durable state, or the cluster's when
   * it is a valid successor of it (checkRevocationSuccessor), which is then adopted. A list that may
   * not replace the local one (older, a revoked signer, lifting revocations without a root
   * signature, a seq jump too far) is ignored, so planting one in the cluster Secret changes nothing.
   */
  private async effectiveRevocations(record: LicenseRecord | null, roots: TrustedRoots): Promise<RevocationClaims | null> {
    const stored = this.cache.revocations();
    let local: VerifiedRevocations | null = null;
    if (stored) {
      try {
        // accepted once already: its signer's certificate is judged at the list's own iat, so time passing never lifts it
        local = await verifyRevocations(stored.jws, roots, unverifiedIat(stored.jws) ?? 0);
      } catch {
        // a list we no longer trust (e.g. test-signed outside development mode) is ignored
      }
    }
    const offered = record?.revocations;
    if (offered && offered !== stored?.jws) {
      try {
        const candidate = await verifyRevocations(offered, roots, this.time.now());
        checkRevocationSuccessor(local?.claims ?? null, candidate);
        this.cache.putRevocations(candidate.jws, candidate.claims.seq);
        return candidate.claims;
      } catch {
        // not a valid successor of what this console already holds
      }
    }
    return local?.claims ?? null;
  }

  private async verifyStored(
    loaded: Pick<Loaded, 'record' | 'clusterUid' | 'revocations' | 'roots'>,
    now: number,
  ): Promise<{ verified: VerifiedLicense | null; invalid: { reason: string; message: string } | null; error?: LicenseInvalid }> {
    if (!loaded.record.jws) return { verified: null, invalid: null };
    try {
      const verified = await verifyLicense(loaded.record.jws, {
        roots: loaded.roots,
        clusterUid: loaded.clusterUid,
        revocations: loaded.revocations,
        allowExpired: true,
        now,
      });
      this.time.observe(verified.claims.iat, `license ${verified.claims.lid}, issued by the vendor`);
      return { verified, invalid: null };
    } catch (error) {
      if (error instanceof LicenseInvalid) return { verified: null, invalid: { reason: error.reason, message: error.message }, error };
      throw error;
    }
  }

  /** The stored license judged at the trusted time; a wound-back clock makes it invalid and stops decisions. */
  private async judge(loaded: Pick<Loaded, 'record' | 'clusterUid' | 'revocations' | 'roots'>): Promise<Judged> {
    let now: number;
    try {
      now = this.time.now();
    } catch (error) {
      if (!(error instanceof LicenseInvalid)) throw error;
      return { now: this.clock(), verified: null, invalid: { reason: error.reason, message: error.message }, clockProblem: error };
    }
    const result = await this.verifyStored(loaded, now);
    const clockProblem = result.error?.reason === 'CLOCK_ROLLBACK' ? result.error : null;
    return { now, verified: result.verified, invalid: result.invalid, clockProblem };
  }

  /** For changes that follow from the license (fan-out, caps): refused while the clock is wrong. */
  private async judgeForChange(loaded: Loaded): Promise<Judged> {
    const judged = await this.judge(loaded);
    if (judged.clockProblem) throw judged.clockProblem;
    return judged;
  }

  /** What every tenant should carry now: the license and its cap, or the free tier. */
  private desired(
    tenants: TenantLicenseState[],
    record: LicenseRecord,
    verified: VerifiedLicense | null,
    info: StateInfo,
  ): DesiredTenant[] {
    const licensed = verified && !info.freeTier ? verified : null;
    const caps = effectiveCaps(
      tenants.map((t) => t.slug),
      record.allocations,
      licensed ? licensed.claims.limits.users : null,
    );
    return tenants.map((t) => {
      const jws = licensed ? licensed.jws : null;
      const cap = caps.get(t.slug) ?? FREE_TIER.usersPerTenant;
      const unchanged = t.licenseSha === (jws ? sha256(jws) : null) && t.userCap === cap;
      return { slug: t.slug, jws, cap, unchanged, ...(t.resourceVersion ? { resourceVersion: t.resourceVersion } : {}) };
    });
  }

  async status(): Promise<LicenseStatus> {
    let loaded: Loaded;
    try {
      loaded = await this.load();
    } catch (error) {
      if (!isContractError(error) || (error.code !== 'UNAVAILABLE' && error.code !== 'OFFLINE')) throw error;
      return this.statusFromCache(error.message);
    }
    const { now, verified, invalid: bad, clockProblem } = await this.judge(loaded);
    const info = licenseState(verified?.claims ?? null, now, bad !== null);
    const tenants = await loaded.cluster.targets.list();
    // with a wrong clock nobody can tell what the tenants should carry: none is shown as lagging
    const desired = clockProblem ? [] : this.desired(tenants, loaded.record, verified, info);
    return buildStatus({
      verified,
      info,
      invalid: bad,
      tenants,
      desired,
      record: loaded.record,
      lastFanout: this.cache.lastOp(loaded.cluster.clusterId),
      revocations: this.cache.revocations(),
      developmentMode: this.deps.developmentMode,
      trustsTestKeys: loaded.roots.includesTestKeys,
      source: 'cluster',
      syncedAt: new Date(this.clock() * 1000).toISOString(),
      clusterUid: loaded.clusterUid,
    });
  }

  /** Read-only fallback while the cluster is unreachable: the last synced license, re-verified offline. */
  private async statusFromCache(why: string): Promise<LicenseStatus> {
    const cluster = await this.deps.cluster().catch(() => null);
    const cached = cluster ? this.cache.get(cluster.clusterId) : null;
    if (!cluster || !cached) throw new ContractError('UNAVAILABLE', `${why} No license status was cached for this cluster yet.`);
    const record: LicenseRecord = { jws: cached.jws, allocations: cached.allocations, history: cached.history, revocations: null };
    const roots = this.rootsFor(cached.devHarness);
    const revocations = await this.effectiveRevocations(null, roots);
    // the cluster binding was checked at activation; the kube-system uid cannot be read offline
    const bound = cached.jws ? (unverifiedClaims(cached.jws)?.cluster_uid ?? null) : null;
    const { now, verified, invalid: bad } = await this.judge({ record, clusterUid: bound, revocations, roots });
    const info = licenseState(verified?.claims ?? null, now, bad !== null);
    return buildStatus({
      verified,
      info,
      invalid: bad,
      tenants: null,
      desired: [],
      record,
      lastFanout: this.cache.lastOp(cluster.clusterId),
      revocations: this.cache.revocations(),
      developmentMode: this.deps.developmentMode,
      trustsTestKeys: roots.includesTestKeys,
      source: 'cache',
      syncedAt: cached.syncedAt,
      clusterUid: verified?.claims.cluster_uid ?? null,
    });
  }

  async history(): Promise<HistoryEntry[]> {
    try {
      return [...(await this.load()).record.history].reverse();
    } catch (error) {
      const cluster = await this.deps.cluster().catch(() => null);
      const cached = cluster ? this.cache.get(cluster.clusterId) : null;
      if (cached) return [...cached.history].reverse();
      throw error;
    }
  }

  // ---------------------------------------------------------------- activation & fan-out

  private entry(
    action: HistoryAction,
    actor: string,
    claims: LicenseClaims | null,
    operationId: string | null,
    note?: string,
  ): HistoryEntry {
    return {
      at: new Date(this.clock() * 1000).toISOString(),
      action,
      actor,
      lid: claims?.lid ?? null,
      customer: claims?.customer ?? null,
      tier: claims?.tier ?? null,
      exp: claims ? iso(claims.exp) : null,
      operationId,
      ...(note ? { note } : {}),
    };
  }

  /**
   * Verify first (offline, nothing written), then store the license in the cluster Secret, cache it,
   * and fan it out. `replacement` adds the renewal rules: same customer, strictly newer, known nonce.
   * A plain activation applies the same "newer, same customer" rules unless the admin typed the
   * offered license's id (`confirmReplace`).
   */
  private async install(
    bytes: string | Uint8Array,
    opts: {
      actor: string;
      action: HistoryAction;
      allocations?: Record<string, number>;
      replacement?: { nonce?: string };
      confirmReplace?: string;
    },
  ) {
    const loaded = await this.load();
    // a wrong clock (witness, or behind the active license's iat) stops here: the replacement rules need the truth
    const { now, verified: current } = await this.judgeForChange(loaded);
    const verified = await verifyLicense(bytes, {
      roots: loaded.roots,
      clusterUid: loaded.clusterUid,
      revocations: loaded.revocations,
      now,
    });
    this.time.observe(verified.claims.iat, `license ${verified.claims.lid}, issued by the vendor`);
    let note: string | undefined;
    if (opts.replacement) this.checkReplacement(current?.claims ?? null, verified.claims, opts.replacement.nonce);
    else note = this.checkActivation(current, verified, opts.confirmReplace);
    const allocations = opts.allocations ?? loaded.record.allocations;
    const tenants = await loaded.cluster.targets.list();
    checkAllocations(
      Object.fromEntries(Object.entries(allocations).filter(([slug]) => opts.allocations || tenants.some((t) => t.slug === slug))),
      verified.claims.limits.users,
      opts.allocations ? new Set(tenants.map((t) => t.slug)) : null,
    );
    const notes = [note, verified.trust === 'test' ? 'signed with test keys (development mode)' : undefined].filter(Boolean).join('; ');
    const operationId = randomUUID();
    const record = await loaded.cluster.store.update((rec) => ({
      ...rec,
      jws: verified.jws,
      allocations,
      history: [...rec.history, this.entry(opts.action, opts.actor, verified.claims, operationId, notes || undefined)],
    }));
    this.cache.put(loaded.cluster.clusterId, { jws: record.jws, allocations: record.allocations, history: record.history });
    const info = licenseState(verified.claims, now);
    const fanout = await this.fanout(
      loaded.cluster,
      operationId,
      opts.action,
      verified.claims.lid,
      this.desired(tenants, record, verified, info),
    );
    return { status: await this.status(), fanout, previous: current?.claims ?? null };
  }

  private checkReplacement(current: LicenseClaims | null, next: LicenseClaims, nonce?: string) {
    if (next.renewal_nonce !== undefined && next.renewal_nonce !== nonce && !this.cache.knowsNonce(next.renewal_nonce)) {
      throw invalid(
        'NONCE_MISMATCH',
        'This renewed license answers a renewal request this console did not export. Import the answer to your own request.',
      );
    }
    if (!current) return;
    const problem = replacementProblem(current, next);
    if (problem === 'OTHER_CUSTOMER') {
      throw invalid(
        'OTHER_CUSTOMER',
        `The renewed license is for "${next.customer}", not "${current.customer}". Refused; contact the vendor.`,
      );
    }
    if (problem === 'OLDER_THAN_CURRENT') {
      throw invalid(
        'OLDER_THAN_CURRENT',
        `The license offered (issued ${iso(next.iat)}, expires ${iso(next.exp)}) is not newer than the active one (issued ${iso(current.iat)}, expires ${iso(current.exp)}). Refused.`,
      );
    }
  }

  /**
   * Activation over a valid license: a downgrade (not newer) or another customer's license needs the
   * admin to type the offered license's id. Re-activating the very license in force needs nothing.
   * Returns the history note of a confirmed replacement.
   */
  private checkActivation(current: VerifiedLicense | null, next: VerifiedLicense, typed: string | undefined): string | undefined {
    if (!current || current.jws === next.jws) return undefined;
    const problem = replacementProblem(current.claims, next.claims);
    if (!problem) return undefined;
    const c = current.claims;
    const n = next.claims;
    const what =
      problem === 'OTHER_CUSTOMER'
        ? `This license is for "${n.customer}", but the active license (${c.lid}) is for "${c.customer}".`
        : `This license (issued ${iso(n.iat)}, expires ${iso(n.exp)}) is not newer than the active one (${c.lid}, issued ${iso(c.iat)}, expires ${iso(c.exp)}): activating it is a downgrade.`;
    if (typed !== n.lid) {
      throw new ContractError(
        'CONFIRMATION_REQUIRED',
        `${what} To replace the active license anyway, type the new license's id, "${n.lid}", to confirm.`,
        {
          field: 'confirmReplace',
          expected: n.lid,
          reason: problem,
          current: { lid: c.lid, customer: c.customer, issuedAt: iso(c.iat), expiresAt: iso(c.exp) },
          offered: { lid: n.lid, customer: n.customer, issuedAt: iso(n.iat), expiresAt: iso(n.exp) },
        },
      );
    }
    return problem === 'OTHER_CUSTOMER' ? `confirmed: replaces ${c.customer}'s license ${c.lid}` : `confirmed downgrade from ${c.lid}`;
  }

  private fanout(
    cluster: LicenseCluster,
    id: string,
    kind: string,
    lid: string | null,
    desired: DesiredTenant[],
    resume = false,
  ): Promise<FanoutResult> {
    return runFanout(
      { cache: this.cache, bus: this.deps.bus, targets: cluster.targets, concurrency: this.deps.concurrency ?? 8 },
      { id, clusterId: cluster.clusterId, kind, lid },
      desired,
      resume,
    );
  }

  activate(input: Input & { allocations?: Record<string, number>; confirmReplace?: string }, actor: string) {
    return this.install(toBytes(input), {
      actor,
      action: 'activate',
      ...(input.allocations ? { allocations: input.allocations } : {}),
      ...(input.confirmReplace !== undefined ? { confirmReplace: input.confirmReplace } : {}),
    });
  }

  async clear(customer: string, actor: string) {
    const loaded = await this.load();
    // clearing does not depend on the time: allowed even while the clock is wrong
    const { verified } = await this.judge(loaded);
    const shown = verified?.claims.customer ?? null;
    if (!loaded.record.jws) throw new ContractError('NOT_FOUND', 'No license is active on this cluster; there is nothing to clear.');
    if (shown !== null && customer !== shown) {
      throw new ContractError('CONFIRMATION_REQUIRED', `Type the licensed customer's name, "${shown}", exactly to clear the license.`, {
        field: 'customer',
      });
    }
    const operationId = randomUUID();
    const record = await loaded.cluster.store.update((rec) => ({
      ...rec,
      jws: null,
      allocations: {},
      history: [...rec.history, this.entry('clear', actor, verified?.claims ?? null, operationId)],
    }));
    this.cache.put(loaded.cluster.clusterId, { jws: null, allocations: {}, history: record.history });
    const tenants = await loaded.cluster.targets.list();
    const desired = this.desired(tenants, record, null, licenseState(null, this.clock()));
    const fanout = await this.fanout(loaded.cluster, operationId, 'clear', verified?.claims.lid ?? null, desired);
    return { status: await this.status(), fanout, previous: verified?.claims ?? null };
  }

  /** Resume the newest unfinished fan-out (its tenants not done), else bring every lagging tenant up to date. */
  async resume(_actor: string): Promise<FanoutResult> {
    const loaded = await this.load();
    const { now, verified, invalid: bad } = await this.judgeForChange(loaded);
    const info = licenseState(verified?.claims ?? null, now, bad !== null);
    const tenants = await loaded.cluster.targets.list();
    const desired = this.desired(tenants, loaded.record, verified, info);
    const open = this.cache.unfinishedOp(loaded.cluster.clusterId);
    if (open) {
      const notDone = new Set(
        this.cache
          .items(open.id)
          .filter((i) => i.status !== 'done' && i.status !== 'skipped')
          .map((i) => i.slug),
      );
      return this.fanout(
        loaded.cluster,
        open.id,
        open.kind,
        open.lid,
        desired.filter((d) => notDone.has(d.slug)),
        true,
      );
    }
    const lagging = desired.filter((d) => !d.unchanged);
    return this.fanout(loaded.cluster, randomUUID(), 'reconcile', verified?.claims.lid ?? null, lagging);
  }

  // ---------------------------------------------------------------- allocations

  async allocations(loadedIn?: Loaded): Promise<Allocations> {
    const loaded = loadedIn ?? (await this.load());
    const { now, verified, invalid: bad } = await this.judge(loaded);
    const info = licenseState(verified?.claims ?? null, now, bad !== null);
    const tenants = await loaded.cluster.targets.list();
    const desired = this.desired(tenants, loaded.record, verified, info);
    const licenseUsers = verified && !info.freeTier ? verified.claims.limits.users : null;
    const usage = await mapLimit(desired, 8, (d) => this.usage(d.slug).catch(() => null));
    const rows = desired.map((d, i) => {
      const users = usage[i] ?? null;
      const explicit = licenseUsers !== null ? loaded.record.allocations[d.slug] : undefined;
      return {
        slug: d.slug,
        cap: explicit ?? null,
        effectiveCap: d.cap,
        users,
        percent: users === null || d.cap === 0 ? null : Math.round((users / d.cap) * 1000) / 10,
        warning: usageWarning(users, d.cap),
      };
    });
    const allocated = rows.reduce((sum, r) => sum + r.effectiveCap, 0);
    return { licenseUsers, allocated, unallocated: licenseUsers === null ? null : licenseUsers - allocated, tenants: rows };
  }

  async setAllocations(changes: Record<string, number | null>, actor: string) {
    const loaded = await this.load();
    const { now, verified, invalid: bad } = await this.judgeForChange(loaded);
    const info = licenseState(verified?.claims ?? null, now, bad !== null);
    if (!verified || info.freeTier) {
      throw new ContractError(
        'VALIDATION',
        'Per-tenant caps need an active license; in the free tier every tenant has the fixed free cap. Activate a license first.',
      );
    }
    const tenants = await loaded.cluster.targets.list();
    const known = new Set(tenants.map((t) => t.slug));
    const next: Record<string, number> = Object.fromEntries(Object.entries(loaded.record.allocations).filter(([s]) => known.has(s)));
    for (const [slug, cap] of Object.entries(changes)) {
      if (cap === null) delete next[slug];
      else next[slug] = cap;
    }
    checkAllocations(next, verified.claims.limits.users, new Set([...known, ...Object.keys(next).filter((s) => changes[s] === undefined)]));
    const operationId = randomUUID();
    const record = await loaded.cluster.store.update((rec) => ({
      ...rec,
      allocations: next,
      history: [
        ...rec.history,
        this.entry('allocations', actor, verified.claims, operationId, `${Object.keys(changes).length} tenant cap(s) changed`),
      ],
    }));
    this.cache.put(loaded.cluster.clusterId, { jws: record.jws, allocations: record.allocations, history: record.history });
    const fanout = await this.fanout(
      loaded.cluster,
      operationId,
      'allocations',
      verified.claims.lid,
      this.desired(tenants, record, verified, info),
    );
    return { allocations: await this.allocations({ ...loaded, record }), fanout };
  }

  // ---------------------------------------------------------------- renewal & revocations

  async exportRenewalRequest() {
    let clusterId: string;
    let clusterUid: string | null = null;
    let jws: string | null;
    let perTenant: { slug: string; users: number | null; cap: number }[] = [];
    try {
      const loaded = await this.load();
      clusterId = loaded.cluster.clusterId;
      clusterUid = loaded.clusterUid;
      jws = loaded.record.jws;
      perTenant = (await this.allocations(loaded)).tenants.map((t) => ({ slug: t.slug, users: t.users, cap: t.effectiveCap }));
    } catch (error) {
      // air-gapped and cluster unreachable: a request from the cached license is still useful
      const cluster = await this.deps.cluster().catch(() => null);
      const cached = cluster ? this.cache.get(cluster.clusterId) : null;
      if (!cluster || !cached) throw error;
      clusterId = cluster.clusterId;
      jws = cached.jws;
    }
    const claims = jws ? unverifiedClaims(jws) : null;
    const knownUsers = perTenant.every((t) => t.users !== null) ? perTenant.reduce((s, t) => s + (t.users ?? 0), 0) : null;
    const request = await signRenewalRequest(
      this.deps.secrets,
      {
        lid: claims?.lid ?? null,
        customer: claims?.customer ?? null,
        cluster_fingerprint: clusterFingerprint(clusterUid ?? claims?.cluster_uid ?? null),
        usage: { tenants: perTenant.length, users: knownUsers, per_tenant: perTenant },
        console_version: this.deps.consoleVersion ?? '0.0.0',
      },
      this.clock(),
    );
    this.cache.rememberNonce(request.nonce, clusterId, claims?.lid ?? null);
    const stamp = new Date(this.clock() * 1000).toISOString().slice(0, 10);
    return { fileName: `gatehouse-renewal-${claims?.lid ?? 'unlicensed'}-${stamp}.jws`, content: request.jws, nonce: request.nonce };
  }

  importAnswer(input: Input, actor: string) {
    return this.install(toBytes(input), { actor, action: 'renew-import', replacement: {} });
  }

  async renewOnline(actor: string) {
    const loaded = await this.load();
    const { verified } = await this.judgeForChange(loaded);
    const url = verified?.claims.renewal_url;
    if (!verified || !url) {
      throw new ContractError(
        'VALIDATION',
        'The active license has no renewal URL. Export a renewal request and send it to the vendor instead.',
      );
    }
    const request = await this.exportRenewalRequest();
    const { body, serverTime } = await fetchRenewal(url, request.content, this.deps.fetch);
    this.time.observe(serverTime, `the renewal server's Date header (${new URL(url).host})`);
    return this.install(body, { actor, action: 'renew-online', replacement: { nonce: request.nonce } });
  }

  async importRevocations(input: Input, actor: string) {
    const loaded = await this.load();
    const list = await verifyRevocations(toBytes(input), loaded.roots, this.time.now());
    checkRevocationSuccessor(loaded.revocations, list);
    const { verified } = await this.judge(loaded);
    const currentLicenseRevoked =
      !!verified && (list.claims.revoked_lids.includes(verified.claims.lid) || list.claims.revoked_kids.includes(verified.issuer.kid));
    this.cache.putRevocations(list.jws, list.claims.seq);
    await loaded.cluster.store.update((rec) => ({
      ...rec,
      revocations: list.jws,
      history: [
        ...rec.history,
        this.entry(
          'revocations',
          actor,
          verified?.claims ?? null,
          null,
          `list #${list.claims.seq}${currentLicenseRevoked ? ': the active license is revoked' : ''}`,
        ),
      ],
    }));
    return {
      seq: list.claims.seq,
      revokedLicenses: list.claims.revoked_lids.length,
      revokedKeys: list.claims.revoked_kids.length,
      currentLicenseRevoked,
    };
  }
}
