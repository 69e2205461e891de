import crypto, { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline as streamPipeline } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ContractError } from '../../../src-shared/contract';
import type { BackupReason, BackupSchedule, BackupSummary, BackupTarget } from '../../../src-shared/contract/backups';
import { quoteIdent, quoteLiteral } from '../../adapters/postgres';
import type { Sqlite } from '../../adapters/sqlite';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import type { Logger } from '../core/logger';
import { errorText, type SagaRunner } from '../core/saga';
import { mapLimit } from '../core/limit';
import { TENANT_LABEL, decodeSecretData, tenantDbName, tenantRoleName, tenantSecretName, type TenantService } from '../tenants';
import { CatalogIndex, summaryOf } from './catalog';
import { tap } from './crypto-pipe';
import { dumpTenant } from './dump';
import { BackupKeys, checkCode, escrowFile, parseEscrowFile, type SecretsLike } from './keys';
import { compareWithManifest, loadBackup } from './load';
import { MANIFEST, MANIFEST_MAC, backupPrefix, macOf, manifestBytes, newBackupId, openManifest, type Manifest } from './manifest';
import { findPgTools } from './pg-tools';
import { applyRetention, dueSlot, nextRun, parseCron } from './schedule';
import { BackupRuns, type RunOptions } from './runs';
import { BackupTargets } from './targets';
import { bufferStream, readAll, type BackupStorage } from './storage';
import { readTar, tarStream } from './tar';

export interface BackupServiceOptions {
  db: Sqlite;
  bus: EventBus | null;
  saga: SagaRunner;
  tenants: TenantService;
  secrets: () => Promise<SecretsLike>;
  consoleId: string;
  consoleVersion: string;
  dataDir: string;
  /** Background actions (scheduled backups, drills) are audited here; commands are audited by the pipeline. */
  audit?: BackgroundAudit;
  log?: Logger;
  /** Parallel table streams per backup and per restore. */
  jobs?: number;
  /** Test hooks: run before each table is dumped / loaded (to kill PostgreSQL in the middle). */
  beforeDumpTable?: (slug: string, index: number) => Promise<void>;
  beforeLoadTable?: (database: string, index: number) => Promise<void>;
  /**
   * The CronJob (job.ts): it writes backups with the cluster's public recipient and
   * authentication key from its Secret, and holds no identity, so it cannot verify; an
   * open console runs the restore drills of what it took.
   */
  jobKey?: { recipient: string; authKey: Buffer };
}

/** The audit recorder's write (engine/audit's AuditRecorder): what a background run records. */
export interface BackgroundAudit {
  record(entry: {
    actor: string;
    actorRole: 'viewer' | 'operator' | 'admin';
    action: string;
    target: string | null;
    params: unknown;
    before: unknown;
    after: unknown;
    outcome: 'success' | 'failure' | 'denied' | 'invalid';
    errorCode: string | null;
    at: string;
    cluster: string | null;
    consoleVersion: string;
  }): Promise<void>;
}

export interface TakeOptions {
  reason: BackupReason;
  actor: string;
  note?: string | null;
  verify?: boolean;
}

const VERIFY_PREFIX = 'gatehouse_verify_';

/**
 * Backups of tenants, bound to the cluster each call names: take (one or all), verify by
 * restoring into a scratch database, list, download/import, retention, schedules, and the
 * final backup of a tenant delete. Restores are sagas (restore-saga.ts).
 */
export class BackupService {
  readonly keys: BackupKeys;
  readonly targets: BackupTargets;
  readonly runs: BackupRuns;
  private readonly indexes = new Map<string, { key: string; index: CatalogIndex }>();
  readonly jobs: number;

  constructor(readonly opts: BackupServiceOptions) {
    this.keys = new BackupKeys(opts.db, opts.secrets);
    this.targets = new BackupTargets(opts.db, opts.secrets, opts.dataDir);
    this.runs = new BackupRuns(opts.db);
    this.jobs = opts.jobs ?? 2;
  }

  // ---- per-cluster plumbing

  async index(cluster: ClusterRuntime): Promise<CatalogIndex> {
    const admin = await cluster.pgAdmin();
    if (!admin) throw noDatabase(cluster);
    const key = JSON.stringify([admin.host, admin.port, admin.user, admin.password, admin.database]);
    const hit = this.indexes.get(cluster.clusterId);
    if (hit && hit.key === key) return hit.index;
    await hit?.index.close();
    const index = new CatalogIndex(admin, cluster.clusterId, this.opts.db);
    if (!hit) cluster.onClose(() => this.closeCluster(cluster.clusterId));
    this.indexes.set(cluster.clusterId, { key, index });
    return index;
  }

  private async closeCluster(clusterId: string): Promise<void> {
    const hit = this.indexes.get(clusterId);
    this.indexes.delete(clusterId);
    await hit?.index.close();
  }

  storage(cluster: ClusterRuntime): Promise<BackupStorage> {
    return this.targets.storage(cluster.clusterId);
  }

  private changed(cluster: ClusterRuntime, tenant: string | null): void {
    this.opts.bus?.publish('backups.changed', { clusterId: cluster.clusterId, tenant });
  }

  // ---- status, target, key

