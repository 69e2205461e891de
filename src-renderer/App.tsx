import { lazy, Suspense, useCallback, useEffect, useMemo, useState, type ComponentType } from 'react';
import { availableNav, type NavEntry } from './nav';
import { navigate, useRoute } from './lib/router';
import { useApp } from './stores/app';
import { useCluster, wireClusterEvents } from './stores/cluster';
import { Sidebar } from './shell/Sidebar';
import { StatusBar } from './shell/StatusBar';
import { Banners } from './shell/Banners';
import { Toasts } from './shell/Toasts';
import { ShortcutsHelp } from './shell/ShortcutsHelp';
import { useGlobalShortcuts } from './shell/shortcuts';
import { ErrorBoundary } from './components/ErrorBoundary';
import { useOidcSessionKeeper } from './pages/signin/session-keeper';
import { wireAlertNotifications } from './lib/alert-notifications';

const entries = availableNav();
// one lazy component per page, created once so React keeps its state
const pages = new Map<string, ComponentType<{ segments: string[] }>>(entries.map((e: NavEntry) => [e.id, lazy(e.load)]));

export function App() {
  const { segments } = useRoute();
  const [help, setHelp] = useState(false);
  const load = useApp((s) => s.load);
  const loadClusters = useCluster((s) => s.load);
  const openHelp = useCallback(() => setHelp(true), []);
  useGlobalShortcuts(entries, openHelp);
  useOidcSessionKeeper();

  const operator = useApp((s) => s.operator);
  const loaded = useApp((s) => s.info !== null);
  useEffect(() => {
    void load();
    wireClusterEvents();
    wireAlertNotifications();
  }, [load]);
  // cluster data needs an operator; after sign-in (the sign-in page calls useApp.load()) it loads
  useEffect(() => {
    if (operator) void loadClusters();
  }, [operator, loadClusters]);
  useEffect(() => {
    if (loaded && !operator && pages.has('signin')) navigate('/signin');
  }, [loaded, operator]);

  const pageId = segments[0] ?? '';
  const Page = pages.get(pageId);
  useEffect(() => {
    if (!Page && entries[0]) navigate(`/${entries[0].id}`);
  }, [Page]);
  const title = useMemo(() => entries.find((e) => e.id === pageId)?.label, [pageId]);
  useEffect(() => {
    document.title = title ? `${title} · Gatehouse` : 'Gatehouse';
  }, [title]);

  // signing in is a screen of its own: no navigation to pages that would refuse anyway
  if (pageId === 'signin' && Page) {
    return (
      <div className="app app-bare" data-testid="app">
        <main className="content">
          <Suspense fallback={<div className="loading">Loading…</div>}>
            <Page segments={segments.slice(1)} />
          </Suspense>
        </main>
        <Toasts />
      </div>
    );
  }

  return (
    <div className="app" data-testid="app">
      <Sidebar entries={entries} active={pageId} onHelp={openHelp} />
      <div className="main">
        <Banners />
        <main className="content" id="content" tabIndex={-1}>
          <ErrorBoundary key={pageId}>
            <Suspense fallback={<div className="loading">Loading…</div>}>{Page && <Page segments={segments.slice(1)} />}</Suspense>
          </ErrorBoundary>
        </main>
        <StatusBar />
      </div>
      <Toasts />
      {help && <ShortcutsHelp entries={entries} onClose={() => setHelp(false)} />}
    </div>
  );
}
