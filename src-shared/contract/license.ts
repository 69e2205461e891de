import { z } from 'zod';
import { command } from './define';

/** License management: offline verification, fan-out to tenants, allocations, renewal (docs/license.md). */

const Slug = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a tenant slug');
/** The engine enforces the real 64 KiB limit itself so oversize files get LICENSE_INVALID/TOO_LARGE, not VALIDATION. */
const LicenseText = z
  .string()
  .min(1)
  .max(1024 * 1024);
/** Files are sent as base64 of their bytes so the engine can refuse non-UTF-8 content precisely. */
const Encoding = z.enum(['text', 'base64']).default('text');

export const LicenseStateSchema = z.enum(['none', 'valid', 'expiring', 'grace', 'expired', 'invalid']);
export const TierName = z.enum(['FREE', 'DEV', 'PRO', 'Enterprise']);
const Limits = z.object({ tenants: z.number().int(), users: z.number().int() });

export const LicenseSummary = z.object({
  lid: z.string(),
  customer: z.string(),
  tier: TierName,
  issuedAt: z.string(),
  notBefore: z.string(),
  expiresAt: z.string(),
  graceDays: z.number().int(),
  graceEndsAt: z.string(),
  expiryStrategy: z.object({ afterGrace: z.enum(['free-tier', 'freeze']), stops: z.array(z.string()), keeps: z.array(z.string()) }),
  limits: Limits,
  features: z.array(z.string()),
  renewalUrl: z.string().nullable(),
  clusterUid: z.string().nullable(),
  issuerKid: z.string(),
  /** 'test' only in development mode: signed by the test keys. */
  trust: z.enum(['pinned', 'test']),
});
export type LicenseSummary = z.infer<typeof LicenseSummary>;

export const FanoutResult = z.object({
  operationId: z.string(),
  kind: z.string(),
  status: z.enum(['done', 'partial']),
  total: z.number().int(),
  written: z.number().int(),
  skipped: z.number().int(),
  failed: z.array(z.object({ slug: z.string(), error: z.string() })),
});

export const LaggingTenant = z.object({
  slug: z.string(),
  /** license: carries another (or no) license; cap: user cap differs. */
  reason: z.enum(['license', 'cap']),
  expectedCap: z.number().int(),
  actualCap: z.number().int().nullable(),
});

export const LicenseStatus = z.object({
  state: LicenseStateSchema,
  expiringWithin: z.union([z.literal(30), z.literal(7), z.literal(1)]).nullable(),
  secondsToExpiry: z.number().int().nullable(),
  license: LicenseSummary.nullable(),
  invalid: z.object({ reason: z.string(), message: z.string() }).nullable(),
  effective: z.object({ tier: TierName, limits: Limits, features: z.array(z.string()), freeTier: z.boolean(), frozen: z.boolean() }),
  freeTier: z.object({ tenants: z.number().int(), users: z.number().int(), usersPerTenant: z.number().int() }),
  tenants: z.object({ total: z.number().int().nullable(), overLimit: z.boolean(), lagging: z.array(LaggingTenant) }),
  lastFanout: z
    .object({
      operationId: z.string(),
      kind: z.string(),
      status: z.enum(['running', 'done', 'partial']),
      total: z.number().int(),
      startedAt: z.string(),
      finishedAt: z.string().nullable(),
    })
    .nullable(),
  revocations: z.object({ seq: z.number().int(), importedAt: z.string() }).nullable(),
  developmentMode: z.boolean(),
  trustsTestKeys: z.boolean(),
  /** 'cache' when the cluster could not be read: figures are from the last sync. */
  source: z.enum(['cluster', 'cache']),
  syncedAt: z.string().nullable(),
  clusterUid: z.string().nullable(),
});
export type LicenseStatus = z.infer<typeof LicenseStatus>;

