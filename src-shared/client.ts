import type { CommandInput, CommandName, CommandOutput, EventName, EventPayload, Result } from './contract';
import { ContractError } from './contract/errors';

/**
 * What a transport moves: one invoke, one subscription. Electron IPC (preload)
 * and the WebSocket bridge both implement it, so the UI cannot tell them apart.
 */
export interface Transport {
  invoke(command: string, input: unknown): Promise<Result<unknown>>;
  subscribe(event: string, listener: (payload: unknown) => void): () => void;
}

export interface GatehouseClient {
  invoke<K extends CommandName>(command: K, input: CommandInput<K>): Promise<CommandOutput<K>>;
  subscribe<K extends EventName>(event: K, listener: (payload: EventPayload<K>) => void): () => void;
}

/** The typed client: throws ContractError on failure so callers can switch on `code`. */
export function createClient(transport: Transport): GatehouseClient {
  return {
    async invoke(command, input) {
      const result = await transport.invoke(command, input);
      if (!result.ok) throw new ContractError(result.error.code, result.error.message, result.error.details);
      return result.value as never;
    },
    subscribe(event, listener) {
      return transport.subscribe(event, listener as (p: unknown) => void);
    },
  };
}
