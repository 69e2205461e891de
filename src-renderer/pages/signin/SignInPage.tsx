import { useState, type FormEvent } from 'react';
import { client, errorShape } from '../../client';
import { navigate } from '../../lib/router';
import { useInvoke } from '../../lib/use-invoke';
import { useApp } from '../../stores/app';

/** Where this browser last signed in ('' = the workstation's break-glass account), so sign-out → sign-in needs no re-choice. */
const LAST_TARGET = 'gatehouse.signin.target';
const lastTarget = (): string | null => {
  try {
    return window.localStorage.getItem(LAST_TARGET);
  } catch {
    return null;
  }
};
const rememberTarget = (target: string) => {
  try {
    window.localStorage.setItem(LAST_TARGET, target);
  } catch {
    // storage refused (private mode): the first cluster stays the default
  }
};

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
  /** '' : a break-glass account of this workstation; else the context whose cluster's members to sign in against. */
  const [context, setContext] = useState<string | null>(null);
  const [mode, setMode] = useState<'signin' | 'accept'>('signin');
  const [code, setCode] = useState('');
  /** A fresh workstation whose operator is a member of a cluster already: sign in instead of setting up. */
  const [skipSetup, setSkipSetup] = useState(false);
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
  const contexts = s?.signInContexts ?? [];
  // members of the first cluster by default; the workstation's break-glass account is the last choice
  const remembered = lastTarget();
  const fallback =
    remembered !== null && (remembered === '' || contexts.some((c) => c.id === remembered)) ? remembered : (contexts[0]?.id ?? '');
  const chosen = context ?? fallback;
  const accepting = mode === 'accept';
  const firstRun = (s?.firstRun ?? false) && !accepting && !skipSetup;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (accepting) {
      if (password !== repeat) {
        setProblem('The two passwords differ.');
        return;
      }
      if (!chosen) {
        setProblem('Choose the cluster named in the invitation.');
        return;
      }
      void run('Accepting the invitation', () =>
        client.invoke('members.invitations.accept', { context: chosen, secretCode: code.trim(), username, password }),
      );
    } else if (firstRun) {
      if (password !== repeat) {
        setProblem('The two passwords differ.');
        return;
      }
      void run('Creating the first admin', async () => {
        await client.invoke('operators.setupFirstAdmin', { username, password });
        rememberTarget(''); // the first admin is this workstation's break-glass account
      });
    } else {
      void run('Signing in', async () => {
        await client.invoke('operators.signIn', { username, password, ...(chosen ? { context: chosen } : {}) });
        rememberTarget(chosen);
      });
    }
  };

  const oidc = (profile: string) =>
    run('Waiting for the browser', async () => {
      const flow = await client.invoke('operators.oidc.begin', { profile, ...(chosen ? { context: chosen } : {}) });
      // System browser (RFC 8252): Electron routes window.open to shell.openExternal; a browser opens a tab.
      window.open(flow.authorizationUrl, '_blank', 'noopener');
      await client.invoke('operators.oidc.complete', { flowId: flow.flowId, timeoutMs: 300_000, ...(chosen ? { context: chosen } : {}) });
    });

  /** Accept the invitation with the identity confirmed at the provider instead of a password. */
  const acceptWithOidc = (profile: string) => {
    if (!chosen) {
      setProblem('Choose the cluster named in the invitation.');
      return;
    }
    void run('Waiting for the browser', async () => {
      const flow = await client.invoke('operators.oidc.begin', { profile, purpose: 'link', context: chosen });
      window.open(flow.authorizationUrl, '_blank', 'noopener');
      await client.invoke('members.invitations.accept', { context: chosen, secretCode: code.trim(), username, oidcFlowId: flow.flowId });
    });
  };

  if (s?.operator && s.operator.via !== 'os-user') {
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
        <h1>{firstRun ? 'Set up Gatehouse' : accepting ? 'Accept an invitation' : 'Sign in'}</h1>
      </div>
      {status.error && <p className="field-error">{status.error.message}</p>}
      {s?.operator?.via === 'os-user' && (
        <p className="muted">
          This console runs with the development identity ({s.operator.displayName} acts as admin). Signing in gives this window its own
          identity.
        </p>
      )}
      {firstRun && (
        <p className="muted">
          No operator account exists on this workstation yet. Create its break-glass administrator (kept here, not in any cluster); with it,
          invite the members of your clusters on the Operators page. Were you invited? Choose “Accept an invitation” below.
        </p>
      )}
      <form className="card" onSubmit={submit} data-testid={accepting ? 'accept-form' : 'signin-form'}>
        <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
          {!firstRun && (
            <div className="field">
              <label htmlFor="signin-cluster">{accepting ? 'Cluster named in the invitation' : 'Sign in to'}</label>
              <select id="signin-cluster" className="input" value={chosen} onChange={(e) => setContext(e.target.value)}>
                {contexts.map((c) => (
                  <option key={c.id} value={c.id}>
                    {accepting ? c.name : `members of ${c.name}`}
                  </option>
                ))}
                {!accepting && <option value="">this workstation (break-glass account)</option>}
              </select>
            </div>
          )}
          {accepting && (
            <div className="field">
              <label htmlFor="signin-code">Invitation code</label>
              <input
                id="signin-code"
                autoComplete="one-time-code"
                value={code}
                onChange={(e) => setCode(e.target.value)}
                required
                placeholder="ghinv_…"
              />
            </div>
          )}
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
              autoComplete={firstRun || accepting ? 'new-password' : 'current-password'}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              required
            />
            {(firstRun || accepting) && s && <span className="field-hint">{s.passwordPolicy}</span>}
          </div>
          {(firstRun || accepting) && (
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
              {busy ?? (firstRun ? 'Create admin and sign in' : accepting ? 'Join and sign in' : 'Sign in')}
            </button>
            <span className="spacer" />
            <button
              type="button"
              className="btn btn-small"
              onClick={() => {
                setMode(accepting ? 'signin' : 'accept');
                setProblem(null);
              }}
              data-testid="signin-toggle-accept"
            >
              {accepting ? 'I already have an account' : 'Accept an invitation'}
            </button>
            {firstRun && contexts.length > 0 && (
              <button type="button" className="btn btn-small" onClick={() => setSkipSetup(true)} data-testid="signin-as-member">
                I am a member of a cluster
              </button>
            )}
          </div>
        </div>
      </form>
      {accepting && (s?.oidcProfiles.length ?? 0) > 0 && (
        <div className="card" data-testid="accept-oidc">
          <div className="card-header">Or use single sign-on</div>
          <div className="card-body row row-wrap">
            <span className="muted">
              Instead of a password, link your identity at the provider to the new member (username and code above).
            </span>
            {s!.oidcProfiles.map((p) => (
              <button key={p} className="btn" disabled={busy !== null || !code.trim() || !username} onClick={() => acceptWithOidc(p)}>
                Join with {p === 'default' ? 'your identity provider' : p}
              </button>
            ))}
            {busy === 'Waiting for the browser' && <span className="muted">Finish signing in in the browser window that opened.</span>}
          </div>
        </div>
      )}
      {!firstRun && !accepting && (s?.oidcProfiles.length ?? 0) > 0 && (
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
