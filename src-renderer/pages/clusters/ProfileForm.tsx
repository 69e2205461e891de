import { useEffect, useState } from 'react';
import type { ClusterProfile } from '../../../src-shared/contract/clusters';
import { client } from '../../client';
import { toastError, toastSuccess } from '../../stores/toasts';
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
  ssl: boolean;
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
  ssl: p.database?.ssl ?? false,
  password: '',
  expectedOffline: p.expectedOffline,
});

/** Per-cluster profile: platform namespace, database admin connection (password write-only), expected-offline. */
export function ProfileForm({ clusterId, contextName }: { clusterId: string; contextName: string }) {
  const [profile, setProfile] = useState<ClusterProfile | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [saving, setSaving] = useState(false);

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

  if (!draft) return <section className="card"><div className="card-body muted">Loading profile…</div></section>;
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setDraft({ ...draft, [k]: v });

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
              ssl: draft.ssl,
              ...(draft.password ? { password: draft.password } : {}),
            }
          : null,
      });
      setProfile(saved);
      setDraft(fromProfile(saved));
      toastSuccess('Profile saved', saved.hasPassword ? 'The database password is in the secret store.' : undefined);
      void useCluster.getState().refreshState();
    } catch (e) {
      const details = (e as { details?: { fields?: Record<string, string> } }).details;
      if (details?.fields) setFieldErrors(details.fields);
      toastError('Could not save the profile', e);
    } finally {
      setSaving(false);
    }
  };

  const err = (path: string) => fieldErrors[path] ?? fieldErrors[`database.${path}`];
  const field = (label: string, key: 'host' | 'port' | 'user' | 'database', hint?: string) => (
    <div className="field">
      <label htmlFor={`pf-${key}`}>{label}</label>
      <input id={`pf-${key}`} type={key === 'port' ? 'number' : 'text'} value={draft[key]} aria-invalid={!!err(key)} onChange={(e) => set(key, e.target.value)} />
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
        <div className="form-grid">
          <div className="field">
            <label htmlFor="pf-namespace">Platform namespace</label>
            <input id="pf-namespace" type="text" value={draft.namespace} aria-invalid={!!err('namespace')} onChange={(e) => set('namespace', e.target.value)} />
            {err('namespace') && <span className="field-error">{err('namespace')}</span>}
          </div>
          <div className="field">
            <span className="field-label">Reachability</span>
            <label className="check" style={{ height: 30 }}>
              <input type="checkbox" checked={draft.expectedOffline} onChange={(e) => set('expectedOffline', e.target.checked)} data-testid="expected-offline" />
              Expected offline (VPN-only)
            </label>
          </div>
        </div>
        <label className="check">
          <input type="checkbox" checked={draft.withDatabase} onChange={(e) => set('withDatabase', e.target.checked)} data-testid="db-enabled" />
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
                  placeholder={profile?.hasPassword ? '•••••••• (unchanged)' : 'not set'}
                  value={draft.password}
                  onChange={(e) => set('password', e.target.value)}
                />
                <span className="field-hint" data-testid="password-stored">
                  {profile?.hasPassword ? '✓ stored in the keychain; leave empty to keep it' : 'write-only: kept in the keychain, never shown again'}
                </span>
              </div>
              <div className="field">
                <span className="field-label">TLS</span>
                <label className="check" style={{ height: 30 }}>
                  <input type="checkbox" checked={draft.ssl} onChange={(e) => set('ssl', e.target.checked)} />
                  Require SSL
                </label>
              </div>
            </div>
            <SecretsUnlock />
          </>
        )}
        <div className="row">
          <span className="muted">{profile?.updatedAt ? `Saved ${new Date(profile.updatedAt).toLocaleString()}` : 'Not saved yet (defaults shown)'}</span>
          <span className="spacer" />
          <button className="btn btn-primary" type="submit" disabled={saving} data-testid="profile-save">
            {saving ? 'Saving…' : 'Save profile'}
          </button>
        </div>
      </form>
    </section>
  );
}
