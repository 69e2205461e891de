import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * Resolves the Electron binary the way `require('electron')` does (it downloads on
 * first use), in a child process so a failed download cannot take us down.
 * Returns the path, or null with the reason.
 */
export function findElectronBinary() {
  const require = createRequire(import.meta.url);
  let pkgDir;
  try {
    pkgDir = require.resolve('electron/package.json');
  } catch {
    return { path: null, reason: 'the electron package is not installed (run npm install)' };
  }
  const r = spawnSync(process.execPath, ['-e', "process.stdout.write(require('electron'))"], {
    cwd: pkgDir.replace(/package\.json$/, ''),
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (r.status === 0 && r.stdout) return { path: r.stdout, reason: null };
  const lastLine =
    `${r.stderr ?? ''}`
      .trim()
      .split('\n')
      .find((l) => /fetch failed|ENOTFOUND|ECONN|Error:/.test(l)) ?? 'download failed';
  return { path: null, reason: `the Electron binary is missing and could not be downloaded (${lastLine.trim()})` };
}
