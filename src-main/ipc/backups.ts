import { ContractError } from '../../src-shared/contract';
import path from 'node:path';
import { ARCHIVE_SUFFIX, type backupsCommands } from '../../src-shared/contract/backups';
import type { Engine } from '../engine';
import {
  backupJobImage,
  cronJobName,
  deleteCronJob,
  jobSecret,
  readCronJob,
  writeCronJob,
  writeJobSecret,
} from '../engine/backups/cronjob';
import type { ShellServices } from './handlers';
import { hasDialogs, locateLocal } from './local-files';
import type { HandlersFor } from './pipeline';

/** Binds the backup commands to the engine; audit records name the tenant or backup, never a key. */
export function backupsHandlers(engine: Engine, shell: ShellServices = {}): HandlersFor<typeof backupsCommands> {
  const b = engine.backups;
  const s = b.service;
  return {
    'backups.status': async (_i, ctx) => s.status(await ctx.cluster()),
    'backups.target.set': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = 'backups:target';
      ctx.audit.before = s.targets.get(cluster.clusterId).target;
      const out = await s.setTarget(cluster, input.target, input.secretAccessKey);
      ctx.audit.after = out.target.config;
      return out;
    },
    'backups.target.test': async (_i, ctx) => s.testTarget(await ctx.cluster()),
    'backups.key.create': async (_i, ctx) => {
      ctx.audit.target = 'backups:key';
      const cluster = await ctx.cluster();
      ctx.audit.before = { recipient: s.keys.local(cluster.clusterId)?.recipient ?? null }; // read: a second create is refused, and shows what was there
      const out = await s.createKey(cluster, ctx.operator.id);
      ctx.audit.after = { recipient: out.key.recipient, state: out.key.state };
      return out;
    },
    'backups.key.replace': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = 'backups:key';
      if (input.clusterName !== cluster.contextName) {
        throw new ContractError(
          'CONFIRMATION_REQUIRED',
          `Type the name of the selected cluster, "${cluster.contextName}", to replace its backup key.`,
          { field: 'clusterName' },
        );
      }
      const { before, status } = await s.replaceKey(cluster, ctx.operator.id);
      ctx.audit.before = { recipient: before };
      ctx.audit.after = { recipient: status.key.recipient, state: status.key.state };
      return status;
    },
    'backups.key.export': async (_i, ctx) => {
      ctx.audit.target = 'backups:key';
      const out = await s.exportKey(await ctx.cluster());
      // The export itself is on the record; the key material never is.
      ctx.audit.after = { exported: out.fileName, recipient: out.recipient };
      return out;
    },
    'backups.key.confirmEscrow': async (_i, ctx) => {
      ctx.audit.target = 'backups:key';
      const cluster = await ctx.cluster();
      ctx.audit.before = { escrowedAt: s.keys.local(cluster.clusterId)?.escrowedAt ?? null };
      const out = await s.confirmEscrow(cluster, _i.checkCode);
      ctx.audit.after = { escrowedAt: out.key.escrowedAt };
      return out;
    },
    'backups.key.import': async (input, ctx) => {
      ctx.audit.target = 'backups:key';
      const out = await s.importKey(await ctx.cluster(), input.content);
      ctx.audit.after = { state: out.key.state, imported: out.key.imported.map((k) => k.recipient) };
      return out;
    },
    'backups.list': async (input, ctx) => s.list(await ctx.cluster(), input.slug),
    'backups.overview': async (_i, ctx) => s.overview(await ctx.cluster()),
    'backups.take': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = input.slug ? `tenant:${input.slug}` : 'tenants:*';
      const slugs = input.slug ? [input.slug] : await engine.tenants.slugsWithDatabase(cluster);
      const out = await s.takeMany(cluster, slugs, {
        reason: 'manual',
        actor: ctx.operator.id,
        note: input.note ?? null,
        verify: input.verify,
        concurrency: input.concurrency,
      });
      ctx.audit.after = {
        operationId: out.operationId,
        summary: out.summary,
        backups: out.results.map((r) => ({ slug: r.slug, id: r.backup?.id ?? null, ok: r.ok, error: r.error })),
      };
      if (input.slug && !out.results[0]?.ok && !out.results[0]?.backup)
        throw new ContractError('UNAVAILABLE', `The backup of "${input.slug}" failed: ${out.results[0]?.error ?? 'unknown error'}`);
      return out;
    },
    'backups.runs': async (_input, ctx) => ({ runs: s.runs.list((await ctx.cluster()).clusterId) }),
    'backups.runs.resume': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `backup-run:${input.runId}`;
      const before = s.runs.get(input.runId);
      ctx.audit.before = { status: before.status, counts: before.counts };
      const out = await s.resumeRun(cluster, input.runId, ctx.operator.id);
      ctx.audit.after = {
        summary: out.summary,
        backups: out.results.map((r) => ({ slug: r.slug, id: r.backup?.id ?? null, ok: r.ok, error: r.error })),
      };
      return out;
    },
    'backups.verify': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `backup:${input.backupId}`;
      const out = await s.verify(cluster, input.backupId, ctx.operator.id);
      ctx.audit.after = { tenant: out.tenant, verification: out.verification };
      return out;
    },
    'backups.restore.clone': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `tenant:${input.slug}`;
      ctx.audit.before = null;
      const { operation } = await b.restoreClone(cluster, {
        backupId: input.backupId,
        slug: input.slug,
        name: input.name ?? null,
        actor: ctx.operator.id,
      });
      ctx.audit.after = { restoredFrom: input.backupId, slug: input.slug, operationId: operation.id };
      void engine.tenants.reconcile(cluster).catch(() => undefined);
      return { operationId: operation.id, slug: input.slug, steps: operation.steps, notices: operation.notices };
    },
    'backups.restore.inPlace': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `tenant:${input.slug}`;
      const { operation, ctx: run } = await b.restoreInPlace(cluster, {
        backupId: input.backupId,
        slug: input.slug,
        name: null,
        actor: ctx.operator.id,
      });
      const safety = typeof run.op.notes.safetyBackup === 'string' ? run.op.notes.safetyBackup : null;
      ctx.audit.after = { restoredFrom: input.backupId, safetyBackup: safety, operationId: operation.id };
      return { operationId: operation.id, slug: input.slug, safetyBackupId: safety, steps: operation.steps, notices: operation.notices };
    },
    'backups.archives': () => ({
      roots: engine.auditLog.folders.files(ARCHIVE_SUFFIX).map(({ files, ...r }) => ({ ...r, archives: files })),
      dialog: hasDialogs(shell),
    }),
    'backups.download': async (input, ctx) => {
      ctx.audit.target = `backup:${input.backupId}`;
      // where first: a location the operator may not write to is refused before anything is read
      const file = await locateLocal(engine.auditLog.folders, shell, input.destination, 'new', ctx, {
        what: 'a backup archive',
        save: { title: 'Download backup (still encrypted)', defaultName: `${input.backupId}${ARCHIVE_SUFFIX}` },
      });
      if (!file) return { written: false, path: '', bytes: 0, manifestSha256: '' };
      const out = await s.download(await ctx.cluster(), input.backupId, file);
      ctx.audit.after = out;
      return { written: true, ...out };
    },
    'backups.import': async (input, ctx) => {
      ctx.audit.target = `backups:import`;
      const file = await locateLocal(engine.auditLog.folders, shell, input.source, 'existing', ctx, {
        what: 'a backup archive',
        open: { title: 'Import a backup archive', filters: [{ name: 'Gatehouse backup', extensions: ['tar'] }] },
      });
      if (!file) return null;
      ctx.audit.target = `backups:import:${path.basename(file)}`;
      const out = await s.importFile(await ctx.cluster(), file, ctx.operator.id);
      ctx.audit.after = { id: out.id, tenant: out.tenant, verification: out.verification.state };
      return out;
    },
    'backups.delete': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `backup:${input.backupId}`;
      const out = await s.deleteBackup(cluster, input.backupId);
      ctx.audit.after = out;
      return { deleted: out.deleted };
    },
    'backups.prune': async (input, ctx) => {
      ctx.audit.target = input.slug ? `tenant:${input.slug}` : 'tenants:*';
      const out = await s.prune(await ctx.cluster(), input.slug);
      ctx.audit.after = out;
      return out;
    },
    'backups.rescan': async (_i, ctx) => {
      ctx.audit.target = 'backups:catalog';
      const out = await s.rescan(await ctx.cluster());
      ctx.audit.after = { found: out.found, added: out.added, refused: out.refused.length };
      return out;
    },
    'backups.schedules.list': async (_i, ctx) => {
      const cluster = await ctx.cluster();
      const list = await s.schedules(cluster);
      const schedules = await Promise.all(list.map(async (x) => ({ ...x, cronJob: await readCronJob(cluster, x.scope) })));
      return { schedules, image: backupJobImage(engine.version) };
    },
    'backups.schedules.set': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `backups:schedule:${input.scope}`;
      const before = (await s.schedules(cluster)).find((x) => x.scope === input.scope) ?? null;
      ctx.audit.before = before && { enabled: before.enabled, cron: before.cron, retention: before.retention, verify: before.verify };
      await s.ensureReady(cluster);
      await s.setSchedule(cluster, input, ctx.operator.id);
      let job: Awaited<ReturnType<typeof readCronJob>>;
      if (s.targets.get(cluster.clusterId).target.kind === 'directory') {
        // A workstation directory is out of the cluster's reach: only an open console runs this schedule.
        const note =
          'No CronJob: the backup target is a directory on this workstation, so only an open console runs this schedule. Use an S3-compatible bucket to run it in the cluster.';
        const removed = await deleteCronJob(cluster, input.scope).then(
          () => null,
          (e: unknown) =>
            e instanceof ContractError && e.code === 'FORBIDDEN'
              ? ' (An older CronJob of this schedule could not be checked: the console may not manage cronjobs, see docs/permissions.md.)'
              : Promise.reject(e),
        );
        job = { name: cronJobName(input.scope), exists: false, schedule: null, note: `${note}${removed ?? ''}` };
      } else {
        // The CronJob's configuration first, so a job never starts without it.
        await writeJobSecret(cluster, jobSecret(cluster.namespace, await s.jobConfig(cluster)));
        job = await writeCronJob(cluster, input, engine.version);
      }
      const view = (await s.schedules(cluster)).find((x) => x.scope === input.scope)!;
      ctx.audit.after = { ...input, cronJob: job.name };
      return { ...view, cronJob: job };
    },
    'backups.schedules.remove': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `backups:schedule:${input.scope}`;
      const removed = await s.removeSchedule(cluster, input.scope);
      await deleteCronJob(cluster, input.scope);
      if (!removed)
        throw new ContractError('NOT_FOUND', `No backup schedule for ${input.scope === '*' ? 'all tenants' : `"${input.scope}"`}.`);
      ctx.audit.after = { removed: input.scope, cronJob: cronJobName(input.scope) };
      return { removed: input.scope };
    },
  };
}
