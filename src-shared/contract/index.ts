import type { z } from 'zod';
import { systemCommands, systemEvents } from './system';
import { clustersCommands, clustersEvents } from './clusters';
import { dashboardCommands, dashboardEvents, dashboardOverviewCommands } from './dashboard';
import { licenseCommands } from './license';
import { operationCommands, tenantCommands, tenantEvents } from './tenants';
import { auditCommands, auditEvents } from './audit';
import { operatorsCommands } from './operators';
import { rotationCommands } from './secrets';
import { poolsCommands, upgradesCommands, workersCommands } from './workers';
import { infraCommands, infraEvents } from './infra';
import { entitiesCommands } from './entities';
import { backupsCommands, backupsEvents } from './backups';
import { mailCommands } from './mail';
import { alertsCommands, alertsEvents } from './alerts';
import { tokensCommands } from './tokens';
import { membersCommands } from './members';

export * from './errors';
export * from './define';
export * from './system';

/**
 * Every command of the console. A capability adds its map here; the router's
 * handler table is typed against it, so a command without a handler does not compile.
 */
export const commands = {
  ...systemCommands,
  ...clustersCommands,
  ...dashboardCommands,
  ...dashboardOverviewCommands,
  ...licenseCommands,
  ...tenantCommands,
  ...operationCommands,
  ...auditCommands,
  ...operatorsCommands,
  ...rotationCommands,
  ...workersCommands,
  ...poolsCommands,
  ...upgradesCommands,
  ...infraCommands,
  ...entitiesCommands,
  ...backupsCommands,
  ...mailCommands,
  ...alertsCommands,
  ...tokensCommands,
  ...membersCommands,
} as const;

export const events = {
  ...systemEvents,
  ...clustersEvents,
  ...dashboardEvents,
  ...auditEvents,
  ...tenantEvents,
  ...backupsEvents,
  ...infraEvents,
  ...alertsEvents,
} as const;

export type Commands = typeof commands;
export type CommandName = keyof Commands;
export type CommandInput<K extends CommandName> = z.input<Commands[K]['input']>;
export type ParsedInput<K extends CommandName> = z.output<Commands[K]['input']>;
export type CommandOutput<K extends CommandName> = z.output<Commands[K]['output']>;
export type EventName = keyof typeof events;
export type EventPayload<K extends EventName> = z.output<(typeof events)[K]['payload']>;

export const isCommandName = (name: unknown): name is CommandName =>
  typeof name === 'string' && Object.prototype.hasOwnProperty.call(commands, name);
export const isEventName = (name: unknown): name is EventName =>
  typeof name === 'string' && Object.prototype.hasOwnProperty.call(events, name);