  async status(cluster: ClusterRuntime) {
    const { target, isDefault } = this.targets.get(cluster.clusterId);
    const local = this.keys.local(cluster.clusterId);
    let published: string | null = null;
    let reason: string | null = null;
    try {
      published = await (await this.index(cluster)).publishedRecipient();
    } catch (error) {
      reason = `The backup catalog cannot be reached: ${errorText(error)}`;
    }
    let pgTools: string | null = null;
    try {
      pgTools = findPgTools().version;
    } catch (error) {
      reason ??= errorText(error);
    }
    const state = local ? (local.escrowedAt ? 'ready' : 'needs-escrow') : published ? 'missing-here' : 'none';
    if (!reason) {
      if (state === 'none')
        reason = 'No backup key yet: create one, export it for escrow and confirm, then take the first backup (Backups → Key).';
      else if (state === 'needs-escrow')
        reason =
          'Export the backup key and confirm its check code before the first backup (Backups → Key): without it, backups could never be decrypted in a disaster.';
      else if (state === 'missing-here')
        reason = `This cluster's backups are encrypted to ${published}; this console does not hold that key. Import its escrow file (Backups → Key → Import).`;
    }
    return {
      clusterId: cluster.clusterId,
      clusterName: cluster.contextName,
      configured: state === 'ready' && reason === null,
      reason,
      target: {
        kind: target.kind,
        description:
          target.kind === 'directory'
            ? `directory ${target.path}`
            : `s3://${target.bucket}${target.prefix ? `/${target.prefix}` : ''} at ${new URL(target.endpoint).host}`,
        isDefault,
        config: target,
      },
      key: { state, recipient: local?.recipient ?? published, escrowedAt: local?.escrowedAt ?? null, imported: this.keys.imported() },
      pgTools,
    } as const;
  }

  /** Throws, before anything changes, when a backup cannot be taken on this cluster. */
  async ensureReady(cluster: ClusterRuntime): Promise<void> {
    if (this.opts.jobKey) return void findPgTools();
    const s = await this.status(cluster);
    if (!s.configured)
      throw new ContractError('VALIDATION', `Backups are not configured on this cluster. ${s.reason ?? ''}`.trim(), {
        reason: 'backups-not-configured',
      });
  }

  async setTarget(cluster: ClusterRuntime, target: BackupTarget, secretAccessKey?: string) {
    await this.targets.set(cluster.clusterId, target, secretAccessKey);
    return this.status(cluster);
  }

  /** Writes, reads back and deletes a probe object. */
  async testTarget(cluster: ClusterRuntime): Promise<{ ok: boolean; description: string; message: string }> {
    const storage = await this.storage(cluster);
    const key = `.probe/${this.opts.consoleId.replace(/[^A-Za-z0-9._-]/g, '_')}-${crypto.randomBytes(4).toString('hex')}`.replace(
      /^\./,
      'probe',
    );
    const body = crypto.randomBytes(1024);
    try {
      await storage.put(key, bufferStream(body));
      const back = await readAll(await storage.get(key));
      await storage.delete(key);
      if (!back.equals(body))
        return {
          ok: false,
          description: storage.description,
          message: 'The probe object came back different; the target is not reliable.',
        };
      return { ok: true, description: storage.description, message: 'Wrote, read back and deleted a probe object.' };
    } catch (error) {
      return { ok: false, description: storage.description, message: errorText(error) };
    }
  }

  async createKey(cluster: ClusterRuntime, actor: string) {
    const index = await this.index(cluster);
    const published = await index.publishedRecipient();
    if (published && this.keys.local(cluster.clusterId)?.recipient !== published) {
      throw new ContractError(
        'CONFLICT',
        `This cluster already has a backup key (${published}), created on another console. Import its escrow file instead of creating a new key.`,
      );
    }
    if (this.keys.local(cluster.clusterId))
      throw new ContractError('CONFLICT', 'This cluster already has a backup key on this console; export it for escrow.');
    const key = await this.keys.create(cluster.clusterId);
    const winner = await index.publishRecipient(key.recipient, actor);
    if (winner !== key.recipient) {
      // Another console published first (a race): our key must not be used.
      this.opts.db.prepare('DELETE FROM backup_keys WHERE cluster_id = ?').run(cluster.clusterId);
      throw new ContractError(
        'CONFLICT',
        `Another console created this cluster's backup key (${winner}) at the same time. Import its escrow file.`,
      );
    }
    return this.status(cluster);
  }

  /**
   * A new key for the cluster (the old escrow file was lost, or it must be rotated). Backups
   * taken before stay encrypted to the old key: this console keeps it if it held it, other
   * consoles import the old escrow file to open them. The new key needs its escrow again.
   */
  async replaceKey(cluster: ClusterRuntime, actor: string) {
    const index = await this.index(cluster);
    const before = (await index.publishedRecipient()) ?? this.keys.local(cluster.clusterId)?.recipient ?? null;
    await this.keys.retire(cluster.clusterId);
    const key = await this.keys.create(cluster.clusterId);
    await index.replaceRecipient(key.recipient, actor);
    return { before, status: await this.status(cluster) };
  }

  async exportKey(cluster: ClusterRuntime) {
    const key = await this.keys.get(cluster.clusterId);
    const local = this.keys.local(cluster.clusterId);
    if (!key || !local)
      throw new ContractError('NOT_FOUND', 'This console holds no backup key for this cluster. Create one, or import the escrow file.');
    return {
      fileName: `gatehouse-backup-key-${cluster.contextName.replace(/[^A-Za-z0-9._-]/g, '_')}-${cluster.clusterId.slice(0, 8)}.txt`,
      content: escrowFile(key, cluster.contextName, local.createdAt),
      recipient: key.recipient,
    };
  }

  async confirmEscrow(cluster: ClusterRuntime, code: string) {
    const key = await this.keys.get(cluster.clusterId);
    if (!key) throw new ContractError('NOT_FOUND', 'This console holds no backup key for this cluster.');
    const expected = checkCode(key.identity, key.authKey);
    const given = code
      .trim()
      .toUpperCase()
      .replace(/[^A-Z0-9]/g, '');
    if (
      !crypto.timingSafeEqual(Buffer.from(given.padEnd(8, '?').slice(0, 8)), Buffer.from(expected.replace('-', ''))) ||
      given.length !== 8
    ) {
      throw new ContractError(
        'VALIDATION',
        'That is not the check code of the exported key file. Open the saved file and type the code on its "# check:" line.',
      );
    }
    this.keys.confirmEscrow(cluster.clusterId);
    return this.status(cluster);
  }

  async importKey(cluster: ClusterRuntime, content: string) {
    const key = parseEscrowFile(content);
    const index = await this.index(cluster);
    const published = await index.publishedRecipient();
    await this.keys.import(key, cluster.clusterId, published);
    return this.status(cluster);
  }

