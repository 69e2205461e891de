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
import { backupsMigrations, createBackupsCapability, nextRun, parseCron } from './backups';
import { createMailCapability } from './mail';
import { createReportsCapability } from './reports';
import { AuditQueryInput } from '../../src-shared/contract/audit';
import { errorText } from './core/saga';
import { AlertsService, alertsMigrations, type MailPort } from './alerts';
import { TokenService } from './tokens';
import { MemberService } from './operators/members';

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
  /** Daily report knobs for tests: the clock, how often the console checks whether the report is due (0: off). */
  reports?: { clock?: () => Date; everyMs?: number };
  /** Tenant knobs for tests: Lease duration, a hook before each saga step, stats refresh. */
  tenants?: NonNullable<Parameters<typeof createTenantsCapability>[0]['options']>;
  /** Workers knobs for tests: rollout check period and stuck threshold. */
  workers?: NonNullable<Parameters<typeof createWorkersCapability>[0]['options']>;
  /** Audit/operators knobs for tests: another secret store, checkpoint spacing, retry delays, OIDC clock. */
  audit?: { secrets?: SecretStoreLike; checkpointEvery?: number; retry?: { baseDelayMs?: number; maxDelayMs?: number } };
  oidc?: OidcOptions;
  /** Alert knobs for tests: the clock, the tick period, grouping times, a mail port (default: the cluster's SMTP sender). */
  alerts?: Partial<Pick<ConstructorParameters<typeof AlertsService>[0], 'now' | 'tickMs' | 'times'>> & {
    mail?: MailPort | null;
    /** false: no evaluation loop when a cluster comes online (tests call alerts.evaluate). */
    autoStart?: boolean;
  };
  /** API token knobs for tests and the CLI: the clock, the retention of expired tokens, the prune period (0: no schedule). */
  tokens?: { now?: () => Date; retentionDays?: number; pruneEveryMs?: number };
  /** Member knobs for tests: the clock (invitation expiry). */
  members?: { now?: () => Date };
  /** `--reset-local-state`: move the durable state aside and start empty (audited). */
  resetLocalState?: boolean;
}

