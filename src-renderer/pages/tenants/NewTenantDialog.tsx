import { useState } from 'react';
import { z } from 'zod';
import { TenantName, TenantSlug, TenantTier, TIER_LIMITS, type TenantTier as Tier } from '../../../src-shared/contract/tenants';
import { client, errorShape } from '../../client';
import { useTenants } from '../../stores/tenants';
import { Modal } from '../../components/Modal';
import { StepList, useOperationProgress, type StepView } from '../../components/StepList';
import { CopyButton } from '../../components/CopyButton';
import { navigate } from '../../lib/router';

const CREATE_STEPS = ['reserve', 'database', 'schema', 'admin-user', 'secret', 'registry', 'license', 'release'];
const Email = z.email().max(254);
const firstIssue = (r: { success: boolean; error?: { issues: { message: string }[] } }) =>
  r.success ? null : (r.error?.issues[0]?.message ?? 'invalid');

type Phase =
  | { kind: 'form' }
  | { kind: 'running' }
  | { kind: 'done'; username: string; password: string; steps: StepView[] }
  | { kind: 'failed'; message: string; code: string; steps: StepView[] };

/** New tenant: validated as you type with the contract's own schemas, then the saga's steps live, then the admin password once. */
export function NewTenantDialog({ onClose }: { onClose(): void }) {
  const [slug, setSlug] = useState('');
  const [name, setName] = useState('');
  const [tier, setTier] = useState<Tier>('DEV');
  const [email, setEmail] = useState('');
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [phase, setPhase] = useState<Phase>({ kind: 'form' });
  const live = useOperationProgress('tenant.create', slug, phase.kind !== 'form');

  const errors = {
    slug: firstIssue(TenantSlug.safeParse(slug)) ?? serverErrors.slug ?? null,
    name: firstIssue(TenantName.safeParse(name)) ?? serverErrors.name ?? null,
    tier: firstIssue(TenantTier.safeParse(tier)),
    adminEmail: email ? firstIssue(Email.safeParse(email)) : null,
  };
  const valid = !errors.slug && !errors.name && !errors.tier && !errors.adminEmail;

  const submit = async () => {
    setTouched({ slug: true, name: true, adminEmail: true });
    if (!valid) return;
    setPhase({ kind: 'running' });
    try {
      const r = await client.invoke('tenants.create', { slug, name, tier, ...(email ? { adminEmail: email } : {}) });
      setPhase({
        kind: 'done',
        username: r.adminUsername,
        password: r.adminPassword,
        steps: r.steps.map((s) => ({ name: s.name, status: s.status, message: s.error })),
      });
      void useTenants.getState().load();
    } catch (e) {
      const shape = errorShape(e);
      const fields = (shape.details?.fields ?? {}) as Record<string, string>;
      if (shape.code === 'VALIDATION' && Object.keys(fields).length) {
        setServerErrors(fields);
        setPhase({ kind: 'form' });
        return;
      }
      setPhase({ kind: 'failed', message: `${shape.message} (${shape.code})`, code: shape.code, steps: [] });
      void useTenants.getState().loadUnfinished();
    }
  };

  if (phase.kind === 'done') {
    return (
      <Modal
        title={`Tenant ${slug} created`}
        onClose={onClose}
        testId="new-tenant-dialog"
        footer={
          <>
            <button className="btn" onClick={() => navigate(`/tenants/${slug}`)}>
              Open tenant
            </button>
            <button className="btn btn-primary" onClick={onClose} data-testid="new-tenant-close">
              Done
            </button>
          </>
        }
      >
        <StepList steps={live.length ? live : phase.steps} />
        <div className="callout callout-warn">
          <strong>Initial admin password — shown once.</strong> Copy it now and hand it to the tenant&apos;s administrator; afterwards only
          an admin can reveal it (audited).
        </div>
        <div className="field">
          <span className="field-label">Username</span>
          <code>{phase.username}</code>
        </div>
        <div className="secret-box" data-testid="initial-password">
          <code>{phase.password}</code>
          <CopyButton value={phase.password} />
        </div>
      </Modal>
    );
  }

  if (phase.kind !== 'form') {
    return (
      <Modal
        title={`Creating tenant ${slug}`}
        onClose={onClose}
        testId="new-tenant-dialog"
        footer={
          phase.kind === 'failed' ? (
            <button className="btn" onClick={onClose}>
              Close
            </button>
          ) : undefined
        }
      >
        <StepList
          // once failed, a step still "running" is where it stopped
          steps={(live.length ? live : phase.kind === 'failed' ? phase.steps : []).map((st) =>
            phase.kind === 'failed' && st.status === 'running' ? { ...st, status: 'failed', message: 'stopped' } : st,
          )}
          planned={CREATE_STEPS}
        />
        {phase.kind === 'failed' && (
          <div className="callout callout-err" data-testid="create-failed">
            {phase.message}
            <div className="muted">
              {phase.code === 'UNAVAILABLE'
                ? 'The engine stopped part-way. Once it runs again, the operation is listed under Unfinished operations: resume it or roll it back.'
                : 'Completed steps were compensated where possible; anything left is listed under Unfinished operations.'}
            </div>
          </div>
        )}
      </Modal>
    );
  }

  const show = (f: keyof typeof errors) => (touched[f] ? errors[f] : null);
  const limits = TIER_LIMITS[tier];
  return (
    <Modal
      title="New tenant"
      onClose={onClose}
      testId="new-tenant-dialog"
      footer={
        <>
          <button className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" onClick={() => void submit()} disabled={!valid} data-testid="create-tenant">
            Create tenant
          </button>
        </>
      }
    >
      <form
        style={{ display: 'flex', flexDirection: 'column', gap: 12 }}
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <div className="field">
          <label htmlFor="nt-slug">Slug</label>
          <input
            id="nt-slug"
            type="text"
            autoComplete="off"
            spellCheck={false}
            value={slug}
            aria-invalid={!!show('slug')}
            onChange={(e) => {
              setSlug(e.target.value);
              setTouched((t) => ({ ...t, slug: true }));
              setServerErrors({});
            }}
            data-testid="nt-slug"
          />
          {show('slug') ? (
            <span className="field-error" data-testid="nt-slug-error">
              {show('slug')}
            </span>
          ) : (
            <span className="field-hint">Lowercase letters, digits and “-”; used in hostnames, the database and the Secret name.</span>
          )}
        </div>
        <div className="field">
          <label htmlFor="nt-name">Display name</label>
          <input
            id="nt-name"
            type="text"
            value={name}
            aria-invalid={!!show('name')}
            onChange={(e) => {
              setName(e.target.value);
              setTouched((t) => ({ ...t, name: true }));
            }}
            data-testid="nt-name"
          />
          {show('name') && <span className="field-error">{show('name')}</span>}
        </div>
        <div className="form-grid">
          <div className="field">
            <label htmlFor="nt-tier">Tier</label>
            <select id="nt-tier" value={tier} onChange={(e) => setTier(e.target.value as Tier)} data-testid="nt-tier">
              {TenantTier.options.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
            <span className="field-hint">
              {limits.users === null ? 'unlimited users' : `${limits.users.toLocaleString()} users`} ·{' '}
              {limits.applications === null ? 'unlimited apps' : `${limits.applications} apps`}
              {limits.dedicatedLoginWorker ? ' · dedicated login worker' : ''}
            </span>
          </div>
          <div className="field">
            <label htmlFor="nt-email">Admin e-mail (optional)</label>
            <input
              id="nt-email"
              type="text"
              value={email}
              aria-invalid={!!show('adminEmail')}
              onChange={(e) => {
                setEmail(e.target.value);
                setTouched((t) => ({ ...t, adminEmail: true }));
              }}
            />
            {show('adminEmail') && <span className="field-error">{show('adminEmail')}</span>}
          </div>
        </div>
        <button type="submit" hidden />
      </form>
    </Modal>
  );
}
