import { useState } from 'react';
import { entitiesCommands, type Definitions, type ResourceServer, type Role } from '../../../src-shared/contract/entities';
import { client, errorShape } from '../../client';
import { Modal } from '../../components/Modal';
import { toastSuccess } from '../../stores/toasts';

const firstIssue = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) => {
  if (r.success) return null;
  const issue = r.error?.issues[0];
  return issue ? { path: issue.path.join('.'), message: issue.message } : { path: '', message: 'invalid' };
};

interface ScopeRow {
  value: string;
  description: string;
}

/** Create or replace a resource server: identifier, name, scopes (validated with the contract's own schema as you type). */
export function ResourceServerEditor({ current, onClose, onSaved }: { current: ResourceServer | null; onClose(): void; onSaved(): void }) {
  const [identifier, setIdentifier] = useState(current?.identifier ?? '');
  const [name, setName] = useState(current?.name ?? '');
  const [scopes, setScopes] = useState<ScopeRow[]>(
    current?.scopes.map((s) => ({ value: s.value, description: s.description ?? '' })) ?? [],
  );
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);

  const payload = {
    identifier,
    name,
    scopes: scopes.map((s) => ({ value: s.value, ...(s.description.trim() ? { description: s.description } : {}) })),
  };
  const issue = current
    ? firstIssue(
        entitiesCommands['entities.resourceServers.update'].input.safeParse({ ...payload, id: current.id, version: current.version }),
      )
    : firstIssue(entitiesCommands['entities.resourceServers.create'].input.safeParse(payload));
  const duplicate = scopes.map((s) => s.value).find((v, i, all) => v && all.indexOf(v) !== i);

  const save = async () => {
    setTouched(true);
    if (issue || duplicate) return;
    setBusy(true);
    setFailure(null);
    try {
      const r = current
        ? await client.invoke('entities.resourceServers.update', { ...payload, id: current.id, version: current.version })
        : await client.invoke('entities.resourceServers.create', payload);
      toastSuccess(
        r.changed ? `Resource server ${r.entity.identifier} saved` : 'Nothing changed',
        r.changed
          ? `Revision ${r.revision}: plan and apply to sync it into the tenants.`
          : 'The definition is equivalent to the saved one.',
      );
      onSaved();
    } catch (e) {
      const shape = errorShape(e);
      setFailure(`${shape.message} (${shape.code})`);
    } finally {
      setBusy(false);
    }
  };

  const setScope = (i: number, patch: Partial<ScopeRow>) => setScopes(scopes.map((s, j) => (j === i ? { ...s, ...patch } : s)));
  return (
    <Modal
      title={current ? `Edit resource server ${current.identifier}` : 'New resource server'}
      onClose={onClose}
      wide
      testId="rs-editor"
      footer={
        <>
          <button className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" disabled={busy} onClick={() => void save()} data-testid="rs-save">
            {busy ? 'Saving…' : 'Save definition'}
          </button>
        </>
      }
    >
      <div className="form-grid">
        <div className="field">
          <label htmlFor="rs-identifier">Identifier (token audience)</label>
          <input
            id="rs-identifier"
            value={identifier}
            onChange={(e) => setIdentifier(e.target.value)}
            placeholder="https://api.example.com"
            spellCheck={false}
            data-testid="rs-identifier"
          />
        </div>
        <div className="field">
          <label htmlFor="rs-name">Name</label>
          <input id="rs-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="My API" data-testid="rs-name" />
        </div>
      </div>
      <h3 className="entities-subhead">Scopes</h3>
      {scopes.length === 0 && <p className="muted">No scopes. Roles can only be given permissions on scopes.</p>}
      {scopes.map((s, i) => (
        <div className="entities-scope-row" key={i}>
          <input
            aria-label={`Scope ${i + 1}`}
            value={s.value}
            onChange={(e) => setScope(i, { value: e.target.value })}
            placeholder="read:data"
            spellCheck={false}
            data-testid={`scope-value-${i}`}
          />
          <input
            aria-label={`Description of scope ${i + 1}`}
            value={s.description}
            onChange={(e) => setScope(i, { description: e.target.value })}
            placeholder="Description (optional)"
          />
          <button
            className="btn btn-small"
            onClick={() => setScopes(scopes.filter((_, j) => j !== i))}
            aria-label={`Remove scope ${i + 1}`}
          >
            Remove
          </button>
        </div>
      ))}
      <div className="row">
        <button className="btn btn-small" onClick={() => setScopes([...scopes, { value: '', description: '' }])} data-testid="add-scope">
          Add scope
        </button>
      </div>
      {current && (
        <p className="field-hint">Removing a scope removes it from the roles that use it, and from every tenant at the next apply.</p>
      )}
      {touched && (issue || duplicate) && (
        <div className="field-error" data-testid="rs-error">
          {duplicate ? `Scope "${duplicate}" is listed twice.` : `${issue!.path || 'input'}: ${issue!.message}`}
        </div>
      )}
      {failure && (
        <div className="callout callout-err" data-testid="rs-failure">
          {failure}
        </div>
      )}
    </Modal>
  );
}

