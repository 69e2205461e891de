import { useState, type FormEvent } from 'react';
import { client, errorShape } from '../../client';
import { navigate } from '../../lib/router';
import { useInvoke } from '../../lib/use-invoke';
import { useApp } from '../../stores/app';

/**
 * Sign-in: first-run admin creation, local account, or OIDC in the system
 * browser. The engine enforces everything; this page only asks.
 */
export default function SignInPage() {
  const status = useInvoke('operators.status', {});
  const reloadApp = useApp((s) => s.load);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const done = async () => {
    await reloadApp();
    navigate('/');
  };
  const run = async (label: string, fn: () => Promise<unknown>) => {
    setBusy(label);
    setProblem(null);
    try {
      await fn();
      await done();
    } catch (e) {
      setProblem(errorShape(e).message);
    } finally {
      setBusy(null);
    }
  };

  const s = status.data;
  const firstRun = s?.firstRun ?? false;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (firstRun) {
      if (password !== repeat) {
        setProblem('The two passwords differ.');
        return;
      }
      void run('Creating the first admin', () => client.invoke('operators.setupFirstAdmin', { username, password }));
    } else {
      void run('Signing in', () => client.invoke('operators.signIn', { username, password }));
    }
  };

  const oidc = (profile: string) =>
    run('Waiting for the browser', async () => {
      const flow = await client.invoke('operators.oidc.begin', { profile });
      // System browser (RFC 8252): Electron routes window.open to shell.openExternal; a browser opens a tab.
      window.open(flow.authorizationUrl, '_blank', 'noopener');
      await client.invoke('operators.oidc.complete', { flowId: flow.flowId, timeoutMs: 300_000 });
    });

  if (s?.operator) {
    return (
      <div className="card" style={{ maxWidth: 440, margin: '40px auto' }}>
        <div className="card-body">
          Signed in as <strong>{s.operator.displayName}</strong> ({s.operator.role}).{' '}
          <button className="btn btn-small" onClick={() => void run('Signing out', () => client.invoke('operators.signOut', {}))}>
            Sign out
          </button>
        </div>
      </div>
    );
  }

  return (
    <div style={{ maxWidth: 440, margin: '40px auto' }} data-testid="signin-page">
      <div className="page-header">
        <h1>{firstRun ? 'Set up Gatehouse' : 'Sign in'}</h1>
      </div>
      {status.error && <p className="field-error">{status.error.message}</p>}
      {firstRun && (
        <p className="muted">
          No operator account exists yet. Create the first administrator; it stays available as the break-glass account when an identity
          provider is configured later.
        </p>
      )}
      <form className="card" onSubmit={submit}>
        <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
          <div className="field">
            <label htmlFor="signin-username">Username</label>
            <input
              id="signin-username"
              autoComplete="username"
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              required
              autoFocus
            />
          </div>
          <div className="field">
            <label htmlFor="signin-password">Password</label>
            <input
              id="signin-password"
              type="password"
              autoComplete={firstRun ? 'new-password' : 'current-password'}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              required
            />
            {firstRun && s && <span className="field-hint">{s.passwordPolicy}</span>}
          </div>
          {firstRun && (
            <div className="field">
              <label htmlFor="signin-repeat">Repeat password</label>
              <input
                id="signin-repeat"
                type="password"
                autoComplete="new-password"
                value={repeat}
                onChange={(e) => setRepeat(e.target.value)}
                required
              />
            </div>
          )}
          {problem && (
            <p className="field-error" role="alert">
              {problem}
            </p>
          )}
          <div className="row">
            <button className="btn btn-primary" type="submit" disabled={busy !== null}>
              {busy ?? (firstRun ? 'Create admin and sign in' : 'Sign in')}
            </button>
          </div>
        </div>
      </form>
      {!firstRun && (s?.oidcProfiles.length ?? 0) > 0 && (
        <div className="card">
          <div className="card-header">Single sign-on</div>
          <div className="card-body row row-wrap">
            {s!.oidcProfiles.map((p) => (
              <button key={p} className="btn" disabled={busy !== null} onClick={() => void oidc(p)}>
                Sign in with {p === 'default' ? 'your identity provider' : p}
              </button>
            ))}
            {busy === 'Waiting for the browser' && <span className="muted">Finish signing in in the browser window that opened.</span>}
          </div>
        </div>
      )}
    </div>
  );
}
