import { useEffect, useState } from 'react';
import type { ClusterProfile, PgSslMode } from '../../../src-shared/contract/clusters';
import { client } from '../../client';
import { toastError, toastSuccess, useToasts } from '../../stores/toasts';
import { useApp } from '../../stores/app';
import { useCluster } from '../../stores/cluster';
import { Icon } from '../../shell/Icon';
import { SecretsUnlock } from './SecretsUnlock';

interface Draft {
  namespace: string;
  withDatabase: boolean;
  host: string;
  port: string;
  user: string;
  database: string;
  sslMode: PgSslMode;
  caPem: string;
  allowInsecureTls: boolean;
  password: string;
  expectedOffline: boolean;
}

const fromProfile = (p: ClusterProfile): Draft => ({
  namespace: p.namespace,
  withDatabase: p.database !== null,
  host: p.database?.host ?? '',
  port: String(p.database?.port ?? 5432),
  user: p.database?.user ?? 'postgres',
  database: p.database?.database ?? 'postgres',
  sslMode: p.database?.sslMode ?? 'verify-full',
  caPem: p.database?.caPem ?? '',
  // a profile already saved without verification shows that choice as made; a new one starts safe
  allowInsecureTls: (p.database?.sslMode ?? 'verify-full') !== 'verify-full',
  password: '',
  expectedOffline: p.expectedOffline,
});

const TLS_MODES: { value: PgSslMode; label: string }[] = [
  { value: 'verify-full', label: 'verify-full: encrypted, server certificate and host name checked' },
  { value: 'require', label: 'require: encrypted, server not verified' },
  { value: 'disable', label: 'disable: no TLS' },
];

/** Whether the draft sends the password somewhere, or in a way, other than the saved profile (the engine then drops it). */
function retargets(profile: ClusterProfile | null, d: Draft): boolean {
  const db = profile?.database;
  if (!db || !d.withDatabase) return false;
  return (
    db.host !== d.host.trim() ||
    db.port !== Number(d.port) ||
    db.user !== d.user.trim() ||
    db.database !== d.database.trim() ||
    db.sslMode !== d.sslMode ||
    (db.caPem ?? '').trim() !== d.caPem.trim()
  );
}

/**
 * Per-cluster profile: platform namespace, database admin connection (password write-only, TLS
 * verify-full by default), expected-offline. Saving needs an admin; the engine enforces it.
 */
