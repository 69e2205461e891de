import type { AlertRuleKind } from '../../../src-shared/contract/alerts';

/** How the rules are named on the Alerts and Settings → Alerts pages. */
export const RULE_LABELS: Record<AlertRuleKind, string> = {
  license_expiring: 'License expiring',
  capacity: 'Capacity',
  backup_failing: 'Backups failing or late',
  restore_drill_failing: 'Restore drill failing',
  key_age: 'Key age over policy',
  rollout_stuck: 'Stuck rollout',
  drift: 'Drift',
  db_connections: 'Database connections',
  audit_alarm: 'Audit verification alarm',
};
