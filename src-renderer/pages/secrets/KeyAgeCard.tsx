import { useInvoke } from '../../lib/use-invoke';
import { plural } from '../../lib/format';
import { duration, KIND_LABELS } from '../tenants/secrets/format';

/** Dashboard: the oldest credentials and how many exceed the max-age policy (one LIST of tenant Secrets). */
export function KeyAgeCard({ clusterKey }: { clusterKey: string }) {
  const q = useInvoke('rotation.fleet.status', {}, clusterKey);
  const s = q.data;
  const oldest = s
    ? (['jwt', 'login-worker', 'proxy', 'cp', 'database'] as const).map((kind) => ({
        kind,
        age: Math.max(0, ...s.tenants.map((t) => t.kinds.find((k) => k.kind === kind)?.ageSeconds ?? 0)),
      }))
    : [];
  return (
    <div className="stat" data-testid="key-age-card">
      <div className="stat-label">Credential age</div>
      <div className="stat-value" style={{ fontSize: 18 }}>
        {s ? (
          s.alerts.length ? (
            <span style={{ color: 'var(--err)' }}>{plural(s.alerts.length, 'over policy')}</span>
          ) : (
            'within policy'
          )
        ) : q.error ? (
          '—'
        ) : (
          '…'
        )}
      </div>
      <div className="stat-sub">
        {q.error
          ? q.error.message
          : s
            ? `oldest ${KIND_LABELS.jwt?.toLowerCase()}: ${duration(oldest.find((o) => o.kind === 'jwt')?.age ?? 0)} · `
            : ''}
        <a href="#/secrets">Secrets</a>
      </div>
    </div>
  );
}
