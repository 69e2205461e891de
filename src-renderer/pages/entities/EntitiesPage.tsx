import { useState } from 'react';
import type { ResourceServer, Role } from '../../../src-shared/contract/entities';
import { client } from '../../client';
import { useInvoke } from '../../lib/use-invoke';
import { useApp } from '../../stores/app';
import { useCluster, useReadOnly } from '../../stores/cluster';
import { toastError, toastSuccess } from '../../stores/toasts';
import { ConfirmTyped } from '../../components/ConfirmTyped';
import { ago, exactTime } from '../../lib/format';
import { Icon } from '../../shell/Icon';
import { ResourceServerEditor, RoleEditor } from './EntityEditors';
import { SyncPanel } from './SyncPanel';
import './entities.css';

type Editing = { kind: 'rs'; current: ResourceServer | null } | { kind: 'role'; current: Role | null } | null;
type Deleting = { kind: 'rs'; entity: ResourceServer } | { kind: 'role'; entity: Role } | null;

/**
 * Control-plane entities: resource servers, roles and role permissions defined once for this
 * cluster (in its gatehouse_control database) and synced into every tenant as protected system rows.
 */
export default function EntitiesPage() {
  const clusterId = useCluster((s) => s.list?.selectedId ?? null);
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const defs = useInvoke('entities.list', {}, clusterId ?? '', clusterId !== null);
  const [editing, setEditing] = useState<Editing>(null);
  const [deleting, setDeleting] = useState<Deleting>(null);
  const [busy, setBusy] = useState(false);
  const canEdit = role === 'operator' || role === 'admin';
  const admin = role === 'admin';

  if (!clusterId) return <div className="empty-state">Select a cluster to see its control-plane entities.</div>;
  const d = defs.data;

  const remove = async (confirm: string) => {
    if (!deleting) return;
    setBusy(true);
    try {
      if (deleting.kind === 'rs') {
        const r = await client.invoke('entities.resourceServers.delete', {
          id: deleting.entity.id,
          identifier: deleting.entity.identifier,
          confirm,
        });
        toastSuccess(
          `Resource server ${r.deleted} deleted`,
          r.rolesAffected.length
            ? `Roles that lose permissions: ${r.rolesAffected.join(', ')}. Apply to remove it from the tenants.`
            : 'Apply to remove it from the tenants.',
        );
      } else {
        const r = await client.invoke('entities.roles.delete', { id: deleting.entity.id, name: deleting.entity.name, confirm });
        toastSuccess(`Role ${r.deleted} deleted`, 'Apply to remove it from the tenants.');
      }
      setDeleting(null);
      await defs.reload();
    } catch (e) {
      toastError('Delete failed', e);
    } finally {
      setBusy(false);
    }
  };

  const saved = () => {
    setEditing(null);
    void defs.reload();
  };
  return (
    <div data-testid="entities-page">
      <div className="page-header">
        <div>
          <h1>Control-plane entities</h1>
          <div className="sub">
            {d ? `Revision ${d.revision} · ` : ''}defined once for this cluster, synced into every tenant as system rows the tenant cannot
            change
          </div>
        </div>
        <span className="spacer" />
        <button
          className="btn"
          onClick={() => setEditing({ kind: 'rs', current: null })}
          disabled={!canEdit || readOnly || !d}
          data-testid="new-rs"
        >
          <Icon name="plus" /> Resource server
        </button>
        <button
          className="btn btn-primary"
          onClick={() => setEditing({ kind: 'role', current: null })}
          disabled={!canEdit || readOnly || !d}
          data-testid="new-role"
        >
          <Icon name="plus" /> Role
        </button>
      </div>
      {defs.error && (
        <div className="callout callout-err" style={{ marginBottom: 14 }} data-testid="entities-error">
          {defs.error.message}
        </div>
      )}
      {!d && !defs.error && <div className="loading">Reading definitions…</div>}
      {d && (
        <>
          <div className="two-col entities-defs">
            <section className="card" data-testid="rs-card">
              <header className="card-header">
                <Icon name="server" />
                <h2>Resource servers</h2>
                <span className="muted">{d.resourceServers.length}</span>
              </header>
              {d.resourceServers.length === 0 ? (
                <div className="empty-state muted">
                  No resource server defined. Define the APIs every tenant must know, with their scopes.
                </div>
              ) : (
                <table className="table">
                  <tbody>
                    {d.resourceServers.map((rs) => (
                      <tr key={rs.id} data-testid={`rs-${rs.identifier}`}>
                        <td>
                          <code className="wrap-anywhere">{rs.identifier}</code>
                          <div className="cell-sub">{rs.name}</div>
                          <div className="entities-tags">
                            {rs.scopes.map((s) => (
                              <span className="tag" key={s.id} title={s.description ?? ''}>
                                {s.value}
                              </span>
                            ))}
                            {rs.scopes.length === 0 && <span className="cell-sub">no scopes</span>}
                          </div>
                        </td>
                        <td className="cell-sub nowrap" title={exactTime(rs.updatedAt)}>
                          v{rs.version} · {ago(rs.updatedAt)}
                          <div>{rs.updatedBy}</div>
                        </td>
                        <td>
                          <span className="actions">
                            <button
                              className="btn btn-small"
                              disabled={!canEdit || readOnly}
                              onClick={() => setEditing({ kind: 'rs', current: rs })}
                              data-testid={`edit-rs-${rs.identifier}`}
                            >
                              Edit
                            </button>
                            <button
                              className="btn btn-small btn-danger"
                              disabled={!admin || readOnly}
                              title={admin ? '' : 'Needs the admin role'}
                              onClick={() => setDeleting({ kind: 'rs', entity: rs })}
                              data-testid={`delete-rs-${rs.identifier}`}
                            >
                              Delete
                            </button>
                          </span>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
            <section className="card" data-testid="roles-card">
              <header className="card-header">
                <Icon name="user" />
                <h2>Roles</h2>
                <span className="muted">{d.roles.length}</span>
              </header>
              {d.roles.length === 0 ? (
                <div className="empty-state muted">No role defined. Roles defined here exist in every tenant with the same id.</div>
              ) : (
                <table className="table">
                  <tbody>
                    {d.roles.map((r) => (
                      <tr key={r.id} data-testid={`role-${r.name}`}>
                        <td>
                          <strong>{r.name}</strong>
                          {r.description && <div className="cell-sub">{r.description}</div>}
                          <div className="entities-tags">
                            {r.permissions.map((p) => (
                              <span className="tag" key={p.scopeId} title={p.resourceServer}>
                                {p.scope}
                              </span>
                            ))}
                            {r.permissions.length === 0 && <span className="cell-sub">no permissions</span>}
                          </div>
                        </td>
                        <td className="cell-sub nowrap" title={exactTime(r.updatedAt)}>
                          v{r.version} · {ago(r.updatedAt)}
                          <div>{r.updatedBy}</div>
                        </td>
                        <td>
                          <span className="actions">
                            <button
                              className="btn btn-small"
                              disabled={!canEdit || readOnly}
                              onClick={() => setEditing({ kind: 'role', current: r })}
                              data-testid={`edit-role-${r.name}`}
                            >
                              Edit
                            </button>
                            <button
                              className="btn btn-small btn-danger"
                              disabled={!admin || readOnly}
                              title={admin ? '' : 'Needs the admin role'}
                              onClick={() => setDeleting({ kind: 'role', entity: r })}
                              data-testid={`delete-role-${r.name}`}
                            >
                              Delete
                            </button>
                          </span>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          </div>
          <SyncPanel revision={d.revision} clusterId={clusterId} />
        </>
      )}
      {editing?.kind === 'rs' && <ResourceServerEditor current={editing.current} onClose={() => setEditing(null)} onSaved={saved} />}
      {editing?.kind === 'role' && d && (
        <RoleEditor current={editing.current} definitions={d} onClose={() => setEditing(null)} onSaved={saved} />
      )}
      {deleting && (
        <ConfirmTyped
          title={deleting.kind === 'rs' ? `Delete resource server ${deleting.entity.identifier}` : `Delete role ${deleting.entity.name}`}
          expected={deleting.kind === 'rs' ? deleting.entity.identifier : deleting.entity.name}
          action="Delete definition"
          busy={busy}
          onClose={() => setDeleting(null)}
          onConfirm={(t) => void remove(t)}
        >
          <div className="callout callout-err">
            The next apply removes it from every tenant
            {deleting.kind === 'rs'
              ? ', with its scopes and the permissions roles have on them'
              : ', with the tenants’ assignments of this role'}
            . Tenant-owned rows are not touched.
          </div>
        </ConfirmTyped>
      )}
    </div>
  );
}
