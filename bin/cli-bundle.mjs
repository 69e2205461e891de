// The CLI's start-up bundle: src-main/cli/entry.ts and the engine as one ES module graph under
// out/cli/bundle/ (node_modules stay external), rebuilt when any source is newer. Loading
// TypeScript through tsx's hooks costs seconds per start; a bundle costs what the imports cost.
// The bundle sits three folders below the root like src-main/engine/<cap>/, so paths the engine
// derives from import.meta.url (resources/…) resolve the same.
import fs from 'node:fs';
import path from 'node:path';

const SOURCES = ['src-main', 'src-shared'];

function newestSource(root) {
  let newest = 0;
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'electron' && e.name !== 'node_modules') walk(p);
      } else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  for (const s of SOURCES) walk(path.join(root, s));
  return newest;
}

/** The bundle's entry, built first if missing or older than a source; null when esbuild is unavailable. */
export async function cliBundle(root) {
  const outdir = path.join(root, 'out', 'cli', 'bundle');
  const entry = path.join(outdir, 'entry.js');
  const stamp = fs.existsSync(entry) ? fs.statSync(entry).mtimeMs : 0;
  if (stamp >= newestSource(root)) return entry;
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return null;
  }
  // built beside, then renamed: two scripts starting at once never load half a bundle
  const tmp = `${outdir}.tmp-${process.pid}`;
  try {
    await build(esbuild, root, tmp);
  } catch (error) {
    // a read-only install (no out/ to write) or a broken build: the caller runs the sources through tsx
    fs.rmSync(tmp, { recursive: true, force: true });
    if (process.env.GATEHOUSE_CLI_DEBUG) console.error(error);
    return null;
  }
  fs.rmSync(outdir, { recursive: true, force: true });
  try {
    fs.renameSync(tmp, outdir);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }); // another process renamed its build first: use that one
  }
  return entry;
}

function build(esbuild, root, outdir) {
  return esbuild.build({
    entryPoints: { entry: path.join(root, 'src-main/cli/entry.ts') },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    packages: 'external',
    outdir,
    logLevel: 'error',
    // chunks need require() for the CommonJS interop of a few dependencies
    banner: {
      js: "import { createRequire as __gh_createRequire } from 'node:module'; const require = __gh_createRequire(import.meta.url);",
    },
  });
}
