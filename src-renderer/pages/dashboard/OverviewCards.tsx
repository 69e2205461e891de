import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { DashboardOverview } from '../../../src-shared/contract/dashboard';
import { client, errorShape } from '../../client';
import { ago, exactTime, plural } from '../../lib/format';
import { navigate } from '../../lib/router';
import { useApp } from '../../stores/app';
import '../alerts/alerts.css';

const STATE_BADGE: Record<string, string> = { firing: 'badge-err', acknowledged: 'badge-warn', silenced: 'badge-info' };
const LICENSE_BADGE: Record<string, string> = { valid: 'badge-ok', grace: 'badge-warn', expired: 'badge-err', invalid: 'badge-err' };

/**
 * "Is everything all right?": totals from the tenant cache, the last alert evaluation and the
 * audit log's local copy (dashboard.overview never waits on the cluster), refreshed when the
 * tenants, the alerts or the audit copy change.
 */
export function OverviewCards({ clusterKey, nodes }: { clusterKey: string; nodes: { ready: number; total: number } | null }) {
  const [data, setData] = useState<DashboardOverview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reconnects = useApp((s) => s.reconnects);
  const seq = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = async () => {
    const mine = ++seq.current;
    try {
      const value = await client.invoke('dashboard.overview', {});
      if (mine !== seq.current) return;
      setData(value);
      setError(null);
    } catch (e) {
      if (mine === seq.current) setError(errorShape(e).message);
    }
  };
  // Live: events come in bursts (a WATCH, an evaluation); one reload per quarter second is enough.
  const soon = () => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      void load();
    }, 250);
  };

  useEffect(() => {
    setData(null);
    void load();
  }, [clusterKey, reconnects]);
  useEffect(() => {
    const offs = [
      client.subscribe('tenants.changed', soon),
      client.subscribe('alerts.changed', soon),
      client.subscribe('audit.changed', soon),
    ];
    return () => {
      offs.forEach((off) => off());
      if (timer.current) clearTimeout(timer.current);
      timer.current = null;
    };
  }, []);

  if (error && !data)
    return (
      <div className="callout callout-err" style={{ marginBottom: 14 }} data-testid="overview-error">
        {error}
      </div>
    );
  const d = data;
  const evaluated = d?.evaluatedAt ? `as of the last evaluation, ${ago(d.evaluatedAt)}` : 'not evaluated yet';
  return (
    <div className="dash-grid" data-testid="overview-cards">
      <Card title="Tenants" link="/tenants" linkLabel="Tenants" testId="card-tenants">
        {!d ? (
          <Loading />
        ) : !d.tenants ? (
          <p className="muted">The tenant list of this cluster has not been read yet; it is being read now.</p>
        ) : (
          <>
            <div className="stat-value" data-testid="tenants-total">
              {d.tenants.total.toLocaleString()}
              <small> tenants · {plural(d.tenants.users, 'user')}</small>
            </div>
            <div className="dash-kv" style={{ marginTop: 8 }}>
              {Object.entries(d.tenants.byStatus).map(([k, v]) => (
                <Kv key={`s-${k}`} k={k} v={v} />
              ))}
            </div>
            <div className="row row-wrap" style={{ marginTop: 8 }}>
              {Object.entries(d.tenants.byTier).map(([k, v]) => (
                <span key={k} className="tag">
                  {k} {v.toLocaleString()}
                </span>
              ))}
            </div>
            <div className="stat-sub" title={exactTime(d.tenants.refreshedAt)}>
              cached list, refreshed {ago(d.tenants.refreshedAt)}
            </div>
          </>
        )}
      </Card>

      <Card title="License" link="/license" linkLabel="License" testId="card-license">
        {!d ? (
          <Loading />
        ) : !d.license ? (
          <p className="muted">Not read yet ({evaluated}).</p>
        ) : (
          <>
            <div className="row">
              <span className={`badge ${LICENSE_BADGE[d.license.state] ?? ''}`} data-testid="license-state">
                {d.license.state}
              </span>
              {d.license.licenseId && <span className="mono">{d.license.licenseId}</span>}
            </div>
            <div className="dash-kv" style={{ marginTop: 8 }}>
              <Kv k="expires in" v={d.license.daysToExpiry === null ? '—' : `${d.license.daysToExpiry} days`} />
              <Kv
                k="tenants"
                v={`${d.tenants?.total.toLocaleString() ?? '—'} / ${d.license.tenantsLimit?.toLocaleString() ?? 'no limit'}`}
              />
              <Kv k="users" v={`${d.tenants?.users.toLocaleString() ?? '—'} / ${d.license.usersLimit?.toLocaleString() ?? 'no limit'}`} />
            </div>
            <div className="stat-sub">{evaluated}</div>
          </>
        )}
      </Card>

      <Card title="Alerts" link="/alerts" linkLabel="Alerts" testId="card-alerts">
        {!d ? (
          <Loading />
        ) : (
          <>
            <div className="stat-value" data-testid="alerts-firing" style={d.alerts.firing ? { color: 'var(--err)' } : undefined}>
              {d.alerts.firing.toLocaleString()}
              <small>
                {' '}
                firing · {d.alerts.acknowledged} acknowledged · {d.alerts.silenced} silenced
              </small>
            </div>
            {d.alerts.top.length > 0 ? (
              <ul className="dash-list" style={{ marginTop: 6 }}>
                {d.alerts.top.map((a) => (
                  <li key={a.fingerprint} className="truncate" title={a.summary}>
                    <span className={`badge ${STATE_BADGE[a.state] ?? ''}`}>{a.state}</span> <a href={a.link}>{a.summary}</a>
                  </li>
                ))}
              </ul>
            ) : (
              <p className="muted">{d.evaluatedAt ? 'Nothing is firing.' : 'The rules have not been evaluated yet.'}</p>
            )}
          </>
        )}
      </Card>

      <Card title="Recent activity" link="/audit" linkLabel="Audit log" testId="card-activity">
        {!d ? (
          <Loading />
        ) : d.activity.length === 0 ? (
          <p className="muted">No entries in this console's copy of the audit log yet.</p>
        ) : (
          <ul className="dash-list">
            {d.activity.map((e, i) => (
              <li key={`${e.at}-${i}`} className="truncate" title={`${e.actor}: ${e.action} ${e.target ?? ''} (${e.outcome})`}>
                <span className="muted" title={exactTime(e.at)}>
                  {ago(e.at)}
                </span>{' '}
                <strong>{e.actor}</strong> <span className="mono">{e.action}</span> {e.target ?? ''}
                {e.outcome !== 'success' && <span className="badge badge-err"> {e.outcome}</span>}
              </li>
            ))}
          </ul>
        )}
      </Card>

      <Card title="Backups" link="/backups" linkLabel="Backups" testId="card-backups">
        {!d ? (
          <Loading />
        ) : !d.backups ? (
          <p className="muted">Not read yet ({evaluated}).</p>
        ) : (
          <>
            <div className="dash-kv">
              <Kv k="verified" v={d.backups.ok} />
              <Kv k="verification failed" v={d.backups.failed} bad={d.backups.failed > 0} />
              <Kv k="not verified yet" v={d.backups.unverified} />
              <Kv k="never backed up" v={d.backups.never} bad={d.backups.never > 0} />
            </div>
            <div className="stat-sub">{evaluated}</div>
          </>
        )}
      </Card>

      <Card title="Rollouts" link="/infrastructure" linkLabel="Infrastructure" testId="card-rollouts">
        {!d ? (
          <Loading />
        ) : !d.rollouts ? (
          <p className="muted">Not read yet ({evaluated}).</p>
        ) : (
          <>
            <div className="dash-kv">
              <Kv k="healthy" v={d.rollouts.healthy} />
              <Kv k="progressing" v={d.rollouts.progressing} />
              <Kv k="degraded" v={d.rollouts.degraded} bad={d.rollouts.degraded > 0} />
              <Kv k="workloads" v={d.rollouts.total} />
            </div>
            {d.rollouts.stuck.length > 0 && <p className="err-text">Stuck upgrade: {d.rollouts.stuck.join(', ')}</p>}
            <div className="stat-sub">{evaluated}</div>
          </>
        )}
      </Card>

      <Card title="Infrastructure health" link="/infrastructure" linkLabel="Infrastructure" testId="card-infra">
        {!d ? (
          <Loading />
        ) : (
          <>
            <div className="dash-kv">
              <Kv k="nodes ready" v={nodes ? `${nodes.ready} / ${nodes.total}` : '—'} bad={nodes !== null && nodes.ready < nodes.total} />
              <Kv
                k="database connections"
                v={d.database ? `${d.database.used} / ${d.database.max}` : 'not read'}
                bad={d.database !== null && d.database.max > 0 && d.database.used / d.database.max >= 0.8}
              />
              <Kv
                k="audit verification alarms"
                v={d.auditAlarms === null ? 'not read' : d.auditAlarms}
                bad={d.auditAlarms !== null && d.auditAlarms > 0}
              />
            </div>
            <div className="stat-sub">{evaluated}</div>
          </>
        )}
      </Card>
    </div>
  );
}

function Card({
  title,
  link,
  linkLabel,
  testId,
  children,
}: {
  title: string;
  link: string;
  linkLabel: string;
  testId: string;
  children: ReactNode;
}) {
  return (
    <section className="card" data-testid={testId}>
      <header className="card-header">
        <h2>{title}</h2>
        <span className="spacer" />
        <a className="dash-card-link" href={`#${link}`} onClick={(e) => (e.preventDefault(), navigate(link))}>
          {linkLabel} →
        </a>
      </header>
      <div className="card-body">{children}</div>
    </section>
  );
}

function Kv({ k, v, bad }: { k: string; v: number | string; bad?: boolean }) {
  return (
    <>
      <span className="muted">{k}</span>
      <span className="num" style={bad ? { color: 'var(--err)', fontWeight: 600 } : undefined}>
        {typeof v === 'number' ? v.toLocaleString() : v}
      </span>
    </>
  );
}

const Loading = () => <p className="muted">Reading the cache…</p>;
