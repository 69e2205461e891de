import type { CacheMigration } from '../../adapters/sqlite';
import { ContractError } from '../../../src-shared/contract';
import type { ClusterRuntime } from '../core/cluster-runtime';
import { LEASE_SECONDS } from '../tenants';
import { catalogCacheMigration } from './catalog';
import { keysMigration } from './keys';
import { RESTORE_CLONE, RESTORE_IN_PLACE, restoreCloneSaga, restoreInPlaceSaga, type RestoreCtx, type RestoreParams } from './restore-saga';
import { backupRunsMigration } from './runs';
import { BackupScheduler } from './scheduler';
import { BackupService, type BackupServiceOptions } from './service';
import { targetsMigration } from './targets';

export { BackupService } from './service';
/** For the alert rules (engine/alerts): how long a schedule lets a backup get. */
export { parseCron, nextRun } from './schedule';

/** Local ids 700–749 belong to the backups capability. */
export const backupsMigrations: CacheMigration[] = [
  { id: 700, name: 'backups: keys and targets', store: 'state', sql: `${keysMigration}\n${targetsMigration}` },
  { id: 701, name: 'backups: catalog mirror', store: 'cache', sql: catalogCacheMigration },
  { id: 702, name: 'backups: run journal', store: 'state', sql: backupRunsMigration },
];

export interface BackupsCapabilityOptions extends BackupServiceOptions {
  leaseSeconds?: number;
  /** How often the console's own scheduler looks for due backups (0: never; tests call runDue). */
  schedulerEveryMs?: number;
}

/**
 * The backups capability: the service, its two restore sagas, the console-side scheduler,
 * and the delete saga's final-backup step (a real, verified backup, or the delete stops).
 */
export function createBackupsCapability(o: BackupsCapabilityOptions) {
  const service = new BackupService(o);
  const deps = {
    ports: (cluster: ClusterRuntime) => o.tenants.ports(cluster),
    open: (cluster: ClusterRuntime, id: string) => service.open(cluster, id),
    safetyBackup: async (cluster: ClusterRuntime, slug: string, actor: string, note: string) =>
      (await service.takeOne(cluster, slug, { reason: 'before-restore', actor, note })).id,
    consoleId: o.consoleId,
    leaseSeconds: o.leaseSeconds ?? LEASE_SECONDS,
    jobs: service.jobs,
    bus: o.bus,
    ...(o.beforeLoadTable ? { beforeLoadTable: o.beforeLoadTable } : {}),
  };
  o.saga.register(restoreCloneSaga(deps));
  o.saga.register(restoreInPlaceSaga(deps));

  const finalBackup = Object.assign(
    async (t: { slug: string; cluster: ClusterRuntime; operationId: string }) => {
      const actor = o.saga.get(t.operationId).actor ?? 'gatehouse';
      const backup = await service.takeOne(t.cluster, t.slug, {
        reason: 'before-delete',
        actor,
        note: `final backup before delete (operation ${t.operationId})`,
        verify: true,
      });
      if (backup.verification.state !== 'passed') {
        throw new ContractError(
          'VALIDATION',
          `The final backup ${backup.id} of "${t.slug}" did not verify (${backup.verification.message ?? 'unknown reason'}); the database was not dropped. Fix the cause and resume the delete.`,
          { backupId: backup.id },
        );
      }
    },
    { ready: (cluster: ClusterRuntime) => service.ensureReady(cluster) },
  );
  o.tenants.setFinalBackupHook(finalBackup);

  const scheduler = new BackupScheduler(service, o.schedulerEveryMs ?? 60_000, o.log);

  async function restore(kind: typeof RESTORE_CLONE | typeof RESTORE_IN_PLACE, cluster: ClusterRuntime, params: RestoreParams) {
    const outcome = await o.saga.start<RestoreParams, RestoreCtx>(kind, params, cluster, { actor: params.actor });
    const op = outcome.operation;
    if (outcome.error) {
      const cause = outcome.error instanceof ContractError ? outcome.error : null;
      const left =
        op.status === 'rolled-back'
          ? 'Everything it had done was rolled back.'
          : `It is listed under Unfinished operations (${op.id}): resume it or roll it back once the cause is fixed.`;
      throw new ContractError(
        cause?.code ?? 'INTERNAL',
        `Restoring backup ${params.backupId} into "${params.slug}" failed at step "${op.failedStep ?? '?'}": ${cause?.message ?? String((outcome.error as Error)?.message ?? outcome.error)} ${left}${op.notices.length ? ` ${op.notices.join(' ')}` : ''}`,
        { ...(cause?.details ?? {}), operationId: op.id, step: op.failedStep, status: op.status },
      );
    }
    return { operation: op, ctx: outcome.ctx! };
  }

  return {
    service,
    scheduler,
    restoreClone: (cluster: ClusterRuntime, params: RestoreParams) => restore(RESTORE_CLONE, cluster, params),
    restoreInPlace: (cluster: ClusterRuntime, params: RestoreParams) => restore(RESTORE_IN_PLACE, cluster, params),
    async close() {
      scheduler.stopAll();
      await service.close();
    },
  };
}

export type BackupsCapability = ReturnType<typeof createBackupsCapability>;
