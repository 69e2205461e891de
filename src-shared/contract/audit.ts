import { z } from 'zod';
import { command, event } from './define';
import { RoleSchema } from './system';

export const AuditOutcomeSchema = z.enum(['success', 'failure', 'denied', 'invalid']);

/**
 * One entry of a hash-chained audit log. The canonical JSON (RFC 8785) of every field
 * but `hash` is what is hashed: hash = SHA-256(prev_hash bytes || canonical).
 */
export const AuditEntry = z.object({
  seq: z.number().int().positive(),
  prev_hash: z.string(),
  actor: z.string(),
  role: RoleSchema,
  action: z.string(),
  target: z.string().nullable(),
  params: z.unknown(),
  before: z.unknown(),
  after: z.unknown(),
  outcome: AuditOutcomeSchema,
  error_code: z.string().nullable(),
  at: z.string(),
  /** The cluster (its kube-system namespace UID); null for workstation actions. */
  cluster: z.string().nullable(),
  console_version: z.string(),
  /** Present when the actor acted through an API token: the human owner is `actor`. */
  via: z.object({ kind: z.literal('token'), token_id: z.string(), token_name: z.string() }).optional(),
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/**
 * Where entries are read from:
 * - `cluster`: the shared log of the cluster this session works on (resolved by the engine);
 * - `cluster:<uid>`: the local copy of a given cluster's shared log;
 * - `workstation`: this workstation's own log (sign-in, local settings: actions with no cluster);
 * - `archive:<id>`: a copy kept as evidence when a shared log changed under this console;
 * - `bundle:<id>`: an imported bundle.
 */
export const AuditSource = z
  .string()
  .max(400)
  .regex(
    /^(cluster|workstation|cluster:[^\s]{1,380}|archive:[A-Za-z0-9_-]{1,64}|bundle:[A-Za-z0-9_-]{1,64})$/,
    'use "cluster", "cluster:<uid>", "workstation", "archive:<id>" or "bundle:<id>"',
  );

export const AuditProblem = z.enum([
  // the chain itself
  'hash-mismatch',
  'broken-link',
  'missing-entry',
  'unexpected-entry',
  'malformed-entry',
  // checkpoints
  'checkpoint-mismatch',
  'checkpoint-signature',
  'checkpoint-unknown-signer',
  'checkpoint-disagrees',
  'checkpoints-missing',
  // the witness: what this console saw before
  'log-truncated',
  'entry-rewritten',
  'log-id-changed',
  // the database's own protection
  'protection-changed',
  // policy
  'no-trusted-checkpoint',
  'stale-checkpoint',
  // a place checkpoints are published could not be read
  'witness-unreadable',
]);
export type AuditProblem = z.infer<typeof AuditProblem>;

export const AuditFinding = z.object({
  kind: AuditProblem,
  /** alarm: the log is not what it must be; warning: it cannot be vouched for; info: worth knowing. */
  severity: z.enum(['alarm', 'warning', 'info']),
  message: z.string(),
  seq: z.number().int().nullable(),
  range: z.object({ from: z.number().int(), to: z.number().int() }).nullable(),
  /** Which store or publication disagrees (database, Kubernetes ConfigMap, this console's witness, a bundle). */
  where: z.string().nullable(),
});
export type AuditFinding = z.infer<typeof AuditFinding>;

export const VerifyReport = z.object({
  source: z.string(),
  /** verified: intact, consistent with every witness, policy met; unverifiable: intact but not vouched for; tampered: something is wrong. */
  state: z.enum(['verified', 'unverifiable', 'tampered']),
  ok: z.boolean(),
  checked: z.number().int().nonnegative(),
  /** Trusted checkpoints that matched the entries. */
  checkpointsChecked: z.number().int().nonnegative(),
  /** The first entry that is wrong (edited, out of place) or the first seq that is missing. */
  firstBadSeq: z.number().int().nullable(),
  /** Entries that are gone (deleted from the end, or a hole). */
  missingRange: z.object({ from: z.number().int(), to: z.number().int() }).nullable(),
  problem: AuditProblem.nullable(),
  message: z.string(),
  headSeq: z.number().int().nullable(),
  headHash: z.string().nullable(),
  /** The newest checkpoint signed by an enrolled key that matched. */
  trustedCheckpoint: z.object({ size: z.number().int(), signers: z.array(z.string()) }).nullable(),
  findings: z.array(AuditFinding),
  checkedAt: z.string(),
  /** Where the entries were read: the shared PostgreSQL log or the local copy. */
  readFrom: z.enum(['shared', 'local']),
});
export type VerifyReport = z.infer<typeof VerifyReport>;

export const AuditFilter = z
  .object({
    source: AuditSource.default('cluster'),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    actor: z.string().max(200).optional(),
    action: z.string().max(200).optional(),
    /** Prefix match on the target ("tenant/acme" matches "tenant/acme/secret"). */
    target: z.string().max(300).optional(),
    tenant: z.string().max(100).optional(),
    outcome: AuditOutcomeSchema.optional(),
    /** Full-text search (SQLite FTS5 syntax: words, "phrases", prefix*). */
    text: z.string().max(300).optional(),
  })
  .strict();

export const AuditQueryInput = AuditFilter.extend({
  /** Keyset cursor: the `nextCursor` of the previous page (opaque; null or absent for the first page). */
  cursor: z.number().int().nullable().optional(),
  limit: z.number().int().min(1).max(1000).default(200),
  order: z.enum(['newest', 'oldest']).default('newest'),
  /** Count the matching entries too (one extra query; the table uses it for its scrollbar). */
  withTotal: z.boolean().default(false),
}).strict();

export const AuditAlarm = z.object({
  id: z.number().int(),
  cluster: z.string().nullable(),
  logId: z.string().nullable(),
  kind: AuditProblem,
  message: z.string(),
  seq: z.number().int().nullable(),
  raisedAt: z.string(),
  /** The copy kept as evidence (an `archive:<id>` source), when one was kept. */
  evidence: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  resolvedBy: z.string().nullable(),
  resolution: z.string().nullable(),
});
export type AuditAlarm = z.infer<typeof AuditAlarm>;

export const AuditSourceInfo = z.object({
  source: z.string(),
  kind: z.enum(['cluster', 'workstation', 'archive', 'bundle']),
  label: z.string(),
  count: z.number().int().nonnegative(),
});

export const OutboxLane = z.object({
  cluster: z.string(),
  pending: z.number().int().nonnegative(),
  oldestAt: z.string().nullable(),
  lastError: z.string().nullable(),
  /** Why this cluster's records wait even when its database answers (an open alarm), if they do. */
  heldBecause: z.string().nullable(),
});

export const AuditStatus = z.object({
  /** The cluster this session works on (its UID), or null. */
  cluster: z.string().nullable(),
  /** The source that shows this cluster's log (`cluster:<uid>`), or null. */
  clusterSource: z.string().nullable(),
  sharedStore: z.enum(['connected', 'unreachable', 'not-configured', 'held']),
  /** Entries of this session's cluster recorded on this console, not yet in its shared log. */
  pendingOutbox: z.number().int().nonnegative(),
  oldestPendingAt: z.string().nullable(),
  lastFlushError: z.string().nullable(),
  /** Every cluster with records waiting (records are only ever flushed into their own cluster's log). */
  outbox: z.array(OutboxLane),
  localCopyCount: z.number().int().nonnegative(),
  lastSyncAt: z.string().nullable(),
  lastVerification: VerifyReport.nullable(),
  /** What this console last witnessed of the cluster's log. */
  witness: z
    .object({
      logId: z.string(),
      seq: z.number().int(),
      head: z.string(),
      checkpointSize: z.number().int().nullable(),
      updatedAt: z.string(),
    })
    .nullable(),
  /** Where checkpoints were last published outside the database, and how that went. */
  publication: z.object({ where: z.string(), ok: z.boolean(), message: z.string(), at: z.string() }).nullable(),
  /** The checkpoint file an admin set for this cluster (a folder outside the database owner's reach), and its last publication. */
  witnessFile: z
    .object({
      rootId: z.string(),
      folder: z.string(),
      file: z.string().nullable(),
      publication: z.object({ where: z.string(), ok: z.boolean(), message: z.string(), at: z.string() }).nullable(),
    })
    .nullable(),
  alarms: z.array(AuditAlarm),
  signer: z.object({ name: z.string(), vkey: z.string(), fingerprint: z.string() }),
  enrolledSigners: z.number().int().nonnegative(),
  /** Who is enrolled here (their checkpoints count), this installation first. */
  enrolled: z.array(z.object({ name: z.string(), fingerprint: z.string(), own: z.boolean() })),
  policy: z.object({ maxEntriesWithoutCheckpoint: z.number().int(), maxCheckpointAgeHours: z.number() }),
  sources: z.array(AuditSourceInfo),
});

export const BundleInfo = z.object({
  id: z.string(),
  importedAt: z.string(),
  origin: z.string(),
  count: z.number().int().nonnegative(),
  firstSeq: z.number().int().nullable(),
  lastSeq: z.number().int().nullable(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  signer: z.string(),
  signerFingerprint: z.string(),
  /** How the bundle's signer was trusted: enrolled here, or by the fingerprint given at import. */
  trustedBy: z.enum(['enrolled', 'fingerprint']),
  file: z.string(),
});

/**
 * Where a bundle is written or read. `dialog`: the desktop app's native dialog (the engine
 * opens it; the path never comes from the page). `folder`: a folder inside one of the
 * export roots (browser mode), by root id and a single folder name.
 */
export const BundleLocation = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('dialog') }).strict(),
  z
    .object({
      kind: z.literal('folder'),
      root: z.string().min(1).max(64),
      name: z
        .string()
        .min(1)
        .max(120)
        .regex(/^[A-Za-z0-9][A-Za-z0-9._ -]*$/, 'one folder name: letters, digits, . _ - and spaces, no slashes'),
    })
    .strict(),
]);

