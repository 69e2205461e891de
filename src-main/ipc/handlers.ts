import os from 'node:os';
import { ContractError } from '../../src-shared/contract';
import type { Engine } from '../engine';
import type { Handlers, HandlersFor } from './pipeline';
import type { systemCommands } from '../../src-shared/contract/system';
import { clustersHandlers, dashboardHandlers } from './clusters';
import { licenseHandlers } from './license';
import { operationsHandlers, tenantsHandlers } from './tenants';
import { auditHandlers } from './audit';
import { operatorsHandlers } from './operators';
import { rotationHandlers } from './rotation';
import { infraHandlers, poolsHandlers, upgradesHandlers, workersHandlers } from './workers';
import { entitiesHandlers } from './entities';
import { backupsHandlers } from './backups';
import { mailHandlers } from './mail';
import { alertsHandlers, dashboardOverviewHandlers } from './alerts';
import { tokensHandlers } from './tokens';
import { membersHandlers } from './members';

/** Host services only a shell can give (native dialogs); browser mode has none. */
export interface ShellServices {
  openFileDialog?(options: { title: string; filters: { name: string; extensions: string[] }[] }): Promise<string[]>;
  /** Asks where to create something (a path that does not exist yet); null when cancelled. */
  saveFileDialog?(options: { title: string; defaultName?: string }): Promise<string | null>;
}

/**
 * Binds each contract command to an engine call. Each capability has its own
 * `src-main/ipc/<capability>.ts` returning its slice; this joins them.
 */
export function createHandlers(engine: Engine, shell: ShellServices = {}): Handlers {
  return {
    ...systemHandlers(engine, shell),
    ...clustersHandlers(engine),
    ...dashboardHandlers(engine),
    ...licenseHandlers(engine),
    ...tenantsHandlers(engine),
    ...operationsHandlers(engine),
    ...auditHandlers(engine, shell),
    ...operatorsHandlers(engine),
    ...rotationHandlers(engine),
    ...workersHandlers(engine),
    ...infraHandlers(engine),
    ...poolsHandlers(engine),
    ...upgradesHandlers(engine),
    ...entitiesHandlers(engine),
    ...backupsHandlers(engine, shell),
    ...mailHandlers(engine),
    ...alertsHandlers(engine),
    ...dashboardOverviewHandlers(engine),
    ...tokensHandlers(engine),
    ...membersHandlers(engine),
  };
}

function systemHandlers(engine: Engine, shell: ShellServices): HandlersFor<typeof systemCommands> {
  return {
    'system.info': () => ({
      version: engine.version,
      mode: engine.mode,
      developmentMode: engine.developmentMode,
      dataDir: engine.dataDir,
      platform: `${os.platform()} ${os.arch()}`,
      startupWarnings: engine.startupWarnings,
    }),
    'system.session': (_input, ctx) => ({ operator: engine.sessions.identify(ctx.connectionId) }),
    'system.openFileDialog': async (input) => {
      if (!shell.openFileDialog) {
        throw new ContractError('UNAVAILABLE', 'Native file dialogs exist only in the desktop app; use the file picker or paste the path.');
      }
      return { paths: await shell.openFileDialog(input) };
    },
    'system.settings.get': () => ({ theme: engine.settings.get('theme', 'system' as const) }),
    'system.settings.set': (input, ctx) => {
      const before = engine.settings.get('theme', 'system');
      engine.settings.set('theme', input.theme);
      ctx.audit.target = 'settings.theme';
      ctx.audit.before = { theme: before };
      ctx.audit.after = { theme: input.theme };
      return { theme: input.theme };
    },
  };
}
