import { useState } from 'react';
import type { InvitationView, MemberView } from '../../../src-shared/contract/members';
import { client, errorShape } from '../../client';
import { ConfirmTyped } from '../../components/ConfirmTyped';
import { CopyButton } from '../../components/CopyButton';
import { Modal } from '../../components/Modal';
import { ago, exactTime } from '../../lib/format';
import { navigate } from '../../lib/router';
import { useInvoke } from '../../lib/use-invoke';
import { Icon } from '../../shell/Icon';
import { useApp } from '../../stores/app';
import { selectedContext, useCluster, useReadOnly } from '../../stores/cluster';
import { toastError, toastSuccess } from '../../stores/toasts';
import { AccessTab } from './AccessTab';
import { describeAccess, formatGrants, parseGrants } from './grants';
import './operators.css';

const TABS = [
  { id: 'members', label: 'Members' },
  { id: 'invitations', label: 'Invitations' },
  { id: 'access', label: 'Sessions & break-glass' },
  { id: 'oidc', label: 'OIDC' },
] as const;
type TabId = (typeof TABS)[number]['id'];

/**
 * Who may operate the selected cluster: its members (shared by every console of the cluster, in
 * gatehouse_control), invitations, this console's sessions and break-glass accounts, and OIDC.
 */
export default function OperatorsPage({ segments }: { segments: string[] }) {
  const list = useCluster((s) => s.list);
  const current = selectedContext(list);
  const operator = useApp((s) => s.operator);
  const tab: TabId = TABS.find((t) => t.id === segments[0])?.id ?? 'members';
  if (operator && operator.role !== 'admin')
    return (
      <div className="empty-state">
        <h2>Admins only</h2>
        <p className="muted">Members, invitations and sign-in settings are managed by an admin of this cluster.</p>
      </div>
    );
  return (
    <div className="operators" data-testid="operators-page">
      <div className="page-header">
        <div>
          <h1>Operators</h1>
          <div className="sub">
            {current
              ? `Who may operate ${current.contextName}: members are shared by every console of this cluster`
              : 'Pick a cluster on the Clusters page to manage its members'}
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
            onClick={() => navigate(`/operators/${t.id}`)}
            data-testid={`operators-tab-${t.id}`}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel">
        {(tab === 'members' || tab === 'invitations') && !current && (
          <div className="callout callout-warn">Members belong to a cluster. Pick one on the Clusters page first.</div>
        )}
        {tab === 'members' && current && <MembersTab key={current.id} />}
        {tab === 'invitations' && current && <InvitationsTab key={current.id} contextName={current.contextName} />}
        {(tab === 'access' || tab === 'oidc') && <AccessTab part={tab} />}
      </div>
    </div>
  );
}

