import { connectClientWithStatus } from './transports';
import { isContractError, type ContractErrorShape } from '../../src-shared/contract';

/** The one client of this window; every page and store goes through it. */
const connection = connectClientWithStatus();
export const client = connection.client;
export const onEngineStatus = connection.onStatus;

/** A contract error's shape from whatever a failed call threw. */
export function errorShape(e: unknown): ContractErrorShape {
  if (isContractError(e)) return e.toShape();
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) return e as ContractErrorShape;
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}
