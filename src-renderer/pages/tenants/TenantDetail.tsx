import { lazy, Suspense, useState } from 'react';
import type { CommandOutput } from '../../../src-shared/contract';
import { client } from '../../client';
import { useInvoke } from '../../lib/use-invoke';
import { navigate } from '../../lib/router';
import { shortDate } from '../../lib/format';
import { useApp } from '../../stores/app';
import { useReadOnly } from '../../stores/cluster';
import { toastError, toastSuccess } from '../../stores/toasts';
import { StateDot } from '../../shell/StateDot';
import { CopyButton } from '../../components/CopyButton';
import { DangerZone } from './DangerZone';
import SecretsTab from './secrets/SecretsTab';
import BootstrapTab from './secrets/BootstrapTab';
import CpTokenTab from './secrets/CpTokenTab';

const BackupsSection = lazy(() => import('./backups/BackupsSection'));
import TenantWorkers from '../infrastructure/TenantWorkers';

type Detail = CommandOutput<'tenants.get'>;
const TABS = [
  ['overview', 'Overview'],
  ['admin', 'Admin password'],
  ['database', 'Database'],
  ['secrets', 'Secrets'],
  ['bootstrap', 'Bootstrap token'],
  ['cp-token', 'CP token'],
  ['backups', 'Backups'],
  ['workers', 'Workers'],
  ['danger', 'Danger zone'],
] as const;

/** One tenant: tabs Overview, Admin password, Database, Secrets, Bootstrap token, CP token, Backups, Danger zone (#/tenants/<slug>/<tab>). */
export default function TenantDetail({ slug, tab }: { slug: string; tab: string }) {
  const q = useInvoke('tenants.get', { slug }, slug);
  const t = q.data?.tenant;
  return (
    <div data-testid="tenant-detail">
      <div className="page-header">
        <div>
          <div className="sub">
            <a href="#/tenants">Tenants</a> /
          </div>
          <h1 className="row">
            <code style={{ fontSize: 17 }}>{slug}</code>
            {t && (
              <>
                <span className="muted" style={{ fontWeight: 400 }}>
                  {t.name}
                </span>
                <span className="badge">{t.tier}</span>
                <span className="badge row">
                  <StateDot state={t.status} /> {t.status}
                </span>
              </>
            )}
          </h1>
        </div>
      </div>
      {q.error && <div className="callout callout-err">{q.error.message}</div>}
      <div className="tabs" role="tablist">
        {TABS.map(([id, label]) => (
          <button
            key={id}
            role="tab"
            className="tab"
            aria-selected={tab === id}
            onClick={() => navigate(`/tenants/${slug}/${id}`)}
            data-testid={`tab-${id}`}
          >
            {label}
          </button>
        ))}
      </div>
      {q.data && tab === 'overview' && <Overview d={q.data} />}
      {q.data && tab === 'admin' && <AdminPassword slug={slug} />}
      {q.data && tab === 'database' && <Database d={q.data} reload={q.reload} />}
      {q.data && tab === 'secrets' && <SecretsTab slug={slug} />}
      {q.data && tab === 'bootstrap' && <BootstrapTab slug={slug} />}
      {q.data && tab === 'cp-token' && <CpTokenTab slug={slug} />}
      {q.data && tab === 'backups' && (
        <Suspense fallback={<div className="loading">Loading…</div>}>
          <BackupsSection slug={slug} />
        </Suspense>
      )}
      {q.data && tab === 'workers' && <TenantWorkers slug={slug} reloadTenant={q.reload} />}
      {q.data && tab === 'danger' && <DangerZone tenant={q.data.tenant} reload={q.reload} />}
    </div>
  );
}