function MembersTab() {
  const q = useInvoke('members.list', {});
  const operator = useApp((s) => s.operator);
  const readOnly = useReadOnly();
  const [editing, setEditing] = useState<MemberView | null>(null);
  const [removing, setRemoving] = useState<MemberView | null>(null);

  const unlock = async (m: MemberView) => {
    try {
      await client.invoke('members.unlock', { username: m.username });
      toastSuccess('Unlocked', `${m.username} can sign in on this console again.`);
      await q.reload();
    } catch (e) {
      toastError('Unlocking failed', e);
    }
  };
  const remove = async (m: MemberView, confirm: string) => {
    setRemoving(null);
    try {
      await client.invoke('members.remove', { username: m.username, confirm, expectedVersion: m.version });
      toastSuccess('Member removed', `${m.username} can no longer operate this cluster.`);
    } catch (e) {
      toastError('Removing the member failed', e);
    }
    await q.reload();
  };

  return (
    <section className="card" data-testid="members-list">
      <header className="card-header">
        <h2>Members</h2>
        <span className="muted small">Invite people on the Invitations tab; each member signs in with this cluster chosen</span>
        <span className="spacer" />
        <button className="btn btn-small" onClick={() => void q.reload()} disabled={q.loading}>
          <Icon name="refresh" size={12} /> Refresh
        </button>
      </header>
      {q.error && <div className="callout callout-err">{q.error.message}</div>}
      <div className="card-body flush">
        <table className="table">
          <thead>
            <tr>
              <th>Member</th>
              <th>Role and scope</th>
              <th>Sign-in</th>
              <th>Last sign-in</th>
              <th>Changed</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {q.data?.members.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  No members yet. Invite the first ones on the Invitations tab.
                </td>
              </tr>
            )}
            {q.data?.members.map((m) => (
              <tr key={m.id} data-testid={`member-row-${m.username}`}>
                <td>
                  <strong>{m.displayName}</strong>
                  <div className="muted small">
                    {m.username}
                    {m.email ? ` · ${m.email}` : ''}
                  </div>
                </td>
                <td data-testid="member-access">{describeAccess(m.globalRole, m.grants)}</td>
                <td className="small">
                  {m.hasPassword ? 'password' : ''}
                  {m.oidcLinks.length > 0 ? `${m.hasPassword ? ' + ' : ''}OIDC` : ''}
                  {m.lockedUntil ? (
                    <div>
                      <span className="badge badge-err" data-testid="member-locked">
                        locked until {exactTime(m.lockedUntil)}
                      </span>
                    </div>
                  ) : m.failedAttempts > 0 ? (
                    <div className="muted">{m.failedAttempts} failed here</div>
                  ) : null}
                </td>
                <td title={exactTime(m.lastSignInAt)}>{m.lastSignInAt ? ago(m.lastSignInAt) : <span className="muted">never</span>}</td>
                <td className="small" title={exactTime(m.updatedAt)}>
                  {ago(m.updatedAt)} by {m.updatedBy}
                  <div className="muted">version {m.version}</div>
                </td>
                <td>
                  <div className="actions">
                    {(m.lockedUntil || m.failedAttempts > 0) && (
                      <button className="btn btn-small" onClick={() => void unlock(m)} data-testid="member-unlock">
                        Unlock
                      </button>
                    )}
                    <button className="btn btn-small" onClick={() => setEditing(m)} disabled={readOnly} data-testid="member-edit">
                      Change role
                    </button>
                    {operator?.id !== `member:${m.username}` && (
                      <button className="btn btn-small" onClick={() => setRemoving(m)} disabled={readOnly} data-testid="member-remove">
                        Remove
                      </button>
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {editing && (
        <RoleDialog
          member={editing}
          onClose={() => setEditing(null)}
          onSaved={async () => {
            setEditing(null);
            await q.reload();
          }}
        />
      )}
      {removing && (
        <ConfirmTyped
          title={`Remove ${removing.username}?`}
          expected={removing.username}
          action="Remove member"
          onClose={() => setRemoving(null)}
          onConfirm={(typed) => void remove(removing, typed)}
        >
          <p>
            They can no longer sign in to this cluster on any console; their open sessions end at their next command. Their API tokens stop
            working with them.
          </p>
        </ConfirmTyped>
      )}
    </section>
  );
}

/** Global role (or none) plus tenant grants; saved against the version shown, so a change made meanwhile elsewhere is refused. */
function AccessFields({
  globalRole,
  setGlobalRole,
  grants,
  setGrants,
  problem,
}: {
  globalRole: string;
  setGlobalRole(v: string): void;
  grants: string;
  setGrants(v: string): void;
  problem: string | null;
}) {
  return (
    <div className="operators-form">
      <label className="field">
        <span className="field-label">Global role</span>
        <select className="input" value={globalRole} onChange={(e) => setGlobalRole(e.target.value)} data-testid="access-global-role">
          <option value="none">none (tenants below only)</option>
          <option value="viewer">viewer</option>
          <option value="operator">operator</option>
          <option value="admin">admin</option>
        </select>
      </label>
      <label className="field grow">
        <span className="field-label">Tenant grants</span>
        <input
          className="input"
          value={grants}
          onChange={(e) => setGrants(e.target.value)}
          placeholder="operator: acme, globex; admin: initech"
          data-testid="access-grants"
        />
        <span className={problem ? 'field-error' : 'field-hint'}>
          {problem ?? 'operator or admin on these tenants only; a member without a global role sees only them'}
        </span>
      </label>
    </div>
  );
}

function RoleDialog({ member, onClose, onSaved }: { member: MemberView; onClose(): void; onSaved(): Promise<void> }) {
  const [globalRole, setGlobalRole] = useState<string>(member.globalRole ?? 'none');
  const [grantsText, setGrantsText] = useState(formatGrants(member.grants));
  const [refused, setRefused] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const parsed = parseGrants(grantsText);
  const save = async () => {
    setBusy(true);
    setRefused(null);
    try {
      await client.invoke('members.setRole', {
        username: member.username,
        globalRole: globalRole === 'none' ? null : (globalRole as 'viewer' | 'operator' | 'admin'),
        grants: parsed.grants,
        expectedVersion: member.version,
      });
      toastSuccess('Role changed', `${member.username}: ${describeAccess(globalRole === 'none' ? null : globalRole, parsed.grants)}.`);
      await onSaved();
    } catch (e) {
      setRefused(errorShape(e).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      title={`Role of ${member.username}`}
      onClose={onClose}
      testId="role-dialog"
      footer={
        <>
          <button className="btn" onClick={onClose}>
            Cancel
          </button>
          <button
            className="btn btn-primary"
            onClick={() => void save()}
            disabled={busy || parsed.problem !== null}
            data-testid="role-save"
          >
            Save
          </button>
        </>
      }
    >
      <p className="muted small">
        Now: {describeAccess(member.globalRole, member.grants)} (version {member.version}, changed by {member.updatedBy}). Applies on every
        console at the member’s next command.
      </p>
      <AccessFields
        globalRole={globalRole}
        setGlobalRole={setGlobalRole}
        grants={grantsText}
        setGrants={setGrantsText}
        problem={parsed.problem}
      />
      {refused && (
        <div className="callout callout-err" role="alert" data-testid="role-refused">
          {refused}
        </div>
      )}
    </Modal>
  );
}

function InvitationsTab({ contextName }: { contextName: string }) {
  const q = useInvoke('members.invitations.list', {});
  const smtp = useInvoke('mail.smtp.get', {});
  const readOnly = useReadOnly();
  const [delivery, setDelivery] = useState<'code' | 'email'>('code');
  const [email, setEmail] = useState('');
  const [globalRole, setGlobalRole] = useState('operator');
  const [grantsText, setGrantsText] = useState('');
  const [hours, setHours] = useState(72);
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<string | null>(null);
  const [code, setCode] = useState<string | null>(null);
  const parsed = parseGrants(grantsText);
  const smtpConfigured = smtp.data ? smtp.data.settings !== null : false;

  const invite = async () => {
    setBusy(true);
    setRefused(null);
    setCode(null);
    try {
      const out = await client.invoke('members.invite', {
        delivery,
        ...(email.trim() ? { email: email.trim() } : {}),
        globalRole: globalRole === 'none' ? null : (globalRole as 'viewer' | 'operator' | 'admin'),
        grants: parsed.grants,
        expiresInHours: hours,
      });
      if (out.code) setCode(out.code);
      else toastSuccess('Invitation sent', `A one-time code went to ${out.invitation.email}.`);
      await q.reload();
    } catch (e) {
      setRefused(errorShape(e).message);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (i: InvitationView) => {
    try {
      await client.invoke('members.invitations.revoke', { id: i.id });
      toastSuccess('Invitation revoked', 'Its code no longer works.');
    } catch (e) {
      toastError('Revoking failed', e);
    }
    await q.reload();
  };

  return (
    <>
      <section className="card" data-testid="invite-form">
        <header className="card-header">
          <h2>Invite</h2>
          <span className="muted small">the invitee chooses a username and a password on the sign-in page (“Accept an invitation”)</span>
        </header>
        <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
          <div className="operators-form">
            <label className="field">
              <span className="field-label">Deliver</span>
              <select
                className="input"
                value={delivery}
                onChange={(e) => setDelivery(e.target.value as 'code' | 'email')}
                data-testid="invite-delivery"
              >
                <option value="code">one-time code, I hand it over</option>
                <option value="email" disabled={!smtpConfigured}>
                  by e-mail{smtpConfigured ? '' : ' (configure SMTP in Settings first)'}
                </option>
              </select>
            </label>
            <label className="field grow">
              <span className="field-label">E-mail{delivery === 'code' ? ' (optional)' : ''}</span>
              <input
                className="input"
                type="email"
                value={email}
                onChange={(e) => setEmail(e.target.value)}
                placeholder="name@example.com"
                data-testid="invite-email"
              />
            </label>
            <label className="field">
              <span className="field-label">Expires in (hours)</span>
              <input
                className="input"
                style={{ width: 90 }}
                type="number"
                min={1}
                max={720}
                value={hours}
                onChange={(e) => setHours(Number(e.target.value))}
                data-testid="invite-hours"
              />
            </label>
          </div>
          <AccessFields
            globalRole={globalRole}
            setGlobalRole={setGlobalRole}
            grants={grantsText}
            setGrants={setGrantsText}
            problem={parsed.problem}
          />
          {refused && (
            <div className="callout callout-err" role="alert" data-testid="invite-refused">
              {refused}
            </div>
          )}
          {code && (
            <div className="callout callout-ok" role="status" data-testid="invite-code">
              <strong>Hand this code over now: it is shown only this once, works once and expires in {hours} hours.</strong>
              <div className="operators-code">
                <input
                  readOnly
                  className="input"
                  value={code}
                  aria-label="Invitation code"
                  data-testid="invite-code-value"
                  onFocus={(e) => e.currentTarget.select()}
                />
                <CopyButton value={code} />
              </div>
              <div className="field-hint">
                The invitee opens Gatehouse, chooses “Accept an invitation”, the cluster “{contextName}”, and enters the code.
              </div>
            </div>
          )}
          <div>
            <button
              className="btn btn-primary"
              onClick={() => void invite()}
              disabled={
                readOnly ||
                busy ||
                parsed.problem !== null ||
                (globalRole === 'none' && parsed.grants.length === 0) ||
                (delivery === 'email' && !email.trim())
              }
              data-testid="invite-submit"
            >
              {delivery === 'email' ? 'Send invitation' : 'Create invitation code'}
            </button>
          </div>
        </div>
      </section>
      <section className="card" data-testid="invitations-list">
        <header className="card-header">
          <h2>Invitations</h2>
        </header>
        {q.error && <div className="callout callout-err">{q.error.message}</div>}
        <div className="card-body flush">
          <table className="table">
            <thead>
              <tr>
                <th>For</th>
                <th>Role and scope</th>
                <th>Status</th>
                <th>Created</th>
                <th>Expires</th>
                <th>
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {q.data?.invitations.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    No invitations yet.
                  </td>
                </tr>
              )}
              {q.data?.invitations.map((i) => (
                <tr key={i.id} data-testid="invitation-row">
                  <td>
                    {i.email ?? <span className="muted">code</span>}
                    <div className="muted small">{i.delivery === 'email' ? 'e-mailed' : 'one-time code'}</div>
                  </td>
                  <td>{describeAccess(i.globalRole, i.grants)}</td>
                  <td>
                    <span
                      className={`badge ${i.status === 'pending' ? 'badge-ok' : i.status === 'accepted' ? 'badge-info' : 'badge-warn'}`}
                      data-testid="invitation-status"
                    >
                      {i.status}
                    </span>
                    {i.acceptedBy && <div className="muted small">by {i.acceptedBy}</div>}
                    {i.revokedBy && <div className="muted small">by {i.revokedBy}</div>}
                  </td>
                  <td className="small" title={exactTime(i.createdAt)}>
                    {ago(i.createdAt)} by {i.createdBy}
                  </td>
                  <td title={exactTime(i.expiresAt)}>{exactTime(i.expiresAt)}</td>
                  <td>
                    <div className="actions">
                      {i.status === 'pending' && (
                        <button
                          className="btn btn-small"
                          onClick={() => void revoke(i)}
                          disabled={readOnly}
                          data-testid="invitation-revoke"
                        >
                          Revoke
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
    </>
  );
}
