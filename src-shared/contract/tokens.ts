import { z } from 'zod';
import { command } from './define';
import { OperatorIdentity, RoleSchema } from './system';

/**
 * API tokens (docs/security.md#api-tokens): created by a signed-in human for themselves, per
 * cluster, stored in that cluster's gatehouse_control as a SHA-256 hash only. A token acts as its
 * owner ("via token <name>") within its scopes and limits, never above the owner's role at creation.
 */

/** A command name ("tenants.create"), a prefix ending in ".*" ("tenants.*"), or "*" (every command). */
export const CommandPattern = z
  .string()
  .min(1)
  .max(100)
  .regex(/^(\*|[a-z][A-Za-z]*(\.[a-z][A-Za-z]*)*(\.\*)?)$/, 'use a command name ("tenants.create"), a prefix ("tenants.*") or "*"');

/** A tenant slug ("acme"), a slug prefix ending in "*" ("ci-*"), or "*" (every tenant). */
export const TenantPattern = z
  .string()
  .min(1)
  .max(64)
  .regex(/^(\*|[a-z0-9][a-z0-9-]*\*?)$/, 'use a slug ("acme"), a prefix ("ci-*") or "*"');

/** "At most `max` uses of `command` naming a tenant whose slug starts with `tenantPrefix`", counted in the database. */
export const TokenLimit = z
  .object({
    command: CommandPattern,
    tenantPrefix: z
      .string()
      .max(64)
      .regex(/^[a-z0-9-]*$/, 'lower-case letters, digits and "-" only')
      .default(''),
    max: z.number().int().min(1).max(1_000_000),
  })
  .strict();

export const TokenScopes = z
  .object({
    commands: z.array(CommandPattern).min(1).max(100),
    tenants: z.array(TenantPattern).min(1).max(100),
  })
  .strict()
  .meta({ examples: [{ commands: ['tenants.*'], tenants: ['ci-*'] }] });
export type TokenScopes = z.infer<typeof TokenScopes>;

export const TokenName = z
  .string()
  .trim()
  .min(1)
  .max(80)
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'letters, digits, space, ".", "_" or "-"');

export const TokenView = z.object({
  id: z.string(),
  name: z.string(),
  ownerId: z.string(),
  ownerName: z.string(),
  /** The owner's role when the token was made: the token never acts above it. */
  role: RoleSchema,
  scopes: TokenScopes,
  limits: z.array(z.object({ command: z.string(), tenantPrefix: z.string(), max: z.number().int(), used: z.number().int() })),
  createdAt: z.string(),
  expiresAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
  status: z.enum(['active', 'expired', 'revoked']),
});
export type TokenView = z.infer<typeof TokenView>;

export const TokenSettings = z.object({
  defaultExpiryDays: z.number().int(),
  maxExpiryDays: z.number().int(),
  updatedBy: z.string().nullable(),
  updatedAt: z.string().nullable(),
});
export type TokenSettings = z.infer<typeof TokenSettings>;

export const tokensCommands = {
  'tokens.list': command({
    summary: 'Your API tokens on this cluster (an admin may list another member’s, or everyone’s)',
    role: 'viewer',
    mutating: false,
    input: z.object({ owner: z.string().min(1).max(300).optional(), everyone: z.boolean().default(false) }).strict(),
    output: z.object({ tokens: z.array(TokenView), settings: TokenSettings }),
  }),
  'tokens.create': command({
    summary: 'Create an API token for yourself (shown once): name, expiry, scopes and limits',
    role: 'viewer',
    mutating: true,
    input: z
      .object({
        name: TokenName.meta({ examples: ['ci pipeline'] }),
        /** Default: the cluster's default (30 days); at most the maximum an admin set. */
        expiresInDays: z.number().int().min(1).max(3650).optional(),
        scopes: TokenScopes,
        limits: z.array(TokenLimit).max(20).default([]),
      })
      .strict(),
    output: z.object({ token: z.string(), view: TokenView }),
  }),
  'tokens.revoke': command({
    summary: 'Revoke an API token (yours; an admin may revoke anyone’s)',
    role: 'viewer',
    mutating: true,
    input: z.object({ id: z.uuid().meta({ examples: ['0b5f8f3e-3c8e-4d0a-9a51-2f1f6f2d8a11'] }) }).strict(),
    output: TokenView,
  }),
  'tokens.settings.set': command({
    summary: 'Set the longest expiry an API token of this cluster may have',
    role: 'admin',
    mutating: true,
    input: z.object({ maxExpiryDays: z.number().int().min(1).max(3650) }).strict(),
    output: TokenSettings,
  }),
  'tokens.signIn': command({
    summary: 'Sign this connection in with an API token (the CLI does this with GATEHOUSE_TOKEN)',
    role: 'viewer',
    mutating: true,
    input: z.object({ token: z.string().max(200) }).strict(),
    output: z.object({ operator: OperatorIdentity, tokenId: z.string(), expiresAt: z.string() }),
  }),
};