  // ---- take

  private async tenantFacts(cluster: ClusterRuntime, slug: string) {
    const p = await this.opts.tenants.ports(cluster);
    const database = tenantDbName(slug);
    if (!(await p.pg.databaseExists(database)))
      throw new ContractError('NOT_FOUND', `Tenant "${slug}" has no database (${database}) on this cluster; nothing to back up.`);
    const entry = await p.registry.get(slug);
    const kubernetes = async () => {
      const [secret, deployments] = await Promise.all([
        p.kube.getSecret(tenantSecretName(slug)),
        p.kube.listDeployments(`${TENANT_LABEL}=${slug}`),
      ]);
      const data = decodeSecretData(secret);
      return {
        // Metadata and key ids only: the values stay in the cluster.
        secret: secret
          ? {
              name: secret.metadata?.name,
              uid: secret.metadata?.uid,
              resourceVersion: secret.metadata?.resourceVersion,
              labels: secret.metadata?.labels ?? {},
              annotations: secret.metadata?.annotations ?? {},
              keys: Object.keys(secret.data ?? {}).sort(),
              keyIds: keyIdsOf(data),
            }
          : null,
        registry: entry,
        workers: deployments.map((d) => ({
          name: d.metadata?.name,
          labels: d.metadata?.labels ?? {},
          annotations: d.metadata?.annotations ?? {},
          replicas: d.spec?.replicas ?? null,
          containers: (d.spec?.template.spec?.containers ?? []).map((c) => ({
            name: c.name,
            image: c.image,
            env: (c.env ?? []).map((e) => e.name).sort(),
          })),
        })),
      };
    };
    return { database, entry, kubernetes };
  }

  /** One tenant's backup, indexed in the catalog; with verify, also restored into a scratch database. */
  async takeOne(
    cluster: ClusterRuntime,
    slug: string,
    o: TakeOptions,
    onProgress?: (done: number, total: number, what: string) => void,
  ): Promise<BackupSummary> {
    await this.ensureReady(cluster);
    const key = this.opts.jobKey ?? (await this.keys.get(cluster.clusterId))!;
    const admin = (await cluster.pgAdmin())!;
    const storage = await this.storage(cluster);
    const index = await this.index(cluster);
    const facts = await this.tenantFacts(cluster, slug);
    const manifest = await dumpTenant({
      admin,
      storage,
      id: newBackupId(),
      tenant: {
        slug,
        name: facts.entry?.name ?? slug,
        tier: facts.entry?.tier ?? 'unknown',
        database: facts.database,
        role: tenantRoleName(slug),
      },
      cluster: { id: cluster.clusterId, name: cluster.contextName, namespace: cluster.namespace },
      takenBy: {
        actor: o.actor,
        reason: o.reason,
        note: o.note ?? null,
        console: this.opts.consoleId,
        consoleVersion: this.opts.consoleVersion,
      },
      recipients: [key.recipient],
      macKey: key.authKey,
      kubernetes: facts.kubernetes,
      jobs: this.jobs,
      ...(onProgress ? { onProgress } : {}),
      ...(this.opts.beforeDumpTable ? { beforeTable: (i: number) => this.opts.beforeDumpTable!(slug, i) } : {}),
    });
    let summary = summaryOf(manifest);
    await index.add(summary);
    this.changed(cluster, slug);
    if (o.verify && !this.opts.jobKey) summary = await this.verify(cluster, manifest.id, o.actor);
    return summary;
  }

  /**
   * Several tenants with at most `concurrency` at once; one failure never stops the others; live
   * progress. Journaled (runs.ts): a run cut short by a quit or a crash is listed as interrupted
   * and `resumeRun` takes only the tenants it did not finish.
   */
  async takeMany(cluster: ClusterRuntime, slugs: string[], o: TakeOptions & { concurrency: number }) {
    await this.ensureReady(cluster);
    const runId = randomUUID();
    const unique = [...new Set(slugs)];
    const options: RunOptions = {
      reason: o.reason,
      actor: o.actor,
      note: o.note ?? null,
      verify: o.verify ?? false,
      concurrency: o.concurrency,
    };
    this.runs.start(cluster, runId, unique, options);
    this.runs.began(runId);
    return this.runJournaled(cluster, runId, unique, unique.length, 0, options);
  }

  /** Resumes an interrupted (or partly failed) run of this cluster for the tenants it did not finish; `actor` takes them. */
  async resumeRun(cluster: ClusterRuntime, runId: string, actor: string) {
    await this.ensureReady(cluster);
    const { options, todo, total } = this.runs.claim(cluster, runId);
    return this.runJournaled(cluster, runId, todo, total, total - todo.length, { ...options, actor });
  }

  private async runJournaled(cluster: ClusterRuntime, runId: string, slugs: string[], total: number, doneBefore: number, o: RunOptions) {
    let completed = doneBefore;
    const progress = (target: string, status: 'running' | 'done' | 'failed', message?: string) =>
      this.opts.bus?.publish('operation.progress', {
        operationId: runId,
        kind: 'backups.take',
        target,
        step: 'backup',
        status,
        done: completed,
        total,
        at: new Date().toISOString(),
        ...(message ? { message } : {}),
      });
    let results: { slug: string; ok: boolean; backup: BackupSummary | null; error: string | null }[];
    try {
      progress('*', 'running', doneBefore ? `${slugs.length} of ${total} tenant(s) left to back up` : `${total} tenant(s) to back up`);
      results = await mapLimit(slugs, Math.max(1, o.concurrency), async (slug) => {
        progress(slug, 'running');
        this.runs.item(runId, slug, 'running');
        try {
          const backup = await this.takeOne(cluster, slug, o);
          completed++;
          const failedVerify = backup.verification.state === 'failed';
          const error = failedVerify ? (backup.verification.message ?? 'verify failed') : null;
          this.runs.item(runId, slug, failedVerify ? 'failed' : 'done', backup.id, error);
          progress(slug, failedVerify ? 'failed' : 'done', error ?? undefined);
          return { slug, ok: !failedVerify, backup, error };
        } catch (error) {
          completed++;
          const message = errorText(error);
          this.runs.item(runId, slug, 'failed', null, message);
          progress(slug, 'failed', message);
          return { slug, ok: false, backup: null, error: message };
        }
      });
    } finally {
      this.runs.finish(runId);
    }
    const failed = results.filter((r) => !r.ok).length;
    progress('*', failed ? 'failed' : 'done', failed ? `${failed} of ${slugs.length} failed` : 'all tenants backed up');
    return { operationId: runId, results, summary: { ok: slugs.length - failed, failed } };
  }

