import type { z } from 'zod';

export type Role = 'viewer' | 'operator' | 'admin';
export const roleRank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/**
 * A command of the contract. `mutating` commands pass the audit path;
 * `destructive` ones also need admin and a typed confirmation of `confirmField`.
 */
export interface CommandDef<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  input: I;
  output: O;
  /** Minimum role allowed to run it. */
  role: Role;
  mutating: boolean;
  /** Name of the input field the operator must retype in `confirm` (destructive commands only). */
  confirmField?: string;
  /** Short human summary, used in docs and the audit log. */
  summary: string;
  /**
   * Commands the pipeline lets through while the session's selected cluster is unreachable:
   * local settings, offline review, and work bound to another cluster (resume/rollback of an operation).
   */
  offline?: boolean;
  /**
   * Which tenants the command acts on or reads, for tenant-scoped roles (docs/operators.md):
   * the name of the input field holding a slug (or a list of slugs; an absent optional field
   * means every tenant), or a function of the parsed input. Every command whose input has a
   * slug-like field declares this or `fleet` (a unit test holds it).
   */
  tenant?: string | ((input: never) => readonly string[] | 'fleet');
  /** Acts on (or lists) every tenant of the cluster: needs a global role; lists are filtered for scoped members. */
  fleet?: boolean;
}

export function command<I extends z.ZodType, O extends z.ZodType>(def: CommandDef<I, O>): CommandDef<I, O> {
  return def;
}

/**
 * An event of the contract. `role` is the minimum role that receives it: transports
 * deliver an event only to a signed-in operator with at least that role (the same
 * role as the read command that shows the same data). See docs/security.md.
 */
export interface EventDef<P extends z.ZodType = z.ZodType> {
  payload: P;
  summary: string;
  role: Role;
}
export function event<P extends z.ZodType>(def: EventDef<P>): EventDef<P> {
  return def;
}
