import { useState } from 'react';
import type { Drift } from '../../../src-shared/contract/tenants';
import { client } from '../../client';
import { useTenants } from '../../stores/tenants';
import { toastError, toastSuccess } from '../../stores/toasts';
import { ConfirmTyped } from '../../components/ConfirmTyped';
import { Icon } from '../../shell/Icon';

const REPAIR_LABEL: Record<string, string> = {
  register: 'Add to registry',
  'recreate-secret': 'Recreate Secret',
  'remove-registry-entry': 'Remove registry entry',
  'drop-orphan': 'Drop leftovers',
};

/** Where the registry, the Secrets and the databases disagree; each finding with its repairs (admin, typed confirmation). */
export function DriftPanel({ drift }: { drift: Drift[] }) {
  const [pending, setPending] = useState<{ slug: string; action: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [expanded, setExpanded] = useState(false);
  // many findings must not push the tenant table off screen
  const shown = expanded ? drift : drift.slice(0, 3);

  const repair = async (confirm: string) => {
    if (!pending) return;
    setBusy(true);
    try {
      const r = await client.invoke('tenants.repair', { slug: pending.slug, action: pending.action as Drift['repairs'][number], confirm });
      toastSuccess('Repaired', r.done);
      setPending(null);
      void useTenants.getState().reconcile();
    } catch (e) {
      toastError('Repair failed', e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" data-testid="drift-panel">
      <header className="card-header">
        <Icon name="alert" className="warn-icon" />
        <h2>Drift</h2>
        <span className="muted">{drift.length} finding(s) where the cluster and the database server disagree</span>
      </header>
      <div className="card-body flush">
        <table className="table">
          <tbody>
            {shown.map((d) => (
              <tr key={`${d.slug}/${d.kind}`}>
                <td style={{ width: 180 }}>
                  <code>{d.slug}</code>
                  <div className="cell-sub">{d.kind}</div>
                </td>
                <td>{d.message}</td>
                <td>
                  <span className="actions">
                    {d.repairs.map((a) => (
                      <button
                        key={a}
                        className={`btn btn-small ${a === 'drop-orphan' ? '' : 'btn-primary'}`}
                        onClick={() => setPending({ slug: d.slug, action: a })}
                      >
                        {REPAIR_LABEL[a] ?? a}
                      </button>
                    ))}
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {drift.length > 3 && (
          <button className="link-btn" onClick={() => setExpanded(!expanded)}>
            {expanded ? 'Show fewer' : `Show all ${drift.length} findings`}
          </button>
        )}
      </div>
      {pending && (
        <ConfirmTyped
          title={`${REPAIR_LABEL[pending.action] ?? pending.action}: ${pending.slug}`}
          expected={pending.slug}
          action="Repair"
          busy={busy}
          onClose={() => setPending(null)}
          onConfirm={(t) => void repair(t)}
        >
          <p>This changes the cluster or the database server. It is recorded in the audit log.</p>
        </ConfirmTyped>
      )}
    </section>
  );
}
