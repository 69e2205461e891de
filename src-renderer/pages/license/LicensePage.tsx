import { useEffect, useState, type ChangeEvent, type DragEvent } from 'react';
import type { LicenseStatus } from '../../../src-shared/contract/license';
import { client, errorShape } from '../../client';
import { ConfirmTyped } from '../../components/ConfirmTyped';
import { exactTime, plural, shortDate } from '../../lib/format';
import { useInvoke } from '../../lib/use-invoke';
import { toastError, toastSuccess } from '../../stores/toasts';
import { AllocationsCard } from './AllocationsCard';
import './license.css';

const STATE_LABEL: Record<LicenseStatus['state'], string> = {
  valid: 'valid',
  expiring: 'expiring',
  grace: 'in grace period',
  expired: 'expired',
  invalid: 'invalid',
  none: 'no license',
};

const STATE_BADGE: Record<LicenseStatus['state'], string> = {
  valid: 'badge-ok',
  expiring: 'badge-warn',
  grace: 'badge-warn',
  expired: 'badge-err',
  invalid: 'badge-err',
  none: '',
};

function countdown(seconds: number | null): string {
  if (seconds === null) return '';
  const abs = Math.abs(seconds);
  const d = Math.floor(abs / 86400);
  const h = Math.floor((abs % 86400) / 3600);
  const text = d > 0 ? `${d} d ${h} h` : `${h} h ${Math.floor((abs % 3600) / 60)} min`;
  return seconds >= 0 ? `expires in ${text}` : `expired ${text} ago`;
}

/** "2026-11-23 12:09" in local time: history rows stay on one line; the title has the full time. */
function shortDateTime(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Why a tenant's Secret differs from what it should carry, in words. */
function laggingText(l: LicenseStatus['tenants']['lagging'][number]): string {
  if (l.reason === 'license') return `${l.slug} (license not delivered)`;
  return `${l.slug} (user cap ${l.actualCap === null ? 'missing' : l.actualCap}, should be ${l.expectedCap})`;
}

/** The big figure of the expiry tile: days left (hours on the last day). */
function expiryFigure(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 0) return 'expired';
  return seconds >= 86400 ? plural(Math.floor(seconds / 86400), 'day') : `${Math.floor(seconds / 3600)} h`;
}

/** The cluster keeps the last 200 entries; the latest few are what an operator usually wants. */
const HISTORY_SHOWN = 10;

const HISTORY_LABEL: Record<string, string> = {
  activate: 'Activated',
  'renew-online': 'Renewed online',
  'renew-import': 'Renewal imported',
  clear: 'Cleared',
  allocations: 'Caps changed',
  revocations: 'Revocation list',
};

