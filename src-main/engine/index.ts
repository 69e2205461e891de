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
import type { ClusterRuntime } from './core/cluster-runtime';
import { consoleInstallationId, createTenantsCapability, tenantsMigrations } from './tenants';
import { RotationService } from './rotation/service';
import { rotationMigrations } from './rotation/fleet';
import { createWorkersCapability } from './workers';
import { InfraService } from './infra/service';
import { EntitiesService, entitiesMigrations } from './entities';
import { backupsMigrations, createBackupsCapability } from './backups';

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
  /** Rotation knobs for tests: rollout timeout, shared-workload reload wait, the clock. */
  rotation?: ConstructorParameters<typeof RotationService>[0]['options'];
  /** Backup knobs for tests: table streams per backup, the console scheduler's period (0: off). */
  backups?: { jobs?: number; schedulerEveryMs?: number };
  /** Tenant knobs for tests: Lease duration, a hook before each saga step, stats refresh. */
  tenants?: NonNullable<Parameters<typeof createTenantsCapability>[0]['options']>;
  /** Workers knobs for tests: rollout check period and stuck threshold. */
  workers?: NonNullable<Parameters<typeof createWorkersCapability>[0]['options']>;
  /** Audit/operators knobs for tests: another secret store, checkpoint spacing, retry delays, OIDC clock. */
  audit?: { secrets?: SecretStoreLike; checkpointEvery?: number; retry?: { baseDelayMs?: number; maxDelayMs?: number } };
  oidc?: OidcOptions;
  /** `--reset-local-state`: move the durable state aside and start empty (audited). */
  resetLocalState?: boolean;
}

/** Every local schema step of every capability (durable state and cache), in one list so the order is visible. */
export const localMigrations: CacheMigration[] = [...settingsMigrations, ...auditMigrations, ...operatorsMigrations, ...clustersMigrations, ...licenseMigrations, ...tenantsMigrations, ...entitiesMigrations, ...rotationMigrations, ...backupsMigrations];

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
  const { directory, selections } = clustersCapability;
  // One journal for every saga (tenant create/delete, license fan-out, restore…); each
  // operation is resumed or rolled back only on the cluster it recorded, by identity.
  const saga = new SagaRunner(db, bus, (clusterUid) => directory.byUid(clusterUid));
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
    // Each record is flushed into the log of the cluster it names (its kube-system UID), whichever
    // cluster a session looks at; a cluster that cannot be reached now holds only its own records.
    clusters: { resolve: (clusterUid) => directory.byUid(clusterUid) },
  });
  bus.subscribe('cluster.state', (state) => {
    const uid = state.clusterId ? directory.knownUid(state.clusterId) : null;
    if (uid && state.state === 'online') auditLog.kick(uid);
  });
  // The pipeline's recorder: SQLite outbox first, then the shared log.
  const audit: AuditRecorder = auditLog.outbox;
  // Intents left open by a console that stopped mid-command are recorded with an unknown outcome.
  void auditLog.outbox.recordInterrupted().then(
    (n) => n > 0 && log.warn({ interrupted: n }, 'audit: recorded actions the console was running when it last stopped'),
    (error: unknown) => log.error({ err: error }, 'audit: could not record the actions interrupted by the last stop'),
  );
  if (options.resetLocalState) {
    // The reset itself is on the record (a workstation-level action: no cluster).
    void audit.record({
      actor: `os:${os.userInfo().username}`, actorRole: 'admin', action: 'system.localState.reset', target: dataDir,
      params: { flag: '--reset-local-state' }, before: null, after: null, outcome: 'success', errorCode: null,
      at: new Date().toISOString(), cluster: null, consoleVersion: CONSOLE_VERSION,
    });
  }
  const operators = new OperatorsService({ db, secrets: options.audit?.secrets ?? secretsAdapter, sessions, identityMode: identity, oidc: options.oidc });
  const entities = new EntitiesService({ db, bus, saga, consoleId: consoleInstallationId(settings), ...(options.tenants?.migrationsDir ? { migrationsDir: options.tenants.migrationsDir } : {}) });
  // New tenants receive the current control-plane definitions in their create saga.
  const tenants = createTenantsCapability({
    db, bus, settings, saga, log,
    options: { ...options.tenants, systemEntities: (pg, slug, operationId) => entities.syncNewTenant(pg, slug, operationId) },
  });
  const rotation = new RotationService({ db, bus, saga, consoleId: consoleInstallationId(settings), ...(options.rotation ? { options: options.rotation } : {}) });

  const backups = createBackupsCapability({
    db, bus, saga, tenants, secrets: () => clustersCapability.secrets.store(), consoleId: consoleInstallationId(settings), consoleVersion: CONSOLE_VERSION,
    dataDir, audit, log, ...(options.backups?.jobs ? { jobs: options.backups.jobs } : {}),
    ...(options.backups?.schedulerEveryMs !== undefined ? { schedulerEveryMs: options.backups.schedulerEveryMs } : {}),
    ...(options.tenants?.leaseSeconds ? { leaseSeconds: options.tenants.leaseSeconds } : {}),
  });
  // Each cluster's tenant list stays live (WATCH + background stats) while that cluster is online; due backups run there too.
  bus.subscribe('cluster.state', (state) => {
    if (!state.clusterId || !directory.knownUid(state.clusterId)) return;
    directory.forContext(state.clusterId).then(
      (scope) => {
        tenants.onClusterState(scope, state);
        if (state.state === 'online') backups.scheduler.start(scope);
      },
      () => undefined,
    );
  });
  // New, deleted and repaired tenants get the license and their cap (shares recomputed) inside their saga.
  tenants.setLicenseHook(async (cluster, actor) => {
    try {
      const out = await license(async () => cluster).resume(actor ?? 'console');
      return out.failed.length ? `${out.failed.length} tenant(s) could not be written (${out.failed.map((f) => f.slug).join(', ')}).` : null;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  });
  /** The license service bound to one cluster (the command's, resolved by the pipeline). */
  const license = (cluster: () => Promise<ClusterRuntime>) =>
    createLicenseService({
      db,
      bus,
      developmentMode: options.developmentMode ?? false,
      cluster,
      secrets: clustersCapability.secrets,
      consoleVersion: CONSOLE_VERSION,
      usage: async (slug) => tenants.userCount(await cluster(), slug),
    });
  // Worker configuration, agent pools, infrastructure and upgrades (docs/workers.md).
  const workers = createWorkersCapability({
    saga,
    bus,
    consoleId: consoleInstallationId(settings),
    license: {
      effectiveTier: async (cluster) => {
        const status = await license(async () => cluster).status();
        return { tier: status.effective.tier, freeTier: status.effective.freeTier };
      },
      users: (cluster, slug) => tenants.userCount(cluster, slug),
    },
    ...(options.workers ? { options: options.workers } : {}),
  });
  // One LIST + WATCH of the platform's pods and Deployments per cluster, started by the first page open.
  const infra = new InfraService({ bus, log });

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
    directory,
    selections,
    dashboard: clustersCapability.dashboard,
    secrets: clustersCapability.secrets,
    license,
    saga,
    tenants,
    rotation,
    workers,
    infra,
    entities,
    backups,
    /** Connection state of a context, as the pipeline's offline guard needs it. */
    clusterState: (contextId: string | null) =>
      contextId ? clustersCapability.clusters.monitorFor(contextId).pipelineState() : { online: true, lastSyncAt: null },
    async close() {
      await backups.close();
      infra.close();
      await tenants.close();
      operators.close();
      await auditLog.close();
      await clustersCapability.close();
      db.close();
    },
  };
}

export type Engine = ReturnType<typeof createEngine>;