  // ---- open, verify

  /** A backup's authenticated manifest, wherever the catalog says it is. */
  async open(
    cluster: ClusterRuntime,
    id: string,
  ): Promise<{ manifest: Manifest; storage: BackupStorage; identities: string[]; summary: BackupSummary }> {
    const index = await this.index(cluster);
    const summary = await index.get(id);
    if (!summary)
      throw new ContractError(
        'NOT_FOUND',
        `Backup ${id} is not in the catalog of this cluster. Rescan the storage (Backups → Rescan) if it was copied there by hand.`,
      );
    const storage = await this.storage(cluster);
    const { identities, authKeys } = await this.keys.openers(cluster.clusterId);
    const manifest = await this.readManifest(storage, summary.tenant, id, authKeys);
    return { manifest, storage, identities, summary };
  }

  private async readManifest(storage: BackupStorage, tenant: string, id: string, authKeys: Buffer[]): Promise<Manifest> {
    const prefix = backupPrefix(tenant, id);
    const [bytes, mac] = await Promise.all([
      storage.get(`${prefix}/${MANIFEST}`).then((s) => readAll(s, 16 * 1024 * 1024)),
      storage
        .get(`${prefix}/${MANIFEST_MAC}`)
        .then((s) => readAll(s, 1024))
        .catch(() => null),
    ]);
    const m = openManifest(bytes, mac?.toString('utf8') ?? null, authKeys);
    if (m.id !== id || m.tenant.slug !== tenant)
      throw new ContractError('VALIDATION', `The manifest stored as ${prefix} describes backup ${m.id} of ${m.tenant.slug}; refused.`, {
        reason: 'manifest-misplaced',
      });
    return m;
  }

