import { z } from 'zod';
import { command } from './define';
import { Username } from './operators';
import { RoleSchema } from './system';
import { TenantSlug } from './tenants';

/** A role on a set of tenants (operator or admin there only). */
export const Grant = z
  .object({
    role: z.enum(['operator', 'admin']),
    tenants: z.array(TenantSlug).min(1).max(500),
  })
  .strict();
export type Grant = z.infer<typeof Grant>;

const Grants = z.array(Grant).max(20).default([]);
/** null: no global role (the member acts only through its grants). */
const GlobalRole = RoleSchema.nullable();

export const MemberView = z.object({
  id: z.string(),
  username: z.string(),
  displayName: z.string(),
  email: z.string().nullable(),
  globalRole: RoleSchema.nullable(),
  grants: z.array(z.object({ role: z.enum(['operator', 'admin']), tenants: z.array(z.string()) })),
  hasPassword: z.boolean(),
  oidcLinks: z.array(z.object({ issuer: z.string(), subject: z.string() })),
  /** Bumped by every change; setRole and remove name the version they were made against. */
  version: z.number().int(),
  createdAt: z.string(),
  createdBy: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string(),
  lastSignInAt: z.string().nullable(),
  /** This console's sign-in throttle for the member (failures are counted per console). */
  failedAttempts: z.number().int(),
  lockedUntil: z.string().nullable(),
});
export type MemberView = z.infer<typeof MemberView>;

export const InvitationView = z.object({
  id: z.string(),
  email: z.string().nullable(),
  delivery: z.enum(['email', 'code']),
  globalRole: RoleSchema.nullable(),
  grants: z.array(z.object({ role: z.enum(['operator', 'admin']), tenants: z.array(z.string()) })),
  createdBy: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  status: z.enum(['pending', 'accepted', 'expired', 'revoked']),
  acceptedBy: z.string().nullable(),
  acceptedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type InvitationView = z.infer<typeof InvitationView>;

export const SessionView = z.object({
  /** A digest of the connection, not the connection id itself. */
  id: z.string(),
  operatorId: z.string(),
  displayName: z.string(),
  role: RoleSchema,
  via: z.string(),
  since: z.string(),
  expiresAt: z.string().nullable(),
  /** The session asking. */
  current: z.boolean(),
});

const InvitationCode = z
  .string()
  .min(10)
  .max(200)
  .regex(/^[A-Za-z0-9_-]+$/, 'the code has letters, digits, "-" and "_" only');

export const membersCommands = {
  'members.list': command({
    summary: 'Members of the selected cluster (shared by every console of it), with roles, scopes and lockouts',
    role: 'admin',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({ clusterId: z.string(), members: z.array(MemberView) }),
  }),
  'members.setRole': command({
    summary: "Change a member's global role and tenant grants (refused if another console changed the member since)",
    role: 'admin',
    mutating: true,
    input: z
      .object({ username: Username, globalRole: GlobalRole, grants: Grants, expectedVersion: z.number().int().min(1) })
      .strict()
      .refine((i) => i.globalRole !== null || i.grants.length > 0, {
        message: 'give the member a global role or at least one tenant grant',
        path: ['grants'],
      }),
    output: MemberView,
  }),
  'members.unlock': command({
    summary: "Clear this console's failed sign-in counter and lockout of a member",
    role: 'admin',
    mutating: true,
    input: z.object({ username: Username }).strict(),
    output: MemberView,
  }),
  'members.remove': command({
    summary: 'Remove a member from the cluster (ends their sessions on this console)',
    role: 'admin',
    mutating: true,
    confirmField: 'username',
    input: z.object({ username: Username, confirm: z.string(), expectedVersion: z.number().int().min(1) }).strict(),
    output: z.object({}),
  }),
  'members.invite': command({
    summary: 'Invite someone: by e-mail (through the cluster SMTP settings) or with a one-time code to hand over',
    role: 'admin',
    mutating: true,
    input: z
      .object({
        delivery: z.enum(['email', 'code']),
        email: z.email().max(320).optional(),
        globalRole: GlobalRole,
        grants: Grants,
        expiresInHours: z.number().int().min(1).max(720).default(72),
      })
      .strict()
      .refine((i) => i.delivery !== 'email' || i.email !== undefined, { message: 'an e-mail invitation needs an address', path: ['email'] })
      .refine((i) => i.globalRole !== null || i.grants.length > 0, {
        message: 'give the invitee a global role or at least one tenant grant',
        path: ['grants'],
      }),
    // The code is returned only for delivery "code" (shown once); an e-mailed code is never shown.
    output: z.object({ invitation: InvitationView, code: z.string().nullable() }),
  }),
  'members.invitations.list': command({
    summary: 'Invitations of the selected cluster: pending, accepted, expired and revoked',
    role: 'admin',
    mutating: false,
    input: z.object({}).strict(),
    output: z.object({ invitations: z.array(InvitationView) }),
  }),
  'members.invitations.revoke': command({
    summary: 'Revoke a pending invitation',
    role: 'admin',
    mutating: true,
    input: z.object({ id: z.uuid() }).strict(),
    output: InvitationView,
  }),
  'members.invitations.accept': command({
    summary:
      'Accept an invitation: choose a username, then a password or your OIDC identity (a flow begun with purpose "link"); signs this window in as the new member',
    role: 'viewer',
    mutating: true,
    offline: false,
    input: z
      .object({
        /** The kubeconfig context of the cluster that invited you. */
        context: z.string().min(1).max(500),
        secretCode: InvitationCode,
        username: Username,
        displayName: z.string().max(200).optional(),
        password: z.string().min(1).max(1024).optional(),
        /** operators.oidc.begin { purpose: "link", context } — the identity confirmed there is linked to the new member. */
        oidcFlowId: z.string().min(1).max(100).optional(),
      })
      .strict()
      .refine((i) => (i.password === undefined) !== (i.oidcFlowId === undefined), {
        message: 'choose a password, or sign in with OIDC (one of them)',
        path: ['password'],
      }),
    output: z.object({ member: MemberView }),
  }),
  'members.sessions.list': command({
    summary: 'Who is signed in on this console',
    role: 'admin',
    mutating: false,
    offline: true,
    input: z.object({}).strict(),
    output: z.object({ sessions: z.array(SessionView) }),
  }),
  'members.sessions.end': command({
    summary: 'End one session on this console (that window must sign in again)',
    role: 'admin',
    mutating: true,
    offline: true,
    input: z.object({ id: z.string().min(1).max(100) }).strict(),
    output: z.object({ ended: z.boolean() }),
  }),
};
