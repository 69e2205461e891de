/** Alert rules, evaluation, state and notifications (docs/alerts.md). Local ids 1900–1949 belong to this capability. */
export { AlertsService, type MailMessage, type MailPort, type AlertsServiceOptions } from './service';
export { alertsMigrations, AlertStore } from './store';
export { evaluate, type AlertSnapshot, type Condition } from './evaluate';
export { dueNotifications, GROUPING_DEFAULTS, type GroupingTimes } from './grouping';
export { RULES_CONFIGMAP, RULES_KEY, defaultRules, readRules } from './rules';
export { gatherSnapshot, type AlertReaders } from './sources';
