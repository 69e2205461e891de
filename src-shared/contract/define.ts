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
