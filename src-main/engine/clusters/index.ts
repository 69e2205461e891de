import { osKeychain } from '../../adapters/keychain';
import type { Sqlite } from '../../adapters/sqlite';
import type { EventBus } from '../core/events';
import type { Logger } from '../core/logger';
import type { SettingsService } from '../settings';
import { SecretStoreManager, type SecretStoreOptions } from '../secrets-store';
import { DashboardService } from './dashboard';
import { ProfileStore } from './profiles';
import { ClustersService, type ClustersOptions } from './service';

export { clustersMigrations } from './profiles';

/** Knobs for tests and tools; the defaults read the environment like kubectl does. */
export interface ClustersEngineOptions extends Partial<
  Pick<ClustersOptions, 'env' | 'home' | 'watch' | 'monitorIntervalMs' | 'requestTimeoutMs'>
> {
  /** Start the periodic connection check (default true). */
  autoStart?: boolean;
  secretStore?: Partial<Pick<SecretStoreOptions, 'keychain' | 'prefer' | 'passphrase' | 'kdf'>>;
}

function preferFromEnv(value: string | undefined): SecretStoreOptions['prefer'] {
  return value === 'keychain' || value === 'encrypted-file' ? value : 'auto';
}

/** Builds the clusters capability: secret store, profiles, contexts, connection monitor, dashboard. */
export function createClustersCapability(
  deps: { db: Sqlite; settings: SettingsService; bus: EventBus; log: Logger; dataDir: string },
  options: ClustersEngineOptions = {},
) {
  const env = options.env ?? process.env;
  const secrets = new SecretStoreManager({
    dataDir: deps.dataDir,
    keychain: options.secretStore && 'keychain' in options.secretStore ? (options.secretStore.keychain ?? null) : osKeychain(),
    prefer: options.secretStore?.prefer ?? preferFromEnv(env.GATEHOUSE_SECRET_STORE),
    passphrase: options.secretStore?.passphrase ?? env.GATEHOUSE_SECRET_PASSPHRASE,
    kdf: options.secretStore?.kdf,
  });
  const store = new ProfileStore(deps.db, secrets);
  const clusters = new ClustersService({
    store,
    settings: deps.settings,
    bus: deps.bus,
    log: deps.log,
    env,
    home: options.home,
    watch: options.watch,
    monitorIntervalMs: options.monitorIntervalMs,
    requestTimeoutMs: options.requestTimeoutMs,
  });
  const dashboard = new DashboardService(deps.db, clusters, deps.bus, deps.log);
  clusters.onSelectionChanged = () => dashboard.stopWatch();
  deps.bus.subscribe('cluster.state', (state) => dashboard.onState(state));
  void secrets.status().then(
    (s) => {
      if (s.kind === 'encrypted-file')
        deps.log.info({ reason: s.keychainUnavailableReason, locked: s.locked }, 'secret store: encrypted file');
      if (secrets.warning) deps.log.warn({ warning: secrets.warning }, 'secret store');
    },
    () => undefined,
  );
  if (options.autoStart !== false) clusters.start();
  return {
    clusters,
    dashboard,
    secrets,
    close() {
      dashboard.stopWatch();
      clusters.close();
    },
  };
}