/** Every local schema step of every capability (durable state and cache), in one list so the order is visible. */
export const localMigrations: CacheMigration[] = [
  ...settingsMigrations,
  ...auditMigrations,
  ...operatorsMigrations,
  ...clustersMigrations,
  ...licenseMigrations,
  ...tenantsMigrations,
  ...entitiesMigrations,
  ...rotationMigrations,
  ...backupsMigrations,
  ...alertsMigrations,
];

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
    options.identity ??
    (envIdentity === 'os-user' || envIdentity === 'sign-in' ? envIdentity : options.developmentMode ? 'os-user' : 'sign-in');
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
      actor: `os:${os.userInfo().username}`,
      actorRole: 'admin',
      action: 'system.localState.reset',
      target: dataDir,
      params: { flag: '--reset-local-state' },
      before: null,
      after: null,
      outcome: 'success',
      errorCode: null,
      at: new Date().toISOString(),
      cluster: null,
      consoleVersion: CONSOLE_VERSION,
    });
  }
  const operators = new OperatorsService({
    db,
    secrets: options.audit?.secrets ?? secretsAdapter,
    sessions,
    identityMode: identity,
    oidc: options.oidc,
  });
  const entities = new EntitiesService({
    db,
    bus,
    saga,
    consoleId: consoleInstallationId(settings),
    ...(options.tenants?.migrationsDir ? { migrationsDir: options.tenants.migrationsDir } : {}),
  });
  // New tenants receive the current control-plane definitions in their create saga.
  const tenants = createTenantsCapability({
    db,
    bus,
    settings,
    saga,
    log,
    options: { ...options.tenants, systemEntities: (pg, slug, operationId) => entities.syncNewTenant(pg, slug, operationId) },
  });
  const rotation = new RotationService({
    db,
    bus,
    saga,
    consoleId: consoleInstallationId(settings),
    ...(options.rotation ? { options: options.rotation } : {}),
  });

  const backups = createBackupsCapability({
    db,
    bus,
    saga,
    tenants,
    secrets: () => clustersCapability.secrets.store(),
    consoleId: consoleInstallationId(settings),
    consoleVersion: CONSOLE_VERSION,
    dataDir,
    audit,
    log,
    ...(options.backups?.jobs ? { jobs: options.backups.jobs } : {}),
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
        if (state.state === 'online') reports.start(scope);
      },
      () => undefined,
    );
  });
  // New, deleted and repaired tenants get the license and their cap (shares recomputed) inside their saga.
  tenants.setLicenseHook(async (cluster, actor) => {
    try {
      const out = await license(async () => cluster).resume(actor ?? 'console');
      return out.failed.length
        ? `${out.failed.length} tenant(s) could not be written (${out.failed.map((f) => f.slug).join(', ')}).`
        : null;
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
  // SMTP relay per cluster (ConfigMap + Secret gatehouse-smtp), its staged test, the shared sender (docs/mail.md).
  const mail = createMailCapability({ log });
  // The daily report: figures from the tenant cache, license, backup catalog and audit log's local copy.
  const reports = createReportsCapability({
    send: (cluster, msg) => mail.send(cluster, msg),
    smtpConfigured: async (cluster) => (await mail.store.read(cluster)).settings !== null,
    claimant: `console:${consoleInstallationId(settings)}`,
    consoleVersion: CONSOLE_VERSION,
    log,
    ...(options.reports?.clock ? { clock: options.reports.clock } : {}),
    ...(options.reports?.everyMs !== undefined ? { everyMs: options.reports.everyMs } : {}),
    sources: {
      tenants: (cluster) => tenants.list(cluster, { refresh: false, stats: false }),
      license: (cluster) => license(async () => cluster).status(),
      backups: (cluster) => backups.service.overview(cluster),
      audit: async (cluster, since, until) => {
        let note: string | null = null;
        await auditLog.sync(cluster.clusterId).catch((e: unknown) => {
          note = `from this console's local copy; the shared log could not be read: ${errorText(e)}`;
        });
        const q = AuditQueryInput.parse({
          source: `cluster:${cluster.clusterId}`,
          from: since.toISOString(),
          to: until.toISOString(),
          limit: 1000,
          withTotal: true,
        });
        const out = auditLog.query(q);
        return { entries: out.entries, total: out.total ?? out.entries.length, note };
      },
    },
  });
  // Members, roles and invitations live in each cluster's gatehouse_control, shared by every console of it.
  const members = new MemberService({
    accounts: operators.accounts,
    sessions,
    mail: {
      send: (cluster, msg) => mail.send(cluster, msg),
      configured: async (cluster) => (await mail.store.read(cluster)).settings !== null,
    },
    ...(options.members?.now ? { now: options.members.now } : {}),
  });
  // API tokens live in each cluster's gatehouse_control; a token never acts above its owner's current role (local account or member).
  const tokens = new TokenService({
    log,
    ...(options.tokens?.now ? { now: options.tokens.now } : {}),
    ...(options.tokens?.retentionDays !== undefined ? { retentionDays: options.tokens.retentionDays } : {}),
    currentRole: (ownerId) => (ownerId.startsWith('local:') ? operators.accounts.find(ownerId.slice('local:'.length))?.role : undefined),
    // a member's token follows the member record: demoted, rescoped or removed applies at the next use
    memberStanding: async (cluster, ownerId) => {
      if (!ownerId.startsWith('member:')) return undefined;
      const m = await members.find(cluster, ownerId.slice('member:'.length));
      return m ? { role: m.globalRole ?? 'viewer', globalRole: m.globalRole !== null, grants: m.grants } : null;
    },
  });
  const pruneEveryMs = options.tokens?.pruneEveryMs ?? 3_600_000;
  if (pruneEveryMs > 0) {
    bus.subscribe('cluster.state', (state) => {
      if (state.state !== 'online' || !state.clusterId || !directory.knownUid(state.clusterId)) return;
      directory.forContext(state.clusterId).then(
        (scope) =>
          void scope.postgres().then(
            (pgAdmin) => pgAdmin && tokens.startPruning(scope, pruneEveryMs),
            () => undefined,
          ),
        () => undefined,
      );
    });
  }
  // One LIST + WATCH of the platform's pods and Deployments per cluster, started by the first page open.
  const infra = new InfraService({ bus, log });
  // Alert rules evaluated by this console while it runs, per online cluster (docs/alerts.md).
  const schedulePeriodHours = (cron: string): number | null => {
    try {
      const c = parseCron(cron);
      const a = nextRun(c, new Date());
      const b = a ? nextRun(c, new Date(a.getTime() + 1000)) : null;
      return a && b ? Math.ceil((b.getTime() - a.getTime()) / 3_600_000) : null;
    } catch {
      return null;
    }
  };
  const alerts = new AlertsService({
    db,
    bus,
    log,
    mail:
      options.alerts?.mail !== undefined
        ? options.alerts.mail
        : {
            send: (cluster, msg) => mail.send(cluster, msg),
            configured: async (cluster) => (await mail.store.read(cluster)).settings !== null,
          },
    ...(options.alerts?.now ? { now: options.alerts.now } : {}),
    ...(options.alerts?.tickMs ? { tickMs: options.alerts.tickMs } : {}),
    ...(options.alerts?.times ? { times: options.alerts.times } : {}),
    readers: {
      license: (cluster) => license(async () => cluster).status(),
      tenants: (cluster) => tenants.cache.load(cluster.clusterId),
      backups: async (cluster) => {
        const [overview, schedules] = await Promise.all([backups.service.overview(cluster), backups.service.schedules(cluster)]);
        return {
          rows: overview.rows.map((r) => {
            const newest = r.lastBackup;
            return {
              tenant: r.tenant,
              health: r.health,
              lastBackup: newest ? { createdAt: newest.createdAt } : null,
              lastVerify:
                r.health === 'failed'
                  ? { state: 'failed', at: null }
                  : r.lastVerified
                    ? { state: 'passed', at: r.lastVerified.verification.at }
                    : null,
            };
          }),
          schedules: schedules.map((s) => ({ scope: s.scope, enabled: s.enabled, everyHours: schedulePeriodHours(s.cron) })),
        };
      },
      keyAges: async (cluster) =>
        (await rotation.fleetStatus(cluster)).alerts.map((a) => ({
          slug: a.slug,
          kind: a.kind,
          ageSeconds: a.ageSeconds,
          maxAgeDays: a.maxAgeDays,
        })),
      infra: (cluster) => infra.snapshot(cluster),
      upgrade: (cluster) => workers.upgrades.status(cluster, null),
      database: (cluster) => infra.database(cluster),
      auditAlarms: async (cluster) => (await auditLog.status(cluster.clusterId)).alarms,
    },
  });
  // Offline too: the license is re-verified from its cached copy and the tenant counts come from the cache.
  bus.subscribe('cluster.state', (state) => {
    if (options.alerts?.autoStart === false || !state.clusterId || !directory.knownUid(state.clusterId)) return;
    directory.forContext(state.clusterId).then(
      (scope) => alerts.start(scope),
      () => undefined,
    );
  });
  // The daily report's "alerts of the day" section.
  reports.setAlertsProvider((cluster, since) => alerts.alertsOfDay(cluster, since));

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
    members,
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
    mail,
    reports,
    alerts,
    tokens,
    /** Connection state of a context, as the pipeline's offline guard needs it. */
    clusterState: (contextId: string | null) =>
      contextId ? clustersCapability.clusters.monitorFor(contextId).pipelineState() : { online: true, lastSyncAt: null },
    async close() {
      reports.stopAll();
      await backups.close();
      alerts.close();
      infra.close();
      tokens.close();
      await tenants.close();
      operators.close();
      await members.close();
      await auditLog.close();
      await clustersCapability.close();
      db.close();
    },
  };
}

export type Engine = ReturnType<typeof createEngine>;
