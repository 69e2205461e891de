import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ContractError } from '../../../src-shared/contract';

/** Where the cache, logs and the encrypted secret file live: --data-dir, GATEHOUSE_HOME, else the OS app-data folder. */
export function resolveDataDir(explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  if (process.env.GATEHOUSE_HOME) return path.resolve(process.env.GATEHOUSE_HOME);
  const home = os.homedir();
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Gatehouse');
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Gatehouse');
  return path.join(process.env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'gatehouse');
}

/** Refuses early, in words, when the folder cannot be written. */
export function ensureWritableDataDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
    const probe = path.join(dir, `.write-probe-${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String((error as NodeJS.ErrnoException).code) : 'unknown error';
    throw new ContractError(
      'UNAVAILABLE',
      `The data directory ${dir} is not writable (${reason}). Fix its permissions or choose another with --data-dir or GATEHOUSE_HOME.`,
    );
  }
}
