const LABELS: Record<string, string> = {
  online: 'Online',
  offline: 'Offline',
  'expected-offline': 'Expected offline',
  unknown: 'Not checked yet',
  error: 'Broken',
  idle: '',
  none: 'No cluster',
};

/** A coloured dot for a connection state; the label is for screen readers and tooltips. */
export function StateDot({ state }: { state: string }) {
  return <span className={`dot dot-${state}`} role="img" aria-label={LABELS[state] ?? state} title={LABELS[state] ?? state} />;
}

export const stateLabel = (state: string) => LABELS[state] ?? state;
