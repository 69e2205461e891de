import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ContractError } from '../../../src-shared/contract/errors';
import { MANIFEST_FILE } from './bundle';
import type { AuditStateStore } from './state';

export interface FolderRoot {
  id: string;
  path: string;
  origin: 'builtin' | 'admin';
  outsideDataDir: boolean;
}

const ROOTS_KEY = 'exportRoots';
const inside = (dir: string, root: string) => dir === root || dir.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

/**
 * Where bundles may be written and read in browser mode: `<data dir>/exports` and the
 * folders an admin added. The page names a root and one folder name, never a path, and the
 * result is checked (symlinks resolved) to stay inside its root.
 */
export class ExportFolders {
  constructor(
    private readonly state: AuditStateStore,
    private readonly dataDir: string | null,
  ) {}

  private get dataReal(): string | null {
    if (!this.dataDir) return null;
    try {
      return fs.realpathSync(this.dataDir);
    } catch {
      return path.resolve(this.dataDir);
    }
  }

  roots(): FolderRoot[] {
    const out: FolderRoot[] = [];
    if (this.dataDir) out.push({ id: 'exports', path: path.join(this.dataDir, 'exports'), origin: 'builtin', outsideDataDir: false });
    const data = this.dataReal;
    for (const p of this.state.get<string[]>(ROOTS_KEY) ?? []) {
      out.push({
        id: `r-${createHash('sha256').update(p).digest('hex').slice(0, 10)}`,
        path: p,
        origin: 'admin',
        outsideDataDir: !data || !inside(p, data),
      });
    }
    return out;
  }

  /** Admin: the extra roots (absolute, existing folders). */
  setRoots(paths: string[]): FolderRoot[] {
    const clean: string[] = [];
    for (const p of paths) {
      if (!path.isAbsolute(p)) {
        throw new ContractError(
          'VALIDATION',
          `"${p}" is not an absolute path. Give the full path of a folder on the machine running the console.`,
          {
            fields: { roots: 'absolute path' },
          },
        );
      }
      let real: string;
      try {
        real = fs.realpathSync(p);
      } catch {
        throw new ContractError('VALIDATION', `There is no folder ${p}. Create it first, then add it.`, {
          fields: { roots: 'no such folder' },
        });
      }
      if (!fs.statSync(real).isDirectory())
        throw new ContractError('VALIDATION', `${p} is not a folder.`, { fields: { roots: 'not a folder' } });
      if (!clean.includes(real)) clean.push(real);
    }
    this.state.set(ROOTS_KEY, clean);
    return this.roots();
  }

  /** Roots with the bundle folders in each, newest first. */
  list(): (FolderRoot & { bundles: { name: string; modifiedAt: string }[] })[] {
    const bundlesIn = (dir: string) => {
      try {
        return fs
          .readdirSync(dir, { withFileTypes: true })
          .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, MANIFEST_FILE)))
          .map((d) => ({ name: d.name, t: fs.statSync(path.join(dir, d.name, MANIFEST_FILE)).mtimeMs }))
          .sort((a, b) => b.t - a.t)
          .slice(0, 200)
          .map(({ name, t }) => ({ name, modifiedAt: new Date(t).toISOString() }));
      } catch {
        return []; // the builtin root before the first export, or an unreadable one
      }
    };
    return this.roots().map((r) => ({ ...r, bundles: bundlesIn(r.path) }));
  }

  /** Roots with the files in each whose name ends with `suffix` (backup archives), newest first. */
  files(suffix: string): (FolderRoot & { files: { name: string; bytes: number; modifiedAt: string }[] })[] {
    const filesIn = (dir: string) => {
      try {
        return fs
          .readdirSync(dir, { withFileTypes: true })
          .filter((d) => d.isFile() && d.name.endsWith(suffix))
          .map((d) => ({ name: d.name, st: fs.statSync(path.join(dir, d.name)) }))
          .sort((a, b) => b.st.mtimeMs - a.st.mtimeMs)
          .slice(0, 200)
          .map(({ name, st }) => ({ name, bytes: st.size, modifiedAt: new Date(st.mtimeMs).toISOString() }));
      } catch {
        return [];
      }
    };
    return this.roots().map((r) => ({ ...r, files: filesIn(r.path) }));
  }

  /** The path for (root, name): a new one to create (export, download) or an existing bundle or file (import). */
  resolve(rootId: string, name: string, mode: 'new' | 'existing'): { dir: string; root: FolderRoot } {
    const root = this.roots().find((r) => r.id === rootId);
    if (!root) throw new ContractError('NOT_FOUND', `No export root "${rootId}". Pick one of the folders listed in the dialog.`);
    if (name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0')) {
      throw new ContractError('VALIDATION', 'Give one folder name, without slashes.', { fields: { name: 'one folder name' } });
    }
    if (root.origin === 'builtin') fs.mkdirSync(root.path, { recursive: true, mode: 0o700 });
    const rootReal = fs.realpathSync(root.path);
    const dir = path.join(rootReal, name);
    if (mode === 'existing') {
      let real: string;
      try {
        real = fs.realpathSync(dir);
      } catch {
        throw new ContractError('NOT_FOUND', `There is no bundle "${name}" in ${root.path}.`);
      }
      if (!inside(real, rootReal) || real === rootReal) throw new ContractError('VALIDATION', `"${name}" leads outside ${root.path}.`);
      return { dir: real, root };
    }
    if (fs.existsSync(dir)) throw new ContractError('CONFLICT', `${dir} already exists. Choose a new folder name for the bundle.`);
    return { dir, root };
  }

  /** A path chosen in the native dialog: inside the data directory or not. */
  outsideDataDir(dir: string): boolean {
    const data = this.dataReal;
    let real: string;
    try {
      real = fs.realpathSync(path.dirname(dir));
    } catch {
      real = path.resolve(path.dirname(dir));
    }
    return !data || !inside(real, data);
  }
}
