import { ContractError } from '../../src-shared/contract';
import type { Engine } from '../engine';
import { createHandlers, type ShellServices } from './handlers';
import { createPipeline, type Pipeline, type PipelineDeps } from './pipeline';
import { scopeEvent } from './tenant-scope';
import { tokenGate } from './tokens';
import { events, isEventName, roleRank, type EventDef, type EventName, type OperatorIdentity } from '../../src-shared/contract';

export interface Router extends Pipeline {
  /**
   * Subscribes a transport's connection to a contract event. An event is delivered
   * only while that connection's operator is signed in with at least the event's
   * role (checked on every delivery, so a sign-out or a role change applies to the
   * next event); payloads are validated on the way out. Unknown events throw.
   */
  subscribe(connectionId: string, event: string, listener: (payload: unknown) => void): () => void;
  /** The transport's connection is gone for good (browser session ended): sign its operator out, forget its cluster choice. */
  endConnection(connectionId: string): Promise<void>;
}

/** Whether this operator may receive this event: signed in, and at least the event's role. */
export const mayReceive = (operator: OperatorIdentity | null, def: Pick<EventDef, 'role'>): boolean =>
  operator !== null && roleRank[operator.role] >= roleRank[def.role];

/** How the pipeline finds a session's cluster in the engine (also used by tests that build their own pipeline). */
export function engineClusterDeps(
  engine: Engine,
): Pick<PipelineDeps, 'selectedContext' | 'clusterState' | 'resolveCluster' | 'knownClusterUid' | 'admitToCluster' | 'refreshIdentity'> {
  return {
    // A member acts on its own cluster only (docs/operators.md, "Members").
    refreshIdentity: async (connectionId, operator) => {
      const m = operator.member;
      if (!m) return operator;
      let next: OperatorIdentity | null;
      try {
        next = await engine.members.current(await engine.directory.byUid(m.cluster), operator);
      } catch {
        // The cluster's database cannot be read now: its work cannot run either; keep what we know.
        return operator;
      }
      if (next === null) engine.sessions.signOut(connectionId);
      else if (next !== operator) engine.sessions.replace(connectionId, next);
      return next;
    },
    // The OS user acting as admin (tests, sandbox, --dev) is for the local harness only, in browser mode.
    admitToCluster: (operator, cluster) => {
      if (operator.member && operator.member.cluster !== cluster.clusterId) {
        throw new ContractError(
          'FORBIDDEN',
          `You are signed in as a member of another cluster, not of "${cluster.contextName}". Sign out and sign in as a member of this cluster (choose it on the sign-in page).`,
        );
      }
      if (operator.via !== 'os-user' || engine.mode !== 'browser' || engine.directory.isDevHarness(cluster.clusterId)) return;
      throw new ContractError(
        'FORBIDDEN',
        `In browser mode the OS user acts as admin only on the local development harness, and "${cluster.contextName}" is not it. Start the console without the development identity and sign in (docs/operators.md).`,
      );
    },
    selectedContext: (connectionId) => engine.selections.get(connectionId),
    clusterState: (contextId) => engine.clusterState(contextId),
    resolveCluster: (contextId) => engine.directory.forContext(contextId),
    knownClusterUid: (contextId) => engine.directory.knownUid(contextId),
  };
}

/** The router both transports share: the pipeline plus validated event streams. */
export function createRouter(engine: Engine, shell: ShellServices = {}): Router {
  const pipeline = createPipeline({
    handlers: createHandlers(engine, shell),
    identify: (connectionId) => engine.sessions.identify(connectionId),
    audit: engine.audit,
    ...engineClusterDeps(engine),
    tokenGate: tokenGate(engine),
    consoleVersion: engine.version,
    logError: (command, error) => engine.log.error({ command, err: error }, 'command failed'),
  });
  return {
    ...pipeline,
    subscribe(connectionId, event, listener) {
      if (!isEventName(event)) throw new Error(`unknown event ${event.slice(0, 80)}`);
      const def = events[event as EventName];
      return engine.bus.subscribe(event as EventName, (payload) => {
        const operator = engine.sessions.identify(connectionId);
        if (!mayReceive(operator, def)) return;
        const parsed = def.payload.safeParse(payload);
        if (!parsed.success) {
          engine.log.error({ event, issues: parsed.error.issues }, 'event payload does not match the contract');
          return;
        }
        // A tenant-scoped operator receives only the rows of its tenants.
        const scoped = scopeEvent(operator, event as EventName, parsed.data);
        if (scoped !== null) listener(scoped);
      });
    },
    async endConnection(connectionId) {
      engine.selections.forget(connectionId);
      if (engine.sessions.session(connectionId)) await engine.operators.signOut(connectionId);
    },
  };
}
