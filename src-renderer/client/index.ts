import { connectClientWithStatus, type EngineStatus } from './transports';
import { isContractError, type ContractErrorShape } from '../../src-shared/contract';

/** The one client of this window; every page and store goes through it. */
const connection = connectClientWithStatus();
export const client = connection.client;
export const onEngineStatus = (cb: (s: EngineStatus) => void) => connection.onStatus(cb);

/**
 * Runs `cb` each time the engine answers again after the connection was lost
 * (browser mode): events sent meanwhile are gone, so whoever shows engine data
 * reloads it here. The transport has already replayed the subscriptions.
 */
export function onEngineBack(cb: () => void) {
  connection.onStatus((s) => {
    if (s.up && s.back) cb();
  });
}

/** A contract error's shape from whatever a failed call threw. */
export function errorShape(e: unknown): ContractErrorShape {
  if (isContractError(e)) return e.toShape();
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) return e as ContractErrorShape;
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}
