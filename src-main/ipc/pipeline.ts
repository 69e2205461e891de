import { z } from 'zod';
import {
  commands,
  ContractError,
  isCommandName,
  roleRank,
  type CommandName,
  type CommandOutput,
  type OperatorIdentity,
  type ParsedInput,
  type Result,
} from '../../src-shared/contract';
import type { ClusterRuntime } from '../engine/core/cluster-runtime';
import type { CommandContext } from '../engine/core/context';
import type { AuditOutcome, AuditRecorder } from '../engine/audit/recorder';
import { redactSecrets } from '../engine/core/redact';
import { authorizeCommand, isTenantOnly } from './tenant-scope';

export type Handler<K extends CommandName> = (input: ParsedInput<K>, ctx: CommandContext) => Promise<CommandOutput<K>> | CommandOutput<K>;

/** One handler per contract command: a missing one is a compile error. */
export type Handlers = { [K in CommandName]: Handler<K> };
/** The handlers of one capability's command map. */
export type HandlersFor<M> = { [K in keyof M & CommandName]: Handler<K> };

export interface PipelineDeps {
  handlers: Handlers;
  /** Who is calling on this connection; null when nobody is signed in. */
  identify(connectionId: string): OperatorIdentity | null;
  audit: AuditRecorder;
  /** The context this connection's session has selected (a view choice), or null. */
  selectedContext(connectionId: string): string | null;
  /** Whether a context's cluster answers; mutations need it online unless the command is offline-capable. */
  clusterState(contextId: string | null): { online: boolean; lastSyncAt: string | null };
  /** The cluster a context leads to (identity by kube-system UID). */
  resolveCluster(contextId: string): Promise<ClusterRuntime>;
  /** The last known cluster identity of a context, without a network call. */
  knownClusterUid(contextId: string): string | null;
  /** Refuses (throws) an operator on a cluster: the development identity works only on the local harness. */
  admitToCluster?(operator: OperatorIdentity, cluster: ClusterRuntime): void;
  /**
   * A cluster member's identity as its member record says now (another console may have changed
   * the role or removed the member): the identity to act with, or null when no longer a member.
   */
  refreshIdentity?(connectionId: string, operator: OperatorIdentity): Promise<OperatorIdentity | null>;
  /**
   * API-token identities (`via: 'token'`): liveness, scopes and limits, checked before the
   * handler (ipc/tokens.ts). Without a gate a token identity is refused.
   */
  tokenGate?: TokenGate;
  consoleVersion: string;
  /** Unexpected failures go to the log with their stack; the operator gets a short message. */
  logError(command: string, error: unknown): void;
}

/** An admitted token command: what to give back if it fails, and optionally a filter of its output (fleet reads of a tenant-scoped token). */
export interface TokenAdmission {
  release(): Promise<void>;
  output?: (output: unknown) => unknown;
}

/** What the pipeline asks before a token identity's command runs; it throws to refuse. */
export interface TokenGate {
  admit(operator: OperatorIdentity, name: CommandName, parsedInput: unknown, ctx: CommandContext): Promise<TokenAdmission>;
}

/**
 * Commands that can run before anyone has signed in, by exact name: sign-in itself,
 * first-run setup and read-only app info. Nothing else (OIDC configuration included).
 */
export const PUBLIC_COMMANDS: ReadonlySet<string> = new Set([
  'system.info',
  'operators.status',
  'operators.setupFirstAdmin',
  'operators.signIn',
  'operators.oidc.begin',
  'operators.oidc.complete',
  'tokens.signIn',
  'members.invitations.accept',
]);
const isPublic = (name: string) => PUBLIC_COMMANDS.has(name);

/** The audit record of a token identity names the token (its owner is the actor): "via token <name>". */
const viaToken = (operator: OperatorIdentity) =>
  operator.via === 'token' && operator.token
    ? { via: { kind: 'token' as const, tokenId: operator.token.id, tokenName: operator.token.name } }
    : {};

const ANONYMOUS: OperatorIdentity = { id: 'anonymous', displayName: 'not signed in', role: 'viewer', via: 'os-user' };