export function ProfileForm({ clusterId, contextName }: { clusterId: string; contextName: string }) {
  const [profile, setProfile] = useState<ClusterProfile | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [saving, setSaving] = useState(false);
  const isAdmin = useApp((s) => s.operator?.role === 'admin');

  useEffect(() => {
    let live = true;
    client.invoke('clusters.profile.get', { clusterId }).then(
      (p) => {
        if (!live) return;
        setProfile(p);
        setDraft(fromProfile(p));
      },
      (e: unknown) => toastError('Could not read the cluster profile', e),
    );
    return () => {
      live = false;
    };
  }, [clusterId]);

  if (!draft)
    return (
      <section className="card">
        <div className="card-body muted">Loading profile…</div>
      </section>
    );
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setDraft({ ...draft, [k]: v });
  const willDropPassword = !!profile?.hasPassword && retargets(profile, draft) && !draft.password;

  const save = async () => {
    setSaving(true);
    setFieldErrors({});
    try {
      const saved = await client.invoke('clusters.profile.save', {
        clusterId,
        namespace: draft.namespace,
        expectedOffline: draft.expectedOffline,
        database: draft.withDatabase
          ? {
              host: draft.host,
              port: Number(draft.port),
              user: draft.user,
              database: draft.database,
              sslMode: draft.sslMode,
              caPem: draft.caPem.trim() ? draft.caPem : null,
              ...(draft.sslMode !== 'verify-full' ? { allowInsecureTls: draft.allowInsecureTls } : {}),
              ...(draft.password ? { password: draft.password } : {}),
            }
          : null,
      });
      setProfile(saved);
      setDraft(fromProfile(saved));
      if (saved.passwordDropped) {
        useToasts.getState().push({
          kind: 'info',
          title: 'Profile saved; the stored password was removed',
          message:
            'The host, port, user, database or TLS changed, so the old password is not sent there. Enter the password and save again.',
        });
      } else {
        toastSuccess('Profile saved', saved.hasPassword ? 'The database password is in the secret store.' : undefined);
      }
      void useCluster.getState().refreshState();
    } catch (e) {
      const details = (e as { details?: { fields?: Record<string, string> } }).details;
      if (details?.fields) setFieldErrors(details.fields);
      toastError('Could not save the profile', e);
    } finally {
      setSaving(false);
    }
  };

  const readCaFile = async (file: File | undefined) => {
    if (!file) return;
    set('caPem', await file.text());
  };

  const err = (path: string) => fieldErrors[path] ?? fieldErrors[`database.${path}`];
  const field = (label: string, key: 'host' | 'port' | 'user' | 'database', hint?: string) => (
    <div className="field">
      <label htmlFor={`pf-${key}`}>{label}</label>
      <input
        id={`pf-${key}`}
        type={key === 'port' ? 'number' : 'text'}
        value={draft[key]}
        aria-invalid={!!err(key)}
        onChange={(e) => set(key, e.target.value)}
      />
      {err(key) ? <span className="field-error">{err(key)}</span> : hint && <span className="field-hint">{hint}</span>}
    </div>
  );

  return (
    <section className="card" data-testid="profile-form">
      <header className="card-header">
        <h2>Profile</h2>
        <span className="muted truncate">{contextName}</span>
      </header>
      <form
        className="card-body"
        style={{ display: 'flex', flexDirection: 'column', gap: 12 }}
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        {!isAdmin && (
          <div className="callout" data-testid="profile-admin-only">
            Only an admin can change a cluster profile: it decides where the database admin password is sent.
          </div>
        )}
        <fieldset disabled={!isAdmin} style={{ border: 0, padding: 0, margin: 0, display: 'flex', flexDirection: 'column', gap: 12 }}>
          <div className="form-grid">
            <div className="field">
              <label htmlFor="pf-namespace">Platform namespace</label>
              <input
                id="pf-namespace"
                type="text"
                value={draft.namespace}
                aria-invalid={!!err('namespace')}
                onChange={(e) => set('namespace', e.target.value)}
              />
              {err('namespace') && <span className="field-error">{err('namespace')}</span>}
            </div>
            <div className="field">
              <span className="field-label">Reachability</span>
              <label className="check" style={{ height: 30 }}>
                <input
                  type="checkbox"
                  checked={draft.expectedOffline}
                  onChange={(e) => set('expectedOffline', e.target.checked)}
                  data-testid="expected-offline"
                />
                Expected offline (VPN-only)
              </label>
            </div>
          </div>
          <label className="check">
            <input
              type="checkbox"
              checked={draft.withDatabase}
              onChange={(e) => set('withDatabase', e.target.checked)}
              data-testid="db-enabled"
            />
            <Icon name="database" size={14} /> Database admin connection
          </label>
          {draft.withDatabase && (
            <>
              <div className="form-grid">
                {field('Host', 'host')}
                {field('Port', 'port')}
                {field('User', 'user')}
                {field('Database', 'database')}
              </div>
              <div className="form-grid">
                <div className="field">
                  <label htmlFor="pf-password">Password</label>
                  <input
                    id="pf-password"
                    type="password"
                    autoComplete="new-password"
                    placeholder={profile?.hasPassword && !willDropPassword ? '•••••••• (unchanged)' : 'not set'}
                    value={draft.password}
                    onChange={(e) => set('password', e.target.value)}
                  />
                  <span className={willDropPassword ? 'field-error' : 'field-hint'} data-testid="password-stored">
                    {willDropPassword
                      ? 'The connection changed: saving removes the stored password. Enter it again.'
                      : profile?.hasPassword
                        ? '✓ stored in the keychain; leave empty to keep it'
                        : 'write-only: kept in the keychain, never shown again'}
                  </span>
                </div>
                <div className="field">
                  <label htmlFor="pf-sslmode">TLS</label>
                  <select
                    id="pf-sslmode"
                    value={draft.sslMode}
                    onChange={(e) => setDraft({ ...draft, sslMode: e.target.value as PgSslMode, allowInsecureTls: false })}
                    data-testid="pf-sslmode"
                  >
                    {TLS_MODES.map((m) => (
                      <option key={m.value} value={m.value}>
                        {m.label}
                      </option>
                    ))}
                  </select>
                </div>
              </div>
              {draft.sslMode === 'verify-full' ? (
                <div className="field">
                  <label htmlFor="pf-ca">CA certificate of the database server (PEM)</label>
                  <textarea
                    id="pf-ca"
                    rows={4}
                    className="mono"
                    placeholder={'-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----'}
                    value={draft.caPem}
                    aria-invalid={!!err('caPem')}
                    onChange={(e) => set('caPem', e.target.value)}
                    data-testid="pf-ca"
                  />
                  <span className="row">
                    <input
                      type="file"
                      accept=".pem,.crt,.cer"
                      aria-label="Read the CA certificate from a file"
                      onChange={(e) => void readCaFile(e.target.files?.[0])}
                    />
                  </span>
                  {err('caPem') ? (
                    <span className="field-error">{err('caPem')}</span>
                  ) : (
                    <span className="field-hint">Empty: the server certificate must chain to a root this machine trusts.</span>
                  )}
                </div>
              ) : (
                <div className="callout callout-warn" data-testid="tls-insecure">
                  <div style={{ marginBottom: 6 }}>
                    {draft.sslMode === 'disable'
                      ? 'Without TLS the admin password and every query cross the network in clear.'
                      : 'Without verification, anyone between this workstation and the server can pose as it and receive the admin password.'}{' '}
                    The choice is recorded in the audit log.
                  </div>
                  <label className="check">
                    <input
                      type="checkbox"
                      checked={draft.allowInsecureTls}
                      onChange={(e) => set('allowInsecureTls', e.target.checked)}
                      data-testid="pf-allow-insecure"
                    />
                    I accept a connection whose server is {draft.sslMode === 'disable' ? 'not encrypted' : 'not verified'}
                  </label>
                  {err('allowInsecureTls') && <span className="field-error">{err('allowInsecureTls')}</span>}
                </div>
              )}
            </>
          )}
        </fieldset>
        {/* outside the admin-only fieldset: an operator may unlock an existing secret file */}
        {draft.withDatabase && <SecretsUnlock />}
        <div className="row">
          <span className="muted">
            {profile?.updatedAt ? `Saved ${new Date(profile.updatedAt).toLocaleString()}` : 'Not saved yet (defaults shown)'}
          </span>
          <span className="spacer" />
          <button
            className="btn btn-primary"
            type="submit"
            disabled={saving || !isAdmin || (draft.withDatabase && draft.sslMode !== 'verify-full' && !draft.allowInsecureTls)}
            data-testid="profile-save"
          >
            {saving ? 'Saving…' : 'Save profile'}
          </button>
        </div>
      </form>
    </section>
  );
}
