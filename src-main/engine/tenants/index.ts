import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { CacheMigration, Sqlite } from '../../adapters/sqlite';
import type { EventBus } from '../core/events';
import { sagaMigrations, type SagaRunner } from '../core/saga';
import type { SettingsService } from '../settings';
import { tenantCacheMigrations } from './reconcile';
import { TenantService, type TenantServiceOptions } from './service';
import type { Logger } from '../core/logger';

export { TenantService } from './service';
export { TenantWatcher } from './watch';
/** Object names other capabilities (license fan-out, backups, rotation) must agree on. */
export { tenantSecretName, tenantDbName, tenantRoleName, slugOfDbName, OPERATION_ANNOTATION } from './material';
export { TENANT_LABEL, tenantLeaseName, LEASE_SECONDS, LeaseKeeper, acquireTenantLease, releaseTenantLease } from './lease';
/** The entity sync (docs/entities.md) holds the tenant Lease per tenant and reads the shipped tenant migrations. */
export { tenantKube, type TenantKube } from './kube-ports';
// For the workers capability (worker config shards like the registry, the tenant Lease, login worker names).
export { loginWorkerName } from './material';
export { TenantRegistry, REGISTRY_LABEL_KEY, fnv1a, type RegistryEntry } from './registry';
export { loadTenantMigrations } from './schema';
/** What the rotation capability builds on (docs/secrets.md): the Secret's decoding, generated passwords, the rotation logins. */
export { decodeSecretData, generatePassword, tenantLoginRoleNames } from './material';
/** What the restore sagas of engine/backups share with the tenant sagas (Lease, marks, Secret, schema). */
export { INITIAL_ADMIN_USERNAME, hashPassword, tenantSecret, tenantSecretData } from './material';
export { holdLease, type FinalBackupHook, type TenantPorts, type TenantSagaCtx } from './ports';
export { applyPendingMigrations, currentSchemaVersion, latestVersion } from './schema';
export { isKubeConflict, writeConfigMapKey } from './kube-ports';
export const tenantsMigrations: CacheMigration[] = [...sagaMigrations, ...tenantCacheMigrations];

/**
 * Stable id of this console installation (not a secret): with an operation id it is
 * the Lease holder, so a console restarted after a crash recognises its own Leases.
 */
export function consoleInstallationId(settings: SettingsService): string {
  let id = settings.get<string | null>('console.installationId', null);
  if (!id) {
    id = `${os
      .hostname()
      .replace(/[^a-zA-Z0-9.-]/g, '-')
      .slice(0, 40)}-${randomBytes(4).toString('hex')}`;
    settings.set('console.installationId', id);
  }
  return id;
}

export function createTenantsCapability(deps: {
  db: Sqlite;
  bus: EventBus;
  settings: SettingsService;
  saga: SagaRunner;
  log?: Logger;
  options?: Partial<
    Pick<
      TenantServiceOptions,
      'leaseSeconds' | 'beforeStep' | 'statsEveryMs' | 'statsConcurrency' | 'migrationsDir' | 'registryShards' | 'systemEntities'
    >
  >;
}) {
  // Watches are per cluster: the engine starts each when that cluster comes online (TenantService.onClusterState).
  return new TenantService({
    db: deps.db,
    bus: deps.bus,
    saga: deps.saga,
    consoleId: consoleInstallationId(deps.settings),
    log: deps.log,
    ...deps.options,
  });
}
