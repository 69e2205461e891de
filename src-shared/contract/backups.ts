import { z } from 'zod';
import { command, event } from './define';
import { TenantName, TenantSlug } from './tenants';

/** Why a backup was taken; recorded in its manifest and the catalog. */
export const BackupReason = z.enum(['manual', 'schedule', 'before-delete', 'before-restore']);
export type BackupReason = z.infer<typeof BackupReason>;

export const BackupId = z
  .string()
  .regex(/^\d{8}T\d{6}Z-[0-9a-f]{8}$/, 'not a backup id (e.g. 20261201T214500Z-1a2b3c4d)')
  .meta({ examples: ['20261201T214500Z-1a2b3c4d'] });

export const VerificationState = z.enum(['never', 'passed', 'failed']);

export const BackupSummary = z.object({
  id: BackupId,
  tenant: z.string(),
  clusterId: z.string(),
  createdAt: z.string(),
  finishedAt: z.string(),
  reason: BackupReason,
  actor: z.string(),
  note: z.string().nullable(),
  /** Bytes stored (encrypted), rows and tables in the backup. */
  storedBytes: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
  tables: z.number().int().nonnegative(),
  schemaVersion: z.number().int(),
  postgresVersion: z.string(),
  /** sha256 of manifest.json: what an operator compares by hand. */
  manifestSha256: z.string(),
  /** Taken on another console/site and imported here. */
  imported: z.boolean(),
  verification: z.object({
    state: VerificationState,
    at: z.string().nullable(),
    by: z.string().nullable(),
    message: z.string().nullable(),
    durationMs: z.number().int().nullable(),
  }),
});
export type BackupSummary = z.infer<typeof BackupSummary>;

const S3Target = z
  .object({
    kind: z.literal('s3'),
    endpoint: z.url().max(500),
    region: z.string().min(1).max(64).default('us-east-1'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3–63 lowercase letters, digits, "." and "-"'),
    prefix: z
      .string()
      .max(200)
      .regex(/^(?:[A-Za-z0-9][A-Za-z0-9._-]*(?:\/[A-Za-z0-9][A-Za-z0-9._-]*)*)?$/, 'letters, digits, ".", "_", "-" separated by "/"')
      .default(''),
    forcePathStyle: z.boolean().default(true),
    accessKeyId: z.string().min(1).max(200),
  })
  .strict();
const DirectoryTarget = z
  .object({
    kind: z.literal('directory'),
    path: z
      .string()
      .min(1)
      .max(1000)
      .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p), 'an absolute path'),
  })
  .strict();
export const BackupTarget = z
  .discriminatedUnion('kind', [DirectoryTarget, S3Target])
  .meta({ examples: [{ kind: 'directory', path: '/var/backups/gatehouse' }] });
export type BackupTarget = z.infer<typeof BackupTarget>;

export const KeyState = z.enum(['none', 'needs-escrow', 'ready', 'missing-here']);

export const BackupsStatus = z.object({
  clusterId: z.string(),
  /** The context name the key replacement asks to be retyped. */
  clusterName: z.string(),
  /** Whether a backup can be taken right now; if not, `reason` says what to do. */
  configured: z.boolean(),
  reason: z.string().nullable(),
  target: z.object({ kind: z.enum(['directory', 's3']), description: z.string(), isDefault: z.boolean(), config: BackupTarget }),
  key: z.object({
    state: KeyState,
    /** The cluster's age recipient (public key), when known. */
    recipient: z.string().nullable(),
    escrowedAt: z.string().nullable(),
    /** Keys of other clusters this console can open backups of (imported). */
    imported: z.array(z.object({ recipient: z.string(), clusterId: z.string().nullable(), importedAt: z.string() })),
  }),
  pgTools: z.string().nullable(),
});

export const Retention = z
  .object({
    keepLast: z.number().int().min(1).max(1000).default(7),
    daily: z.number().int().min(0).max(366).default(7),
    weekly: z.number().int().min(0).max(520).default(4),
    monthly: z.number().int().min(0).max(240).default(6),
  })
  .strict();
export type Retention = z.infer<typeof Retention>;