/** File bytes go to the engine as base64, so it can tell a non-UTF-8 file from a bad license. */
async function fileToBase64(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** A file input handler; the input is reset so choosing the same file again (after fixing it) fires again. */
const pickFile = (handle: (file: File) => Promise<unknown>) => (e: ChangeEvent<HTMLInputElement>) => {
  const file = e.target.files?.[0];
  e.target.value = '';
  if (file) void handle(file);
};

function download(name: string, content: string) {
  const url = URL.createObjectURL(new Blob([content], { type: 'application/jose' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  URL.revokeObjectURL(url);
}

/** What each action is called while it runs, when it succeeds and when it is refused. */
const ACTIONS = {
  activate: { doing: 'Activating', done: 'License activated', failed: 'License refused' },
  renewOnline: { doing: 'Renewing', done: 'License renewed', failed: 'Online renewal failed' },
  exportRequest: { doing: 'Exporting', done: 'Renewal request exported', failed: 'Renewal request not exported' },
  importAnswer: { doing: 'Importing', done: 'Renewed license imported', failed: 'Renewal answer refused' },
  revocations: { doing: 'Importing', done: 'Revocation list imported', failed: 'Revocation list refused' },
  clear: { doing: 'Clearing', done: 'License cleared', failed: 'License not cleared' },
  resume: { doing: 'Resuming', done: 'Fan-out finished', failed: 'Fan-out not resumed' },
} as const;
type Action = keyof typeof ACTIONS;

/** A license to activate, as sent to the engine. */
type LicenseInput = { license: string; encoding: 'text' | 'base64' };

/** The engine asked for the offered license's id before replacing a valid license (downgrade or other customer). */
interface PendingReplace {
  input: LicenseInput;
  expected: string;
  message: string;
  reason: string;
  current?: { lid: string; customer: string; issuedAt: string; expiresAt: string };
  offered?: { lid: string; customer: string; issuedAt: string; expiresAt: string };
}

/** The CONFIRMATION_REQUIRED answer of license.activate, or null for any other refusal. */
function replaceConfirmation(e: unknown, input: LicenseInput): PendingReplace | null {
  const shape = errorShape(e);
  const d = shape.details;
  if (shape.code !== 'CONFIRMATION_REQUIRED' || d?.field !== 'confirmReplace' || typeof d.expected !== 'string') return null;
  return {
    input,
    expected: d.expected,
    message: shape.message,
    reason: String(d.reason ?? ''),
    ...(d.current ? { current: d.current as PendingReplace['current'] } : {}),
    ...(d.offered ? { offered: d.offered as PendingReplace['offered'] } : {}),
  };
}

/** License: status, limits, expiry countdown, allocations and usage, history, actions. */
export default function LicensePage() {
  const status = useInvoke('license.status', {});
  const allocations = useInvoke('license.allocations.get', {});
  const history = useInvoke('license.history', {});
  const [pasted, setPasted] = useState('');
  const [busy, setBusy] = useState<Action | null>(null);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [problem, setProblem] = useState<{ title: string; message: string; reason: string } | null>(null);
  const [confirmClear, setConfirmClear] = useState(false);
  const [pendingReplace, setPendingReplace] = useState<PendingReplace | null>(null);
  const [dragging, setDragging] = useState(false);
  const [allHistory, setAllHistory] = useState(false);
  const reloadAll = () => Promise.all([status.reload(), allocations.reload(), history.reload()]);

  useEffect(
    () =>
      client.subscribe('operation.progress', (e) => {
        if (e.kind === 'license.fanout' && e.total !== undefined) setProgress({ done: e.done ?? 0, total: e.total });
      }),
    [],
  );

  /**
   * Runs one action; a refusal stays on the page (with its reason code) until the next attempt.
   * `intercept` may take over a refusal (the typed confirmation of a replacement): nothing is shown then.
   */
  const run = async (action: Action, fn: () => Promise<unknown>, intercept?: (e: unknown) => boolean): Promise<boolean> => {
    const label = ACTIONS[action];
    setBusy(action);
    setProblem(null);
    setProgress(null);
    try {
      const r = (await fn()) as { fanout?: { written: number; failed: unknown[] } } | undefined;
      toastSuccess(
        label.done,
        r?.fanout
          ? `${plural(r.fanout.written, 'tenant')} updated${r.fanout.failed.length ? `, ${r.fanout.failed.length} failed (Resume retries them)` : ''}`
          : undefined,
      );
      await reloadAll();
      return true;
    } catch (e) {
      if (intercept?.(e)) return false;
      const shape = errorShape(e);
      setProblem({
        title: label.failed,
        message: shape.message,
        reason: shape.details?.reason ? String(shape.details.reason) : shape.code,
      });
      // the Activate card shows the refusal in place; actions started elsewhere also get a toast
      if (action === 'resume' || action === 'clear') toastError(label.failed, e);
      return false;
    } finally {
      setBusy(null);
    }
  };

  /** Activates; when it would replace a newer license or another customer's, asks for the typed license id first. */
  const activate = (input: LicenseInput, confirmReplace?: string) =>
    run(
      'activate',
      () => client.invoke('license.activate', { ...input, ...(confirmReplace !== undefined ? { confirmReplace } : {}) }),
      (e) => {
        const pending = confirmReplace === undefined ? replaceConfirmation(e, input) : null;
        if (pending) setPendingReplace(pending);
        return pending !== null;
      },
    );
  const activateFile = async (file: File) => activate({ license: await fileToBase64(file), encoding: 'base64' });
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    const file = e.dataTransfer.files[0];
    if (file) void activateFile(file);
  };
  const s = status.data;
  const lic = s?.license ?? null;

  return (
    <div
      data-testid="license-page"
      className={dragging ? 'license-drop' : undefined}
      onDragOver={(e) => {
        e.preventDefault();
        if (!dragging) setDragging(true);
      }}
      onDragLeave={(e) => {
        // leaving for a child element is not leaving the page
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <div className="page-header">
        <div>
          <h1>License</h1>
          <div className="sub">
            {s?.source === 'cache'
              ? `Read-only: cluster unreachable, data from ${exactTime(s.syncedAt)}`
              : 'Verified offline on this workstation'}
          </div>
        </div>
      </div>
      {s?.trustsTestKeys && (
        <div className="callout callout-warn page-callout" data-testid="license-dev-mode">
          Development mode: licenses signed with the <strong>test keys</strong> are accepted. A production console trusts only the pinned
          vendor keys.
        </div>
      )}
      {s?.developmentMode && !s.trustsTestKeys && (
        <div className="callout callout-warn page-callout" data-testid="license-dev-mode-refused">
          Development mode, but this cluster is not the local harness: licenses signed with the <strong>test keys</strong> are refused here,
          exactly as by a production console.
        </div>
      )}
      {status.error && <div className="callout callout-err page-callout">{status.error.message}</div>}

      {s && (
        <div className="card" data-testid="license-status">
          <div className="card-header">
            <h2>
              Status{' '}
              <span className={`badge ${STATE_BADGE[s.state]}`} data-testid="license-state" data-state={s.state}>
                {STATE_LABEL[s.state]}
                {s.expiringWithin ? ` (≤ ${s.expiringWithin} d)` : ''}
              </span>
            </h2>
            <span className="muted" data-testid="license-countdown">
              {s.license
                ? countdown(s.secondsToExpiry)
                : `free tier: ${s.freeTier.tenants} tenants, ${s.freeTier.usersPerTenant} users each`}
            </span>
          </div>
          <div className="card-body">
            {s.invalid && (
              <div className="callout callout-err page-callout" data-testid="license-invalid">
                {s.invalid.message} <code>{s.invalid.reason}</code>
              </div>
            )}
            <div className="stats">
              <div className="stat">
                <div className="stat-label">Tier</div>
                <div className="stat-value" data-testid="license-tier">
                  {s.effective.tier}
                </div>
                <div className="stat-sub">
                  {s.effective.freeTier
                    ? 'free tier: no premium features'
                    : s.effective.frozen
                      ? 'frozen: nothing may grow'
                      : `${plural(s.effective.features.length, 'feature')}`}
                </div>
              </div>
              <div className="stat">
                <div className="stat-label">Tenants</div>
                <div className="stat-value" data-testid="license-tenants">
                  {s.tenants.total ?? '—'} <small>of {s.effective.limits.tenants}</small>
                </div>
                <div className="stat-sub">
                  {s.tenants.overLimit ? (
                    <span className="field-error">over the limit: no new tenants</span>
                  ) : s.effective.freeTier ? (
                    'the free tier allows'
                  ) : (
                    'the license allows'
                  )}
                </div>
              </div>
              {/* the free tier caps each tenant; a license shares one total out as per-tenant caps */}
              <div className="stat">
                <div className="stat-label">Users</div>
                <div className="stat-value" data-testid="license-users">
                  {s.effective.freeTier ? s.freeTier.usersPerTenant : s.effective.limits.users.toLocaleString()}{' '}
                  <small>{s.effective.freeTier ? 'per tenant' : 'in total'}</small>
                </div>
                <div className="stat-sub">{s.effective.freeTier ? 'the fixed free cap' : 'shared out as per-tenant caps'}</div>
              </div>
              <div className="stat">
                <div className="stat-label">Expiry</div>
                <div className="stat-value" data-testid="license-expiry">
                  {expiryFigure(s.secondsToExpiry)}
                </div>
                <div className="stat-sub">
                  {lic ? `until ${shortDate(lic.expiresAt)}, then ${lic.graceDays} d grace` : 'no license: does not expire'}
                </div>
              </div>
            </div>
            {lic && (
              <table className="kv-table license-kv">
                <tbody>
                  <tr>
                    <td>Customer</td>
                    <td>{lic.customer}</td>
                  </tr>
                  <tr>
                    <td>License id</td>
                    <td>
                      <code>{lic.lid}</code> {lic.trust === 'test' && <span className="badge badge-warn">test key</span>}
                    </td>
                  </tr>
                  <tr>
                    <td>Valid</td>
                    <td>
                      {exactTime(lic.notBefore)} – {exactTime(lic.expiresAt)} (grace until {exactTime(lic.graceEndsAt)})
                    </td>
                  </tr>
                  <tr>
                    <td>After grace</td>
                    <td>
                      {lic.expiryStrategy.afterGrace === 'freeze'
                        ? 'Frozen at the licensed limits (nothing may grow)'
                        : 'Back to the free tier'}
                      <div className="cell-sub">
                        Stops: {lic.expiryStrategy.stops.join(', ') || 'nothing'} · keeps working:{' '}
                        {lic.expiryStrategy.keeps.join(', ') || 'nothing'}
                      </div>
                    </td>
                  </tr>
                  <tr>
                    <td>Features</td>
                    <td>{lic.features.join(', ') || '—'}</td>
                  </tr>
                  <tr>
                    <td>Cluster binding</td>
                    <td>{lic.clusterUid ?? 'none'}</td>
                  </tr>
                  <tr>
                    <td>Issuing key</td>
                    <td>
                      <code>{lic.issuerKid}</code>
                    </td>
                  </tr>
                </tbody>
              </table>
            )}
            {s.tenants.lagging.length > 0 && (
              <div className="callout callout-warn" data-testid="license-lagging">
                {plural(s.tenants.lagging.length, 'tenant')} behind: {s.tenants.lagging.slice(0, 10).map(laggingText).join(', ')}
                {s.tenants.lagging.length > 10 ? '…' : ''}{' '}
                <button
                  className="btn btn-small"
                  disabled={!!busy}
                  onClick={() => run('resume', () => client.invoke('license.fanout.resume', {}))}
                  data-testid="license-resume"
                >
                  Bring up to date
                </button>
              </div>
            )}
            {busy && progress && (
              <div className="muted" data-testid="license-progress">
                {ACTIONS[busy].doing}: {progress.done} / {progress.total} tenants
              </div>
            )}
          </div>
        </div>
      )}

      <div className="card">
        <div className="card-header">
          <h2>Activate or renew</h2>
        </div>
        <div className="card-body">
          <p className="muted license-hint">
            Drop a license file anywhere on this page, choose one, or paste its text. Nothing is written unless it verifies.
          </p>
          <div className="field">
            <textarea
              className="license-paste"
              aria-label="license text"
              spellCheck={false}
              rows={4}
              value={pasted}
              onChange={(e) => {
                setPasted(e.target.value);
                // a refusal is about the text that was sent, not what is being typed now
                setProblem(null);
              }}
              placeholder="eyJhbGciOiJFZERTQSIs…"
              data-testid="license-paste"
            />
          </div>
          {problem && (
            <div className="callout callout-err license-problem" role="alert" data-testid="license-problem">
              <div>
                <strong>{problem.title}.</strong> {problem.message}{' '}
                <span className="muted">
                  (reason <code>{problem.reason}</code>)
                </span>
              </div>
              <button className="icon-btn" aria-label="Dismiss message" onClick={() => setProblem(null)}>
                ✕
              </button>
            </div>
          )}
          <div className="row row-wrap license-actions">
            <button
              className="btn btn-primary"
              disabled={!!busy || pasted.trim() === ''}
              onClick={() => void activate({ license: pasted.trim(), encoding: 'text' }).then((ok) => ok && setPasted(''))}
              data-testid="license-activate"
            >
              {busy === 'activate' ? 'Verifying…' : 'Activate pasted'}
            </button>
            <label className="btn">
              Activate file…
              <input type="file" hidden onChange={pickFile(activateFile)} data-testid="license-file" />
            </label>
            {lic?.renewalUrl && (
              <button className="btn" disabled={!!busy} onClick={() => run('renewOnline', () => client.invoke('license.renew.online', {}))}>
                Renew online
              </button>
            )}
            <button
              className="btn"
              disabled={!!busy}
              onClick={() =>
                run('exportRequest', async () => {
                  const r = await client.invoke('license.renew.exportRequest', {});
                  download(r.fileName, r.content);
                  return r;
                })
              }
            >
              Export renewal request
            </button>
            <label className="btn">
              Import renewal answer…
              <input
                type="file"
                hidden
                onChange={pickFile((f) =>
                  run('importAnswer', async () =>
                    client.invoke('license.renew.importAnswer', { license: await fileToBase64(f), encoding: 'base64' }),
                  ),
                )}
              />
            </label>
            <label className="btn">
              Import revocation list…
              <input
                type="file"
                hidden
                onChange={pickFile((f) =>
                  run('revocations', async () =>
                    client.invoke('license.revocations.import', { content: await fileToBase64(f), encoding: 'base64' }),
                  ),
                )}
              />
            </label>
            {lic && (
              <>
                <span className="spacer" />
                <button className="btn btn-danger" disabled={!!busy} onClick={() => setConfirmClear(true)} data-testid="license-clear">
                  Clear license…
                </button>
              </>
            )}
          </div>
        </div>
      </div>

      <AllocationsCard data={allocations.data} onSaved={() => void reloadAll()} />

      <div className="card" data-testid="license-history">
        <div className="card-header">
          <h2>History</h2>
          {(history.data?.entries.length ?? 0) > HISTORY_SHOWN && (
            <>
              <span className="spacer" />
              <button className="btn btn-small" onClick={() => setAllHistory(!allHistory)}>
                {allHistory ? `Latest ${HISTORY_SHOWN}` : `All ${history.data?.entries.length}`}
              </button>
            </>
          )}
        </div>
        <div className="card-body">
          {history.data && history.data.entries.length === 0 ? (
            <div className="muted" data-testid="license-history-empty">
              No license has been activated on this cluster yet.
            </div>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Action</th>
                  <th>By</th>
                  <th>License</th>
                  <th>Note</th>
                </tr>
              </thead>
              <tbody>
                {(history.data?.entries ?? []).slice(0, allHistory ? undefined : HISTORY_SHOWN).map((h, i) => (
                  <tr key={i} data-testid="license-history-row" data-action={h.action}>
                    <td title={exactTime(h.at)} className="nowrap">
                      {shortDateTime(h.at)}
                    </td>
                    <td className="nowrap">{HISTORY_LABEL[h.action] ?? h.action}</td>
                    <td>{h.actor}</td>
                    <td>
                      {h.lid ? (
                        <>
                          {h.customer ?? ''} · {h.tier ?? ''} · until {shortDate(h.exp)}
                          <div className="cell-sub">
                            <code>{h.lid}</code>
                          </div>
                        </>
                      ) : (
                        '—'
                      )}
                    </td>
                    <td>{h.note ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>

      {pendingReplace && (
        <ConfirmTyped
          title={pendingReplace.reason === 'OTHER_CUSTOMER' ? "Replace with another customer's license" : 'Downgrade the license'}
          expected={pendingReplace.expected}
          action={pendingReplace.reason === 'OTHER_CUSTOMER' ? 'Replace the license' : 'Downgrade'}
          busy={busy !== null}
          onClose={() => setPendingReplace(null)}
          onConfirm={(typed) => {
            const { input } = pendingReplace;
            void activate(input, typed).then((ok) => {
              setPendingReplace(null);
              if (ok && input.encoding === 'text') setPasted('');
            });
          }}
        >
          <p data-testid="replace-message">{pendingReplace.message}</p>
          {pendingReplace.current && pendingReplace.offered && (
            <table className="kv-table">
              <thead>
                <tr>
                  <th />
                  <th>Active</th>
                  <th>Offered</th>
                </tr>
              </thead>
              <tbody>
                <tr>
                  <td>Customer</td>
                  <td>{pendingReplace.current.customer}</td>
                  <td>{pendingReplace.offered.customer}</td>
                </tr>
                <tr>
                  <td>License id</td>
                  <td>
                    <code>{pendingReplace.current.lid}</code>
                  </td>
                  <td>
                    <code>{pendingReplace.offered.lid}</code>
                  </td>
                </tr>
                <tr>
                  <td>Issued</td>
                  <td>{exactTime(pendingReplace.current.issuedAt)}</td>
                  <td>{exactTime(pendingReplace.offered.issuedAt)}</td>
                </tr>
                <tr>
                  <td>Expires</td>
                  <td>{exactTime(pendingReplace.current.expiresAt)}</td>
                  <td>{exactTime(pendingReplace.offered.expiresAt)}</td>
                </tr>
              </tbody>
            </table>
          )}
        </ConfirmTyped>
      )}

      {confirmClear && lic && (
        <ConfirmTyped
          title="Clear the license"
          expected={lic.customer}
          action="Clear and revert to free tier"
          busy={busy !== null}
          onClose={() => setConfirmClear(false)}
          onConfirm={(typed) =>
            void run('clear', () => client.invoke('license.clear', { customer: lic.customer, confirm: typed })).then(() =>
              setConfirmClear(false),
            )
          }
        >
          <p>
            Every tenant reverts to the free tier ({s?.freeTier.tenants} tenants, {s?.freeTier.usersPerTenant} users each).
          </p>
        </ConfirmTyped>
      )}
    </div>
  );
}
