/** ready / desired as a bar: green when complete, amber when partial, red when none are ready. */
export function ReadinessBar({ ready, desired }: { ready: number; desired: number }) {
  const pct = desired === 0 ? 0 : Math.min(100, Math.round((ready / desired) * 100));
  const cls = desired === 0 ? 'zero' : ready >= desired ? '' : ready === 0 ? 'zero' : 'partial';
  return (
    <span
      className="bar"
      role="meter"
      aria-valuemin={0}
      aria-valuemax={desired}
      aria-valuenow={ready}
      aria-label={`${ready} of ${desired} ready`}
    >
      <span className="bar-track">
        <span className={`bar-fill ${cls}`} style={{ width: `${desired === 0 ? 0 : Math.max(pct, 3)}%` }} />
      </span>
      <span className="bar-text">
        {ready}/{desired}
      </span>
    </span>
  );
}