export const AllocationRow = z.object({
  slug: z.string(),
  /** Explicit cap, or null when the tenant shares what is left. */
  cap: z.number().int().nullable(),
  effectiveCap: z.number().int(),
  users: z.number().int().nullable(),
  percent: z.number().nullable(),
  warning: z.union([z.literal(80), z.literal(95), z.literal(100)]).nullable(),
});
export const Allocations = z.object({
  licenseUsers: z.number().int().nullable(),
  allocated: z.number().int(),
  unallocated: z.number().int().nullable(),
  tenants: z.array(AllocationRow),
});
export type Allocations = z.infer<typeof Allocations>;

export const HistoryEntrySchema = z.object({
  at: z.string(),
  action: z.enum(['activate', 'renew-online', 'renew-import', 'clear', 'allocations', 'revocations']),
  actor: z.string(),
  lid: z.string().nullable(),
  customer: z.string().nullable(),
  tier: z.string().nullable(),
  exp: z.string().nullable(),
  operationId: z.string().nullable(),
  note: z.string().optional(),
});

const ActivationResult = z.object({ status: LicenseStatus, fanout: FanoutResult });

export const licenseCommands = {
  'license.status': command({
    summary: 'License state, limits, expiry and tenants lagging behind',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: LicenseStatus,
  }),
  'license.activate': command({
    summary: 'Verify a license offline, store it in the cluster and fan it out to every tenant',
    role: 'admin',
    mutating: true,
    input: z
      .object({
        license: LicenseText,
        encoding: Encoding,
        allocations: z.record(Slug, z.number().int().min(0)).optional(),
        /**
         * The offered license's id, typed by the admin, to activate it over a valid license although it
         * is not newer or is another customer's (otherwise CONFIRMATION_REQUIRED names the id to type).
         */
        confirmReplace: z.string().max(128).optional(),
      })
      .strict(),
    output: ActivationResult,
  }),
  'license.clear': command({
    summary: 'Remove the license: every tenant reverts to the free tier',
    role: 'admin',
    mutating: true,
    confirmField: 'customer',
    input: z.object({ customer: z.string().min(1).max(256), confirm: z.string() }).strict(),
    output: ActivationResult,
  }),
  'license.allocations.get': command({
    summary: 'Per-tenant user caps beside usage',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: Allocations,
  }),
  'license.allocations.set': command({
    summary: 'Change per-tenant user caps (null: share the remainder) and apply them',
    role: 'operator',
    mutating: true,
    input: z.object({ allocations: z.record(Slug, z.number().int().min(0).nullable()) }).strict(),
    output: z.object({ allocations: Allocations, fanout: FanoutResult }),
  }),
  'license.fanout.resume': command({
    summary: 'Resume an interrupted fan-out, or bring lagging tenants up to date',
    role: 'operator',
    mutating: true,
    input: z.object({}).strict(),
    output: z.object({ fanout: FanoutResult }),
  }),
  'license.renew.online': command({
    summary: "Fetch a replacement license from the license's renewal URL",
    role: 'admin',
    mutating: true,
    input: z.object({}).strict(),
    output: ActivationResult,
  }),
  'license.renew.exportRequest': command({
    summary: 'Export a signed renewal-request file for an air-gapped site',
    role: 'operator',
    mutating: true,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ fileName: z.string(), content: z.string(), nonce: z.string() }),
  }),
  'license.renew.importAnswer': command({
    summary: "Import the vendor's answer to a renewal request (a renewed license)",
    role: 'admin',
    mutating: true,
    input: z.object({ license: LicenseText, encoding: Encoding }).strict(),
    output: ActivationResult,
  }),
  'license.revocations.import': command({
    summary: 'Import a signed revocation list from the vendor',
    role: 'admin',
    mutating: true,
    input: z.object({ content: LicenseText, encoding: Encoding }).strict(),
    output: z.object({
      seq: z.number().int(),
      revokedLicenses: z.number().int(),
      revokedKeys: z.number().int(),
      currentLicenseRevoked: z.boolean(),
    }),
  }),
  'license.history': command({
    summary: 'History of activations, renewals and clears',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({ entries: z.array(HistoryEntrySchema) }),
  }),
};
