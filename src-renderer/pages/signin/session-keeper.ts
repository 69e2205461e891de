import { useEffect } from 'react';
import { client } from '../../client';
import { navigate } from '../../lib/router';
import { useApp } from '../../stores/app';
import { useToasts } from '../../stores/toasts';

/** Refresh this long before the ID token expires, so the session never lapses while the console is open. */
const REFRESH_BEFORE_MS = 60_000;
const MIN_DELAY_MS = 5_000;

/**
 * OIDC sessions end when their ID token expires (the engine enforces it). While the window is
 * open this refreshes them in time (operators.oidc.refresh: new tokens, groups re-read, audited);
 * a refused refresh means the provider no longer vouches for the operator: back to sign-in.
 */
export function useOidcSessionKeeper(): void {
  const operator = useApp((s) => s.operator);
  const oidc = operator?.via === 'oidc';
  const operatorKey = operator ? `${operator.id}/${operator.role}` : null;

  useEffect(() => {
    if (!oidc) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let live = true;
    const schedule = (expiresAt: string | null) => {
      if (!live || !expiresAt) return;
      const delay = Math.max(MIN_DELAY_MS, Date.parse(expiresAt) - Date.now() - REFRESH_BEFORE_MS);
      timer = setTimeout(() => void refresh(), delay);
    };
    const refresh = async () => {
      try {
        const next = await client.invoke('operators.oidc.refresh', {});
        const before = useApp.getState().operator;
        if (before && (before.role !== next.operator.role || before.id !== next.operator.id)) useApp.setState({ operator: next.operator });
        schedule(next.expiresAt);
      } catch {
        if (!live) return;
        useToasts
          .getState()
          .push({ kind: 'info', title: 'Your session has ended', message: 'The identity provider did not renew it. Sign in again.' });
        await useApp.getState().load();
        navigate('/signin');
      }
    };
    client.invoke('operators.status', {}).then(
      (s) => schedule(s.sessionExpiresAt),
      () => undefined,
    );
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [oidc, operatorKey]);
}
