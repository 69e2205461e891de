import { ContractError, type CommandInput, type CommandName, type CommandOutput, type OperatorIdentity } from '../../src-shared/contract';
import type { ClustersList } from '../../src-shared/contract/clusters';
import { createEngine, type Engine } from '../engine';
import { createHandlers } from '../ipc/handlers';
import { createPipeline, type Pipeline } from '../ipc/pipeline';
import { engineClusterDeps } from '../ipc/router';
import { tokenGate } from '../ipc/tokens';
import { CommandFailed, keychainTokenKey, prompt } from './io';

export interface GlobalOptions {
  cluster?: string;
  kubeconfig?: string;
  dataDir?: string;
  output: 'json' | 'table';
  yes: boolean;
}

export interface CliSession {
  engine: Engine;
  connectionId: string;
  contextId: string;
  /** Runs one contract command through the pipeline (roles, validation, confirmation, audit); typed by the contract. */
  call<K extends CommandName>(name: K, input: CommandInput<K>): Promise<CommandOutput<K>>;
  operator(): OperatorIdentity | null;
  close(): Promise<void>;
}

/** The engine as the CLI needs it: no background watches or schedules, never the OS-user identity. */
export function openEngine(opts: GlobalOptions): Engine {
  const env = { ...process.env };
  if (opts.kubeconfig) env.KUBECONFIG = opts.kubeconfig;
  return createEngine({
    mode: 'browser',
    dataDir: opts.dataDir,
    // a script acts only as who it proves to be: an inherited GATEHOUSE_IDENTITY=os-user changes nothing here
    identity: 'sign-in',
    clusters: { env, autoStart: false, watch: false },
    backups: { schedulerEveryMs: 0 },
    tokens: { pruneEveryMs: 0 },
  });
}

/** The context named by --cluster (its id or its context name), else the workstation's last choice, else the kubeconfig's current one. */
export function chooseContext(list: ClustersList, wanted: string | undefined, lastChoice: string | null): string {
  const usable = list.contexts.filter((c) => c.status === 'ok');
  if (wanted) {
    const byId = list.contexts.find((c) => c.id === wanted);
    const byName = list.contexts.filter((c) => c.contextName === wanted);
    const hit = byId ?? (byName.length === 1 ? byName[0] : undefined);
    if (byName.length > 1 && !byId) {
      throw new ContractError(
        'VALIDATION',
        `Several kubeconfig files have a context "${wanted}": pass its full id (${byName.map((c) => c.id).join(', ')}).`,
      );
    }
    if (!hit) {
      throw new ContractError(
        'NOT_FOUND',
        `No kubeconfig context "${wanted}". Known: ${list.contexts.map((c) => c.contextName).join(', ') || 'none (set KUBECONFIG or --kubeconfig)'}.`,
      );
    }
    if (hit.status !== 'ok') throw new ContractError('VALIDATION', `The context "${wanted}" cannot be used: ${hit.error ?? 'invalid'}.`);
    return hit.id;
  }
  if (lastChoice && usable.some((c) => c.id === lastChoice)) return lastChoice;
  const current = usable.filter((c) => c.current);
  if (current.length === 1) return current[0]!.id;
  if (usable.length === 1) return usable[0]!.id;
  throw new ContractError(
    'VALIDATION',
    usable.length === 0
      ? 'No usable kubeconfig context: set KUBECONFIG or pass --kubeconfig.'
      : `Several clusters are possible; choose one with --cluster (${usable.map((c) => c.contextName).join(', ')}).`,
  );
}

/**
 * One CLI process = one pipeline connection (`cli:<pid>`), bound to one cluster context for its
 * life. The handlers, the role checks, validation, typed confirmation and the audit path are the
 * console's own: the pipeline is built with createPipeline like the router's.
 */
export async function openSession(opts: GlobalOptions): Promise<CliSession> {
  const engine = openEngine(opts);
  const connectionId = `cli:${process.pid}`;
  try {
    const list = engine.clusters.list(null);
    const contextId = chooseContext(list, opts.cluster, engine.selections.lastChoice());
    const pipeline: Pipeline = createPipeline({
      handlers: createHandlers(engine),
      identify: (id) => engine.sessions.identify(id),
      audit: engine.audit,
      ...engineClusterDeps(engine),
      // this connection's cluster is the one chosen on the command line; the console's own choice is untouched
      selectedContext: (id) => (id === connectionId ? contextId : engine.selections.get(id)),
      tokenGate: tokenGate(engine),
      consoleVersion: engine.version,
      logError: (command, error) => engine.log.error({ command, err: error }, 'command failed (cli)'),
    });
    return {
      engine,
      connectionId,
      contextId,
      async call(name, input) {
        const r = await pipeline.invoke(connectionId, name, input);
        if (!r.ok) throw new CommandFailed(r.error);
        return r.value as never;
      },
      operator: () => engine.sessions.identify(connectionId),
      async close() {
        // audit records go to the cluster's shared log before the process ends (what cannot be
        // delivered now stays in the durable outbox and is delivered by the next start)
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          engine.auditLog.outbox.flush().catch(() => 0),
          new Promise((resolve) => (timer = setTimeout(resolve, 10_000))),
        ]);
        clearTimeout(timer);
        await engine.close();
      },
    };
  } catch (error) {
    await engine.close();
    throw error;
  }
}

/**
 * Signs the session in: GATEHOUSE_TOKEN, else the token `gatehouse login` kept for this
 * context, else (on a terminal) a local account's username and password.
 */
export async function signIn(session: CliSession, note: (m: string) => void): Promise<void> {
  const fromEnv = process.env.GATEHOUSE_TOKEN?.trim();
  let token = fromEnv || null;
  if (!token) {
    try {
      token = await (await session.engine.secrets.store()).get(keychainTokenKey(session.contextId));
    } catch {
      token = null; // no keychain and no unlocked secret file: fall through to the interactive sign-in
    }
  }
  if (token) {
    await session.call('tokens.signIn', { token });
    return;
  }
  if (!process.stdin.isTTY) {
    throw new ContractError(
      'UNAUTHENTICATED',
      'Not signed in: set GATEHOUSE_TOKEN to an API token (create one on the console’s API tokens page), run `gatehouse login`, or run this on a terminal to sign in with a local account.',
    );
  }
  note('Sign in with a local account of this console.');
  const username = (await prompt('Username: ')).trim();
  const password = await prompt('Password: ', true);
  await session.call('operators.signIn', { username, password });
}
