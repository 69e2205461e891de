import { useEffect, useId, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import { Icon } from '../shell/Icon';

/** Open dialogs, the topmost last: only the topmost traps focus and answers Escape. */
const openDialogs: HTMLElement[] = [];

const TABBABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Elements Tab can reach inside `root`, in order (visible ones only). */
function tabbables(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(TABBABLE)).filter((el) => !el.closest('[inert]') && el.getClientRects().length > 0);
}

/**
 * Where focus goes when a dialog closes: back to what had it when the dialog opened,
 * or, when that element is gone (a row that was repaired, a page that changed), to
 * the page's main region so keyboard users do not land on <body>.
 */
function restoreFocus(opener: HTMLElement | null) {
  if (opener?.isConnected && !opener.closest('[inert]') && !(opener as HTMLButtonElement).disabled) {
    opener.focus();
    if (document.activeElement === opener) return;
  }
  document.getElementById('content')?.focus();
}

/**
 * A modal dialog: focus moves in and stays in (Tab and Shift+Tab cycle inside; focus
 * that leaves any other way is brought back), Escape closes, and on close focus
 * returns to where it was. Toasts (marked `data-modal-exempt`) stay reachable.
 */
export function Modal({
  title,
  onClose,
  children,
  footer,
  wide,
  testId,
}: {
  title: string;
  onClose(): void;
  children: ReactNode;
  footer?: ReactNode;
  wide?: boolean;
  testId?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const bodyRef = useRef<HTMLDivElement>(null);
  const [scrolls, setScrolls] = useState(false);
  useLayoutEffect(() => {
    const body = bodyRef.current;
    if (!body) return;
    const measure = () => setScrolls(body.scrollHeight > body.clientHeight + 1);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(body);
    return () => observer.disconnect();
  }, []);
  const titleId = useId();
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const active = document.activeElement;
    const opener = active instanceof HTMLElement && active !== document.body && !dialog.contains(active) ? active : null;
    openDialogs.push(dialog);
    const isTop = () => openDialogs[openDialogs.length - 1] === dialog;
    const focusFirst = () => {
      const first = dialog.querySelector<HTMLElement>(
        'input:not([disabled]), select:not([disabled]), textarea:not([disabled]), button:not([disabled]):not(.modal-close)',
      );
      (first ?? dialog).focus();
    };
    focusFirst();

    const onKey = (e: KeyboardEvent) => {
      if (!isTop()) return;
      if (e.key === 'Escape') {
        e.stopPropagation();
        closeRef.current();
        return;
      }
      if (e.key !== 'Tab') return;
      const items = tabbables(dialog);
      const first = items[0];
      const last = items[items.length - 1];
      const current = document.activeElement;
      if (!first || !last) {
        e.preventDefault();
        dialog.focus();
      } else if (e.shiftKey && (current === first || current === dialog || !dialog.contains(current))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (current === last || !dialog.contains(current))) {
        e.preventDefault();
        first.focus();
      }
    };
    const onFocusIn = (e: FocusEvent) => {
      if (!isTop()) return;
      const target = e.target;
      if (target instanceof Node && dialog.contains(target)) return;
      if (target instanceof Element && target.closest('[data-modal-exempt]')) return;
      focusFirst();
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('focusin', onFocusIn);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('focusin', onFocusIn);
      openDialogs.splice(openDialogs.indexOf(dialog), 1);
      // a dialog closing under another one hands focus back to that one
      const below = openDialogs[openDialogs.length - 1];
      if (below && !(opener && below.contains(opener))) below.focus();
      else restoreFocus(opener);
    };
  }, []);
  return (
    <div
      className="modal-backdrop"
      onMouseDown={(e) => {
        if (e.target === e.currentTarget) onClose();
      }}
    >
      <div
        className={`modal ${wide ? 'modal-wide' : ''}`}
        role="dialog"
        aria-modal="true"
        tabIndex={-1}
        aria-labelledby={titleId}
        ref={ref}
        data-testid={testId}
      >
        <header className="modal-header">
          <h2 id={titleId}>{title}</h2>
          <button className="icon-btn modal-close" aria-label="Close" onClick={onClose}>
            <Icon name="x" />
          </button>
        </header>
        {/* a body that scrolls is a tab stop, so keyboard users can scroll it (axe: scrollable-region-focusable) */}
        <div className="modal-body" ref={bodyRef} {...(scrolls ? { tabIndex: 0, 'aria-label': title } : {})}>
          {children}
        </div>
        {footer && <footer className="modal-footer">{footer}</footer>}
      </div>
    </div>
  );
}
