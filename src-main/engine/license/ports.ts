/**
 * The small interfaces the license service needs from the outside world. The Kubernetes
 * implementations are in kube-targets.ts; unit tests use in-memory fakes of these.
 */

export type HistoryAction = 'activate' | 'renew-online' | 'renew-import' | 'clear' | 'allocations' | 'revocations';

export interface HistoryEntry {
  at: string;
  action: HistoryAction;
  actor: string;
  lid: string | null;
  customer: string | null;
  tier: string | null;
  exp: string | null;
  operationId: string | null;
  note?: string;
}

/** Contents of the Secret `gatehouse-license` in the platform namespace: the truth about the license. */
export interface LicenseRecord {
  jws: string | null;
  /** Explicit per-tenant user caps; tenants without one share what is left. */
  allocations: Record<string, number>;
  history: HistoryEntry[];
  /** The newest imported revocation list (signed JWS). */
  revocations: string | null;
}

export const emptyRecord = (): LicenseRecord => ({ jws: null, allocations: {}, history: [], revocations: null });

/** What one read of the cluster's kube-system namespace tells the license service. */
export interface ClusterFacts {
  /** UID of the kube-system namespace: the cluster identity licenses bind to; null when unreadable. */
  uid: string | null;
  /**
   * The cluster is the local development harness: kube-system carries the label
   * DEV_HARNESS_LABEL=true and the API server is on a loopback address. Test-signed licenses
   * are accepted (in development mode) only on such a cluster.
   */
  devHarness: boolean;
  /** The API server's `Date` header (seconds), a time witness; null when absent. */
  serverTime: number | null;
}

export interface LicenseStore {
  facts(): Promise<ClusterFacts>;
  read(): Promise<LicenseRecord | null>;
  /** Read-modify-write with optimistic concurrency; creates the Secret when absent. */
  update(mutate: (current: LicenseRecord) => LicenseRecord): Promise<LicenseRecord>;
}

/** What a tenant currently carries (from its Secret `tenant-<slug>`). */
export interface TenantLicenseState {
  slug: string;
  /** SHA-256 of LICENSE_JWS, null when the tenant has none (free tier). */
  licenseSha: string | null;
  userCap: number | null;
  /** From the LIST: lets a write skip its GET (409 → re-read and retry). */
  resourceVersion?: string;
}

export interface TenantTargets {
  /** Every tenant, from one LIST. */
  list(): Promise<TenantLicenseState[]>;
  /** Writes LICENSE_JWS (null removes it: free tier) and LICENSE_USER_CAP; idempotent. Returns false when the tenant no longer exists. */
  writeLicense(slug: string, value: { jws: string | null; userCap: number }, resourceVersion?: string): Promise<boolean>;
  readLicenseState(slug: string): Promise<TenantLicenseState | null>;
}

/** Where the installation's own private key lives (OS keychain in production). */
export interface SecretStore {
  get(name: string): Promise<string | null>;
  set(name: string, value: string): Promise<void>;
}

export class MemorySecretStore implements SecretStore {
  private readonly values = new Map<string, string>();
  async get(name: string) {
    return this.values.get(name) ?? null;
  }
  async set(name: string, value: string) {
    this.values.set(name, value);
  }
}

/** Users per tenant, counted from the tenant databases by the tenants capability; null when unknown. */
export type UsageProvider = (slug: string) => Promise<number | null>;
export const unknownUsage: UsageProvider = async () => null;

/** The cluster-facing half of the license service for one selected cluster. */
export interface LicenseCluster {
  clusterId: string;
  store: LicenseStore;
  targets: TenantTargets;
}
