import { useRef, type KeyboardEvent } from 'react';
import type { NavEntry } from '../nav';
import { navigate } from '../lib/router';
import { useApp } from '../stores/app';
import { toastError } from '../stores/toasts';
import { client } from '../client';
import { isCommandName } from '../../src-shared/contract';
import { ClusterSwitcher } from './ClusterSwitcher';
import { Icon } from './Icon';

const SECTIONS: NavEntry['section'][] = ['Overview', 'Platform', 'Governance', 'Console'];

/** Navigation: arrow keys move between entries, Enter opens; shortcut hints on the right. */
export function Sidebar({ entries, active, onHelp }: { entries: NavEntry[]; active: string; onHelp(): void }) {
  const toggleTheme = useApp((s) => s.toggleTheme);
  const operator = useApp((s) => s.operator);
  const signOut = async () => {
    try {
      await client.invoke('operators.signOut', {});
    } catch (e) {
      toastError('Could not sign out', e);
    }
    await useApp.getState().load();
    navigate('/signin');
  };
  const listRef = useRef<HTMLElement>(null);
  const visible = entries.filter((e) => !e.hidden);

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Home' && e.key !== 'End') return;
    const links = Array.from(listRef.current?.querySelectorAll<HTMLAnchorElement>('a.nav-link') ?? []);
    const i = links.indexOf(document.activeElement as HTMLAnchorElement);
    const next =
      e.key === 'Home'
        ? 0
        : e.key === 'End'
          ? links.length - 1
          : e.key === 'ArrowDown'
            ? Math.min(links.length - 1, i + 1)
            : Math.max(0, i - 1);
    links[next]?.focus();
    e.preventDefault();
  };

  return (
    <aside className="sidebar">
      <div className="brand">
        <svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true">
          <rect x="2" y="2" width="20" height="20" rx="5" fill="var(--accent)" />
          <path d="M7 17V10l5-3 5 3v7M10 17v-4h4v4" stroke="#fff" strokeWidth="1.8" fill="none" strokeLinejoin="round" />
        </svg>
        <span className="brand-name">Gatehouse</span>
      </div>
      <ClusterSwitcher />
      <nav ref={listRef} className="nav" aria-label="Pages" onKeyDown={onKeyDown}>
        {SECTIONS.map((section) => {
          const items = visible.filter((e) => e.section === section);
          if (items.length === 0) return null;
          return (
            <div key={section} className="nav-section">
              <div className="nav-heading">{section}</div>
              {items.map((e) => (
                <a
                  key={e.id}
                  href={`#/${e.id}`}
                  className={`nav-link ${active === e.id ? 'active' : ''}`}
                  aria-current={active === e.id ? 'page' : undefined}
                  data-testid={`nav-${e.id}`}
                  onClick={(ev) => {
                    ev.preventDefault();
                    navigate(`/${e.id}`);
                  }}
                >
                  <Icon name={e.icon} />
                  <span className="nav-label">{e.label}</span>
                  <kbd className="nav-kbd">g {e.key}</kbd>
                </a>
              ))}
            </div>
          );
        })}
      </nav>
      <div className="sidebar-footer">
        <button className="ghost-btn" onClick={() => void toggleTheme()} data-testid="theme-toggle" title="Switch theme (Shift+T)">
          {/* label follows the theme actually shown (CSS), whatever set it */}
          <span className="when-dark row">
            <Icon name="sun" /> Light theme
          </span>
          <span className="when-light row">
            <Icon name="moon" /> Dark theme
          </span>
        </button>
        {operator && operator.via !== 'os-user' && isCommandName('operators.signOut') && (
          <button
            className="ghost-btn"
            onClick={() => void signOut()}
            data-testid="sign-out"
            title={`Signed in as ${operator.displayName} (${operator.role})`}
          >
            <Icon name="user" />
            <span>Sign out</span>
          </button>
        )}
        <button className="ghost-btn" onClick={onHelp} title="Keyboard shortcuts (?)" data-testid="shortcuts-button">
          <Icon name="keyboard" />
          <span>Shortcuts</span>
        </button>
      </div>
    </aside>
  );
}