function Overview({ d }: { d: Detail }) {
  const t = d.tenant;
  const lim = d.limits;
  const stat = (label: string, v: number | undefined, limit: number | null | undefined) => (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value">
        {v?.toLocaleString() ?? '—'}
        {limit !== undefined && <small> / {limit === null ? '∞' : limit.toLocaleString()}</small>}
      </div>
    </div>
  );
  return (
    <>
      <div className="stats" data-testid="tenant-stats">
        {stat('Users', t.stats?.users, lim?.users)}
        {stat('Groups', t.stats?.groups, undefined)}
        {stat('Applications', t.stats?.applications, lim?.applications)}
        <div className="stat">
          <div className="stat-label">Schema</div>
          <div className="stat-value">
            {d.schema?.current ?? '—'}
            <small> / {d.schema?.latest ?? '—'}</small>
          </div>
          <div className="stat-sub">{d.schema?.pending.length ? `${d.schema.pending.length} pending` : 'up to date'}</div>
        </div>
      </div>
      <section className="card">
        <div className="card-body">
          <table className="kv-table">
            <tbody>
              <tr>
                <td>Status</td>
                <td>{t.status}</td>
              </tr>
              <tr>
                <td>Tier</td>
                <td>
                  {t.tier}
                  {lim?.dedicatedLoginWorker ? ' (dedicated login worker)' : ''}
                </td>
              </tr>
              <tr>
                <td>Backend version</td>
                <td>{t.backendVersion ?? '—'}</td>
              </tr>
              <tr>
                <td>Created</td>
                <td>{shortDate(t.created)}</td>
              </tr>
              <tr>
                <td>License users</td>
                <td>{t.licenseUsers ?? '—'}</td>
              </tr>
              <tr>
                <td>Consistency</td>
                <td>
                  <span className="row row-wrap">
                    <span className={`badge ${t.inRegistry ? 'badge-ok' : 'badge-err'}`}>registry {t.inRegistry ? '✓' : 'missing'}</span>
                    <span className={`badge ${t.hasSecret ? 'badge-ok' : 'badge-err'}`}>
                      Secret tenant-{t.slug} {t.hasSecret ? '✓' : 'missing'}
                    </span>
                    <span className={`badge ${t.hasDatabase ? 'badge-ok' : 'badge-err'}`}>database {t.hasDatabase ? '✓' : 'missing'}</span>
                  </span>
                </td>
              </tr>
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}

function AdminPassword({ slug }: { slug: string }) {
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const [secret, setSecret] = useState<{ username: string; password: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (what: 'reveal' | 'reset') => {
    setBusy(true);
    try {
      const r = await client.invoke(what === 'reveal' ? 'tenants.adminPassword.reveal' : 'tenants.adminPassword.reset', { slug });
      setSecret(r);
      if (what === 'reset') toastSuccess('New admin password generated', 'The old one no longer works.');
    } catch (e) {
      toastError(what === 'reveal' ? 'Could not reveal the password' : 'Could not reset the password', e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card">
      <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
        <p style={{ margin: 0 }}>
          The tenant&apos;s initial administrator. Revealing or resetting the password is for admins only and is written to the audit log.
        </p>
        {secret ? (
          <>
            <div>
              Username <code>{secret.username}</code>
            </div>
            <div className="secret-box" data-testid="revealed-password">
              <code>{secret.password}</code>
              <CopyButton value={secret.password} />
              <button className="btn btn-small" onClick={() => setSecret(null)}>
                Hide
              </button>
            </div>
          </>
        ) : (
          <div className="secret-box">
            <code>••••••••••••••••</code>
          </div>
        )}
        <div className="row">
          <button className="btn" disabled={busy || role !== 'admin'} onClick={() => void run('reveal')} data-testid="reveal-password">
            Reveal
          </button>
          <button className="btn" disabled={busy || role !== 'admin' || readOnly} onClick={() => void run('reset')}>
            Reset password
          </button>
          {role !== 'admin' && <span className="muted">Needs the admin role (you are {role ?? 'not signed in'}).</span>}
        </div>
      </div>
    </section>
  );
}

function Database({ d, reload }: { d: Detail; reload(): Promise<void> }) {
  const readOnly = useReadOnly();
  const [busy, setBusy] = useState(false);
  const db = d.database;
  const apply = async () => {
    setBusy(true);
    try {
      const r = await client.invoke('tenants.schema.apply', { slug: d.tenant.slug });
      const res = r.results[0];
      if (res && !res.ok) toastError('Migration failed', { code: 'INTERNAL', message: res.error ?? 'unknown error' });
      else toastSuccess('Schema up to date', res?.applied.length ? `Applied ${res.applied.join(', ')}` : undefined);
      await reload();
    } catch (e) {
      toastError('Could not apply migrations', e);
    } finally {
      setBusy(false);
    }
  };
  const url = db ? `postgresql://${db.user}:••••••••@${db.host}:${db.port}/${db.database}` : '';
  return (
    <div className="two-col">
      <section className="card">
        <header className="card-header">
          <h2>Connection</h2>
        </header>
        <div className="card-body">
          {db ? (
            <table className="kv-table">
              <tbody>
                <tr>
                  <td>Host</td>
                  <td className="mono">
                    {db.host}:{db.port}
                  </td>
                </tr>
                <tr>
                  <td>Database</td>
                  <td className="mono">{db.database}</td>
                </tr>
                <tr>
                  <td>Role</td>
                  <td className="mono">{db.user}</td>
                </tr>
                <tr>
                  <td>Password</td>
                  <td className="mono">
                    •••••••• <span className="muted">(in Secret tenant-{d.tenant.slug})</span>
                  </td>
                </tr>
                <tr>
                  <td>URL</td>
                  <td className="mono" style={{ overflowWrap: 'anywhere' }}>
                    {url}
                  </td>
                </tr>
              </tbody>
            </table>
          ) : (
            <p className="muted">No database found for this tenant.</p>
          )}
        </div>
      </section>
      <section className="card" data-testid="schema-card">
        <header className="card-header">
          <h2>Schema</h2>
        </header>
        <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 10 }}>
          {d.schema ? (
            <>
              <div>
                Version <strong>{d.schema.current}</strong> of {d.schema.latest}
              </div>
              {d.schema.pending.length ? (
                <ul className="missing-list">
                  {d.schema.pending.map((m) => (
                    <li key={m} className="mono">
                      {m}
                    </li>
                  ))}
                </ul>
              ) : (
                <div className="callout callout-ok">No pending migrations.</div>
              )}
              <div>
                <button
                  className="btn btn-primary"
                  disabled={busy || readOnly || d.schema.pending.length === 0}
                  onClick={() => void apply()}
                >
                  {busy ? 'Applying…' : d.schema.pending.length ? `Apply ${d.schema.pending.length} pending` : 'Nothing to apply'}
                </button>
              </div>
            </>
          ) : (
            <p className="muted">Schema state unknown (database unreachable).</p>
          )}
        </div>
      </section>
    </div>
  );
}
