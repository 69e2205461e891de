import { create } from 'zustand';
import { errorShape } from '../client';

export interface Toast {
  id: number;
  kind: 'error' | 'success' | 'info';
  title: string;
  message?: string;
}

interface ToastState {
  toasts: Toast[];
  push(t: Omit<Toast, 'id'>): void;
  dismiss(id: number): void;
}

let nextId = 1;
export const useToasts = create<ToastState>((set, get) => ({
  toasts: [],
  push(t) {
    const id = nextId++;
    // the same message again (a second save, a retried command) replaces the one showing and
    // restarts its fade, instead of stacking copies the operator has to dismiss one by one
    const others = get().toasts.filter((o) => !(o.kind === t.kind && o.title === t.title && o.message === t.message));
    set({ toasts: [...others, { ...t, id }].slice(-5) });
    // errors stay until read; confirmations fade
    if (t.kind !== 'error') setTimeout(() => get().dismiss(id), 4000);
  },
  dismiss(id) {
    set({ toasts: get().toasts.filter((t) => t.id !== id) });
  },
}));

/** Shows a failed command as a toast with the contract's message (already written for the operator). */
export function toastError(title: string, e: unknown) {
  const shape = errorShape(e);
  useToasts.getState().push({ kind: 'error', title: `${title} (${shape.code})`, message: shape.message });
}
export const toastSuccess = (title: string, message?: string) => useToasts.getState().push({ kind: 'success', title, message });
/** The action that failed has now succeeded: its error toasts (toastError with this title) are out of date. */
export function clearToastErrors(title: string) {
  const { toasts, dismiss } = useToasts.getState();
  for (const t of toasts) if (t.kind === 'error' && t.title.startsWith(`${title} (`)) dismiss(t.id);
}