  /** Drops scratch databases a crashed verify left behind (named with their start time; older than 6 h). */
  private async sweepScratch(cluster: ClusterRuntime): Promise<void> {
    const pg = (await cluster.postgres())!;
    const rows = await pg.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [VERIFY_PREFIX]);
    const cutoff = Date.now() - 6 * 3600_000;
    for (const { datname } of rows) {
      const m = /^gatehouse_verify_(\d{8})(\d{6})_/.exec(datname);
      if (!m) continue;
      const at = Date.parse(
        `${m[1]!.slice(0, 4)}-${m[1]!.slice(4, 6)}-${m[1]!.slice(6)}T${m[2]!.slice(0, 2)}:${m[2]!.slice(2, 4)}:${m[2]!.slice(4)}Z`,
      );
      if (at < cutoff) await pg.dropDatabase(datname).catch(() => undefined);
    }
  }

  /**
   * Restores a backup into a scratch database, reads every table back and compares rows
   * and checksums with the manifest, drops the scratch database and records the outcome
   * (catalog, storage). A failed verify is a result, not an exception.
   */
  async verify(cluster: ClusterRuntime, id: string, actor: string): Promise<BackupSummary> {
    const { manifest, storage, identities } = await this.open(cluster, id);
    const record = await this.restoreCheck(cluster, manifest, storage, identities, actor);
    return this.recordVerification(cluster, manifest, storage, record);
  }

  /** The restore into a scratch database and the comparison; its outcome, never an exception. */
  private async restoreCheck(cluster: ClusterRuntime, manifest: Manifest, storage: BackupStorage, identities: string[], actor: string) {
    const started = Date.now();
    const at = new Date().toISOString();
    const admin = (await cluster.pgAdmin())!;
    const pg = (await cluster.postgres())!;
    await this.sweepScratch(cluster).catch(() => undefined);
    const scratch = `${VERIFY_PREFIX}${at.replace(/[-:T]/g, '').slice(0, 14)}_${crypto.randomBytes(4).toString('hex')}`;
    let outcome: 'passed' | 'failed' = 'passed';
    let message: string;
    try {
      await pg.query(
        `CREATE DATABASE ${quoteIdent(scratch)} ENCODING ${quoteLiteral(manifest.postgres.encoding)} TEMPLATE template0`,
        [],
        `creating scratch database ${scratch}`,
      );
      await pg.query(`COMMENT ON DATABASE ${quoteIdent(scratch)} IS ${quoteLiteral(`gatehouse:verify backup=${manifest.id}`)}`);
      const loaded = await loadBackup({
        admin,
        storage,
        manifest,
        identities,
        database: scratch,
        owner: null,
        jobs: this.jobs,
        ...(this.opts.beforeLoadTable ? { beforeTable: (i: number) => this.opts.beforeLoadTable!(scratch, i) } : {}),
      });
      const { mismatches } = await compareWithManifest(admin, scratch, manifest, { storage, identities });
      if (mismatches.length) {
        outcome = 'failed';
        message = `Restored, but ${mismatches.length} table(s) differ from the manifest: ${mismatches.slice(0, 3).join('; ')}`;
      } else {
        message = `Restored ${loaded.tables} tables, ${loaded.rows} rows into a scratch database; rows and checksums match the manifest.`;
      }
    } catch (error) {
      outcome = 'failed';
      message = errorText(error);
    } finally {
      await pg.dropDatabase(scratch).catch(() => undefined);
    }
    return { at, outcome, by: actor, message, durationMs: Date.now() - started };
  }

  private async recordVerification(
    cluster: ClusterRuntime,
    manifest: Manifest,
    storage: BackupStorage,
    record: Awaited<ReturnType<BackupService['restoreCheck']>>,
  ): Promise<BackupSummary> {
    const index = await this.index(cluster);
    const key = await this.keys.get(cluster.clusterId).catch(() => null);
    if (key) {
      // The result also lives with the backup, authenticated like its manifest.
      const body = Buffer.from(`${JSON.stringify({ backup: manifest.id, ...record })}\n`);
      const name = `${backupPrefix(manifest.tenant.slug, manifest.id)}/verify-${record.at.replace(/[-:.]/g, '')}`;
      await storage.put(`${name}.json`, bufferStream(body)).catch(() => undefined);
      await storage.put(`${name}.mac`, bufferStream(`${macOf(key.authKey, body)}\n`)).catch(() => undefined);
    }
    const summary = await index.recordVerification(manifest.id, record);
    this.changed(cluster, manifest.tenant.slug);
    return summary!;
  }

  // ---- list

  async list(cluster: ClusterRuntime, slug: string): Promise<{ backups: BackupSummary[]; fromCache: boolean }> {
    const index = await this.index(cluster);
    try {
      return { backups: await index.forTenant(slug), fromCache: false };
    } catch (error) {
      if (error instanceof ContractError && error.code === 'UNAVAILABLE') return { backups: index.cached(slug), fromCache: true };
      throw error;
    }
  }

  /** One row per tenant (every tenant known to the cluster, and every tenant with backups), failures first. */
  async overview(cluster: ClusterRuntime) {
    const index = await this.index(cluster);
    let all: BackupSummary[];
    let fromCache = false;
    try {
      all = await index.all();
    } catch (error) {
      if (!(error instanceof ContractError && error.code === 'UNAVAILABLE')) throw error;
      all = index.cached();
      fromCache = true;
    }
    const tenants = new Set<string>(
      (
        await this.opts.tenants.list(cluster, { refresh: false, stats: false }).catch(() => ({ tenants: [] as { slug: string }[] }))
      ).tenants.map((t) => t.slug),
    );
    for (const b of all) tenants.add(b.tenant);
    const byTenant = new Map<string, BackupSummary[]>();
    for (const b of all) byTenant.set(b.tenant, [...(byTenant.get(b.tenant) ?? []), b]);
    const rank = { failed: 0, never: 1, unverified: 2, ok: 3 } as const;
    const rows = [...tenants].map((tenant) => {
      const list = byTenant.get(tenant) ?? [];
      const lastBackup = list[0] ?? null;
      const lastVerified = list.find((b) => b.verification.state === 'passed') ?? null;
      const newestVerify = [...list].filter((b) => b.verification.at).sort((a, b) => (a.verification.at! < b.verification.at! ? 1 : -1))[0];
      const health: keyof typeof rank = !lastBackup
        ? 'never'
        : newestVerify?.verification.state === 'failed'
          ? 'failed'
          : lastVerified
            ? 'ok'
            : 'unverified';
      return { tenant, lastBackup, lastVerified, health, backups: list.length, storedBytes: list.reduce((n, b) => n + b.storedBytes, 0) };
    });
    rows.sort((a, b) => rank[a.health] - rank[b.health] || (a.tenant < b.tenant ? -1 : 1));
    return { rows, fromCache, at: new Date().toISOString() };
  }

  // ---- delete, prune, rescan

  async deleteBackup(cluster: ClusterRuntime, id: string): Promise<{ deleted: string; tenant: string }> {
    const index = await this.index(cluster);
    const summary = await index.get(id);
    if (!summary) throw new ContractError('NOT_FOUND', `Backup ${id} is not in the catalog.`);
    const storage = await this.storage(cluster);
    const prefix = `${backupPrefix(summary.tenant, id)}/`;
    // The manifest goes first: from then on the rest is an unlisted remnant, never a half backup.
    await storage.delete(`${prefix}${MANIFEST}`);
    for (const o of await storage.list(prefix)) await storage.delete(o.key);
    await index.remove(id);
    this.changed(cluster, summary.tenant);
    return { deleted: id, tenant: summary.tenant };
  }

  async prune(cluster: ClusterRuntime, slug?: string): Promise<{ deleted: { tenant: string; id: string }[]; kept: number }> {
    const index = await this.index(cluster);
    const schedules = await index.schedules();
    const policyFor = (tenant: string) =>
      (schedules.find((s) => s.scope === tenant) ?? schedules.find((s) => s.scope === '*'))?.retention ?? null;
    const all = slug ? await index.forTenant(slug) : await index.all();
    const byTenant = new Map<string, BackupSummary[]>();
    for (const b of all) byTenant.set(b.tenant, [...(byTenant.get(b.tenant) ?? []), b]);
    const deleted: { tenant: string; id: string }[] = [];
    let kept = 0;
    for (const [tenant, list] of byTenant) {
      const policy = policyFor(tenant);
      if (!policy) {
        kept += list.length;
        continue;
      }
      const decision = applyRetention(list, policy);
      kept += decision.keep.length;
      for (const id of decision.prune) {
        await this.deleteBackup(cluster, id);
        deleted.push({ tenant, id });
      }
    }
    return { deleted, kept };
  }

  /** Rebuilds the index from the manifests in storage; what does not authenticate is reported, never listed. */
  async rescan(cluster: ClusterRuntime) {
    const index = await this.index(cluster);
    const storage = await this.storage(cluster);
    const { authKeys } = await this.keys.openers(cluster.clusterId);
    const objects = await storage.list('');
    const refused: { key: string; reason: string }[] = [];
    let found = 0;
    let added = 0;
    for (const o of objects.filter((x) => x.key.endsWith(`/${MANIFEST}`))) {
      const parts = o.key.split('/');
      if (parts.length !== 3) continue;
      found++;
      try {
        const m = await this.readManifest(storage, parts[0]!, parts[1]!, authKeys);
        if (await index.get(m.id)) continue;
        await this.checkFiles(storage, m);
        await index.add(summaryOf(m, m.cluster.id !== cluster.clusterId));
        added++;
      } catch (error) {
        refused.push({ key: o.key, reason: errorText(error) });
      }
    }
    this.changed(cluster, null);
    return { found, added, refused };
  }

  /** Every file the manifest names exists with its recorded size. */
  private async checkFiles(storage: BackupStorage, m: Manifest): Promise<void> {
    const prefix = backupPrefix(m.tenant.slug, m.id);
    for (const f of m.files) {
      const h = await storage.head(`${prefix}/${f.name}`);
      if (!h) throw new ContractError('VALIDATION', `Backup ${m.id}: ${f.name} is missing from storage.`, { reason: 'file-missing' });
      if (h.size !== f.size)
        throw new ContractError('VALIDATION', `Backup ${m.id}: ${f.name} holds ${h.size} bytes, the manifest says ${f.size}.`, {
          reason: 'file-size',
        });
    }
  }

  // ---- download / import

  /** Writes a backup as a tar file (still encrypted). The file appears only once complete. */
  async download(cluster: ClusterRuntime, id: string, target: string) {
    const { manifest, storage } = await this.open(cluster, id);
    if (fs.existsSync(target)) throw new ContractError('CONFLICT', `${target} already exists; choose another file name.`);
    const prefix = backupPrefix(manifest.tenant.slug, id);
    const top = `${manifest.tenant.slug}-${id}`;
    const bytes = manifestBytes(manifest);
    const mac = await readAll(await storage.get(`${prefix}/${MANIFEST_MAC}`), 1024);
    const readme = Buffer.from(readmeText(manifest));
    const entries = [
      { name: `${top}/${MANIFEST}`, size: bytes.length, open: async () => bufferStream(bytes) },
      { name: `${top}/${MANIFEST_MAC}`, size: mac.length, open: async () => bufferStream(mac) },
      { name: `${top}/README.txt`, size: readme.length, open: async () => bufferStream(readme) },
      ...manifest.files.map((f) => ({ name: `${top}/${f.name}`, size: f.size, open: () => storage.get(`${prefix}/${f.name}`) })),
    ];
    const tmp = `${target}.partial-${crypto.randomBytes(4).toString('hex')}`;
    try {
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      await pipeline(tarStream(entries), fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
      await fs.promises.rename(tmp, target);
    } catch (error) {
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
      if (error instanceof ContractError) throw error;
      throw new ContractError('UNAVAILABLE', `Could not write ${target}: ${errorText(error)}`);
    }
    return {
      path: target,
      bytes: (await fs.promises.stat(target)).size,
      manifestSha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    };
  }

  /**
   * Imports a downloaded backup: the archive is read, its manifest authenticated (this
   * cluster's key or an imported one), every file checked against the manifest while it
   * is copied into storage, then the backup is verified by a restore. Only a backup that
   * verified is listed; anything else is removed again and the reason reported.
   */
  async importFile(cluster: ClusterRuntime, file: string, actor: string): Promise<BackupSummary> {
    const storage = await this.storage(cluster);
    const index = await this.index(cluster);
    const { authKeys } = await this.keys.openers(cluster.clusterId);
    if (authKeys.length === 0)
      throw new ContractError(
        'VALIDATION',
        'This console holds no backup key: import the key file of the cluster the backup comes from first (Backups → Key → Import).',
      );
    let source: fs.ReadStream;
    try {
      source = fs.createReadStream(file, { highWaterMark: 1 << 20 });
      await new Promise<void>((res, rej) => source.once('open', () => res()).once('error', rej));
    } catch (error) {
      throw new ContractError('NOT_FOUND', `Cannot open ${file}: ${errorText(error)}`);
    }
    let manifest: Manifest | null = null;
    let manifestRaw: Buffer | null = null;
    let mac: string | null = null;
    const seen = new Set<string>();
    const written: string[] = [];
    let catalogued = false;
    try {
      for await (const entry of readTar(source)) {
        const parts = entry.name.split('/');
        const name = parts.slice(1).join('/');
        if (name === MANIFEST) manifestRaw = await readAll(entry.stream, 16 * 1024 * 1024);
        else if (name === MANIFEST_MAC) mac = (await readAll(entry.stream, 1024)).toString('utf8');
        else if (name === 'README.txt' || name === '') await readAll(entry.stream, 1024 * 1024);
        else {
          // The manifest and its MAC come first in our archives; anything else is refused.
          if (!manifest) {
            if (!manifestRaw)
              throw new ContractError(
                'VALIDATION',
                'The archive does not start with a backup manifest; it is not a Gatehouse backup file.',
                { reason: 'archive-layout' },
              );
            manifest = openManifest(manifestRaw, mac, authKeys);
            if (await index.get(manifest.id)) throw new ContractError('CONFLICT', `Backup ${manifest.id} is already in the catalog.`);
          }
          const f = manifest.files.find((x) => x.name === name);
          if (!f || seen.has(name))
            throw new ContractError('VALIDATION', `The archive holds ${name}, which the manifest does not list.`, {
              reason: 'archive-extra',
            });
          seen.add(name);
          const key = `${backupPrefix(manifest.tenant.slug, manifest.id)}/${name}`;
          const check = tap();
          // pipeline, not pipe: a source that already failed (a truncated archive) fails the upload too.
          streamPipeline(entry.stream, check, (err) => {
            if (err) check.destroy(err);
          });
          written.push(key);
          await storage.put(key, check);
          if (check.bytes !== f.size || check.hex() !== f.sha256)
            throw new ContractError(
              'VALIDATION',
              `Backup ${manifest.id}: ${name} in the archive does not match its manifest (corrupted file).`,
              { reason: 'integrity' },
            );
        }
      }
      if (!manifest) {
        if (!manifestRaw)
          throw new ContractError('VALIDATION', 'The archive holds no manifest.json; it is not a Gatehouse backup file.', {
            reason: 'archive-layout',
          });
        manifest = openManifest(manifestRaw, mac, authKeys);
      }
      const missing = manifest.files.filter((f) => !seen.has(f.name)).map((f) => f.name);
      if (missing.length)
        throw new ContractError(
          'VALIDATION',
          `The archive lacks ${missing.length} file(s) of backup ${manifest.id} (${missing.slice(0, 3).join(', ')}): truncated or incomplete.`,
          { reason: 'archive-incomplete' },
        );
      const prefix = backupPrefix(manifest.tenant.slug, manifest.id);
      written.push(`${prefix}/${MANIFEST_MAC}`, `${prefix}/${MANIFEST}`);
      await storage.put(`${prefix}/${MANIFEST_MAC}`, bufferStream(mac ?? ''));
      await storage.put(`${prefix}/${MANIFEST}`, bufferStream(manifestRaw!));
      // Verified by a restore before it enters the catalog: an import that does not verify is never listed.
      const { identities } = await this.keys.openers(cluster.clusterId);
      const record = await this.restoreCheck(cluster, manifest, storage, identities, actor);
      if (record.outcome !== 'passed') {
        throw new ContractError('VALIDATION', `Backup ${manifest.id} did not verify and was not imported: ${record.message}`, {
          reason: 'verify-failed',
        });
      }
      await index.add(summaryOf(manifest, true));
      catalogued = true;
      return await this.recordVerification(cluster, manifest, storage, record);
    } catch (error) {
      // Only what this import wrote goes: an id already in the catalog (CONFLICT) keeps its files and row.
      for (const key of written) await storage.delete(key).catch(() => undefined);
      if (manifest && catalogued) await index.remove(manifest.id).catch(() => undefined);
      throw error instanceof ContractError
        ? error
        : new ContractError('VALIDATION', `The backup file could not be imported: ${errorText(error)}`);
    } finally {
      source.destroy();
    }
  }

  // ---- schedules

  /** What the CronJob's Secret holds: enough to write backups of this cluster, never to read one. */
  async jobConfig(cluster: ClusterRuntime) {
    await this.ensureReady(cluster);
    const key = (await this.keys.get(cluster.clusterId))!;
    const admin = (await cluster.pgAdmin())!;
    const { target } = this.targets.get(cluster.clusterId);
    if (target.kind === 'directory')
      throw new ContractError(
        'VALIDATION',
        `The CronJob cannot reach the directory ${target.path} on this workstation; set an S3-compatible bucket as the backup target.`,
      );
    return {
      admin,
      target,
      s3Secret: await this.targets.s3Secret(cluster.clusterId),
      recipient: key.recipient,
      authKey: key.authKey,
      clusterId: cluster.clusterId,
    };
  }

  async schedules(cluster: ClusterRuntime) {
    const index = await this.index(cluster);
    const list = await index.schedules();
    const now = new Date();
    return list.map((s) => {
      let next: string | null;
      try {
        next = s.enabled ? (nextRun(parseCron(s.cron), now)?.toISOString() ?? null) : null;
      } catch {
        next = null;
      }
      return { ...s, nextRunAt: next };
    });
  }

  async setSchedule(cluster: ClusterRuntime, s: BackupSchedule, actor: string) {
    parseCron(s.cron);
    await (await this.index(cluster)).putSchedule(s, actor);
  }

  async removeSchedule(cluster: ClusterRuntime, scope: string): Promise<boolean> {
    return (await this.index(cluster)).removeSchedule(scope);
  }

  /**
   * Runs the schedules that are due on this cluster (the console's own runner, and the
   * CronJob's entry point). A slot is claimed in gatehouse_control first, so two consoles
   * (or a console and the CronJob) never run the same one twice.
   */
  async runDue(
    cluster: ClusterRuntime,
    now = new Date(),
    actor = 'gatehouse:scheduler',
    onlyScope?: string,
  ): Promise<{ scope: string; slot: string; ok: number; failed: number }[]> {
    const index = await this.index(cluster);
    const schedules = (await index.schedules()).filter((s) => s.enabled);
    const out: { scope: string; slot: string; ok: number; failed: number }[] = [];
    if (schedules.length === 0) return out;
    const own = new Set(schedules.filter((s) => s.scope !== '*').map((s) => s.scope));
    for (const s of schedules) {
      if (onlyScope !== undefined && s.scope !== onlyScope) continue;
      const since = new Date(s.lastRunAt ?? s.updatedAt);
      const slot = dueSlot(parseCron(s.cron), since, now);
      if (!slot) continue;
      if (!(await index.claimRun(s.scope, slot.toISOString(), s.lastRunAt))) continue;
      const slugs = s.scope === '*' ? (await this.opts.tenants.slugsWithDatabase(cluster)).filter((t) => !own.has(t)) : [s.scope];
      const run = await this.takeMany(cluster, slugs, {
        reason: 'schedule',
        actor,
        note: `schedule ${s.scope} (${s.cron})`,
        verify: s.verify,
        concurrency: 2,
      }).catch((error: unknown) => ({
        operationId: '',
        results: slugs.map((slug) => ({ slug, ok: false, backup: null, error: errorText(error) })),
        summary: { ok: 0, failed: slugs.length },
      }));
      let pruned = 0;
      for (const slug of slugs) pruned += (await this.prune(cluster, slug).catch(() => ({ deleted: [] }))).deleted.length;
      const outcome = run.summary.failed
        ? `${run.summary.failed} of ${slugs.length} failed: ${run.results
            .filter((r) => !r.ok)
            .map((r) => `${r.slug}: ${r.error}`)
            .join('; ')}`
        : `ok (${run.summary.ok} backed up, ${pruned} pruned)`;
      await index.finishRun(s.scope, outcome);
      await this.opts.audit
        ?.record({
          actor,
          actorRole: 'operator',
          action: 'backups.schedule.run',
          target: `backups:${s.scope}`,
          params: { scope: s.scope, slot: slot.toISOString(), cron: s.cron },
          before: null,
          after: {
            ok: run.summary.ok,
            failed: run.summary.failed,
            pruned,
            verified: s.verify,
            results: run.results.map((r) => ({
              slug: r.slug,
              ok: r.ok,
              backup: r.backup?.id ?? null,
              verify: r.backup?.verification.state ?? null,
            })),
          },
          outcome: run.summary.failed ? 'failure' : 'success',
          errorCode: null,
          at: new Date().toISOString(),
          cluster: cluster.clusterId,
          consoleVersion: this.opts.consoleVersion,
        })
        .catch(() => undefined);
      out.push({ scope: s.scope, slot: slot.toISOString(), ok: run.summary.ok, failed: run.summary.failed });
    }
    return out;
  }

  /**
   * Restore drills: the newest scheduled backup of each tenant of a schedule that asks for
   * verification, if it was never verified (the CronJob cannot decrypt, so it leaves them
   * to an open console). At most `limit` per call, so a tick stays short.
   */
  async drill(cluster: ClusterRuntime, limit = 2, actor = 'gatehouse:drill'): Promise<BackupSummary[]> {
    if (this.opts.jobKey) return [];
    const index = await this.index(cluster);
    const schedules = (await index.schedules()).filter((s) => s.enabled);
    if (!schedules.some((s) => s.verify)) return [];
    const all = await index.all();
    // A tenant's own schedule replaces the all-tenants one, for the drill too.
    const covered = (tenant: string) =>
      (schedules.find((s) => s.scope === tenant) ?? schedules.find((s) => s.scope === '*'))?.verify === true;
    const newest = new Map<string, BackupSummary>();
    for (const b of all) if (b.reason === 'schedule' && covered(b.tenant) && !newest.has(b.tenant)) newest.set(b.tenant, b);
    const due = [...newest.values()].filter((b) => b.verification.state === 'never').slice(0, limit);
    const out: BackupSummary[] = [];
    for (const b of due) {
      const v = await this.verify(cluster, b.id, actor);
      out.push(v);
      await this.opts.audit
        ?.record({
          actor,
          actorRole: 'operator',
          action: 'backups.drill',
          target: `backup:${b.id}`,
          params: { tenant: b.tenant },
          before: { verification: 'never' },
          after: { verification: v.verification.state, message: v.verification.message },
          outcome: v.verification.state === 'passed' ? 'success' : 'failure',
          errorCode: null,
          at: new Date().toISOString(),
          cluster: cluster.clusterId,
          consoleVersion: this.opts.consoleVersion,
        })
        .catch(() => undefined);
    }
    return out;
  }

  async close(): Promise<void> {
    for (const { index } of this.indexes.values()) await index.close();
    this.indexes.clear();
    this.targets.close();
  }
}