/** Create or replace a role: name, description and its permissions (scopes of the defined resource servers). */
export function RoleEditor({
  current,
  definitions,
  onClose,
  onSaved,
}: {
  current: Role | null;
  definitions: Definitions;
  onClose(): void;
  onSaved(): void;
}) {
  const [name, setName] = useState(current?.name ?? '');
  const [description, setDescription] = useState(current?.description ?? '');
  const key = (rs: string, scope: string) => `${rs}\u0000${scope}`;
  const [chosen, setChosen] = useState<Set<string>>(new Set(current?.permissions.map((p) => key(p.resourceServer, p.scope)) ?? []));
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);

  const permissions = [...chosen].map((k) => ({ resourceServer: k.split('\u0000')[0]!, scope: k.split('\u0000')[1]! }));
  const payload = { name, description: description.trim() ? description : null, permissions };
  const issue = current
    ? firstIssue(entitiesCommands['entities.roles.update'].input.safeParse({ ...payload, id: current.id, version: current.version }))
    : firstIssue(entitiesCommands['entities.roles.create'].input.safeParse(payload));

  const save = async () => {
    setTouched(true);
    if (issue) return;
    setBusy(true);
    setFailure(null);
    try {
      const r = current
        ? await client.invoke('entities.roles.update', { ...payload, id: current.id, version: current.version })
        : await client.invoke('entities.roles.create', payload);
      toastSuccess(
        r.changed ? `Role ${r.entity.name} saved` : 'Nothing changed',
        r.changed
          ? `Revision ${r.revision}: plan and apply to sync it into the tenants.`
          : 'The definition is equivalent to the saved one.',
      );
      onSaved();
    } catch (e) {
      const shape = errorShape(e);
      setFailure(`${shape.message} (${shape.code})`);
    } finally {
      setBusy(false);
    }
  };

  const toggle = (k: string) => {
    const next = new Set(chosen);
    if (next.has(k)) next.delete(k);
    else next.add(k);
    setChosen(next);
  };
  return (
    <Modal
      title={current ? `Edit role ${current.name}` : 'New role'}
      onClose={onClose}
      wide
      testId="role-editor"
      footer={
        <>
          <button className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" disabled={busy} onClick={() => void save()} data-testid="role-save">
            {busy ? 'Saving…' : 'Save definition'}
          </button>
        </>
      }
    >
      <div className="form-grid">
        <div className="field">
          <label htmlFor="role-name">Name</label>
          <input id="role-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="Admin" data-testid="role-name" />
        </div>
        <div className="field">
          <label htmlFor="role-description">Description</label>
          <input
            id="role-description"
            value={description}
            onChange={(e) => setDescription(e.target.value)}
            placeholder="Optional"
            data-testid="role-description"
          />
        </div>
      </div>
      <h3 className="entities-subhead">Permissions</h3>
      {definitions.resourceServers.every((rs) => rs.scopes.length === 0) && (
        <p className="muted">No resource server has scopes yet: define one first to grant permissions.</p>
      )}
      {definitions.resourceServers
        .filter((rs) => rs.scopes.length > 0)
        .map((rs) => (
          <fieldset className="entities-perms" key={rs.id}>
            <legend>
              <code>{rs.identifier}</code> <span className="muted">{rs.name}</span>
            </legend>
            {rs.scopes.map((s) => (
              <label className="check" key={s.id} title={s.description ?? ''}>
                <input
                  type="checkbox"
                  checked={chosen.has(key(rs.identifier, s.value))}
                  onChange={() => toggle(key(rs.identifier, s.value))}
                  data-testid={`perm-${rs.identifier}-${s.value}`}
                />{' '}
                {s.value}
              </label>
            ))}
          </fieldset>
        ))}
      {touched && issue && <div className="field-error" data-testid="role-error">{`${issue.path || 'input'}: ${issue.message}`}</div>}
      {failure && (
        <div className="callout callout-err" data-testid="role-failure">
          {failure}
        </div>
      )}
    </Modal>
  );
}
