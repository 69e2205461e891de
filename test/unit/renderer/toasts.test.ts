import { afterEach, describe, expect, it, vi } from 'vitest';

// the store imports the window's client only for errorShape; no engine is needed here
vi.mock('../../../src-renderer/client', () => ({ errorShape: (e: Error) => ({ code: 'INTERNAL', message: e.message }) }));
const { useToasts, toastSuccess, toastError, clearToastErrors } = await import('../../../src-renderer/stores/toasts');

afterEach(() => {
  vi.useRealTimers();
  useToasts.setState({ toasts: [] });
});

describe('toasts', () => {
  it('the same confirmation twice shows once, and fades 4 s after the second', () => {
    vi.useFakeTimers();
    toastSuccess('Alert rules saved');
    vi.advanceTimersByTime(3000);
    toastSuccess('Alert rules saved');
    expect(useToasts.getState().toasts.map((t) => t.title)).toEqual(['Alert rules saved']);
    vi.advanceTimersByTime(1500); // the first one's timer has run: the second must still show
    expect(useToasts.getState().toasts).toHaveLength(1);
    vi.advanceTimersByTime(2600);
    expect(useToasts.getState().toasts).toHaveLength(0);
  });

  it('different messages stack (newest last, at most five); errors stay until dismissed', () => {
    vi.useFakeTimers();
    toastError('Escrow not confirmed', new Error('wrong code'));
    for (let i = 0; i < 5; i++) toastSuccess(`saved ${i}`);
    expect(useToasts.getState().toasts.map((t) => t.title)).toEqual(['saved 0', 'saved 1', 'saved 2', 'saved 3', 'saved 4']);
    useToasts.setState({ toasts: [] });
    toastError('Escrow not confirmed', new Error('wrong code'));
    toastSuccess('Backup taken');
    vi.advanceTimersByTime(10_000);
    expect(useToasts.getState().toasts.map((t) => t.title)).toEqual(['Escrow not confirmed (INTERNAL)']);
  });

  it('an action that succeeds after failing clears its own error, not others', () => {
    toastError('Escrow not confirmed', new Error('wrong check code'));
    toastError('Backup failed', new Error('bucket unreachable'));
    clearToastErrors('Escrow not confirmed');
    expect(useToasts.getState().toasts.map((t) => t.title)).toEqual(['Backup failed (INTERNAL)']);
  });
});
