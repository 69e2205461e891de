import { osKeychain } from '../../adapters/keychain';
import type { Sqlite } from '../../adapters/sqlite';
import type { EventBus } from '../core/events';
import type { Logger } from '../core/logger';
import type { SettingsService } from '../settings';
import { SecretStoreManager, type SecretStoreOptions } from '../secrets-store';
import { DashboardService } from './dashboard';
import { ProfileStore } from './profiles';
import { ClusterDirectory, identityMigrations } from './directory';
import { ClustersService, type ClustersOptions } from './service';
import { ClusterSelections } from './selection';
import { clustersMigrations as profileMigrations } from './profiles';

export const clustersMigrations = [...profileMigrations, ...identityMigrations];
export { ClusterDirectory } from './directory';
export { ClusterSelections } from './selection';

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
    bus: deps.bus,
    log: deps.log,
    env,
    home: options.home,
    watch: options.watch,
    monitorIntervalMs: options.monitorIntervalMs,
    requestTimeoutMs: options.requestTimeoutMs,
  });
  const directory = new ClusterDirectory(deps.db, clusters, options.requestTimeoutMs);
  const selections = new ClusterSelections(deps.settings);
  const dashboard = new DashboardService(deps.db, clusters, deps.bus, deps.log);
  clusters.onContextChanged = (contextId) => dashboard.stopWatch(contextId);
  clusters.onIdentity = (contextId, uid, labels) => directory.observe(contextId, uid, labels);
  clusters.describeIdentity = (contextId) => directory.describeContext(contextId);
  deps.bus.subscribe('cluster.state', (state) => dashboard.onState(state));
  // The workstation's last choice is watched from the start, like before; other contexts once a session selects them.
  const last = selections.lastChoice();
  if (last) {
    try {
      clusters.context(last);
      clusters.monitorFor(last);
    } catch {
      // the context is gone from the kubeconfigs: nothing to monitor
    }
  }
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
    directory,
    selections,
    dashboard,
    secrets,
    async close() {
      dashboard.stopWatch();
      clusters.close();
      await directory.close();
    },
  };
}
