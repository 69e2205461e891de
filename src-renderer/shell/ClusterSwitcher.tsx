import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { selectedContext, useCluster } from '../stores/cluster';
import { navigate } from '../lib/router';
import { Icon } from './Icon';
import { StateDot } from './StateDot';

/** The context picker at the top of the sidebar; lists every context, broken ones too (greyed, with the reason). */
export function ClusterSwitcher() {
  const list = useCluster((s) => s.list);
  const state = useCluster((s) => s.state);
  const select = useCluster((s) => s.select);
  const [open, setOpen] = useState(false);
  const popRef = useRef<HTMLDivElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const current = selectedContext(list);

  useEffect(() => {
    if (!open) return;
    popRef.current?.querySelector<HTMLButtonElement>('button[aria-selected="true"], button:not([disabled])')?.focus();
    const close = (e: MouseEvent) => {
      if (!popRef.current?.parentElement?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [open]);

  // closing the menu from the keyboard or by a choice gives focus back to its button
  const close = () => {
    setOpen(false);
    buttonRef.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && open) {
      e.stopPropagation();
      close();
      return;
    }
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const items = Array.from(popRef.current?.querySelectorAll<HTMLButtonElement>('button.switcher-item:not([disabled])') ?? []);
    const i = items.indexOf(document.activeElement as HTMLButtonElement);
    items[e.key === 'ArrowDown' ? Math.min(items.length - 1, i + 1) : Math.max(0, i - 1)]?.focus();
    e.preventDefault();
  };

  return (
    <div className="switcher" onKeyDown={onKeyDown}>
      <button
        className="switcher-button"
        ref={buttonRef}
        aria-haspopup="listbox"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
        data-testid="cluster-switcher"
      >
        <StateDot state={current ? (state?.state ?? 'unknown') : 'none'} />
        <span className="switcher-text">
          <span className="switcher-label">Cluster</span>
          <span className="switcher-name">{current?.contextName ?? 'No cluster selected'}</span>
        </span>
        <Icon name="chevron" />
      </button>
      {current?.identityChange && (
        <div className="callout callout-warn switcher-identity" role="status" data-testid="cluster-identity-changed">
          “{current.contextName}” now leads to a different cluster (kube-system UID {current.identityChange.uid.slice(0, 8)}…, was{' '}
          {current.identityChange.previousUid.slice(0, 8)}…). Operations and audit entries of the old cluster stay bound to it.
        </div>
      )}
      {open && (
        <div className="switcher-pop" ref={popRef}>
          {(list?.contexts.length ?? 0) === 0 && <div className="switcher-empty">No kubeconfig contexts found.</div>}
          <div role="listbox" aria-label="Cluster contexts">
            {list?.contexts.map((c) => (
              <button
                key={c.id}
                role="option"
                aria-selected={c.selected}
                className={`switcher-item ${c.selected ? 'selected' : ''}`}
                disabled={c.status === 'error'}
                title={c.error ?? `${c.server}\n${c.sourceFile}`}
                onClick={() => {
                  close();
                  void select(c.id);
                }}
              >
                <StateDot state={c.status === 'error' ? 'error' : c.selected ? (state?.state ?? 'unknown') : 'idle'} />
                <span className="switcher-item-text">
                  <span className="switcher-item-name">{c.contextName}</span>
                  <span className="switcher-item-sub">{c.status === 'error' ? c.error : c.server}</span>
                </span>
                {c.selected && <Icon name="check" />}
              </button>
            ))}
          </div>
          <button
            className="switcher-manage"
            onClick={() => {
              setOpen(false);
              navigate('/clusters');
            }}
          >
            Manage clusters…
          </button>
        </div>
      )}
    </div>
  );
}
