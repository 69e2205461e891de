import type { Sqlite } from '../../adapters/sqlite';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import { kubeLicenseCluster } from './kube-targets';
import type { SecretStore, UsageProvider } from './ports';
import { LicenseService } from './service';
import { loadTrustedRoots } from './trust';

export { licenseMigrations } from './cache';
export { LicenseService } from './service';

/** Anything that can hand out a SecretStore (the clusters capability's SecretStoreManager). */
export interface SecretStoreSource {
  store(): Promise<Pick<SecretStore, 'get' | 'set'>>;
}

/** Builds the license service for the composition root: pinned roots (+ test roots in development mode). */
export function createLicenseService(deps: {
  db: Sqlite;
  bus: EventBus;
  developmentMode: boolean;
  /** The cluster this service instance works on (the command's; throws when none). */
  cluster: () => Promise<ClusterRuntime>;
  secrets: SecretStoreSource;
  usage?: UsageProvider;
  consoleVersion: string;
}): LicenseService {
  return new LicenseService({
    db: deps.db,
    bus: deps.bus,
    roots: loadTrustedRoots({ developmentMode: deps.developmentMode }),
    developmentMode: deps.developmentMode,
    cluster: async () => kubeLicenseCluster(await deps.cluster()),
    secrets: {
      get: async (name) => (await deps.secrets.store()).get(name),
      set: async (name, value) => (await deps.secrets.store()).set(name, value),
    },
    ...(deps.usage ? { usage: deps.usage } : {}),
    consoleVersion: deps.consoleVersion,
  });
}
