import type { ComponentType } from 'react';
import { isCommandName } from '../src-shared/contract';

/**
 * The pages of the console. Shared registry: each capability adds one entry
 * (keep the edit to your line). A page shows in the navigation only when every
 * command it `requires` exists in the contract this build carries, so the
 * sidebar lists only what works.
 */
export interface NavEntry {
  /** First path segment: #/<id>/… */
  id: string;
  label: string;
  /** Icon name from shell/Icon.tsx. */
  icon: string;
  /** Second key of the "g <key>" shortcut. */
  key: string;
  requires: string[];
  /** Group heading in the sidebar. */
  section: 'Overview' | 'Platform' | 'Governance' | 'Console';
  load: () => Promise<{ default: ComponentType<{ segments: string[] }> }>;
  /** Not listed in the sidebar (e.g. sign-in), still routable. */
  hidden?: boolean;
}

export const navEntries: NavEntry[] = [
  {
    id: 'dashboard',
    label: 'Dashboard',
    icon: 'gauge',
    key: 'd',
    section: 'Overview',
    requires: ['dashboard.get'],
    load: () => import('./pages/dashboard/DashboardPage'),
  },
  {
    id: 'alerts',
    label: 'Alerts',
    icon: 'alert',
    key: 'w',
    section: 'Overview',
    requires: ['alerts.list'],
    load: () => import('./pages/alerts/AlertsPage'),
  },
  {
    id: 'tenants',
    label: 'Tenants',
    icon: 'building',
    key: 't',
    section: 'Platform',
    requires: ['tenants.list'],
    load: () => import('./pages/tenants/TenantsPage'),
  },
  {
    id: 'secrets',
    label: 'Secrets',
    icon: 'key',
    key: 's',
    section: 'Platform',
    requires: ['rotation.fleet.status'],
    load: () => import('./pages/secrets/SecretsPage'),
  },
  {
    id: 'infrastructure',
    label: 'Infrastructure',
    icon: 'server',
    key: 'n',
    section: 'Platform',
    requires: ['infra.snapshot'],
    load: () => import('./pages/infrastructure/InfrastructurePage'),
  },
  {
    id: 'entities',
    label: 'Entities',
    icon: 'database',
    key: 'e',
    section: 'Platform',
    requires: ['entities.list'],
    load: () => import('./pages/entities/EntitiesPage'),
  },
  {
    id: 'backups',
    label: 'Backups',
    icon: 'database',
    key: 'b',
    section: 'Platform',
    requires: ['backups.overview'],
    load: () => import('./pages/tenants/backups/BackupsPage'),
  },
  {
    id: 'license',
    label: 'License',
    icon: 'key',
    key: 'l',
    section: 'Governance',
    requires: ['license.status'],
    load: () => import('./pages/license/LicensePage'),
  },
  {
    id: 'settings',
    label: 'Settings',
    icon: 'mail',
    key: 'm',
    section: 'Console',
    requires: ['mail.smtp.get'],
    load: () => import('./pages/settings/SettingsPage'),
  },
  {
    id: 'clusters',
    label: 'Clusters',
    icon: 'server',
    key: 'c',
    section: 'Console',
    requires: ['clusters.list'],
    load: () => import('./pages/clusters/ClustersPage'),
  },
  {
    id: 'tokens',
    label: 'API tokens',
    icon: 'key',
    key: 'k',
    section: 'Console',
    requires: ['tokens.list'],
    load: () => import('./pages/tokens/TokensPage'),
  },
  {
    id: 'operators',
    label: 'Operators',
    icon: 'user',
    key: 'o',
    section: 'Console',
    requires: ['members.list', 'members.invitations.list', 'members.sessions.list', 'operators.oidc.get'],
    load: () => import('./pages/operators/OperatorsPage'),
  },
  {
    id: 'audit',
    label: 'Audit log',
    icon: 'scroll',
    key: 'a',
    section: 'Governance',
    requires: ['audit.query'],
    load: () => import('./pages/audit/AuditPage'),
  },
  {
    id: 'signin',
    label: 'Sign in',
    icon: 'user',
    key: 'i',
    section: 'Console',
    requires: ['operators.status'],
    hidden: true,
    load: () => import('./pages/signin/SignInPage'),
  },
];

/** Entries whose commands this build's contract has. */
export const availableNav = (): NavEntry[] => navEntries.filter((e) => e.requires.every((c) => isCommandName(c)));
