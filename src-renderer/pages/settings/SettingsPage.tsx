import { navigate } from '../../lib/router';
import { selectedContext, useCluster } from '../../stores/cluster';
import { SmtpTab } from './SmtpTab';
import { ReportTab } from './ReportTab';
import { AlertsTab } from './AlertsTab';
import './settings.css';

/** Tabs of Settings; a capability adds its tab here (SMTP and the daily report: docs/mail.md). */
const TABS = [
  { id: 'smtp', label: 'SMTP' },
  { id: 'report', label: 'Daily report' },
  { id: 'alerts', label: 'Alerts' },
] as const;

/** Settings of the selected cluster: the SMTP relay with its staged test, the daily report, the alert rules. */
export default function SettingsPage({ segments }: { segments: string[] }) {
  const list = useCluster((s) => s.list);
  const current = selectedContext(list);
  const tab = TABS.find((t) => t.id === segments[0])?.id ?? 'smtp';
  if (!current)
    return (
      <div className="empty-state">
        <h2>No cluster selected</h2>
        <p className="muted">Pick a cluster on the Clusters page first.</p>
      </div>
    );
  return (
    <div className="settings-page" data-testid="settings-page">
      <div className="page-header">
        <div>
          <h1>Settings</h1>
          <div className="sub">
            Mail and alerts of {current.contextName}: the SMTP relay every tenant and the console send through, the daily report, the alert
            rules
          </div>
        </div>
      </div>
      <div className="tabs" role="tablist">
        {TABS.map((t) => (
          <button
            key={t.id}
            role="tab"
            className="tab"
            aria-selected={tab === t.id}
            onClick={() => navigate(`/settings/${t.id}`)}
            data-testid={`settings-tab-${t.id}`}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel">
        {tab === 'smtp' ? <SmtpTab key={current.id} /> : tab === 'report' ? <ReportTab key={current.id} /> : <AlertsTab key={current.id} />}
      </div>
    </div>
  );
}
