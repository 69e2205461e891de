import type { Engine } from '../engine';
import { createHandlers, type ShellServices } from './handlers';
import { createPipeline, type Pipeline, type PipelineDeps } from './pipeline';
import { events, isEventName, type EventName } from '../../src-shared/contract';

export interface Router extends Pipeline {
  /** Subscribes a transport to a contract event; validates payloads on the way out. */
  subscribe(event: string, listener: (payload: unknown) => void): () => void;
}

/** How the pipeline finds a session's cluster in the engine (also used by tests that build their own pipeline). */
export function engineClusterDeps(engine: Engine): Pick<PipelineDeps, 'selectedContext' | 'clusterState' | 'resolveCluster' | 'knownClusterUid'> {
  return {
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
    consoleVersion: engine.version,
    logError: (command, error) => engine.log.error({ command, err: error }, 'command failed'),
  });
  return {
    ...pipeline,
    subscribe(event, listener) {
      if (!isEventName(event)) throw new Error(`unknown event ${event}`);
      const schema = events[event as EventName].payload;
      return engine.bus.subscribe(event as EventName, (payload) => {
        const parsed = schema.safeParse(payload);
        if (parsed.success) listener(parsed.data);
        else engine.log.error({ event, issues: parsed.error.issues }, 'event payload does not match the contract');
      });
    },
  };
}
