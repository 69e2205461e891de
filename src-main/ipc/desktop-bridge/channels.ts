/**
 * The IPC channels between the preload and the main process. Shared by both
 * sides of the desktop bridge; no imports, so the sandboxed preload bundle
 * pulls in nothing else.
 */
export const CHANNELS = {
  invoke: 'gatehouse:invoke',
  subscribe: 'gatehouse:subscribe',
  unsubscribe: 'gatehouse:unsubscribe',
  /** Sent once by each new document's preload: whatever main holds for this window belongs to a previous document. */
  documentStart: 'gatehouse:document-start',
} as const;

/** The channel main pushes one contract event on. */
export const eventChannel = (event: string) => `gatehouse:event:${event}`;
