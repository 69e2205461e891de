import { parseArgs } from 'node:util';
import { restoreStateFromBackup } from '../adapters/sqlite';
import { resolveDataDir } from '../engine/core/data-dir';

/** `gatehouse restore-local-state [--data-dir D]`: the recovery path LocalStateError names. */
const { values } = parseArgs({ options: { 'data-dir': { type: 'string' } } });
const dataDir = resolveDataDir(values['data-dir']);
try {
  const { restoredFrom, keptAs } = restoreStateFromBackup(dataDir);
  console.log(`Restored the durable local state from ${restoredFrom}.${keptAs ? ` The unreadable file was kept as ${keptAs}.` : ''}`);
  console.log(
    'Changes made after that copy was taken (operations journaled, audit entries queued) are not in it; start the console and check Unfinished operations.',
  );
} catch (error) {
  console.error(`gatehouse: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
