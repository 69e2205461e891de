// In-memory fakes of the license service's own ports (unit tests only; integration uses the real API server).
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { licenseMigrations } from '../../../src-main/engine/license/cache';
import { EventBus } from '../../../src-main/engine/core/events';
import {
  emptyRecord,
  MemorySecretStore,
  type LicenseCluster,
  type LicenseRecord,
  type TenantLicenseState,
} from '../../../src-main/engine/license/ports';
import { LicenseService, type LicenseServiceDeps } from '../../../src-main/engine/license/service';
import { testRoots } from '../../fixtures/license/helpers';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export class FakeCluster implements LicenseCluster {
  clusterId = 'fake-cluster';
  uid = 'uid-fake-cluster';
  /** The development-harness marker (kube-system label + loopback API server). */
  devHarness = true;
  /** The API server's Date header (seconds); null: none. */
  serverTime: number | null = null;
  record: LicenseRecord | null = null;
  tenants = new Map<string, { jws: string | null; cap: number | null }>();
  /** Slugs whose next write fails (once per listing). */
  failing = new Set<string>();
  writes = 0;
  store = {
    facts: async () => ({ uid: this.uid, devHarness: this.devHarness, serverTime: this.serverTime }),
    read: async () => (this.record ? structuredClone(this.record) : null),
    update: async (mutate: (r: LicenseRecord) => LicenseRecord) => {
      this.record = mutate(this.record ? structuredClone(this.record) : emptyRecord());
      return structuredClone(this.record);
    },
  };
  targets = {
    list: async (): Promise<TenantLicenseState[]> =>
      [...this.tenants].map(([slug, t]) => ({ slug, licenseSha: t.jws ? sha(t.jws) : null, userCap: t.cap })),
    readLicenseState: async (slug: string) => {
      const t = this.tenants.get(slug);
      return t ? { slug, licenseSha: t.jws ? sha(t.jws) : null, userCap: t.cap } : null;
    },
    writeLicense: async (slug: string, value: { jws: string | null; userCap: number }) => {
      if (this.failing.has(slug)) throw new Error(`injected failure writing ${slug}`);
      const t = this.tenants.get(slug);
      if (!t) return false;
      this.writes++;
      this.tenants.set(slug, { jws: value.jws, cap: value.userCap });
      return true;
    },
  };
  addTenants(n: number, prefix = 't') {
    for (let i = 0; i < n; i++) this.tenants.set(`${prefix}${i}`, { jws: null, cap: null });
  }
}

export function makeService(overrides: Partial<LicenseServiceDeps> = {}) {
  const db = new Database(':memory:');
  for (const m of licenseMigrations) db.exec(m.sql);
  const cluster = new FakeCluster();
  const bus = new EventBus();
  const secrets = new MemorySecretStore();
  const service = new LicenseService({
    db,
    bus,
    roots: testRoots(),
    developmentMode: true,
    cluster: async () => cluster,
    secrets,
    concurrency: 4,
    ...overrides,
  });
  return { service, cluster, bus, db, secrets };
}
