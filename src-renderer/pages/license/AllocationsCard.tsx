import { useState } from 'react';
import type { Allocations } from '../../../src-shared/contract/license';
import { client, errorShape } from '../../client';
import { toastSuccess } from '../../stores/toasts';

const WARN_BADGE = { 80: 'badge-warn', 95: 'badge-warn', 100: 'badge-err' } as const;
const BAR_CLASS = { 80: 'warn', 95: 'warn', 100: 'err' } as const;

/** A cap typed by the operator: '' shares the remainder, otherwise a whole number ≥ 0 (else invalid). */
function parseCap(v: string): number | null | 'invalid' {
  if (v.trim() === '') return null;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : 'invalid';
}

/** Per-tenant user caps beside usage; edits are checked here for feedback and again by the engine, which decides. */
export function AllocationsCard({ data, onSaved }: { data: Allocations | undefined; onSaved(): void }) {
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<string | null>(null);
  if (!data) return null;
  const editable = data.licenseUsers !== null;
  const parsed = Object.entries(draft).map(([slug, v]) => [slug, parseCap(v)] as const);
  const invalid = parsed.filter(([, v]) => v === 'invalid').map(([slug]) => slug);
  const changes = Object.fromEntries(parsed.filter(([, v]) => v !== 'invalid')) as Record<string, number | null>;
  // the same rule as the engine: explicit caps must fit in the license; tenants without one share the rest
  const draftSum = data.tenants.reduce((sum, t) => {
    const v = t.slug in changes ? changes[t.slug] : t.cap;
    return sum + (typeof v === 'number' ? v : 0);
  }, 0);
  const over = editable && draftSum > (data.licenseUsers ?? 0);
  const dirty = Object.keys(draft).length > 0;

  const save = async () => {
    setBusy(true);
    setRefused(null);
    try {
      const r = await client.invoke('license.allocations.set', { allocations: changes });
      toastSuccess(
        'Caps applied',
        `${r.fanout.written} tenant(s) updated${r.fanout.failed.length ? `, ${r.fanout.failed.length} failed (Resume retries them)` : ''}`,
      );
      setDraft({});
      onSaved();
    } catch (e) {
      setRefused(errorShape(e).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="card" data-testid="license-allocations">
      <div className="card-header">
        <h2>Allocations</h2>
        <span className="muted" data-testid="allocations-summary">
          {editable
            ? `${data.allocated.toLocaleString()} of ${data.licenseUsers?.toLocaleString()} users allocated${data.unallocated ? `, ${data.unallocated.toLocaleString()} unallocated` : ''}`
            : 'Free tier: every tenant has the free cap'}
        </span>
      </div>
      <div className="card-body">
        {data.tenants.length === 0 ? (
          <div className="muted" data-testid="allocations-empty">
            No tenants on this cluster yet: caps are set once tenants exist.
          </div>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th>Tenant</th>
                <th>Cap</th>
                <th className="num">Effective cap</th>
                <th className="num">Users</th>
                <th>Use</th>
              </tr>
            </thead>
            <tbody>
              {data.tenants.map((t) => (
                <tr key={t.slug} data-testid={`alloc-row-${t.slug}`}>
                  <td className="tenant-slug">{t.slug}</td>
                  <td>
                    {editable ? (
                      <input
                        className="alloc-cap"
                        aria-label={`cap for ${t.slug}`}
                        aria-invalid={invalid.includes(t.slug) || (over && t.slug in changes) || undefined}
                        type="number"
                        min={0}
                        step={1}
                        placeholder="shared"
                        value={draft[t.slug] ?? (t.cap === null ? '' : String(t.cap))}
                        onChange={(e) => setDraft({ ...draft, [t.slug]: e.target.value })}
                        data-testid={`alloc-cap-${t.slug}`}
                      />
                    ) : (
                      <span className="muted">free cap</span>
                    )}
                  </td>
                  <td className="num" data-testid="alloc-effective">
                    {t.effectiveCap.toLocaleString()}
                  </td>
                  <td className="num" data-testid="alloc-users">
                    {t.users === null ? (
                      <span className="muted" title="the tenant database could not be counted">
                        unknown
                      </span>
                    ) : (
                      t.users.toLocaleString()
                    )}
                  </td>
                  <td>
                    {t.percent !== null && (
                      <>
                        <span className={`usage-bar ${t.warning ? BAR_CLASS[t.warning] : ''}`}>
                          <span style={{ width: `${Math.min(100, t.percent)}%` }} />
                        </span>
                        {t.percent} %{' '}
                      </>
                    )}
                    {t.warning !== null && (
                      <span className={`badge ${WARN_BADGE[t.warning]}`}>{t.warning === 100 ? 'at cap' : `≥ ${t.warning} %`}</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {refused && (
          <div className="callout callout-err license-problem" role="alert" data-testid="allocations-refused">
            <strong>Caps not saved.</strong> {refused}
          </div>
        )}
        {editable && data.tenants.length > 0 && (
          <div className="alloc-footer">
            {over && (
              <span className="field-error" data-testid="allocations-over">
                Caps add up to {draftSum.toLocaleString()} users; the license allows {data.licenseUsers?.toLocaleString()}. Lower them by{' '}
                {(draftSum - (data.licenseUsers ?? 0)).toLocaleString()}.
              </span>
            )}
            {invalid.length > 0 && <span className="field-error">A cap is a whole number of users, or empty to share the rest.</span>}
            {!over && invalid.length === 0 && (
              <span className="muted">Empty: the tenant shares what is left. Warnings at 80, 95 and 100 % of a cap.</span>
            )}
            <span className="spacer" />
            <button
              className="btn"
              disabled={busy || !dirty}
              onClick={() => {
                setDraft({});
                setRefused(null);
              }}
            >
              Reset
            </button>
            <button
              className="btn btn-primary"
              disabled={busy || over || invalid.length > 0 || Object.keys(changes).length === 0}
              onClick={save}
              data-testid="allocations-save"
            >
              {busy ? 'Applying…' : 'Apply caps'}
            </button>
          </div>
        )}
      </div>
    </div>
  );
}
