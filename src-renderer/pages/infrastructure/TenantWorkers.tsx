import { useEffect, useState } from 'react';
import type { CommandOutput, OperationProgress } from '../../../src-shared/contract';
import type { RolloutStatus } from '../../../src-shared/contract/workers';
import { client } from '../../client';
import { useInvoke } from '../../lib/use-invoke';
import { useReadOnly } from '../../stores/cluster';
import { useApp } from '../../stores/app';
import { toastError, toastSuccess } from '../../stores/toasts';
import { StepList } from '../../components/StepList';
import { PodTable, WorkloadTable } from './InfrastructurePage';
import './infra.css';

type Config = CommandOutput<'workers.config.get'>;
type Step = { name: string; status: string; error: string | null };

export function RolloutLine({ r }: { r: RolloutStatus }) {
  const pct = r.desired ? Math.round((100 * r.available) / r.desired) : 0;
  return (
    <span className="row" data-testid="rollout-status">
      <span className="rollout-bar">
        <span style={{ width: `${pct}%` }} />
      </span>
      <code>{r.name}</code> {r.available}/{r.desired} available, {r.updated} updated
      {r.complete ? (
        <span className="badge badge-ok">rolled out</span>
      ) : (
        <span className="badge badge-warn">{r.message ?? 'rolling out'}</span>
      )}
    </span>
  );
}

/** The tenant page's Workers tab: worker modes, concurrency, name and tier, and the tenant's own workloads. */
export default function TenantWorkers({ slug, reloadTenant }: { slug: string; reloadTenant(): Promise<void> }) {
  const q = useInvoke('workers.config.get', { slug }, slug);
  // The steps of the last change outlive the form, which starts over from what is stored after it.
  const [steps, setSteps] = useState<Step[] | null>(null);
  return (
    <div data-testid="tenant-workers">
      {q.error && <div className="callout callout-err">{q.error.message}</div>}
      {q.data && <ConfigForm key={JSON.stringify(q.data.config)} d={q.data} reload={q.reload} steps={steps} setSteps={setSteps} />}
      {q.data && (
        <ProfileForm
          d={q.data}
          reload={async () => {
            await q.reload();
            await reloadTenant();
          }}
        />
      )}
      <TenantWorkloads slug={slug} />
    </div>
  );
}

function ConfigForm({
  d,
  reload,
  steps,
  setSteps,
}: {
  d: Config;
  reload(): Promise<void>;
  steps: Step[] | null;
  setSteps(s: Step[] | null): void;
}) {
  const readOnly = useReadOnly();
  const role = useApp((s) => s.operator?.role);
  const [task, setTask] = useState(d.config.task);
  const [login, setLogin] = useState(d.config.login);
  const [busy, setBusy] = useState(false);
  const [live, setLive] = useState<string | null>(null);
  const pools = useInvoke('pools.list', {});
  useEffect(
    () =>
      client.subscribe('operation.progress', (e: OperationProgress) => {
        if (e.target === d.slug && (e.kind === 'workers.config' || e.kind === 'tenant.profile'))
          setLive(e.message ?? `${e.step}: ${e.status}`);
      }),
    [d.slug],
  );
  const save = async () => {
    setBusy(true);
    setLive(null);
    try {
      const r = await client.invoke('workers.config.set', {
        slug: d.slug,
        taskMode: task.mode,
        taskPool: task.mode === 'agent' ? task.pool : null,
        taskConcurrency: task.concurrency,
        loginMode: login.mode,
        loginUrl: login.mode === 'shared' ? login.url : null,
        loginMaxConcurrent: login.mode === 'shared' ? login.maxConcurrent : null,
      });
      setSteps(r.steps);
      toastSuccess(
        'Worker configuration saved',
        r.loginWorker ? `${r.loginWorker.name} rolled out (${r.loginWorker.available}/${r.loginWorker.desired} available)` : undefined,
      );
      await reload();
    } catch (e) {
      setSteps(null);
      toastError('Could not change the workers', e);
    } finally {
      setBusy(false);
    }
  };
  const dedicatedAllowed = d.dedicatedResources !== null;
  const disabled = busy || readOnly || role === 'viewer';
  return (
    <section className="card" data-testid="worker-config">
      <header className="card-header">
        <h2>Workers</h2>
        <span className="muted">
          {d.stored ? 'stored in the worker configuration the backend reads' : 'nothing stored yet: the backend runs everything inline'}
        </span>
      </header>
      <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
        <div className="infra-form">
          <label className="field">
            <span>Task worker mode</span>
            <select
              className="input"
              value={task.mode}
              onChange={(e) => setTask({ ...task, mode: e.target.value as 'inline' | 'agent' })}
              data-testid="task-mode"
              disabled={disabled}
            >
              <option value="inline">inline (in the backend)</option>
              <option value="agent">agent (external pool)</option>
            </select>
          </label>
          {task.mode === 'agent' && (
            <label className="field">
              <span>Agent pool</span>
              <select
                className="input"
                value={task.pool ?? ''}
                onChange={(e) => setTask({ ...task, pool: e.target.value || null })}
                data-testid="task-pool"
                disabled={disabled}
              >
                <option value="">choose a pool…</option>
                {(pools.data?.pools ?? []).map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name}
                  </option>
                ))}
              </select>
            </label>
          )}
          <label className="field">
            <span>Task concurrency</span>
            <input
              className="input"
              type="number"
              min={1}
              max={1024}
              value={task.concurrency}
              onChange={(e) => setTask({ ...task, concurrency: Number(e.target.value) })}
              data-testid="task-concurrency"
              disabled={disabled}
            />
          </label>
        </div>
        <div className="infra-form">
          <label className="field">
            <span>Login worker mode</span>
            <select
              className="input"
              value={login.mode}
              onChange={(e) => setLogin({ ...login, mode: e.target.value as 'inline' | 'shared' | 'dedicated' })}
              data-testid="login-mode"
              disabled={disabled}
            >
              <option value="inline">inline (in the backend)</option>
              <option value="shared">shared deployment</option>
              <option value="dedicated" disabled={!dedicatedAllowed}>
                dedicated pod{dedicatedAllowed ? '' : ` (not in tier ${d.tier})`}
              </option>
            </select>
          </label>
          {login.mode === 'shared' && (
            <>
              <label className="field">
                <span>Shared worker URL</span>
                <input
                  className="input"
                  style={{ width: 340 }}
                  value={login.url ?? ''}
                  placeholder="http://login-worker-shared.iam-system.svc:8090"
                  onChange={(e) => setLogin({ ...login, url: e.target.value || null })}
                  data-testid="login-url"
                  disabled={disabled}
                />
              </label>
              <label className="field">
                <span>Max concurrent</span>
                <input
                  className="input"
                  type="number"
                  min={1}
                  max={1024}
                  value={login.maxConcurrent ?? 10}
                  onChange={(e) => setLogin({ ...login, maxConcurrent: Number(e.target.value) })}
                  disabled={disabled}
                />
              </label>
            </>
          )}
          {login.mode === 'dedicated' && d.dedicatedResources && (
            <span className="field-hint">
              Tier {d.tier}: {d.dedicatedResources.replicas} replica(s), requests {d.dedicatedResources.requests.cpu} /{' '}
              {d.dedicatedResources.requests.memory}, limits {d.dedicatedResources.limits.cpu} / {d.dedicatedResources.limits.memory}
            </span>
          )}
        </div>
        {d.loginWorker && <RolloutLine r={d.loginWorker} />}
        {busy && live && (
          <div className="muted" data-testid="worker-live">
            {live}
          </div>
        )}
        {steps && <StepList steps={steps} />}
        <div className="row">
          <button className="btn btn-primary" onClick={() => void save()} disabled={disabled} data-testid="worker-save">
            {busy ? 'Applying…' : 'Apply'}
          </button>
          {role === 'viewer' && <span className="muted">Viewers cannot change workers.</span>}
        </div>
      </div>
    </section>
  );
}

