import { useSyncExternalStore } from 'react';

/**
 * Hash routing: works the same from file:// (Electron) and from the browser-mode
 * server, and needs no server-side fallback. Routes look like #/tenants/acme.
 */
const subscribe = (cb: () => void) => {
  window.addEventListener('hashchange', cb);
  return () => window.removeEventListener('hashchange', cb);
};
const currentPath = () => decodeURI(location.hash.replace(/^#/, '')) || '/';

export function useRoute(): { path: string; segments: string[] } {
  const path = useSyncExternalStore(subscribe, currentPath);
  return { path, segments: path.split('/').filter(Boolean) };
}

export function navigate(path: string) {
  if (currentPath() !== path) location.hash = path;
}
