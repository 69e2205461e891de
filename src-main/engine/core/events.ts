import type { EventName, EventPayload } from '../../../src-shared/contract';

type Listener = (payload: unknown) => void;

/** In-process publish/subscribe for contract events; transports forward it. */
export class EventBus {
  private readonly listeners = new Map<string, Set<Listener>>();

  publish<K extends EventName>(event: K, payload: EventPayload<K>): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        listener(payload);
      } catch {
        // one broken subscriber must not stop the others
      }
    }
  }

  subscribe<K extends EventName>(event: K, listener: (payload: EventPayload<K>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener);
    return () => set.delete(listener as Listener);
  }
}
