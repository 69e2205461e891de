import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { CacheMigration, Sqlite } from '../../adapters/sqlite';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import { sagaMigrations, type SagaRunner } from '../core/saga';
import type { SettingsService } from '../settings';
import { tenantCacheMigrations } from './reconcile';
import { TenantService } from './service';
import { TenantWatcher } from './watch';
import type { Logger } from '../core/logger';

export { TenantService } from './service';
export { TenantWatcher } from './watch';
export const tenantsMigrations: CacheMigration[] = [...sagaMigrations, ...tenantCacheMigrations];

/**
 * Stable id of this console installation (not a secret): with an operation id it is
 * the Lease holder, so a console restarted after a crash recognises its own Leases.
 */
export function consoleInstallationId(settings: SettingsService): string {
  let id = settings.get<string | null>('console.installationId', null);
  if (!id) {
    id = `${os.hostname().replace(/[^a-zA-Z0-9.-]/g, '-').slice(0, 40)}-${randomBytes(4).toString('hex')}`;
    settings.set('console.installationId', id);
  }
  return id;
}

export function createTenantsCapability(deps: { db: Sqlite; bus: EventBus; settings: SettingsService; saga: SagaRunner; runtime: () => ClusterRuntime | null; log?: Logger }) {
  const service = new TenantService(deps.runtime, { db: deps.db, bus: deps.bus, saga: deps.saga, consoleId: consoleInstallationId(deps.settings) });
  // The list stays current by WATCH while the selected cluster is online (stopped on a switch or an outage, and by service.close()).
  service.watcher = new TenantWatcher({ runtime: deps.runtime, ports: () => service.ports(), cache: service.cache, bus: deps.bus, log: deps.log });
  deps.bus.subscribe('cluster.state', (state) => service.watcher?.onState(state));
  return service;
}
