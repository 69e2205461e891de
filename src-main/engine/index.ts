import { openLocalStore, type CacheMigration, type Sqlite } from '../adapters/sqlite';
import os from 'node:os';
import { EventBus } from './core/events';
import { ensureWritableDataDir, resolveDataDir } from './core/data-dir';
import { createLogger, type Logger } from './core/logger';
import { SettingsService, settingsMigrations } from './settings/service';
import { AuditService } from './audit/service';
import { auditMigrations } from './audit/migrations';
import type { AuditRecorder } from './audit/recorder';
import { osUserOperator, SessionRegistry } from './operators/sessions';
import { OperatorsService, type IdentityMode } from './operators/service';
import { operatorsMigrations } from './operators/migrations';
import type { SecretStoreLike } from './audit/signing';
import type { OidcOptions } from './operators/oidc';
import { clustersMigrations, createClustersCapability, type ClustersEngineOptions } from './clusters';
import { createLicenseService, licenseMigrations } from './license';
import { SagaRunner } from './core/saga';
import { createTenantsCapability, tenantsMigrations } from './tenants';

export const CONSOLE_VERSION = '0.1.0';

export interface EngineOptions {
  dataDir?: string;
  mode: 'electron' | 'browser';
  /** Accept test license keys, show the development banner. */
  developmentMode?: boolean;
  /** Kubeconfig discovery, connection checks and secret store knobs (tests, tools). */
  clusters?: ClustersEngineOptions;
  /**
   * Who acts when nobody signed in on a connection. 'sign-in' (the default): nobody;
   * operators sign in (first run: create the first admin). 'os-user': the OS user
   * acts as admin: for tests, the sandbox and development mode. Default: GATEHOUSE_IDENTITY
   * ('sign-in' | 'os-user') if set, else 'os-user' in development mode, else 'sign-in'.
   * See docs/operators.md.
   */
  identity?: IdentityMode;
  /** Audit/operators knobs for tests: another secret store, checkpoint spacing, retry delays, OIDC clock. */
  audit?: { secrets?: SecretStoreLike; checkpointEvery?: number; retry?: { baseDelayMs?: number; maxDelayMs?: number } };
  oidc?: OidcOptions;
  /** `--reset-local-state`: move the durable state aside and start empty (audited). */
  resetLocalState?: boolean;
}

/** Every local schema step of every capability (durable state and cache), in one list so the order is visible. */
export const localMigrations: CacheMigration[] = [...settingsMigrations, ...auditMigrations, ...operatorsMigrations, ...clustersMigrations, ...licenseMigrations, ...tenantsMigrations];

/**
 * The composition root: builds every service with its adapters passed in
 * (no container, no globals). Plain Node: never imports electron.
 */
export function createEngine(options: EngineOptions) {
  const dataDir = resolveDataDir(options.dataDir);
  ensureWritableDataDir(dataDir);
  const log: Logger = createLogger(dataDir);
  // Throws LocalStateError (file, reason, recovery commands) when the durable state is unreadable.
  const { db, warnings } = openLocalStore(dataDir, localMigrations, { resetState: options.resetLocalState });
  const startupWarnings: string[] = [...warnings];
  for (const warning of warnings) log.warn({ warning }, 'local state');
  const bus = new EventBus();
  const settings = new SettingsService(db);
  const envIdentity = process.env.GATEHOUSE_IDENTITY;
  const identity: IdentityMode =
    options.identity ?? (envIdentity === 'os-user' || envIdentity === 'sign-in' ? envIdentity : options.developmentMode ? 'os-user' : 'sign-in');
  const sessions = new SessionRegistry(identity === 'os-user' ? osUserOperator() : null);
  const clustersCapability = createClustersCapability({ db, settings, bus, log, dataDir }, options.clusters);
  // One journal for every saga (tenant create/delete, license fan-out, restore…).
  const saga = new SagaRunner(db, bus, () => clustersCapability.clusters.runtime()?.clusterId ?? null);
  const secretsAdapter = {
    get: async (key: string) => (await clustersCapability.secrets.store()).get(key),
    set: async (key: string, value: string) => (await clustersCapability.secrets.store()).set(key, value),
    delete: async (key: string) => (await clustersCapability.secrets.store()).delete(key),
  };
  const auditLog = new AuditService({
    db,
    secrets: options.audit?.secrets ?? secretsAdapter,
    consoleVersion: CONSOLE_VERSION,
    bus,
    log,
    dataDir,
    checkpointEvery: options.audit?.checkpointEvery,
    retry: options.audit?.retry,
    // Each record is flushed into the log of the cluster it names, whichever is selected.
    // Interim: records carry the pipeline's cluster id (a context id) until it carries the kube-system UID.
    clusters: {
      resolve: async (cluster) => {
        try {
          return clustersCapability.clusters.runtimeFor(cluster);
        } catch {
          return null;
        }
      },
    },
  });
  bus.subscribe('cluster.state', (state) => auditLog.kick(state.clusterId ?? undefined));
  // The pipeline's recorder: SQLite outbox first, then the shared log.
  const audit: AuditRecorder = auditLog.outbox;
  if (options.resetLocalState) {
    // The reset itself is on the record (a workstation-level action: no cluster).
    void audit.record({
      actor: `os:${os.userInfo().username}`, actorRole: 'admin', action: 'system.localState.reset', target: dataDir,
      params: { flag: '--reset-local-state' }, before: null, after: null, outcome: 'success', errorCode: null,
      at: new Date().toISOString(), cluster: null, consoleVersion: CONSOLE_VERSION,
    });
  }
  const operators = new OperatorsService({ db, secrets: options.audit?.secrets ?? secretsAdapter, sessions, identityMode: identity, oidc: options.oidc });
  const tenants = createTenantsCapability({ db, bus, settings, saga, log, runtime: () => clustersCapability.clusters.runtime() });
  const license = createLicenseService({
    db,
    bus,
    developmentMode: options.developmentMode ?? false,
    runtime: () => clustersCapability.clusters.runtime(),
    secrets: clustersCapability.secrets,
    consoleVersion: CONSOLE_VERSION,
    usage: (slug) => tenants.userCount(slug),
  });

  return {
    version: CONSOLE_VERSION,
    dataDir,
    mode: options.mode,
    developmentMode: options.developmentMode ?? false,
    startupWarnings,
    log,
    db: db as Sqlite,
    bus,
    settings,
    audit,
    auditLog,
    operators,
    identity,
    sessions,
    clusters: clustersCapability.clusters,
    dashboard: clustersCapability.dashboard,
    secrets: clustersCapability.secrets,
    license,
    saga,
    tenants,
    clusterState: () => clustersCapability.clusters.monitor.pipelineState(),
    async close() {
      await tenants.close();
      operators.close();
      await auditLog.close();
      clustersCapability.close();
      db.close();
    },
  };
}

export type Engine = ReturnType<typeof createEngine>;
