import path from 'node:path';
import { ContractError, roleRank } from '../../src-shared/contract';
import type { ExportFolders } from '../engine/audit/folders';
import type { CommandContext } from '../engine/core/context';
import type { ShellServices } from './handlers';

/**
 * Where a file or folder on the machine running the engine is written or read: the desktop
 * app's native dialog (the engine opens it), or one name inside an export root (browser
 * mode). A path never comes from the page. Used by audit bundles and backup archives.
 */
export type LocalLocation = { kind: 'dialog' } | { kind: 'folder'; root: string; name: string };

export const needAdmin = (ctx: CommandContext, what: string): void => {
  if (roleRank[ctx.operator.role] < roleRank.admin) {
    throw new ContractError('FORBIDDEN', `${what} needs the admin role; you are signed in as ${ctx.operator.role}. Ask an admin.`, {
      required: 'admin',
      actual: ctx.operator.role,
    });
  }
};

export interface LocateOptions {
  what: string;
  /** The native save dialog (mode 'new'). */
  save?: { title: string; defaultName: string };
  /** The native open dialog (mode 'existing'); `toPath` turns the picked file into what is read (a bundle's folder). */
  open?: { title: string; filters: { name: string; extensions: string[] }[]; toPath?: (picked: string) => string };
}

export const hasDialogs = (shell: ShellServices): boolean => Boolean(shell.saveFileDialog && shell.openFileDialog);

/**
 * The path for a location; null when the operator cancelled the dialog. Writing outside the
 * data directory (an admin-added root, or anywhere through the dialog) needs admin.
 */
export async function locateLocal(
  folders: ExportFolders,
  shell: ShellServices,
  loc: LocalLocation,
  mode: 'new' | 'existing',
  ctx: CommandContext,
  opts: LocateOptions,
): Promise<string | null> {
  if (loc.kind === 'folder') {
    const { dir, root } = folders.resolve(loc.root, loc.name, mode);
    if (mode === 'new' && root.outsideDataDir) needAdmin(ctx, `Writing ${opts.what} to ${root.path} (outside the data directory)`);
    return dir;
  }
  if (!hasDialogs(shell)) {
    throw new ContractError(
      'UNAVAILABLE',
      'Native file dialogs exist only in the desktop app; pick a folder from the export roots instead.',
    );
  }
  if (mode === 'new') {
    const file = await shell.saveFileDialog!(opts.save ?? { title: `Save ${opts.what}`, defaultName: '' });
    if (!file) return null;
    if (folders.outsideDataDir(file)) needAdmin(ctx, `Writing ${opts.what} to ${path.dirname(file)} (outside the data directory)`);
    return file;
  }
  const picked = await shell.openFileDialog!({ title: opts.open?.title ?? `Open ${opts.what}`, filters: opts.open?.filters ?? [] });
  if (!picked[0]) return null;
  return opts.open?.toPath ? opts.open.toPath(picked[0]) : picked[0];
}