export function zodToContractError(error: z.ZodError, what: 'input' | 'output'): ContractError {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const path = issue.path.join('.') || '(root)';
    fields[path] ??= issue.message;
  }
  const first = Object.entries(fields)[0];
  const message =
    what === 'input'
      ? `Invalid ${first ? `"${first[0]}": ${first[1]}` : 'input'}. Correct the field and try again.`
      : 'The console produced a malformed answer; this is a bug. The log has details.';
  return new ContractError(what === 'input' ? 'VALIDATION' : 'INTERNAL', message, what === 'input' ? { fields } : undefined);
}

/**
 * The one path every command takes: identify → authorize → validate → execute → audit.
 * Mutating commands cannot skip the audit record because no handler is reachable any other way.
 */
export function createPipeline(deps: PipelineDeps) {
  async function invoke(connectionId: string, name: unknown, rawInput: unknown): Promise<Result<unknown>> {
    if (!isCommandName(name)) {
      return { ok: false, error: { code: 'NOT_FOUND', message: `Unknown command ${JSON.stringify(String(name)).slice(0, 80)}.` } };
    }
    const def = commands[name];
    const known = deps.identify(connectionId);
    const identified = known?.member && deps.refreshIdentity ? await deps.refreshIdentity(connectionId, known) : known;
    const operator = identified ?? ANONYMOUS;
    // The cluster is fixed here, once: switching clusters mid-command changes nothing for it.
    const contextId = deps.selectedContext(connectionId);
    const cluster = deps.clusterState(contextId);
    let resolved: Promise<ClusterRuntime> | null = null;
    let resolvedUid: string | null = null;
    const ctx: CommandContext = {
      operator,
      contextId,
      connectionId,
      audit: {},
      cluster: () => {
        resolved ??= (async () => {
          if (!contextId) throw new ContractError('VALIDATION', 'No cluster is selected. Choose one on the Clusters page first.');
          const rt = await deps.resolveCluster(contextId);
          // admission is about who acts: a public command before sign-in (tokens.signIn) is nobody yet
          if (identified) deps.admitToCluster?.(operator, rt);
          resolvedUid = rt.clusterId;
          return rt;
        })();
        return resolved;
      },
    };
    let outcome: AuditOutcome = 'success';
    let errorCode: string | null = null;
    let parsedInput: unknown = rawInput;
    let intentId: string | undefined;
    let admission: TokenAdmission | null = null;
    try {
      // identify
      if (!identified && !isPublic(name)) {
        outcome = 'denied';
        throw new ContractError(
          'UNAUTHENTICATED',
          known
            ? 'You are no longer a member of this cluster (an admin removed you). Sign in again, or ask an admin.'
            : 'Sign in to the console first.',
        );
      }
      // authorize: a global role that suffices ends it here; tenant grants are checked once the input names the tenants
      const scoped = isTenantOnly(operator) || (operator.grants?.length ?? 0) > 0;
      const globallyAllowed = !isTenantOnly(operator) && roleRank[operator.role] >= roleRank[def.role];
      if (!globallyAllowed && !scoped) {
        outcome = 'denied';
        throw new ContractError(
          'FORBIDDEN',
          `"${name}" needs the ${def.role} role; you are signed in as ${operator.role}. Ask an admin to change your role.`,
          { required: def.role, actual: operator.role },
        );
      }
      // validate
      const parsed = def.input.safeParse(rawInput);
      if (!parsed.success) {
        outcome = 'invalid';
        throw zodToContractError(parsed.error, 'input');
      }
      parsedInput = parsed.data;
      let scopeOutput: ((output: unknown) => unknown) | null = null;
      if (!globallyAllowed) {
        try {
          scopeOutput = authorizeCommand(operator, name, def, parsedInput);
        } catch (error) {
          outcome = 'denied';
          throw error;
        }
      }
      if (def.confirmField) {
        const data = parsed.data as Record<string, unknown>;
        if (typeof data.confirm !== 'string' || data.confirm !== data[def.confirmField]) {
          outcome = 'invalid';
          throw new ContractError(
            'CONFIRMATION_REQUIRED',
            `Type "${String(data[def.confirmField])}" exactly to confirm this destructive action.`,
            { field: def.confirmField },
          );
        }
      }
      if (def.mutating && !def.offline && contextId !== null && !cluster.online) {
        outcome = 'denied';
        throw new ContractError(
          'OFFLINE',
          `The cluster is unreachable, so the console is read-only${cluster.lastSyncAt ? ` (data from ${cluster.lastSyncAt})` : ''}. Reconnect and try again.`,
        );
      }
      // record the intent: a mutation whose record cannot be stored does not run (fail-closed)
      if (def.mutating) {
        try {
          intentId = deps.audit.intend({
            actor: operator.id,
            actorRole: operator.role,
            action: name,
            target: null,
            params: redactSecrets(parsedInput),
            before: null,
            at: new Date().toISOString(),
            cluster: contextId ? deps.knownClusterUid(contextId) : null,
            consoleVersion: deps.consoleVersion,
            ...viaToken(operator),
          });
        } catch (error) {
          deps.logError(name, error);
          throw new ContractError(
            'UNAVAILABLE',
            `"${name}" was not run: the audit log could not record it (${error instanceof Error ? error.message : String(error)}). Check free disk space and that the data folder is writable, then try again.`,
          );
        }
      }
      // API tokens: still live, and the command inside the token's scopes and limits (a refusal is noted as denied)
      if (operator.via === 'token') {
        if (!deps.tokenGate) {
          outcome = 'denied';
          throw new ContractError('UNAUTHENTICATED', 'API tokens are not accepted here. Sign in as yourself.');
        }
        try {
          admission = await deps.tokenGate.admit(operator, name, parsedInput, ctx);
        } catch (error) {
          // the token or its scope refused the command; a database that cannot answer is a failure
          if (error instanceof ContractError && (error.code === 'FORBIDDEN' || error.code === 'UNAUTHENTICATED')) outcome = 'denied';
          throw error;
        }
      }
      // execute
      const handler = deps.handlers[name] as (input: unknown, ctx: CommandContext) => Promise<unknown>;
      const value = await handler(parsedInput, ctx);
      const out = def.output.safeParse(value);
      if (!out.success) {
        deps.logError(name, out.error);
        outcome = 'failure';
        throw zodToContractError(out.error, 'output');
      }
      const shown = scopeOutput ? scopeOutput(out.data) : out.data;
      return { ok: true, value: admission?.output ? admission.output(shown) : shown };
    } catch (error) {
      if (outcome === 'success') outcome = ctx.audit.denied ? 'denied' : 'failure';
      // a failed command gives back what it counted against its token's limits
      if (admission) await admission.release();
      const contractError =
        error instanceof ContractError
          ? error
          : new ContractError('INTERNAL', `"${name}" failed unexpectedly. The console log has the details; try again or report it.`);
      if (!(error instanceof ContractError)) deps.logError(name, error);
      errorCode = contractError.code;
      return { ok: false, error: contractError.toShape() };
    } finally {
      if (def.mutating) {
        // A public command that signed someone in (sign-in, an accepted invitation) names them as the actor.
        const actor = isPublic(name) && ctx.audit.actor ? ctx.audit.actor : { id: operator.id, role: operator.role };
        await deps.audit.record(
          {
            actor: actor.id,
            actorRole: actor.role,
            action: name,
            target: ctx.audit.target ?? null,
            params: redactSecrets(parsedInput),
            before: redactSecrets(ctx.audit.before ?? null),
            after: redactSecrets(ctx.audit.after ?? null),
            outcome,
            errorCode,
            at: new Date().toISOString(),
            // Bound to the cluster the command acted on; workstation actions (no cluster touched) go to the local log.
            // A refused cluster command goes to that cluster's log too: its admins see who tried what.
            cluster:
              ctx.audit.cluster !== undefined
                ? ctx.audit.cluster
                : (resolvedUid ??
                  ((resolved || (outcome === 'denied' && !def.offline)) && contextId ? deps.knownClusterUid(contextId) : null)),
            consoleVersion: deps.consoleVersion,
            ...viaToken(operator),
          },
          intentId,
        );
      }
    }
  }
  return { invoke };
}

export type Pipeline = ReturnType<typeof createPipeline>;