/**
 * The ids and states of a tenant Secret's credential sets (JWT_KEYS, *_TOKENS: docs/secrets.md),
 * and the legacy JWT_CURRENT_KID/JWT_PREVIOUS_KID: what a restore needs to know, never a value.
 */
export function keyIdsOf(data: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(data)) {
    if (!raw.startsWith('{')) continue;
    try {
      const v = JSON.parse(raw) as { keys?: { kid?: string; alg?: string; state?: string }[]; tokens?: { id?: string; state?: string }[] };
      if (Array.isArray(v.keys)) out[name] = v.keys.map((k) => ({ kid: k.kid ?? null, alg: k.alg ?? null, state: k.state ?? null }));
      else if (Array.isArray(v.tokens)) out[name] = v.tokens.map((t) => ({ id: t.id ?? null, state: t.state ?? null }));
    } catch {
      // not a credential set
    }
  }
  if (data.JWT_CURRENT_KID) out.JWT_CURRENT_KID = data.JWT_CURRENT_KID;
  if (data.JWT_PREVIOUS_KID) out.JWT_PREVIOUS_KID = data.JWT_PREVIOUS_KID;
  return out;
}

const noDatabase = (cluster: ClusterRuntime) =>
  new ContractError(
    'UNAVAILABLE',
    `The profile of "${cluster.contextName}" has no database connection. Set its PostgreSQL admin connection (Clusters → Profile).`,
  );