/** Five-field cron (minute hour day-of-month month day-of-week), the syntax of a Kubernetes CronJob. */
export const CronExpression = z
  .string()
  .min(9)
  .max(100)
  .regex(/^[0-9*,/\- ]+$/, 'cron syntax: five fields of digits, "*", ",", "-", "/"')
  .meta({ examples: ['30 2 * * *'] });

export const BackupSchedule = z
  .object({
    /** A tenant's slug, or "*" for every tenant without a schedule of its own. */
    scope: z.union([TenantSlug, z.literal('*')]),
    enabled: z.boolean(),
    cron: CronExpression,
    retention: Retention,
    /** Restore drill: verify the newest backup by restoring it into a scratch database after each scheduled backup. */
    verify: z.boolean().default(true),
  })
  .strict();
export type BackupSchedule = z.infer<typeof BackupSchedule>;

export const ScheduleView = BackupSchedule.extend({
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
  lastRunAt: z.string().nullable(),
  lastOutcome: z.string().nullable(),
  nextRunAt: z.string().nullable(),
  /** The CronJob that runs it when no console is open. */
  cronJob: z.object({ name: z.string(), exists: z.boolean(), schedule: z.string().nullable(), note: z.string().nullable() }),
});

const TakeResult = z.object({
  slug: z.string(),
  ok: z.boolean(),
  backup: BackupSummary.nullable(),
  error: z.string().nullable(),
});

/** A multi-tenant backup run as the console that started it journaled it (interrupted: cut short, resumable). */
export const BackupRun = z.object({
  runId: z.string(),
  clusterId: z.string(),
  reason: BackupReason,
  actor: z.string(),
  note: z.string().nullable(),
  verify: z.boolean(),
  concurrency: z.number().int(),
  status: z.enum(['running', 'done', 'partial', 'interrupted']),
  createdAt: z.string(),
  updatedAt: z.string(),
  counts: z.object({ total: z.number().int(), done: z.number().int(), failed: z.number().int(), pending: z.number().int() }),
  failures: z.array(z.object({ slug: z.string(), error: z.string() })),
});
export type BackupRun = z.infer<typeof BackupRun>;

export const OverviewRow = z.object({
  tenant: z.string(),
  lastBackup: BackupSummary.nullable(),
  lastVerified: BackupSummary.nullable(),
  /** "failed" when the newest verify failed, "stale" when nothing was verified, "ok" otherwise. */
  health: z.enum(['failed', 'never', 'unverified', 'ok']),
  backups: z.number().int(),
  storedBytes: z.number().int(),
});

const ConfirmBackup = z.object({ backupId: BackupId, confirm: z.string() }).strict();
/** The suffix of a downloaded backup archive. */
export const ARCHIVE_SUFFIX = '.gatehouse-backup.tar';
/**
 * Where an archive is written or read: the desktop app's native dialog (the engine opens
 * it), or one file name inside an export root (browser mode). Never a path from the page.
 */
export const ArchiveLocation = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('dialog') }).strict(),
  z
    .object({
      kind: z.literal('folder'),
      root: z.string().min(1).max(64),
      name: z
        .string()
        .min(1)
        .max(160)
        .regex(/^[A-Za-z0-9][A-Za-z0-9._ -]*\.tar$/, 'one file name ending in .tar: letters, digits, . _ - and spaces, no slashes')
        .meta({ examples: ['acme-20261201.gatehouse-backup.tar'] }),
    })
    .strict(),
]);
export type ArchiveLocation = z.infer<typeof ArchiveLocation>;

export const ArchiveRoot = z.object({
  id: z.string(),
  path: z.string(),
  origin: z.enum(['builtin', 'admin']),
  /** Writing here needs admin (outside the data directory). */
  outsideDataDir: z.boolean(),
  archives: z.array(z.object({ name: z.string(), bytes: z.number().int(), modifiedAt: z.string() })),
});

