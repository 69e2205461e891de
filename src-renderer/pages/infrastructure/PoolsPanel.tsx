import { useState } from 'react';
import type { AgentPool } from '../../../src-shared/contract/workers';
import { client } from '../../client';
import { ConfirmTyped } from '../../components/ConfirmTyped';
import { useInvoke } from '../../lib/use-invoke';
import { useApp } from '../../stores/app';
import { useReadOnly } from '../../stores/cluster';
import { toastError, toastSuccess } from '../../stores/toasts';
import { RolloutLine } from './TenantWorkers';

/** "region=eu, tier=gold" → { region: 'eu', tier: 'gold' }; null when a part is not key=value. */
export function parseLabels(text: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** Agent pools: create, scale, delete (reassigning), the shared pool's registration key and per-agent revocation. */
export function PoolsPanel() {
  const q = useInvoke('pools.list', {});
  const role = useApp((s) => s.operator?.role);
  const readOnly = useReadOnly();
  const canOperate = !readOnly && (role === 'operator' || role === 'admin');
  const isAdmin = !readOnly && role === 'admin';
  const [busy, setBusy] = useState(false);
  const [form, setForm] = useState({ name: '', labels: '', replicas: 1 });
  const [deleting, setDeleting] = useState<AgentPool | null>(null);
  const [reassign, setReassign] = useState('inline');
  const pools = q.data?.pools ?? [];
  const shared = pools.find((p) => p.shared);

  const run = async (title: string, fn: () => Promise<string | undefined>) => {
    setBusy(true);
    try {
      const detail = await fn();
      toastSuccess(title, detail);
      await q.reload();
    } catch (e) {
      toastError(`${title}: failed`, e);
    } finally {
      setBusy(false);
    }
  };
  const labels = parseLabels(form.labels);

  return (
    <div data-testid="pools-panel">
      {q.error && <div className="callout callout-err">{q.error.message}</div>}
      <section className="card">
        <header className="card-header">
          <h2>New pool</h2>
          <span className="muted">a Deployment agent-pool-&lt;name&gt; running the platform&apos;s agent image</span>
        </header>
        <div className="card-body infra-form">
          <label className="field">
            <span>Name</span>
            <input
              className="input"
              value={form.name}
              onChange={(e) => setForm({ ...form, name: e.target.value })}
              placeholder="eu-west"
              data-testid="pool-name"
              disabled={!canOperate}
            />
          </label>
          <label className="field">
            <span>Labels</span>
            <input
              className="input"
              style={{ width: 260 }}
              value={form.labels}
              onChange={(e) => setForm({ ...form, labels: e.target.value })}
              placeholder="region=eu-west-1, tier=gold"
              data-testid="pool-labels"
              disabled={!canOperate}
            />
            {labels === null && <span className="field-error">write key=value, separated by commas</span>}
          </label>
          <label className="field">
            <span>Replicas</span>
            <input
              className="input"
              type="number"
              min={0}
              max={200}
              value={form.replicas}
              onChange={(e) => setForm({ ...form, replicas: Number(e.target.value) })}
              disabled={!canOperate}
            />
          </label>
          <button
            className="btn btn-primary"
            disabled={!canOperate || busy || !form.name || labels === null}
            data-testid="pool-create"
            onClick={() =>
              void run('Pool created', async () => {
                const r = await client.invoke('pools.create', { name: form.name, labels: labels ?? {}, replicas: form.replicas });
                setForm({ name: '', labels: '', replicas: 1 });
                return `${r.pool.deployment}: ${r.pool.rollout.available}/${r.pool.rollout.desired} available`;
              })
            }
          >
            Create pool
          </button>
          {!shared && (
            <button
              className="btn"
              disabled={!isAdmin || busy}
              data-testid="shared-init"
              onClick={() =>
                void run(
                  'Shared pool initialised',
                  async () => `key ${(await client.invoke('pools.shared.init', { replicas: 2 })).pool.keyId}`,
                )
              }
            >
              Initialise shared pool
            </button>
          )}
        </div>
      </section>
      {pools.map((p) => (
        <PoolCard
          key={p.name}
          p={p}
          busy={busy}
          canOperate={canOperate}
          isAdmin={isAdmin}
          run={run}
          onDelete={() => {
            setReassign('inline');
            setDeleting(p);
          }}
        />
      ))}
      {q.data && pools.length === 0 && <div className="empty-state muted">No agent pool on this cluster.</div>}
      {deleting && (
        <ConfirmTyped
          title={`Delete agent pool ${deleting.name}`}
          expected={deleting.name}
          action="Delete pool"
          busy={busy}
          onClose={() => setDeleting(null)}
          onConfirm={(typed) =>
            void run('Pool deleted', async () => {
              const r = await client.invoke('pools.delete', {
                name: deleting.name,
                confirm: typed,
                reassignTo: deleting.tenants.length ? reassign : null,
              });
              setDeleting(null);
              return r.reassigned.length ? `${r.reassigned.length} tenant(s) moved to ${reassign}` : undefined;
            })
          }
        >
          <p>
            Deletes Deployment <code>{deleting.deployment}</code>
            {deleting.shared ? ' and its registration key' : ''}.
          </p>
          {deleting.tenants.length > 0 && (
            <label className="field">
              <span>{deleting.tenants.length} tenant(s) send tasks here; move them to</span>
              <select className="input" value={reassign} onChange={(e) => setReassign(e.target.value)} data-testid="pool-reassign">
                <option value="inline">inline (the backend runs their tasks)</option>
                {pools
                  .filter((x) => x.name !== deleting.name)
                  .map((x) => (
                    <option key={x.name} value={x.name}>
                      {x.name}
                    </option>
                  ))}
              </select>
            </label>
          )}
        </ConfirmTyped>
      )}
    </div>
  );
}

function PoolCard({
  p,
  busy,
  canOperate,
  isAdmin,
  run,
  onDelete,
}: {
  p: AgentPool;
  busy: boolean;
  canOperate: boolean;
  isAdmin: boolean;
  run(title: string, fn: () => Promise<string | undefined>): Promise<void>;
  onDelete(): void;
}) {
  const [replicas, setReplicas] = useState(p.replicas);
  const [agent, setAgent] = useState('');
  return (
    <section className="card" data-testid={`pool-${p.name}`}>
      <header className="card-header">
        <h2>{p.name}</h2>
        {p.shared && <span className="badge">shared</span>}
        {Object.entries(p.labels).map(([k, v]) => (
          <span key={k} className="tag">
            {k}={v}
          </span>
        ))}
        <span className="spacer" />
        <button className="btn btn-small" disabled={!isAdmin || busy} onClick={onDelete} data-testid={`pool-delete-${p.name}`}>
          Delete
        </button>
      </header>
      <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 10 }}>
        <RolloutLine r={p.rollout} />
        <div className="muted">
          {p.tenants.length
            ? `${p.tenants.length} tenant(s): ${p.tenants.slice(0, 12).join(', ')}${p.tenants.length > 12 ? ', …' : ''}`
            : 'no tenant assigned'}
        </div>
        <div className="infra-form">
          <label className="field">
            <span>Replicas</span>
            <input
              className="input"
              type="number"
              min={0}
              max={200}
              value={replicas}
              onChange={(e) => setReplicas(Number(e.target.value))}
              disabled={!canOperate}
            />
          </label>
          <button
            className="btn"
            disabled={!canOperate || busy || replicas === p.replicas}
            onClick={() =>
              void run('Pool scaled', async () => `${(await client.invoke('pools.scale', { name: p.name, replicas })).replicas} replicas`)
            }
          >
            Scale
          </button>
        </div>
        {p.shared && (
          <div className="infra-form">
            <span>
              Registration key <code>{p.keyId ?? '—'}</code>
              {p.previousKeyId && (
                <>
                  {' '}
                  (previous <code>{p.previousKeyId}</code> still accepted until the pool has rolled)
                </>
              )}
            </span>
            <button
              className="btn"
              disabled={!isAdmin || busy}
              data-testid="rotate-key"
              onClick={() =>
                void run(
                  'Registration key rotated',
                  async () => `new key ${(await client.invoke('pools.shared.rotateKey', {})).pool.keyId}`,
                )
              }
            >
              Rotate key
            </button>
          </div>
        )}
        <div className="infra-form">
          <label className="field">
            <span>Agent id (pod name)</span>
            <input className="input" style={{ width: 280 }} value={agent} onChange={(e) => setAgent(e.target.value)} disabled={!isAdmin} />
          </label>
          <button
            className="btn"
            disabled={!isAdmin || busy || !agent}
            onClick={() =>
              void run('Agent revoked', async () => `epoch ${(await client.invoke('pools.agents.revoke', { pool: p.name, agent })).epoch}`)
            }
          >
            Revoke
          </button>
          <button
            className="btn"
            disabled={!isAdmin || busy || !agent}
            onClick={() =>
              void run(
                'Agent readmitted',
                async () => `new epoch ${(await client.invoke('pools.agents.readmit', { pool: p.name, agent })).epoch}`,
              )
            }
          >
            Readmit
          </button>
          {p.revokedAgents.length > 0 && <span className="muted">revoked: {p.revokedAgents.join(', ')}</span>}
        </div>
      </div>
    </section>
  );
}
