import { useEffect, useState } from 'react';
import type { CommandOutput } from '../../../../src-shared/contract';
import type { BackupTarget } from '../../../../src-shared/contract/backups';
import { client } from '../../../client';
import { ConfirmTyped } from '../../../components/ConfirmTyped';
import { CopyButton } from '../../../components/CopyButton';
import { ago } from '../../../lib/format';
import { useApp } from '../../../stores/app';
import { useReadOnly } from '../../../stores/cluster';
import { clearToastErrors, toastError, toastSuccess } from '../../../stores/toasts';

type Status = CommandOutput<'backups.status'>;

/** Where this cluster's backups go: the default directory, another directory, or an S3-compatible bucket. */
export function TargetCard({ status, onChange }: { status: Status; onChange(s: Status): void }) {
  const admin = useApp((s) => s.operator?.role) === 'admin';
  const readOnly = useReadOnly();
  const cfg = status.target.config;
  const [kind, setKind] = useState<BackupTarget['kind']>(cfg.kind);
  const [dir, setDir] = useState(cfg.kind === 'directory' ? cfg.path : '');
  const [endpoint, setEndpoint] = useState(cfg.kind === 's3' ? cfg.endpoint : '');
  const [bucket, setBucket] = useState(cfg.kind === 's3' ? cfg.bucket : '');
  const [prefix, setPrefix] = useState(cfg.kind === 's3' ? cfg.prefix : '');
  const [region, setRegion] = useState(cfg.kind === 's3' ? cfg.region : 'us-east-1');
  const [accessKeyId, setAccessKeyId] = useState(cfg.kind === 's3' ? cfg.accessKeyId : '');
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [probe, setProbe] = useState<CommandOutput<'backups.target.test'> | null>(null);

  const save = async () => {
    setBusy(true);
    try {
      const target: BackupTarget =
        kind === 'directory' ? { kind, path: dir } : { kind, endpoint, bucket, prefix, region, forcePathStyle: true, accessKeyId };
      onChange(await client.invoke('backups.target.set', { target, ...(kind === 's3' && secret ? { secretAccessKey: secret } : {}) }));
      setSecret('');
      toastSuccess('Backup target saved');
    } catch (e) {
      toastError('Could not save the backup target', e);
    } finally {
      setBusy(false);
    }
  };
  const test = async () => {
    setBusy(true);
    try {
      setProbe(await client.invoke('backups.target.test', {}));
    } catch (e) {
      toastError('Could not test the target', e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" data-testid="backup-target">
      <header className="card-header">
        <h2>Storage target</h2>
        <span className="muted">
          {status.target.description}
          {status.target.isDefault ? ' (default)' : ''}
        </span>
      </header>
      <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 10 }}>
        <div className="row">
          <label className="check">
            <input type="radio" checked={kind === 'directory'} onChange={() => setKind('directory')} disabled={!admin} /> Directory (this
            workstation or a mounted share)
          </label>
          <label className="check">
            <input type="radio" checked={kind === 's3'} onChange={() => setKind('s3')} disabled={!admin} data-testid="target-s3" />{' '}
            S3-compatible bucket (Ceph RGW, SeaweedFS, MinIO…)
          </label>
        </div>
        {kind === 'directory' ? (
          <div className="field">
            <label htmlFor="target-dir">Directory (absolute path)</label>
            <input id="target-dir" className="mono" value={dir} onChange={(e) => setDir(e.target.value)} disabled={!admin} />
          </div>
        ) : (
          <div className="form-grid">
            <div className="field">
              <label htmlFor="s3-endpoint">Endpoint URL</label>
              <input
                id="s3-endpoint"
                className="mono"
                value={endpoint}
                onChange={(e) => setEndpoint(e.target.value)}
                placeholder="https://rgw.example.internal"
                disabled={!admin}
              />
            </div>
            <div className="field">
              <label htmlFor="s3-bucket">Bucket</label>
              <input id="s3-bucket" value={bucket} onChange={(e) => setBucket(e.target.value)} disabled={!admin} />
            </div>
            <div className="field">
              <label htmlFor="s3-prefix">Prefix</label>
              <input id="s3-prefix" value={prefix} onChange={(e) => setPrefix(e.target.value)} disabled={!admin} />
            </div>
            <div className="field">
              <label htmlFor="s3-region">Region</label>
              <input id="s3-region" value={region} onChange={(e) => setRegion(e.target.value)} disabled={!admin} />
            </div>
            <div className="field">
              <label htmlFor="s3-key">Access key id</label>
              <input
                id="s3-key"
                value={accessKeyId}
                onChange={(e) => setAccessKeyId(e.target.value)}
                autoComplete="off"
                disabled={!admin}
              />
            </div>
            <div className="field">
              <label htmlFor="s3-secret">Secret access key</label>
              <input
                id="s3-secret"
                type="password"
                value={secret}
                onChange={(e) => setSecret(e.target.value)}
                autoComplete="off"
                placeholder={cfg.kind === 's3' ? 'unchanged (in the secret store)' : ''}
                disabled={!admin}
              />
            </div>
          </div>
        )}
        {probe && <div className={`callout ${probe.ok ? 'callout-ok' : 'callout-err'}`}>{probe.message}</div>}
        <div className="row">
          <button className="btn btn-primary" disabled={busy || !admin || readOnly} onClick={() => void save()}>
            Save target
          </button>
          <button className="btn" disabled={busy || readOnly} onClick={() => void test()} data-testid="target-test">
            Test
          </button>
        </div>
      </div>
    </section>
  );
}

