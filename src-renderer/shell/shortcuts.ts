import { useEffect } from 'react';
import type { NavEntry } from '../nav';
import { navigate } from '../lib/router';
import { useApp } from '../stores/app';

const typing = (el: Element | null) =>
  !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || (el as HTMLElement).isContentEditable);

/**
 * Global keys: "g" then a page key, Ctrl/⌘+1..9 for the n-th page, "?" for help,
 * Shift+T for the theme, "/" to focus the page's search box. Ignored while typing.
 */
export function useGlobalShortcuts(entries: NavEntry[], onHelp: () => void) {
  useEffect(() => {
    let pendingG = 0;
    const onKey = (e: KeyboardEvent) => {
      const visible = entries.filter((x) => !x.hidden);
      if ((e.ctrlKey || e.metaKey) && !e.altKey && /^[1-9]$/.test(e.key)) {
        const target = visible[Number(e.key) - 1];
        if (target) {
          navigate(`/${target.id}`);
          e.preventDefault();
        }
        return;
      }
      if (e.ctrlKey || e.metaKey || e.altKey || typing(document.activeElement)) return;
      if (document.querySelector('dialog[open], .modal-backdrop')) return;
      if (pendingG && Date.now() - pendingG < 1500) {
        pendingG = 0;
        const target = visible.find((x) => x.key === e.key.toLowerCase());
        if (target) {
          navigate(`/${target.id}`);
          e.preventDefault();
        }
        return;
      }
      if (e.key === 'g') pendingG = Date.now();
      else if (e.key === '?') onHelp();
      else if (e.key === 'T') void useApp.getState().toggleTheme();
      else if (e.key === '/') {
        const search = document.querySelector<HTMLInputElement>('[data-search]');
        if (search) {
          search.focus();
          e.preventDefault();
        }
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [entries, onHelp]);
}
