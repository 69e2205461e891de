import path from 'node:path';
import { openCache, type CacheMigration, type Sqlite } from '../adapters/sqlite';
import { EventBus } from './core/events';
import { ensureWritableDataDir, resolveDataDir } from './core/data-dir';
import { createLogger, type Logger } from './core/logger';
import { SettingsService, settingsMigrations } from './settings/service';
import { LocalAuditRecorder, localAuditMigrations } from './audit/local-recorder';
import type { AuditRecorder } from './audit/recorder';
import { SessionRegistry } from './operators/sessions';

export const CONSOLE_VERSION = '0.1.0';

export interface EngineOptions {
  dataDir?: string;
  mode: 'electron' | 'browser';
  /** Accept test license keys, show the development banner. */
  developmentMode?: boolean;
}

/** Every cache schema step of every capability, in one list so the order is visible. */
export const cacheMigrations: CacheMigration[] = [...settingsMigrations, ...localAuditMigrations];

/**
 * The composition root: builds every service with its adapters passed in
 * (no container, no globals). Plain Node: never imports electron.
 */
export function createEngine(options: EngineOptions) {
  const dataDir = resolveDataDir(options.dataDir);
  ensureWritableDataDir(dataDir);
  const log: Logger = createLogger(dataDir);
  const { db, warning } = openCache(path.join(dataDir, 'cache.sqlite'), cacheMigrations);
  const startupWarnings: string[] = [];
  if (warning) {
    startupWarnings.push(warning);
    log.warn({ warning }, 'cache rebuilt');
  }
  const bus = new EventBus();
  const settings = new SettingsService(db);
  const localAudit = new LocalAuditRecorder(db);
  const audit: AuditRecorder = localAudit;
  const sessions = new SessionRegistry();

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
    localAudit,
    sessions,
    clusterState: () => ({ clusterId: null as string | null, online: true, lastSyncAt: null as string | null }),
    async close() {
      db.close();
    },
  };
}

export type Engine = ReturnType<typeof createEngine>;