export const backupsCommands = {
  'backups.status': command({
    summary: 'Whether backups are configured on the selected cluster (target, key, tools)',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: BackupsStatus,
  }),
  'backups.target.set': command({
    summary: 'Set where this cluster’s backups are stored (directory or S3-compatible bucket)',
    role: 'admin',
    mutating: true,
    input: z.object({ target: BackupTarget, secretAccessKey: z.string().min(1).max(500).optional() }).strict(),
    output: BackupsStatus,
  }),
  'backups.target.test': command({
    summary: 'Write, read back and delete a probe object in the backup target',
    role: 'operator',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({ ok: z.boolean(), description: z.string(), message: z.string() }),
  }),
  'backups.key.create': command({
    summary: 'Create this cluster’s backup key (age identity and authentication key) in the secret store',
    role: 'admin',
    mutating: true,
    input: z.object({}).strict(),
    output: BackupsStatus,
  }),
  'backups.key.replace': command({
    summary: 'Replace this cluster’s backup key (older backups keep needing the old key file)',
    role: 'admin',
    mutating: true,
    confirmField: 'clusterName',
    input: z.object({ clusterName: z.string().min(1).max(253), confirm: z.string() }).strict(),
    output: BackupsStatus,
  }),
  'backups.key.export': command({
    summary: 'Export the backup key for escrow (shown once per request; audited)',
    role: 'admin',
    mutating: true,
    input: z.object({}).strict(),
    output: z.object({ fileName: z.string(), content: z.string(), recipient: z.string() }),
  }),
  'backups.key.confirmEscrow': command({
    summary: 'Confirm the exported backup key was stored safely (by its check code)',
    role: 'admin',
    mutating: true,
    input: z.object({ checkCode: z.string().min(1).max(40) }).strict(),
    output: BackupsStatus,
  }),
  'backups.key.import': command({
    summary: 'Import a backup key file (this cluster’s on another console, or another site’s for a transfer)',
    role: 'admin',
    mutating: true,
    input: z
      .object({
        content: z
          .string()
          .min(20)
          .max(10_000)
          .meta({ examples: ['# gatehouse-auth-key: …\nAGE-SECRET-KEY-1…'] }),
      })
      .strict(),
    output: BackupsStatus,
  }),
  'backups.list': command({
    tenant: 'slug',
    summary: 'Backups of one tenant, newest first, with verification state',
    role: 'viewer',
    mutating: false,
    input: z.object({ slug: TenantSlug }).strict(),
    output: z.object({ backups: z.array(BackupSummary), fromCache: z.boolean() }),
  }),
  'backups.overview': command({
    fleet: true,
    summary: 'Every tenant’s last backup and last verified restore, failures first',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({ rows: z.array(OverviewRow), fromCache: z.boolean(), at: z.string() }),
  }),
  'backups.take': command({
    tenant: (i: { slug?: string | undefined; all?: boolean | undefined }) => (i.slug ? [i.slug] : 'fleet'),
    summary: 'Take a backup of one tenant, or of all tenants with a concurrency limit',
    role: 'operator',
    mutating: true,
    input: z
      .object({
        slug: TenantSlug.optional(),
        all: z.boolean().default(false),
        concurrency: z.number().int().min(1).max(16).default(2),
        verify: z.boolean().default(false),
        note: z.string().max(500).optional(),
      })
      .strict()
      .refine((v) => v.all !== (v.slug !== undefined), 'give either a slug or all: true'),
    output: z.object({
      operationId: z.string(),
      results: z.array(TakeResult),
      summary: z.object({ ok: z.number().int(), failed: z.number().int() }),
    }),
  }),
  'backups.runs': command({
    summary: "This console's recent multi-tenant backup runs on this cluster (interrupted ones can be resumed)",
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({ runs: z.array(BackupRun) }),
  }),
  'backups.runs.resume': command({
    summary: 'Resume a backup run for the tenants it did not finish (interrupted or failed ones)',
    role: 'operator',
    mutating: true,
    input: z.object({ runId: z.string().min(1).max(100) }).strict(),
    output: z.object({
      operationId: z.string(),
      results: z.array(TakeResult),
      summary: z.object({ ok: z.number().int(), failed: z.number().int() }),
    }),
  }),
  'backups.verify': command({
    summary: 'Verify a backup by restoring it into a scratch database and comparing it with its manifest',
    role: 'operator',
    mutating: true,
    input: z.object({ backupId: BackupId }).strict(),
    output: BackupSummary,
  }),
  'backups.restore.clone': command({
    tenant: 'slug',
    summary: 'Restore a backup into a new tenant (new slug, new credentials)',
    role: 'operator',
    mutating: true,
    input: z.object({ backupId: BackupId, slug: TenantSlug, name: TenantName.optional() }).strict(),
    output: z.object({
      operationId: z.string(),
      slug: z.string(),
      steps: z.array(z.object({ name: z.string(), status: z.string(), error: z.string().nullable() })),
      notices: z.array(z.string()),
    }),
  }),
  'backups.restore.inPlace': command({
    tenant: 'slug',
    summary: 'Restore a backup over its tenant (suspended meanwhile, safety backup first, credentials kept)',
    role: 'admin',
    mutating: true,
    confirmField: 'slug',
    input: z.object({ backupId: BackupId, slug: TenantSlug, confirm: z.string() }).strict(),
    output: z.object({
      operationId: z.string(),
      slug: z.string(),
      safetyBackupId: z.string().nullable(),
      steps: z.array(z.object({ name: z.string(), status: z.string(), error: z.string().nullable() })),
      notices: z.array(z.string()),
    }),
  }),
  'backups.archives': command({
    summary:
      'Where archives can be downloaded to or imported from: the export roots and the archives in them, and whether a native dialog exists',
    role: 'operator',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ roots: z.array(ArchiveRoot), dialog: z.boolean() }),
  }),
  'backups.download': command({
    summary: 'Write a backup (still encrypted, with its manifest) to a local tar file',
    role: 'operator',
    mutating: true,
    input: z.object({ backupId: BackupId, destination: ArchiveLocation }).strict(),
    /** written: false when the operator cancelled the dialog. */
    output: z.object({ written: z.boolean(), path: z.string(), bytes: z.number().int(), manifestSha256: z.string() }),
  }),
  'backups.import': command({
    summary: 'Import a backup file: checked, stored and verified by a restore before it is listed',
    role: 'operator',
    mutating: true,
    input: z.object({ source: ArchiveLocation }).strict(),
    /** null when the operator cancelled the dialog. */
    output: BackupSummary.nullable(),
  }),
  'backups.delete': command({
    summary: 'Delete one backup from storage and the catalog',
    role: 'admin',
    mutating: true,
    confirmField: 'backupId',
    input: ConfirmBackup,
    output: z.object({ deleted: z.string() }),
  }),
  'backups.prune': command({
    tenant: 'slug',
    summary: 'Apply the retention policy now (never deletes the newest verified backup)',
    role: 'operator',
    mutating: true,
    input: z.object({ slug: TenantSlug.optional() }).strict(),
    output: z.object({ deleted: z.array(z.object({ tenant: z.string(), id: z.string() })), kept: z.number().int() }),
  }),
  'backups.rescan': command({
    summary: 'Rebuild the catalog index from the manifests in storage',
    role: 'operator',
    mutating: true,
    input: z.object({}).strict(),
    output: z.object({
      found: z.number().int(),
      added: z.number().int(),
      refused: z.array(z.object({ key: z.string(), reason: z.string() })),
    }),
  }),
  'backups.schedules.list': command({
    summary: 'Backup schedules of the cluster and their CronJobs',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({ schedules: z.array(ScheduleView), image: z.string() }),
  }),
  'backups.schedules.set': command({
    summary: 'Create or change a backup schedule (and its CronJob)',
    role: 'admin',
    mutating: true,
    input: BackupSchedule,
    output: ScheduleView,
  }),
  'backups.schedules.remove': command({
    summary: 'Remove a backup schedule and its CronJob',
    role: 'admin',
    mutating: true,
    input: z.object({ scope: z.union([TenantSlug, z.literal('*')]) }).strict(),
    output: z.object({ removed: z.string() }),
  }),
};

export const backupsEvents = {
  'backups.changed': event({
    role: 'viewer',
    summary: 'The backup catalog of a cluster changed (a backup taken, verified, deleted)',
    payload: z.object({ clusterId: z.string(), tenant: z.string().nullable() }),
  }),
};
