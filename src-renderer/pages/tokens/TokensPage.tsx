import { useState } from 'react';
import type { TokenView } from '../../../src-shared/contract/tokens';
import { client, errorShape } from '../../client';
import { useInvoke } from '../../lib/use-invoke';
import { ago, exactTime } from '../../lib/format';
import { useApp } from '../../stores/app';
import { selectedContext, useCluster, useReadOnly } from '../../stores/cluster';
import { toastError, toastSuccess } from '../../stores/toasts';
import { Modal } from '../../components/Modal';
import { CopyButton } from '../../components/CopyButton';
import { Icon } from '../../shell/Icon';
import './tokens.css';

const list = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

interface LimitDraft {
  command: string;
  tenantPrefix: string;
  max: number;
}

/** API tokens of the selected cluster: create one for yourself (shown once), see and revoke yours; admins set the longest expiry. */
export default function TokensPage() {
  const clusters = useCluster((s) => s.list);
  const current = selectedContext(clusters);
  const operator = useApp((s) => s.operator);
  const isAdmin = operator?.role === 'admin';
  const [everyone, setEveryone] = useState(false);
  const q = useInvoke('tokens.list', { everyone }, `${current?.id ?? ''}:${everyone}`, current !== undefined);
  const [created, setCreated] = useState<{ token: string; name: string } | null>(null);
  const [revoking, setRevoking] = useState<TokenView | null>(null);

  if (!current)
    return (
      <div className="empty-state">
        <h2>No cluster selected</h2>
        <p className="muted">API tokens belong to a cluster. Pick one on the Clusters page first.</p>
      </div>
    );

  const revoke = async (t: TokenView) => {
    setRevoking(null);
    try {
      await client.invoke('tokens.revoke', { id: t.id });
      toastSuccess('Token revoked', `"${t.name}" no longer works.`);
      await q.reload();
    } catch (e) {
      toastError('Revoking the token failed', e);
    }
  };

  return (
    <div className="tokens" data-testid="tokens-page">
      <div className="page-header">
        <div>
          <h1>API tokens</h1>
          <div className="sub">
            For scripts and CI on {current.contextName}: a token acts as you, only within its scopes and limits, until it expires
          </div>
        </div>
        <span className="spacer" />
        <button className="btn" onClick={() => void q.reload()} disabled={q.loading}>
          <Icon name="refresh" /> Refresh
        </button>
      </div>
      {q.error && <div className="callout callout-err">{q.error.message}</div>}
      {created && (
        <div className="callout callout-ok token-once" data-testid="token-created" role="status">
          <strong>Token “{created.name}” created. Copy it now: it is shown only this once and cannot be read again.</strong>
          <div className="token-once-row">
            <input
              className="input token-value"
              readOnly
              value={created.token}
              aria-label="The new token"
              data-testid="token-value"
              onFocus={(e) => e.currentTarget.select()}
            />
            <CopyButton value={created.token} />
            <button className="btn btn-small" onClick={() => setCreated(null)} data-testid="token-dismiss">
              Done, I copied it
            </button>
          </div>
          <div className="field-hint">
            Use it as <code>GATEHOUSE_TOKEN=… gatehouse tenants list --cluster {current.contextName}</code> (docs/cli.md).
          </div>
        </div>
      )}
      {q.data && (
        <CreateToken
          defaultDays={q.data.settings.defaultExpiryDays}
          maxDays={q.data.settings.maxExpiryDays}
          disabled={operator?.via === 'token'}
          onCreated={async (token, name) => {
            setCreated({ token, name });
            await q.reload();
          }}
        />
      )}
      {q.data && (
        <section className="card" data-testid="tokens-list">
          <header className="card-header">
            <h2>{everyone ? 'Every member’s tokens' : 'Your tokens'}</h2>
            <span className="spacer" />
            {isAdmin && (
              <label className="inline-check">
                <input type="checkbox" checked={everyone} onChange={(e) => setEveryone(e.target.checked)} data-testid="tokens-everyone" />{' '}
                Show every member’s
              </label>
            )}
          </header>
          <div className="card-body flush">
            <table className="table">
              <thead>
                <tr>
                  <th>Name</th>
                  {everyone && <th>Owner</th>}
                  <th>Status</th>
                  <th>Scopes</th>
                  <th>Limits</th>
                  <th>Expires</th>
                  <th>Last used</th>
                  <th>
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {q.data.tokens.length === 0 && (
                  <tr>
                    <td colSpan={everyone ? 8 : 7} className="muted">
                      No tokens yet. Tokens that expired or were revoked more than a week ago are pruned.
                    </td>
                  </tr>
                )}
                {q.data.tokens.map((t) => (
                  <tr key={t.id} data-testid={`token-row-${t.name}`}>
                    <td>
                      <strong>{t.name}</strong>
                      <div className="muted small">acts as {t.role}</div>
                    </td>
                    {everyone && <td>{t.ownerName}</td>}
                    <td>
                      <span
                        className={`badge ${t.status === 'active' ? 'badge-ok' : t.status === 'expired' ? 'badge-warn' : 'badge-err'}`}
                        data-testid="token-status"
                      >
                        {t.status}
                      </span>
                    </td>
                    <td className="small">
                      <div>commands: {t.scopes.commands.join(', ')}</div>
                      <div>tenants: {t.scopes.tenants.join(', ')}</div>
                    </td>
                    <td className="small">
                      {t.limits.length === 0
                        ? '—'
                        : t.limits.map((l, i) => (
                            <div key={i}>
                              {l.command}
                              {l.tenantPrefix ? ` on ${l.tenantPrefix}*` : ''}: {l.used}/{l.max}
                            </div>
                          ))}
                    </td>
                    <td title={exactTime(t.expiresAt)}>
                      {t.status === 'revoked' ? <span className="muted">revoked {ago(t.revokedAt)}</span> : exactTime(t.expiresAt)}
                    </td>
                    <td title={exactTime(t.lastUsedAt)}>{t.lastUsedAt ? ago(t.lastUsedAt) : <span className="muted">never</span>}</td>
                    <td className="num">
                      {t.status !== 'revoked' && (t.ownerId === operator?.id || isAdmin) && (
                        <button className="btn btn-small" onClick={() => setRevoking(t)} data-testid="token-revoke">
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {q.data && isAdmin && (
        <ExpirySetting maxDays={q.data.settings.maxExpiryDays} updatedBy={q.data.settings.updatedBy} onSaved={() => void q.reload()} />
      )}
      {revoking && (
        <Modal
          title={`Revoke “${revoking.name}”?`}
          onClose={() => setRevoking(null)}
          testId="revoke-dialog"
          footer={
            <>
              <button className="btn" onClick={() => setRevoking(null)}>
                Cancel
              </button>
              <button className="btn btn-danger" onClick={() => void revoke(revoking)} data-testid="revoke-confirm">
                Revoke token
              </button>
            </>
          }
        >
          <p>Scripts using this token are refused from their next command on. This cannot be undone; create a new token to replace it.</p>
        </Modal>
      )}
    </div>
  );
}

function CreateToken({
  defaultDays,
  maxDays,
  disabled,
  onCreated,
}: {
  defaultDays: number;
  maxDays: number;
  disabled: boolean;
  onCreated(token: string, name: string): Promise<void>;
}) {
  const readOnly = useReadOnly();
  const [name, setName] = useState('');
  const [days, setDays] = useState(defaultDays);
  const [commands, setCommands] = useState('tenants.*');
  const [tenants, setTenants] = useState('*');
  const [limits, setLimits] = useState<LimitDraft[]>([]);
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<string | null>(null);
  const tooLong = days > maxDays || days < 1;

  const create = async () => {
    setBusy(true);
    setRefused(null);
    try {
      const out = await client.invoke('tokens.create', {
        name: name.trim(),
        expiresInDays: days,
        scopes: { commands: list(commands), tenants: list(tenants) },
        limits,
      });
      setName('');
      setLimits([]);
      await onCreated(out.token, out.view.name);
    } catch (e) {
      setRefused(errorShape(e).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" data-testid="token-create">
      <header className="card-header">
        <h2>New token</h2>
        <span className="muted">for yourself; it can do at most what your role allows</span>
      </header>
      <div className="card-body token-form">
        <div className="token-form-row">
          <label className="field">
            <span className="field-label">Name</span>
            <input
              className="input"
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="ci pipeline"
              data-testid="token-name"
              disabled={disabled}
            />
          </label>
          <label className="field">
            <span className="field-label">Expires in (days)</span>
            <input
              className="input token-days"
              type="number"
              min={1}
              max={maxDays}
              value={days}
              onChange={(e) => setDays(Number(e.target.value))}
              data-testid="token-days"
              disabled={disabled}
            />
            <span className={tooLong ? 'field-error' : 'field-hint'}>at most {maxDays} days (set by an admin)</span>
          </label>
          <label className="field grow">
            <span className="field-label">Commands</span>
            <input
              className="input"
              value={commands}
              onChange={(e) => setCommands(e.target.value)}
              placeholder="tenants.*, backups.list"
              data-testid="token-commands"
              disabled={disabled}
            />
            <span className="field-hint">names or prefixes such as tenants.*; * for every command</span>
          </label>
          <label className="field grow">
            <span className="field-label">Tenants</span>
            <input
              className="input"
              value={tenants}
              onChange={(e) => setTenants(e.target.value)}
              placeholder="ci-*, acme"
              data-testid="token-tenants"
              disabled={disabled}
            />
            <span className="field-hint">slugs or prefixes such as ci-*; * for every tenant</span>
          </label>
        </div>
        <div className="field">
          <span className="field-label">Limits</span>
          {limits.map((l, i) => (
            <div className="token-form-row" key={i} data-testid={`token-limit-${i}`}>
              <input
                className="input"
                aria-label="Command"
                value={l.command}
                onChange={(e) => setLimits(limits.map((x, j) => (j === i ? { ...x, command: e.target.value.trim() } : x)))}
              />
              <span className="muted">on tenants starting with</span>
              <input
                className="input token-prefix"
                aria-label="Tenant prefix"
                value={l.tenantPrefix}
                onChange={(e) => setLimits(limits.map((x, j) => (j === i ? { ...x, tenantPrefix: e.target.value.trim() } : x)))}
              />
              <span className="muted">at most</span>
              <input
                className="input token-days"
                aria-label="Maximum uses"
                type="number"
                min={1}
                value={l.max}
                onChange={(e) => setLimits(limits.map((x, j) => (j === i ? { ...x, max: Number(e.target.value) } : x)))}
              />
              <button className="btn btn-small" onClick={() => setLimits(limits.filter((_, j) => j !== i))} aria-label="Remove this limit">
                <Icon name="x" size={12} />
              </button>
            </div>
          ))}
          <div>
            <button
              className="btn btn-small"
              onClick={() => setLimits([...limits, { command: 'tenants.create', tenantPrefix: 'ci-', max: 3 }])}
              disabled={disabled}
              data-testid="token-add-limit"
            >
              <Icon name="plus" size={12} /> Add a limit
            </button>
            <span className="field-hint">
              {' '}
              e.g. create at most 3 tenants whose slug starts with ci- (counted in the cluster’s database)
            </span>
          </div>
        </div>
        {refused && (
          <div className="callout callout-err" data-testid="token-refused">
            {refused}
          </div>
        )}
        {disabled && <div className="callout callout-warn">A token cannot create tokens: sign in as yourself.</div>}
        <div>
          <button
            className="btn btn-primary"
            disabled={disabled || readOnly || busy || !name.trim() || tooLong || list(commands).length === 0 || list(tenants).length === 0}
            onClick={() => void create()}
            data-testid="token-submit"
          >
            Create token
          </button>
        </div>
      </div>
    </section>
  );
}

function ExpirySetting({ maxDays, updatedBy, onSaved }: { maxDays: number; updatedBy: string | null; onSaved(): void }) {
  const [value, setValue] = useState(maxDays);
  const [busy, setBusy] = useState(false);
  const save = async () => {
    setBusy(true);
    try {
      await client.invoke('tokens.settings.set', { maxExpiryDays: value });
      toastSuccess('Maximum expiry saved', `New tokens of this cluster expire after at most ${value} days.`);
      onSaved();
    } catch (e) {
      toastError('Saving the maximum expiry failed', e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" data-testid="token-settings">
      <header className="card-header">
        <h2>Token policy</h2>
        <span className="muted">admins; applies to every member of this cluster{updatedBy ? ` · last set by ${updatedBy}` : ''}</span>
      </header>
      <div className="card-body token-form-row">
        <label className="field">
          <span className="field-label">Longest expiry (days)</span>
          <input
            className="input token-days"
            type="number"
            min={1}
            max={3650}
            value={value}
            onChange={(e) => setValue(Number(e.target.value))}
            data-testid="token-max-days"
          />
        </label>
        <button className="btn" onClick={() => void save()} disabled={busy || value < 1 || value === maxDays} data-testid="token-max-save">
          Save
        </button>
        <span className="field-hint">Existing tokens keep their expiry; revoke those that should end sooner.</span>
      </div>
    </section>
  );
}
