import { z } from 'zod';
import { command, event } from './define';
import { RoleSchema } from './system';

export const AuditOutcomeSchema = z.enum(['success', 'failure', 'denied', 'invalid']);

/**
 * One entry of the shared, hash-chained audit log. The canonical JSON (RFC 8785)
 * of every field but `hash` is what is hashed: hash = SHA-256(prev_hash bytes || canonical).
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
  cluster: z.string().nullable(),
  console_version: z.string(),
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** `cluster` = the copy pulled from the shared log; `bundle:<id>` = an imported bundle. */
export const AuditSource = z.string().regex(/^(cluster|bundle:[A-Za-z0-9_-]{1,64})$/, 'use "cluster" or "bundle:<id>"');

export const AuditProblem = z.enum([
  'hash-mismatch',
  'broken-link',
  'missing-entry',
  'unexpected-entry',
  'malformed-entry',
  'checkpoint-mismatch',
  'checkpoint-signature',
  'checkpoint-unknown-signer',
]);

export const VerifyReport = z.object({
  source: z.string(),
  ok: z.boolean(),
  checked: z.number().int().nonnegative(),
  checkpointsChecked: z.number().int().nonnegative(),
  /** The first entry that is wrong (edited, out of place) or the first seq that is missing. */
  firstBadSeq: z.number().int().nullable(),
  problem: AuditProblem.nullable(),
  message: z.string(),
  headHash: z.string().nullable(),
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

export const AuditStatus = z.object({
  sharedStore: z.enum(['connected', 'unreachable', 'not-configured']),
  /** Entries recorded on this console not yet in the shared log. */
  pendingOutbox: z.number().int().nonnegative(),
  oldestPendingAt: z.string().nullable(),
  lastFlushError: z.string().nullable(),
  localCopyCount: z.number().int().nonnegative(),
  lastSyncAt: z.string().nullable(),
  lastVerification: VerifyReport.nullable(),
  signer: z.object({ name: z.string(), vkey: z.string() }),
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
  file: z.string(),
});

export const auditCommands = {
  'audit.status': command({
    summary: 'State of the audit log: outbox, shared store, last verification',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: AuditStatus,
  }),
  'audit.query': command({
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
    summary: 'Check the hash chain and the signed checkpoints',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({ source: AuditSource.default('cluster') }).strict(),
    output: VerifyReport,
  }),
  'audit.export': command({
    summary: 'Write a signed audit bundle (JSONL + manifest) for a time range or everything',
    role: 'viewer',
    mutating: true,
    offline: true,
    input: z
      .object({
        /** Directory to create; it must not exist yet. */
        path: z.string().min(1).max(1000),
        from: z.iso.datetime({ offset: true }).optional(),
        to: z.iso.datetime({ offset: true }).optional(),
      })
      .strict(),
    output: z.object({
      path: z.string(),
      count: z.number().int(),
      firstSeq: z.number().int().nullable(),
      lastSeq: z.number().int().nullable(),
    }),
  }),
  'audit.import': command({
    summary: 'Open an audit bundle for offline review after verifying it',
    role: 'viewer',
    mutating: true,
    offline: true,
    input: z
      .object({
        path: z.string().min(1).max(1000),
        /** Signer key (vkey) the operator got out of band, when this console does not know it yet. */
        trustSigner: z.string().max(400).optional(),
      })
      .strict(),
    output: BundleInfo,
  }),
  'audit.bundles': command({
    summary: 'Imported audit bundles',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ bundles: z.array(BundleInfo) }),
  }),
  'audit.sync': command({
    summary: 'Pull the shared audit log into the local review copy',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({ pulled: z.number().int(), localCopyCount: z.number().int(), flushed: z.number().int() }),
  }),
  'audit.signers': command({
    summary: 'Signing keys this console trusts (its own installation key first)',
    role: 'viewer',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ signers: z.array(z.object({ name: z.string(), vkey: z.string(), own: z.boolean(), since: z.string() })) }),
  }),
};

export const auditEvents = {
  'audit.changed': event({
    role: 'viewer',
    summary: 'The local copy or the outbox changed (new entries, a sync, a verification)',
    payload: z.object({ pendingOutbox: z.number().int(), localCopyCount: z.number().int() }),
  }),
};
