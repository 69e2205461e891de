import { useState } from 'react';
import type { CommandOutput } from '../../../src-shared/contract';
import { client, errorShape } from '../../client';
import { ago, exactTime } from '../../lib/format';
import { useInvoke } from '../../lib/use-invoke';
import { toastError, toastSuccess } from '../../stores/toasts';
import { describeAccess } from './grants';

type OidcProfile = CommandOutput<'operators.oidc.get'>['profiles'][number];
const words = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

/** This console's sessions and break-glass accounts, or the OIDC settings (both are workstation-level). */
export function AccessTab({ part }: { part: 'access' | 'oidc' }) {
  return part === 'access' ? (
    <>
      <SessionsCard />
      <BreakGlassCard />
    </>
  ) : (
    <OidcCard />
  );
}

function SessionsCard() {
  const q = useInvoke('members.sessions.list', {});
  const end = async (id: string, who: string) => {
    try {
      const out = await client.invoke('members.sessions.end', { id });
      if (out.ended) toastSuccess('Session ended', `${who} must sign in again in that window.`);
      else toastError('Session already gone', new Error('That session had ended meanwhile.'));
    } catch (e) {
      toastError('Ending the session failed', e);
    }
    await q.reload();
  };
  return (
    <section className="card" data-testid="sessions-list">
      <header className="card-header">
        <h2>Active sessions on this console</h2>
        <span className="muted small">windows and browser tabs signed in here; other consoles keep their own</span>
      </header>
      {q.error && <div className="callout callout-err">{q.error.message}</div>}
      <div className="card-body flush">
        <table className="table">
          <thead>
            <tr>
              <th>Operator</th>
              <th>Role</th>
              <th>Signed in with</th>
              <th>Since</th>
              <th>Ends</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {q.data?.sessions.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  Nobody is signed in with an account on this console (the development identity acts without a session).
                </td>
              </tr>
            )}
            {q.data?.sessions.map((s) => (
              <tr key={s.id} data-testid="session-row">
                <td>
                  <strong>{s.displayName}</strong>
                  <div className="muted small">{s.operatorId}</div>
                </td>
                <td>{s.role}</td>
                <td>{s.via === 'member' ? 'member password' : s.via === 'local-account' ? 'break-glass account' : s.via}</td>
                <td title={exactTime(s.since)}>{ago(s.since)}</td>
                <td>{s.expiresAt ? exactTime(s.expiresAt) : <span className="muted">sign-out or idle</span>}</td>
                <td>
                  <div className="actions">
                    {s.current ? (
                      <span className="muted small">this window</span>
                    ) : (
                      <button className="btn btn-small" onClick={() => void end(s.id, s.displayName)} data-testid="session-end">
                        End session
                      </button>
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function BreakGlassCard() {
  const q = useInvoke('operators.list', {});
  const unlock = async (username: string) => {
    try {
      await client.invoke('operators.unlock', { username });
      toastSuccess('Unlocked', `${username} can sign in again.`);
    } catch (e) {
      toastError('Unlocking failed', e);
    }
    await q.reload();
  };
  return (
    <section className="card" data-testid="breakglass-list">
      <header className="card-header">
        <h2>Break-glass accounts of this workstation</h2>
        <span className="badge badge-warn">local only</span>
        <span className="muted small">
          kept in this console’s durable local state for recovery when the cluster database or the identity provider is down; not members of
          any cluster
        </span>
      </header>
      {q.error && <div className="callout callout-err">{q.error.message}</div>}
      <div className="card-body flush">
        <table className="table">
          <thead>
            <tr>
              <th>Account</th>
              <th>Role</th>
              <th>Last sign-in</th>
              <th>Failed sign-ins</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {q.data?.accounts.length === 0 && (
              <tr>
                <td colSpan={5} className="muted">
                  No local account on this workstation.
                </td>
              </tr>
            )}
            {q.data?.accounts.map((a) => (
              <tr key={a.username} data-testid={`breakglass-row-${a.username}`}>
                <td>
                  <strong>{a.displayName}</strong>
                  <div className="muted small">{a.username}</div>
                </td>
                <td>{a.role}</td>
                <td>{a.lastSignInAt ? ago(a.lastSignInAt) : <span className="muted">never</span>}</td>
                <td>
                  {a.lockedUntil ? (
                    <span className="badge badge-err">locked until {exactTime(a.lockedUntil)}</span>
                  ) : (
                    a.failedAttempts || <span className="muted">0</span>
                  )}
                </td>
                <td>
                  <div className="actions">
                    {(a.lockedUntil || a.failedAttempts > 0) && (
                      <button className="btn btn-small" onClick={() => void unlock(a.username)}>
                        Unlock
                      </button>
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function OidcCard() {
  const q = useInvoke('operators.oidc.get', {});
  const [editing, setEditing] = useState<OidcProfile | 'new' | null>(null);
  const [testing, setTesting] = useState<string | null>(null);
  const [tested, setTested] = useState<{ profile: string; text: string; ok: boolean } | null>(null);

  const test = async (profile: string) => {
    setTesting(profile);
    setTested(null);
    try {
      const flow = await client.invoke('operators.oidc.begin', { profile });
      // System browser (RFC 8252): Electron routes window.open to shell.openExternal; a browser opens a tab.
      window.open(flow.authorizationUrl, '_blank', 'noopener');
      const out = await client.invoke('operators.oidc.test', { flowId: flow.flowId, timeoutMs: 300_000 });
      setTested({
        profile,
        ok: true,
        text: `${out.operator.displayName} (${out.operator.id}) would sign in as ${describeAccess(
          out.operator.globalRole === false ? null : out.operator.role,
          out.operator.grants ?? [],
        )}.`,
      });
    } catch (e) {
      setTested({ profile, ok: false, text: errorShape(e).message });
    } finally {
      setTesting(null);
    }
  };

  return (
    <section className="card" data-testid="oidc-card">
      <header className="card-header">
        <h2>OIDC sign-in</h2>
        <span className="muted small">per cluster profile, kept on this console; group mappings give global or tenant-scoped roles</span>
        <span className="spacer" />
        <button className="btn btn-small" onClick={() => setEditing('new')} data-testid="oidc-add">
          Add provider
        </button>
      </header>
      {q.error && <div className="callout callout-err">{q.error.message}</div>}
      <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
        {q.data?.profiles.length === 0 && <p className="muted">No identity provider configured: operators sign in with a password.</p>}
        {q.data?.profiles.map((p) => (
          <div key={p.profile} className="card" data-testid={`oidc-profile-${p.profile}`}>
            <div className="card-body small" style={{ display: 'grid', gridTemplateColumns: '160px 1fr', gap: '4px 12px' }}>
              <span className="muted">Profile</span>
              <strong>{p.profile}</strong>
              <span className="muted">Issuer</span>
              <code>{p.issuer}</code>
              <span className="muted">Client</span>
              <span>
                {p.clientId} {p.hasClientSecret ? '(confidential, secret stored)' : '(public, PKCE)'}
              </span>
              <span className="muted">Groups claim</span>
              <code>{p.groupsClaim}</code>
              <span className="muted">Group mapping</span>
              <span>
                {(['admin', 'operator', 'viewer'] as const).map((r) => (
                  <div key={r}>
                    {r}: {p.roleMapping[r].join(', ') || '—'}
                  </div>
                ))}
                {p.roleMapping.tenants.map((t, i) => (
                  <div key={i}>
                    {t.group} → {t.role} on {t.tenants.join(', ')}
                  </div>
                ))}
              </span>
            </div>
            <div className="card-body row">
              <button className="btn btn-small" onClick={() => setEditing(p)}>
                Edit
              </button>
              <button className="btn btn-small" onClick={() => void test(p.profile)} disabled={testing !== null} data-testid="oidc-test">
                {testing === p.profile ? 'Waiting for the browser…' : 'Test sign-in'}
              </button>
              <span className="muted small">opens the provider in a new tab; shows the role it maps to without signing this window in</span>
            </div>
            {tested?.profile === p.profile && (
              <div className={`callout ${tested.ok ? 'callout-ok' : 'callout-err'}`} data-testid="oidc-test-result">
                {tested.text}
              </div>
            )}
          </div>
        ))}
      </div>
      {editing && (
        <OidcForm
          initial={editing === 'new' ? null : editing}
          onDone={async () => {
            setEditing(null);
            await q.reload();
          }}
          onCancel={() => setEditing(null)}
        />
      )}
    </section>
  );
}

/** "group: role: slug, slug" per line. */
function parseTenantMapping(text: string) {
  const out: { group: string; role: 'operator' | 'admin'; tenants: string[] }[] = [];
  for (const line of text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const m = /^([^:]+):\s*(operator|admin)\s*:\s*(.+)$/i.exec(line);
    if (!m) return { mapping: out, problem: `"${line}" should read "group: operator: slug, slug"` };
    out.push({ group: m[1]!.trim(), role: m[2]!.toLowerCase() as 'operator' | 'admin', tenants: words(m[3]!) });
  }
  return { mapping: out, problem: null };
}

function OidcForm({ initial, onDone, onCancel }: { initial: OidcProfile | null; onDone(): Promise<void>; onCancel(): void }) {
  const [profile, setProfile] = useState(initial?.profile ?? 'default');
  const [issuer, setIssuer] = useState(initial?.issuer ?? '');
  const [clientId, setClientId] = useState(initial?.clientId ?? '');
  const [clientSecret, setClientSecret] = useState('');
  const [groupsClaim, setGroupsClaim] = useState(initial?.groupsClaim ?? 'groups');
  const [admin, setAdmin] = useState(initial?.roleMapping.admin.join(', ') ?? '');
  const [operator, setOperator] = useState(initial?.roleMapping.operator.join(', ') ?? '');
  const [viewer, setViewer] = useState(initial?.roleMapping.viewer.join(', ') ?? '');
  const [tenants, setTenants] = useState(
    (initial?.roleMapping.tenants ?? []).map((t) => `${t.group}: ${t.role}: ${t.tenants.join(', ')}`).join('\n'),
  );
  const [refused, setRefused] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const parsed = parseTenantMapping(tenants);
  const save = async () => {
    setBusy(true);
    setRefused(null);
    try {
      await client.invoke('operators.oidc.configure', {
        profile,
        issuer,
        clientId,
        ...(clientSecret ? { clientSecret } : {}),
        groupsClaim,
        roleMapping: { admin: words(admin), operator: words(operator), viewer: words(viewer), tenants: parsed.mapping },
      });
      toastSuccess('OIDC saved', 'Sessions signed in through this profile end; they sign in again with the new mapping.');
      await onDone();
    } catch (e) {
      setRefused(errorShape(e).message);
    } finally {
      setBusy(false);
    }
  };
  const field = (label: string, value: string, set: (v: string) => void, testId: string, hint?: string, type = 'text') => (
    <label className="field grow">
      <span className="field-label">{label}</span>
      <input className="input" type={type} value={value} onChange={(e) => set(e.target.value)} data-testid={testId} />
      {hint && <span className="field-hint">{hint}</span>}
    </label>
  );
  return (
    <div className="card-body" data-testid="oidc-form" style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
      <h3>{initial ? `Edit ${initial.profile}` : 'New provider'}</h3>
      <div className="operators-form">
        {field('Cluster profile', profile, setProfile, 'oidc-profile', '"default" applies where a profile has none')}
        {field('Issuer', issuer, setIssuer, 'oidc-issuer', 'discovered before saving; a wrong issuer is refused')}
        {field('Client id', clientId, setClientId, 'oidc-client')}
        {field(
          'Client secret',
          clientSecret,
          setClientSecret,
          'oidc-secret',
          initial?.hasClientSecret ? 'leave empty to keep the stored one' : 'confidential clients only',
          'password',
        )}
        {field('Groups claim', groupsClaim, setGroupsClaim, 'oidc-groups-claim')}
      </div>
      <div className="operators-form">
        {field('Admin groups', admin, setAdmin, 'oidc-map-admin')}
        {field('Operator groups', operator, setOperator, 'oidc-map-operator')}
        {field('Viewer groups', viewer, setViewer, 'oidc-map-viewer')}
      </div>
      <label className="field">
        <span className="field-label">Tenant-scoped groups</span>
        <textarea
          className="input"
          rows={3}
          value={tenants}
          onChange={(e) => setTenants(e.target.value)}
          placeholder={'team-acme: operator: acme, globex\nacme-leads: admin: acme'}
          data-testid="oidc-map-tenants"
        />
        <span className={parsed.problem ? 'field-error' : 'field-hint'}>
          {parsed.problem ?? 'one line per group: group: role: tenants'}
        </span>
      </label>
      {refused && (
        <div className="callout callout-err" role="alert">
          {refused}
        </div>
      )}
      <div className="row">
        <button className="btn btn-primary" onClick={() => void save()} disabled={busy || parsed.problem !== null || !issuer || !clientId}>
          Save
        </button>
        <button className="btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
