import { useEffect, useState, type DragEvent } from 'react';
import type { LicenseStatus } from '../../../src-shared/contract/license';
import { client, errorShape } from '../../client';
import { ConfirmTyped } from '../../components/ConfirmTyped';
import { exactTime, plural } from '../../lib/format';
import { useInvoke } from '../../lib/use-invoke';
import { toastError, toastSuccess } from '../../stores/toasts';
import { AllocationsCard } from './AllocationsCard';

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

/** File bytes go to the engine as base64, so it can tell a non-UTF-8 file from a bad license. */
async function fileToBase64(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function download(name: string, content: string) {
  const url = URL.createObjectURL(new Blob([content], { type: 'application/jose' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  URL.revokeObjectURL(url);
}

/** License: status, limits, expiry countdown, allocations and usage, history, actions. */
export default function LicensePage() {
  const status = useInvoke('license.status', {});
  const allocations = useInvoke('license.allocations.get', {});
  const history = useInvoke('license.history', {});
  const [pasted, setPasted] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [confirmClear, setConfirmClear] = useState(false);
  const reloadAll = () => Promise.all([status.reload(), allocations.reload(), history.reload()]);

  useEffect(
    () =>
      client.subscribe('operation.progress', (e) => {
        if (e.kind === 'license.fanout' && e.total !== undefined) setProgress({ done: e.done ?? 0, total: e.total });
      }),
    [],
  );

  const run = async (label: string, fn: () => Promise<{ fanout?: { written: number; failed: unknown[] } } | unknown>) => {
    setBusy(label);
    setProblem(null);
    setProgress(null);
    try {
      const r = (await fn()) as { fanout?: { written: number; failed: unknown[] } };
      toastSuccess(label, r?.fanout ? `${plural(r.fanout.written, 'tenant')} updated${r.fanout.failed.length ? `, ${r.fanout.failed.length} failed (Resume retries them)` : ''}` : undefined);
      await reloadAll();
    } catch (e) {
      const shape = errorShape(e);
      setProblem(`${shape.message}${shape.details?.reason ? ` [${String(shape.details.reason)}]` : ''}`);
      toastError(label, e);
    } finally {
      setBusy(null);
    }
  };

  const activateFile = (file: File) => run('License activated', async () => client.invoke('license.activate', { license: await fileToBase64(file), encoding: 'base64' }));
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    const file = e.dataTransfer.files[0];
    if (file) void activateFile(file);
  };
  const s = status.data;
  const lic = s?.license ?? null;

  return (
    <div data-testid="license-page" onDragOver={(e) => e.preventDefault()} onDrop={onDrop}>
      <div className="page-header">
        <div>
          <h1>License</h1>
          <div className="sub">{s?.source === 'cache' ? `Read-only: cluster unreachable, data from ${exactTime(s.syncedAt)}` : 'Verified offline on this workstation'}</div>
        </div>
      </div>
      {s?.trustsTestKeys && (
        <div className="callout callout-warn" data-testid="license-dev-mode">
          Development mode: licenses signed with the <strong>test keys</strong> are accepted. A production console trusts only the pinned vendor keys.
        </div>
      )}
      {status.error && <div className="callout callout-err">{status.error.message}</div>}
      {problem && <div className="callout callout-err" data-testid="license-problem">{problem}</div>}

      {s && (
        <div className="card" data-testid="license-status">
          <div className="card-header">
            <h2>
              Status <span className={`badge ${STATE_BADGE[s.state]}`} data-testid="license-state">{s.state}{s.expiringWithin ? ` (≤ ${s.expiringWithin} d)` : ''}</span>
            </h2>
            <span className="muted">{countdown(s.secondsToExpiry)}</span>
          </div>
          <div className="card-body">
            {s.invalid && <div className="callout callout-err">{s.invalid.message}</div>}
            <div className="stats">
              <div className="stat"><div className="stat-label">Tier</div><div className="stat-value">{s.effective.tier}</div><div className="stat-sub">{s.effective.freeTier ? `free tier: ${s.freeTier.tenants} tenants, ${s.freeTier.usersPerTenant} users each` : s.effective.frozen ? 'frozen: nothing may grow' : ''}</div></div>
              <div className="stat"><div className="stat-label">Tenants</div><div className="stat-value">{s.tenants.total ?? '—'} / {s.effective.limits.tenants}</div><div className="stat-sub">{s.tenants.overLimit ? 'over the licensed number' : ''}</div></div>
              <div className="stat"><div className="stat-label">Users</div><div className="stat-value">{s.effective.limits.users}</div><div className="stat-sub">shared as per-tenant caps</div></div>
            </div>
            {lic && (
              <table className="kv-table">
                <tbody>
                  <tr><th>Customer</th><td>{lic.customer}</td></tr>
                  <tr><th>License id</th><td><code>{lic.lid}</code> {lic.trust === 'test' && <span className="badge badge-warn">test key</span>}</td></tr>
                  <tr><th>Valid</th><td>{exactTime(lic.notBefore)} – {exactTime(lic.expiresAt)} (grace until {exactTime(lic.graceEndsAt)})</td></tr>
                  <tr><th>After grace</th><td>{lic.expiryStrategy.afterGrace}; stops: {lic.expiryStrategy.stops.join(', ') || '—'}; keeps: {lic.expiryStrategy.keeps.join(', ') || '—'}</td></tr>
                  <tr><th>Features</th><td>{lic.features.join(', ') || '—'}</td></tr>
                  <tr><th>Cluster binding</th><td>{lic.clusterUid ?? 'none'}</td></tr>
                  <tr><th>Issuing key</th><td><code>{lic.issuerKid}</code></td></tr>
                </tbody>
              </table>
            )}
            {s.tenants.lagging.length > 0 && (
              <div className="callout callout-warn" data-testid="license-lagging">
                {plural(s.tenants.lagging.length, 'tenant')} behind: {s.tenants.lagging.slice(0, 10).map((l) => `${l.slug} (${l.reason})`).join(', ')}
                {s.tenants.lagging.length > 10 ? '…' : ''}{' '}
                <button className="btn btn-small" disabled={!!busy} onClick={() => run('Fan-out resumed', () => client.invoke('license.fanout.resume', {}))}>Resume</button>
              </div>
            )}
            {busy && progress && <div className="muted" data-testid="license-progress">{busy}: {progress.done} / {progress.total} tenants</div>}
          </div>
        </div>
      )}

      <div className="card">
        <div className="card-header"><h2>Activate or renew</h2></div>
        <div className="card-body">
          <p className="muted">Drop a license file anywhere on this page, choose one, or paste its text. Nothing is written unless it verifies.</p>
          <div className="field">
            <textarea aria-label="license text" rows={4} value={pasted} onChange={(e) => setPasted(e.target.value)} placeholder="eyJhbGciOiJFZERTQSIs…" data-testid="license-paste" />
          </div>
          <div className="toolbar row-wrap">
            <button className="btn btn-primary" disabled={!!busy || pasted.trim() === ''} onClick={() => run('License activated', () => client.invoke('license.activate', { license: pasted, encoding: 'text' }))} data-testid="license-activate">Activate pasted</button>
            <label className="btn">Activate file…<input type="file" hidden onChange={(e) => e.target.files?.[0] && activateFile(e.target.files[0])} /></label>
            {lic?.renewalUrl && <button className="btn" disabled={!!busy} onClick={() => run('License renewed', () => client.invoke('license.renew.online', {}))}>Renew online</button>}
            <button className="btn" disabled={!!busy} onClick={() => run('Renewal request exported', async () => { const r = await client.invoke('license.renew.exportRequest', {}); download(r.fileName, r.content); return r; })}>Export renewal request</button>
            <label className="btn">Import renewal answer…<input type="file" hidden onChange={async (e) => { const f = e.target.files?.[0]; if (f) await run('Renewed license imported', async () => client.invoke('license.renew.importAnswer', { license: await fileToBase64(f), encoding: 'base64' })); }} /></label>
            <label className="btn">Import revocation list…<input type="file" hidden onChange={async (e) => { const f = e.target.files?.[0]; if (f) await run('Revocation list imported', async () => client.invoke('license.revocations.import', { content: await fileToBase64(f), encoding: 'base64' })); }} /></label>
            {lic && <button className="btn btn-danger" disabled={!!busy} onClick={() => setConfirmClear(true)}>Clear license…</button>}
          </div>
        </div>
      </div>

      <AllocationsCard data={allocations.data} onSaved={() => void reloadAll()} />

      <div className="card" data-testid="license-history">
        <div className="card-header"><h2>History</h2></div>
        <div className="card-body">
          <table className="table">
            <thead><tr><th>When</th><th>Action</th><th>By</th><th>License</th><th>Note</th></tr></thead>
            <tbody>
              {(history.data?.entries ?? []).map((h, i) => (
                <tr key={i}><td>{exactTime(h.at)}</td><td>{h.action}</td><td>{h.actor}</td><td>{h.lid ? `${h.customer ?? ''} · ${h.tier ?? ''} · until ${exactTime(h.exp)}` : '—'}</td><td>{h.note ?? ''}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>

      {confirmClear && lic && (
        <ConfirmTyped
          title="Clear the license"
          expected={lic.customer}
          action="Clear and revert to free tier"
          busy={busy !== null}
          onClose={() => setConfirmClear(false)}
          onConfirm={(typed) => void run('License cleared', () => client.invoke('license.clear', { customer: lic.customer, confirm: typed })).then(() => setConfirmClear(false))}
        >
          <p>Every tenant reverts to the free tier ({s?.freeTier.tenants} tenants, {s?.freeTier.usersPerTenant} users each).</p>
        </ConfirmTyped>
      )}
    </div>
  );
}