function ProfileForm({ d, reload }: { d: Config; reload(): Promise<void> }) {
  const readOnly = useReadOnly();
  const role = useApp((s) => s.operator?.role);
  const [name, setName] = useState(d.name);
  const [tier, setTier] = useState(d.tier);
  const [busy, setBusy] = useState(false);
  const save = async () => {
    setBusy(true);
    try {
      const r = await client.invoke('tenants.profile.set', {
        slug: d.slug,
        ...(name !== d.name ? { name } : {}),
        ...(tier !== d.tier ? { tier: tier as 'DEV' | 'PRO' | 'Enterprise' } : {}),
      });
      toastSuccess('Tenant updated', `${r.name} · ${r.tier}${r.loginWorker ? ` · ${r.loginWorker.name} rolled out` : ''}`);
      await reload();
    } catch (e) {
      toastError('Could not change the tenant', e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" data-testid="tenant-profile">
      <header className="card-header">
        <h2>Name and tier</h2>
        <span className="muted">a tier change is checked against the license and applies the tier&apos;s worker resources</span>
      </header>
      <div className="card-body infra-form">
        <label className="field">
          <span>Display name</span>
          <input
            className="input"
            style={{ width: 280 }}
            value={name}
            onChange={(e) => setName(e.target.value)}
            disabled={busy || readOnly || role === 'viewer'}
            data-testid="profile-name"
          />
        </label>
        <label className="field">
          <span>Tier</span>
          <select
            className="input"
            value={tier}
            onChange={(e) => setTier(e.target.value)}
            disabled={busy || readOnly || role === 'viewer'}
            data-testid="profile-tier"
          >
            {['DEV', 'PRO', 'Enterprise'].map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <button
          className="btn"
          onClick={() => void save()}
          disabled={busy || readOnly || role === 'viewer' || (name === d.name && tier === d.tier)}
          data-testid="profile-save"
        >
          {busy ? 'Saving…' : 'Save'}
        </button>
      </div>
    </section>
  );
}

function TenantWorkloads({ slug }: { slug: string }) {
  const q = useInvoke('infra.tenant', { slug }, slug);
  useEffect(
    () =>
      client.subscribe('infra.changed', (e) => {
        if (
          e.resync ||
          e.workloads.some((w) => w.tenant === slug) ||
          e.pods.some((p) => p.tenant === slug) ||
          e.workloadsRemoved.some((n) => n.endsWith(`-${slug}`))
        )
          void q.reload();
      }),
    [slug, q],
  );
  return (
    <section className="card" data-testid="tenant-workloads">
      <header className="card-header">
        <h2>This tenant&apos;s workloads</h2>
      </header>
      <div className="card-body">
        {q.error && <div className="callout callout-err">{q.error.message}</div>}
        {q.data && q.data.workloads.length === 0 && (
          <p className="muted">No dedicated workload: this tenant runs on the shared platform.</p>
        )}
        {q.data && q.data.workloads.length > 0 && (
          <>
            <WorkloadTable rows={q.data.workloads} />
            <PodTable rows={q.data.pods} />
          </>
        )}
      </div>
    </section>
  );
}