export function readmeText(m: Manifest): string {
  return `Gatehouse backup ${m.id} of tenant ${m.tenant.slug} (${m.tenant.name})
Cluster ${m.cluster.name} (${m.cluster.id}), taken ${m.createdAt} by ${m.takenBy.actor} (${m.takenBy.reason}).
PostgreSQL ${m.postgres.serverVersion}; tenant schema version ${m.schemaVersion}; ${m.tables.length} tables, ${m.totals.rows} rows.

Every *.age file is encrypted with age (https://age-encryption.org) to the cluster's
backup key; the escrow file of that key is an age identity file. To restore without
Gatehouse (PostgreSQL client tools and the age CLI):

  createdb -T template0 -E ${m.postgres.encoding} restored_${m.tenant.database}
  age -d -i KEYFILE schema.sql.age    | psql -v ON_ERROR_STOP=1 -d restored_${m.tenant.database}
${m.tables.map((t) => `  age -d -i KEYFILE ${t.file} | psql -v ON_ERROR_STOP=1 -d restored_${m.tenant.database} -c "COPY ${t.schema}.${t.name} (${t.columns.join(', ')}) FROM STDIN"`).join('\n')}
  age -d -i KEYFILE sequences.sql.age | psql -v ON_ERROR_STOP=1 -d restored_${m.tenant.database}
  age -d -i KEYFILE post-data.sql.age | psql -v ON_ERROR_STOP=1 -d restored_${m.tenant.database}

manifest.json lists the sha256 of every stored file (sha256sum) and, per table, the
${
  m.format === 'gatehouse-backup/1'
    ? 'row count and the sha256 of its COPY text (age -d … | sha256sum).'
    : `row count and its content checksum: the sha256 of the Poly1305 tags of the table file's
age chunks (tagsSha256). age -d checks every chunk's tag while it decrypts, so a file that
decrypts is the COPY text that was dumped.`
}
kubernetes.json.age holds the tenant's Secret metadata and key ids (never values), its
registry entry and worker configuration.
`;
}
