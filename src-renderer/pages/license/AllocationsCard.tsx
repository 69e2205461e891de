import { useState } from 'react';
import type { Allocations } from '../../../src-shared/contract/license';
import { client } from '../../client';
import { toastError, toastSuccess } from '../../stores/toasts';

const WARN_BADGE = { 80: 'badge-warn', 95: 'badge-warn', 100: 'badge-err' } as const;

/** Per-tenant user caps beside usage; edits are checked against the license by the engine. */
export function AllocationsCard({ data, onSaved }: { data: Allocations | undefined; onSaved(): void }) {
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  if (!data) return null;
  const editable = data.licenseUsers !== null;
  const changes = Object.fromEntries(
    Object.entries(draft).map(([slug, v]) => [slug, v.trim() === '' ? null : Number(v)] as const).filter(([, v]) => v === null || Number.isInteger(v)),
  );
  const draftSum = data.tenants.reduce((sum, t) => {
    const v = draft[t.slug];
    return sum + (v === undefined ? (t.cap ?? 0) : v.trim() === '' ? 0 : Number(v) || 0);
  }, 0);
  const over = editable && draftSum > (data.licenseUsers ?? 0);

  const save = async () => {
    setBusy(true);
    try {
      const r = await client.invoke('license.allocations.set', { allocations: changes });
      toastSuccess('Caps applied', `${r.fanout.written} tenant(s) updated${r.fanout.failed.length ? `, ${r.fanout.failed.length} failed` : ''}`);
      setDraft({});
      onSaved();
    } catch (e) {
      toastError('Caps not saved', e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="card" data-testid="license-allocations">
      <div className="card-header">
        <h2>Allocations</h2>
        <span className="muted">
          {editable ? `${data.allocated} of ${data.licenseUsers} users allocated` : 'Free tier: every tenant has the free cap'}
        </span>
      </div>
      <div className="card-body">
        <table className="table">
          <thead>
            <tr>
              <th>Tenant</th>
              <th>Cap</th>
              <th>Effective cap</th>
              <th>Users</th>
              <th>Use</th>
            </tr>
          </thead>
          <tbody>
            {data.tenants.map((t) => (
              <tr key={t.slug}>
                <td>{t.slug}</td>
                <td>
                  {editable ? (
                    <input
                      aria-label={`cap for ${t.slug}`}
                      type="number"
                      min={0}
                      placeholder="shared"
                      value={draft[t.slug] ?? (t.cap === null ? '' : String(t.cap))}
                      onChange={(e) => setDraft({ ...draft, [t.slug]: e.target.value })}
                    />
                  ) : (
                    '—'
                  )}
                </td>
                <td>{t.effectiveCap}</td>
                <td>{t.users ?? <span className="muted">unknown</span>}</td>
                <td>
                  {t.percent !== null ? `${t.percent} %` : ''}{' '}
                  {t.warning !== null && <span className={`badge ${WARN_BADGE[t.warning]}`}>{t.warning === 100 ? 'at cap' : `≥ ${t.warning} %`}</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {editable && (
          <div className="toolbar">
            {over && <span className="field-error">Caps add up to {draftSum}; the license allows {data.licenseUsers}.</span>}
            <span className="spacer" />
            <button className="btn" disabled={busy || Object.keys(draft).length === 0} onClick={() => setDraft({})}>
              Reset
            </button>
            <button className="btn btn-primary" disabled={busy || over || Object.keys(changes).length === 0} onClick={save} data-testid="allocations-save">
              {busy ? 'Applying…' : 'Apply caps'}
            </button>
          </div>
        )}
      </div>
    </div>
  );
}
