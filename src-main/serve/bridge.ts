import type { WebSocket, RawData } from 'ws';
import type { Result } from '../../src-shared/contract';
import type { Router } from '../ipc/router';

export interface ServeLog {
  warn(detail: object, message: string): void;
}

/** Commands one socket may have running at once; more are refused, not queued without bound. */
const MAX_IN_FLIGHT = 64;
/** WebSocket close code: the browser session ended (idle, lifetime, server stopping). */
export const CLOSE_SESSION_ENDED = 4401;

type Incoming = { type?: unknown; id?: unknown; command?: unknown; input?: unknown; event?: unknown };

const internalError = (command: string): Result<unknown> => ({
  ok: false,
  error: {
    code: 'INTERNAL',
    message: `"${command.slice(0, 80)}" failed unexpectedly. The console log has the details; try again or report it.`,
  },
});

/** An id we echo back: the client's number or short string, nothing else. */
const replyId = (id: unknown) =>
  (typeof id === 'number' && Number.isFinite(id)) || (typeof id === 'string' && id.length <= 64) ? id : null;

export interface BridgeOptions {
  ws: WebSocket;
  router: Router;
  connectionId: string;
  /** False once the browser session has ended: the socket is closed, nothing more runs. */
  sessionOpen(): boolean;
  /** Operator activity (a command, a subscription): resets the session's idle clock. */
  touch(): void;
  log: ServeLog;
}

/**
 * One WebSocket = one browser tab: invoke requests, subscriptions, and pushed events.
 * Nothing a client sends can throw out of here: malformed frames are closed by ws
 * (its 'error' is handled), malformed messages get an error reply, and a command
 * whose promise rejects answers INTERNAL.
 */
export function bridge({ ws, router, connectionId, sessionOpen, touch, log }: BridgeOptions) {
  const unsubscribers = new Map<string, () => void>();
  let inFlight = 0;
  const send = (message: unknown) => {
    if (ws.readyState !== ws.OPEN) return;
    try {
      ws.send(JSON.stringify(message));
    } catch (error) {
      log.warn({ err: error, connectionId }, 'browser mode: a reply could not be sent');
    }
  };
  const refuse = (message: string) => send({ type: 'error', message });

  async function handle(data: RawData, isBinary: boolean) {
    if (!sessionOpen()) return ws.close(CLOSE_SESSION_ENDED, 'session ended');
    if (isBinary) return refuse('Binary messages are not accepted; send JSON text.');
    let message: unknown;
    try {
      message = JSON.parse(data.toString());
    } catch {
      return refuse('Messages must be JSON.');
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) return refuse('Messages must be JSON objects.');
    const { type, id, command, input, event } = message as Incoming;
    touch();
    if (type === 'invoke') {
      if (typeof command !== 'string')
        return send({
          type: 'result',
          id: replyId(id),
          result: { ok: false, error: { code: 'VALIDATION', message: 'A command name is required.' } },
        });
      if (inFlight >= MAX_IN_FLIGHT) {
        return send({
          type: 'result',
          id: replyId(id),
          result: {
            ok: false,
            error: {
              code: 'UNAVAILABLE',
              message: `More than ${MAX_IN_FLIGHT} commands are running on this connection; wait for some to finish and try again.`,
            },
          },
        });
      }
      inFlight++;
      let result: Result<unknown>;
      try {
        result = await router.invoke(connectionId, command, input);
      } catch (error) {
        log.warn({ err: error, command: command.slice(0, 80), connectionId }, 'browser mode: a command rejected instead of answering');
        result = internalError(command);
      } finally {
        inFlight--;
      }
      // the session may have ended while the command ran: the answer still belongs to the caller who asked
      return send({ type: 'result', id: replyId(id), result });
    }
    if (type === 'subscribe') {
      if (typeof event !== 'string') return refuse('An event name is required.');
      if (unsubscribers.has(event)) return;
      try {
        unsubscribers.set(
          event,
          router.subscribe(connectionId, event, (payload) => send({ type: 'event', event, payload })),
        );
      } catch {
        refuse(`Unknown event ${JSON.stringify(event.slice(0, 80))}.`);
      }
      return;
    }
    if (type === 'unsubscribe') {
      if (typeof event !== 'string') return refuse('An event name is required.');
      unsubscribers.get(event)?.();
      unsubscribers.delete(event);
      return;
    }
    refuse('Unknown message type: use invoke, subscribe or unsubscribe.');
  }

  ws.on('message', (data, isBinary) => {
    handle(data, isBinary).catch((error: unknown) =>
      log.warn({ err: error, connectionId }, 'browser mode: a message could not be handled'),
    );
  });
  // invalid frames (bad UTF-8, oversize, protocol errors): ws closes the socket with the right code; we only must not let it throw
  ws.on('error', () => undefined);
  ws.on('close', () => {
    for (const off of unsubscribers.values()) off();
    unsubscribers.clear();
  });
}
