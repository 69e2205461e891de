import crypto from 'node:crypto';
import { z } from 'zod';
import { ContractError } from '../../../src-shared/contract';
import { BackupReason } from '../../../src-shared/contract/backups';

/**
 * The manifest of one backup (docs/backups.md, "Format"). Plain JSON next to the
 * encrypted files, so an operator can read what a backup holds without Gatehouse;
 * it holds names, counts and digests, never a value from the tenant's tables or
 * Secret. `manifest.mac` authenticates it (HMAC-SHA256 with the cluster's backup
 * authentication key): the age recipient is public, so without the MAC anyone who
 * can write to the bucket could plant a "backup" whose SQL the console would replay.
 */
export const BACKUP_FORMAT = 'gatehouse-backup/2';
/**
 * Formats a console reads. /1 (until December 2026) checksummed a table's content with the
 * sha256 of its COPY text; /2 with the sha256 of its file's Poly1305 tags (tagsSha256), which
 * sealing computes anyway: one pass over every byte less per backup.
 */
export const BACKUP_FORMATS = ['gatehouse-backup/1', BACKUP_FORMAT] as const;
export const MANIFEST = 'manifest.json';
export const MANIFEST_MAC = 'manifest.mac';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const FileName = z.string().regex(/^(?:[a-z0-9-]+\.(?:sql|json)\.age|data\/\d{4}\.copy\.age)$/);

export const ManifestFile = z.object({
  name: FileName,
  kind: z.enum(['pre-data', 'table-data', 'sequences', 'post-data', 'kubernetes']),
  /** Bytes stored (encrypted) and their sha256: what download, import and verify check first. */
  size: z.number().int().nonnegative(),
  sha256: Sha256,
  plainBytes: z.number().int().nonnegative(),
});

export const ManifestTable = z.object({
  schema: z.string().min(1).max(63),
  name: z.string().min(1).max(63),
  columns: z.array(z.string().min(1).max(63)),
  file: FileName,
  /**
   * Rows and the content checksum, both read in the backup's snapshot. /2: `tagsSha256`, the
   * sha256 of the Poly1305 tags of the file's age STREAM chunks, in order (a MAC of every
   * 64 KiB of COPY text under the file's key: a verify seals its read-back with that key
   * and compares). /1: `sha256`, the sha256 of the COPY text itself.
   */
  rows: z.number().int().nonnegative(),
  tagsSha256: Sha256.optional(),
  sha256: Sha256.optional(),
});

export const Manifest = z.object({
  format: z.enum(BACKUP_FORMATS),
  id: z.string().regex(/^\d{8}T\d{6}Z-[0-9a-f]{8}$/),
  tenant: z.object({ slug: z.string(), name: z.string(), tier: z.string(), database: z.string(), role: z.string() }),
  cluster: z.object({ id: z.string().min(1), name: z.string(), namespace: z.string() }),
  createdAt: z.string(),
  finishedAt: z.string(),
  takenBy: z.object({
    actor: z.string(),
    reason: BackupReason,
    note: z.string().nullable(),
    console: z.string(),
    consoleVersion: z.string(),
  }),
  postgres: z.object({
    serverVersion: z.string(),
    serverVersionNum: z.number().int(),
    pgDump: z.string(),
    encoding: z.string(),
    snapshot: z.string(),
  }),
  schemaVersion: z.number().int().nonnegative(),
  encryption: z.object({ format: z.literal('age-v1'), recipients: z.array(z.string()).min(1) }),
  tables: z.array(ManifestTable),
  sequences: z.number().int().nonnegative(),
  files: z.array(ManifestFile).min(1),
  totals: z.object({
    rows: z.number().int().nonnegative(),
    plainBytes: z.number().int().nonnegative(),
    storedBytes: z.number().int().nonnegative(),
  }),
});
export type Manifest = z.infer<typeof Manifest>;
export type ManifestFile = z.infer<typeof ManifestFile>;

/** Stable bytes: the MAC and the sha256 shown to operators are over exactly these. */
export const manifestBytes = (m: Manifest): Buffer => Buffer.from(`${JSON.stringify(m, null, 2)}\n`, 'utf8');

export const macOf = (key: Buffer, bytes: Buffer): string => crypto.createHmac('sha256', key).update(bytes).digest('hex');

/**
 * Parses and authenticates a manifest: a wrong or missing MAC, a foreign format or a
 * malformed document is refused with the reason. `keys` are the authentication keys
 * this console holds (its cluster's, and any imported from other sites).
 */
export function openManifest(bytes: Buffer, mac: string | null, keys: Buffer[]): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ContractError('VALIDATION', 'The backup manifest is not valid JSON: the backup is corrupted or truncated.', {
      reason: 'manifest-corrupt',
    });
  }
  const format = (raw as { format?: unknown } | null)?.format;
  if (!(BACKUP_FORMATS as readonly unknown[]).includes(format)) {
    throw new ContractError(
      'VALIDATION',
      `Not a Gatehouse backup of a known format (format ${JSON.stringify(format ?? null)}, expected ${BACKUP_FORMATS.join(' or ')}).`,
      { reason: 'manifest-format' },
    );
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) {
    throw new ContractError(
      'VALIDATION',
      `The backup manifest is malformed (${parsed.error.issues[0]?.path.join('.') ?? '?'}: ${parsed.error.issues[0]?.message ?? '?'}).`,
      { reason: 'manifest-corrupt' },
    );
  }
  const m = parsed.data;
  const macText = (mac ?? '').trim();
  if (!/^[0-9a-f]{64}$/.test(macText)) {
    throw new ContractError('VALIDATION', `Backup ${m.id} has no valid manifest.mac: it cannot be authenticated and is refused.`, {
      reason: 'manifest-mac-missing',
    });
  }
  const ok = keys.some((k) => crypto.timingSafeEqual(Buffer.from(macOf(k, bytes), 'hex'), Buffer.from(macText, 'hex')));
  if (!ok) {
    throw new ContractError(
      'VALIDATION',
      `Backup ${m.id} (tenant ${m.tenant.slug}, cluster ${m.cluster.name} ${m.cluster.id}) is not authenticated by a backup key of this console: either it was modified, or it comes from another cluster whose key was not imported (Backups → Key → Import).`,
      { reason: 'manifest-mac-mismatch', cluster: m.cluster.id },
    );
  }
  // Cross-checks that a consistent-looking but edited manifest would fail.
  const names = new Set(m.files.map((f) => f.name));
  if (names.size !== m.files.length)
    throw new ContractError('VALIDATION', `Backup ${m.id} lists a file twice.`, { reason: 'manifest-corrupt' });
  for (const t of m.tables) {
    if (!names.has(t.file))
      throw new ContractError('VALIDATION', `Backup ${m.id}: table ${t.schema}.${t.name} has no file.`, { reason: 'manifest-corrupt' });
    // Exactly the content checksum of its format: a verify must never find none to compare.
    const v1 = m.format === 'gatehouse-backup/1';
    if (v1 ? !t.sha256 || t.tagsSha256 : !t.tagsSha256 || t.sha256)
      throw new ContractError(
        'VALIDATION',
        `Backup ${m.id}: table ${t.schema}.${t.name} has no ${v1 ? 'sha256' : 'tagsSha256'} of its own format.`,
        {
          reason: 'manifest-corrupt',
        },
      );
  }
  return m;
}

/** `20261201T214500Z-1a2b3c4d`: sorts by time, unique enough to never collide. */
export function newBackupId(at = new Date()): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${crypto.randomBytes(4).toString('hex')}`;
}

export const backupPrefix = (slug: string, id: string): string => `${slug}/${id}`;