export const ExportRoot = z.object({
  id: z.string(),
  path: z.string(),
  /** builtin: <data dir>/exports; admin: added by an admin. */
  origin: z.enum(['builtin', 'admin']),
  /** Folders in it that hold a bundle (manifest.json), newest first. */
  bundles: z.array(z.object({ name: z.string(), modifiedAt: z.string() })),
  /** Writing here leaves the data directory: needs admin. */
  outsideDataDir: z.boolean(),
});

const SignerView = z.object({ name: z.string(), vkey: z.string(), fingerprint: z.string() });

export const auditCommands = {
  'audit.status': command({
    summary: 'State of the audit log: verification, witness, alarms, outbox, shared store',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: AuditStatus,
  }),
  'audit.query': command({
    tenant: (i: { tenant?: string | undefined }) => (i.tenant ? [i.tenant] : 'fleet'),
    summary: 'Page through audit entries with filters and full-text search',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: AuditQueryInput,
    output: z.object({ entries: z.array(AuditEntry), nextCursor: z.number().int().nullable(), total: z.number().int().nullable() }),
  }),
  'audit.get': command({
    summary: 'One audit entry',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({ source: AuditSource.default('cluster'), seq: z.number().int().positive() }).strict(),
    output: z.object({ entry: AuditEntry, canonical: z.string(), hashValid: z.boolean(), linkValid: z.boolean().nullable() }),
  }),
  'audit.verify': command({
    summary: 'Check the hash chain, the witness and every published checkpoint',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({ source: AuditSource.default('cluster') }).strict(),
    output: VerifyReport,
  }),
  'audit.export': command({
    summary: 'Write a signed audit bundle (JSONL + manifest + checkpoints) for a time range or everything',
    role: 'viewer',
    mutating: true,
    offline: true,
    input: z
      .object({
        source: AuditSource.default('cluster'),
        destination: BundleLocation,
        from: z.iso.datetime({ offset: true }).optional(),
        to: z.iso.datetime({ offset: true }).optional(),
      })
      .strict(),
    output: z.object({
      path: z.string(),
      count: z.number().int(),
      firstSeq: z.number().int().nullable(),
      lastSeq: z.number().int().nullable(),
      /** False when the dialog was cancelled (nothing written). */
      written: z.boolean(),
    }),
  }),
  'audit.import': command({
    summary: 'Open an audit bundle for offline review after verifying it',
    role: 'viewer',
    mutating: true,
    offline: true,
    input: z
      .object({
        location: BundleLocation,
        /** Fingerprint of the bundle's signer, received out of band, when the signer is not enrolled here (admin only). */
        trustFingerprint: z.string().max(100).optional(),
      })
      .strict(),
    output: BundleInfo.nullable(),
  }),
  'audit.bundles': command({
    summary: 'Imported audit bundles',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ bundles: z.array(BundleInfo) }),
  }),
  'audit.folders': command({
    summary: 'Export roots (folders bundles may be written to or read from in browser mode) and the bundles in them',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ roots: z.array(ExportRoot), dialog: z.boolean() }),
  }),
  'audit.folders.set': command({
    summary: 'Set the extra export roots (absolute folders on the machine running the engine)',
    role: 'admin',
    mutating: true,
    offline: true,
    input: z.object({ roots: z.array(z.string().min(1).max(1000)).max(20) }).strict(),
    output: z.object({ roots: z.array(ExportRoot), dialog: z.boolean() }),
  }),
  'audit.witnessFile.set': command({
    summary: "Also publish this cluster's signed checkpoints to a file in an admin-added export folder (a mounted share); null stops",
    role: 'admin',
    mutating: true,
    input: z.object({ root: z.string().min(1).max(100).nullable() }).strict(),
    output: z.object({ folder: z.string().nullable(), published: z.number().int().nonnegative() }),
  }),
  'audit.sync': command({
    summary: "Flush the outbox, prove the cluster's shared log extends what this console saw, pull it into the local copy",
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({
      pulled: z.number().int(),
      localCopyCount: z.number().int(),
      flushed: z.number().int(),
      /** False when the log is not an append-only extension of what this console saw (see alarms). */
      consistent: z.boolean(),
      message: z.string(),
    }),
  }),
  'audit.signers': command({
    summary: 'Signers: this installation, the enrolled ones, and keys seen in shared logs that nobody enrolled',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({
      own: SignerView,
      enrolled: z.array(
        SignerView.extend({ own: z.boolean(), enrolledBy: z.string(), enrolledAt: z.string(), via: z.enum(['own', 'admin', 'endorsed']) }),
      ),
      unenrolled: z.array(SignerView.extend({ seenIn: z.string() })),
    }),
  }),
  'audit.signers.enroll': command({
    summary: "Trust another console's checkpoint key after comparing its fingerprint out of band",
    role: 'admin',
    mutating: true,
    offline: true,
    input: z.object({ vkey: z.string().min(1).max(400), fingerprint: z.string().min(1).max(100) }).strict(),
    output: SignerView.extend({ enrolledAt: z.string() }),
  }),
  'audit.signers.remove': command({
    summary: 'Stop trusting an enrolled signer',
    role: 'admin',
    mutating: true,
    offline: true,
    confirmField: 'name',
    input: z.object({ name: z.string().min(1).max(200), confirm: z.string().max(200) }).strict(),
    output: z.object({ removed: z.string() }),
  }),
  'audit.alarms.resolve': command({
    summary: 'Close an audit alarm; "accept" also makes the shared log as it is now the one this console witnesses',
    role: 'admin',
    mutating: true,
    offline: true,
    input: z.object({ id: z.number().int().positive(), accept: z.boolean(), note: z.string().min(1).max(1000) }).strict(),
    output: AuditAlarm,
  }),
};

export const auditEvents = {
  'audit.changed': event({
    role: 'viewer',
    summary: 'The local copy, the outbox, the witness or the alarms changed',
    payload: z.object({ pendingOutbox: z.number().int(), localCopyCount: z.number().int() }),
  }),
};