/**
 * The cluster's backup key: created here, exported for escrow (the console insists: no
 * backup before the check code printed in the exported file is typed back), imported on
 * another console or from another site.
 */
export function KeyCard({ status, onChange }: { status: Status; onChange(s: Status): void }) {
  const admin = useApp((s) => s.operator?.role) === 'admin';
  const readOnly = useReadOnly();
  const [exported, setExported] = useState<CommandOutput<'backups.key.export'> | null>(null);
  const [href, setHref] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [importText, setImportText] = useState('');
  const [busy, setBusy] = useState(false);
  const [replacing, setReplacing] = useState(false);
  const key = status.key;
  useEffect(() => {
    if (!exported) return;
    const url = URL.createObjectURL(new Blob([exported.content], { type: 'text/plain' }));
    setHref(url);
    return () => URL.revokeObjectURL(url);
  }, [exported]);

  const act = async (done: string, failed: string, fn: () => Promise<Status | void>) => {
    setBusy(true);
    try {
      const r = await fn();
      if (r) onChange(r);
      clearToastErrors(failed); // a wrong check code, then the right one: the error no longer holds
      toastSuccess(done);
    } catch (e) {
      toastError(failed, e);
    } finally {
      setBusy(false);
    }
  };
  const readFile = (f: File | undefined) => {
    if (f) void f.text().then(setImportText);
  };
  return (
    <section className="card" data-testid="backup-key">
      <header className="card-header">
        <h2>Encryption key</h2>
        <span className={`badge ${key.state === 'ready' ? 'badge-ok' : 'badge-warn'}`} data-testid="key-state">
          {key.state === 'ready'
            ? 'ready'
            : key.state === 'needs-escrow'
              ? 'export and confirm'
              : key.state === 'missing-here'
                ? 'import needed'
                : 'none'}
        </span>
      </header>
      <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 10 }}>
        <p style={{ margin: 0 }}>
          Backups are encrypted on this console with{' '}
          <a href="https://age-encryption.org" target="_blank" rel="noreferrer">
            age
          </a>{' '}
          before they are stored. The key file opens them with the <code>age</code> command line tool, without Gatehouse. Keep it offline:
          without it no backup can ever be read.
        </p>
        {key.recipient && (
          <div>
            Public key <code data-testid="key-recipient">{key.recipient}</code>
            {key.escrowedAt && <span className="muted"> — escrow confirmed {ago(key.escrowedAt)}</span>}
          </div>
        )}
        {key.state === 'none' && (
          <div>
            <button
              className="btn btn-primary"
              disabled={busy || !admin || readOnly}
              onClick={() => void act('Backup key created', 'Could not create the key', () => client.invoke('backups.key.create', {}))}
              data-testid="key-create"
            >
              Create backup key
            </button>
          </div>
        )}
        {(key.state === 'needs-escrow' || key.state === 'ready') && (
          <div className="row">
            <button
              className="btn"
              disabled={busy || !admin}
              onClick={() =>
                void act(
                  'Key exported',
                  'Could not export the key',
                  async () => void setExported(await client.invoke('backups.key.export', {})),
                )
              }
              data-testid="key-export"
            >
              {key.state === 'ready' ? 'Export the key again' : 'Export key file'}
            </button>
          </div>
        )}
        {exported && href && (
          <div className="callout callout-warn" data-testid="key-exported">
            <div className="row row-wrap">
              <a className="btn btn-small" href={href} download={exported.fileName} data-testid="key-download">
                Save {exported.fileName}
              </a>
              <CopyButton value={exported.content} label="Copy the file's text" />
            </div>
            <div style={{ marginTop: 6 }}>
              Store it offline (a safe, an escrow service). Its <code># check:</code> line holds the code to confirm below.
            </div>
          </div>
        )}
        {key.state === 'needs-escrow' && (
          <div className="row">
            <div className="field" style={{ flex: 1 }}>
              <label htmlFor="escrow-code">Check code from the saved key file</label>
              <input
                id="escrow-code"
                className="mono"
                value={code}
                onChange={(e) => setCode(e.target.value)}
                placeholder="XXXX-XXXX"
                autoComplete="off"
                data-testid="escrow-code"
              />
            </div>
            <button
              className="btn btn-primary"
              disabled={busy || !admin || code.trim().length < 8}
              onClick={() =>
                void act('Escrow confirmed', 'Escrow not confirmed', () => client.invoke('backups.key.confirmEscrow', { checkCode: code }))
              }
              data-testid="escrow-confirm"
            >
              Confirm escrow
            </button>
          </div>
        )}
        {key.state !== 'none' && (
          <div className="muted">
            Key file lost, or time to rotate?{' '}
            <button className="link-btn" disabled={busy || !admin || readOnly} onClick={() => setReplacing(true)} data-testid="key-replace">
              Replace the key…
            </button>
          </div>
        )}
        {replacing && (
          <ConfirmTyped
            title="Replace the backup key"
            expected={status.clusterName}
            action="Replace key"
            onClose={() => setReplacing(false)}
            onConfirm={(typed) => {
              setReplacing(false);
              void act('Backup key replaced', 'Could not replace the key', () =>
                client.invoke('backups.key.replace', { clusterName: status.clusterName, confirm: typed }),
              );
            }}
          >
            <div className="callout callout-warn">
              New backups of this cluster will be encrypted to a new key, which needs its own escrow. Backups taken before stay encrypted to
              the current key: this console keeps it if it holds it; everywhere else they open only with the current key file.
            </div>
          </ConfirmTyped>
        )}
        <details open={key.state === 'missing-here'}>
          <summary>
            Import a key file{' '}
            {key.state === 'missing-here' ? '(this cluster’s key, created on another console)' : '(another site’s, to open its backups)'}
          </summary>
          <div style={{ display: 'flex', flexDirection: 'column', gap: 8, marginTop: 8 }}>
            <input
              type="file"
              accept=".txt,text/plain"
              onChange={(e) => readFile(e.target.files?.[0])}
              disabled={!admin}
              aria-label="Key file"
            />
            <textarea
              className="mono"
              rows={4}
              value={importText}
              onChange={(e) => setImportText(e.target.value)}
              placeholder="…or paste the key file’s text"
              disabled={!admin}
              aria-label="Key file text"
            />
            <div>
              <button
                className="btn"
                disabled={busy || !admin || importText.length < 20}
                onClick={() =>
                  void act('Key imported', 'Could not import the key', async () => {
                    const r = await client.invoke('backups.key.import', { content: importText });
                    setImportText('');
                    return r;
                  })
                }
              >
                Import key
              </button>
            </div>
            {key.imported.length > 0 && (
              <ul className="missing-list">
                {key.imported.map((k) => (
                  <li key={k.recipient}>
                    <code>{k.recipient}</code>{' '}
                    <span className="muted">
                      cluster {k.clusterId ?? '?'}, imported {ago(k.importedAt)}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </div>
        </details>
      </div>
    </section>
  );
}
