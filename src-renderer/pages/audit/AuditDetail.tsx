import type { AuditEntry } from '../../../src-shared/contract/audit';
import { exactTime } from '../../lib/format';
import { useInvoke } from '../../lib/use-invoke';

const json = (v: unknown) => JSON.stringify(v, null, 2);

/** The selected entry in full, with whether its own hash and its link to the previous entry hold. */
export function AuditDetail({ source, entry, onClose }: { source: string; entry: AuditEntry; onClose(): void }) {
  const detail = useInvoke('audit.get', { source, seq: entry.seq }, `${source}:${entry.seq}`);
  const d = detail.data;
  return (
    <aside className="card" style={{ width: 420, flex: 'none', overflow: 'auto', marginBottom: 0 }} data-testid="audit-detail">
      <div className="card-header">
        <strong>Entry {entry.seq}</strong>
        <span className="spacer" />
        {d && (
          <span className={`badge ${d.hashValid && d.linkValid !== false ? 'badge-ok' : 'badge-err'}`}>
            {d.hashValid ? (d.linkValid === false ? 'link broken' : 'hash valid') : 'hash mismatch'}
          </span>
        )}
        <button className="icon-btn" aria-label="Close details" onClick={onClose}>
          ✕
        </button>
      </div>
      <div className="card-body" style={{ display: 'flex', flexDirection: 'column', gap: 8 }}>
        <dl style={{ display: 'grid', gridTemplateColumns: 'auto 1fr', gap: '4px 12px', margin: 0 }}>
          <dt className="muted">Time</dt>
          <dd title={entry.at}>{exactTime(entry.at)}</dd>
          <dt className="muted">Actor</dt>
          <dd>
            {entry.actor} <span className="muted">({entry.role})</span>
            {entry.via ? <span> via token {entry.via.token_name}</span> : null}
          </dd>
          <dt className="muted">Action</dt>
          <dd>{entry.action}</dd>
          <dt className="muted">Target</dt>
          <dd>{entry.target ?? '—'}</dd>
          <dt className="muted">Outcome</dt>
          <dd>
            {entry.outcome}
            {entry.error_code ? ` (${entry.error_code})` : ''}
          </dd>
          <dt className="muted">Cluster</dt>
          <dd>{entry.cluster ?? '—'}</dd>
          <dt className="muted">Console</dt>
          <dd>{entry.console_version}</dd>
        </dl>
        {(['params', 'before', 'after'] as const).map((k) => (
          <div key={k}>
            <div className="field-label">{k}</div>
            <pre style={{ margin: 0, whiteSpace: 'pre-wrap', fontSize: 11.5 }}>{json(entry[k])}</pre>
          </div>
        ))}
        <div>
          <div className="field-label">hash / prev_hash</div>
          <code style={{ fontSize: 11, overflowWrap: 'anywhere' }}>{entry.hash}</code>
          <br />
          <code style={{ fontSize: 11, overflowWrap: 'anywhere' }} className="muted">
            {entry.prev_hash}
          </code>
        </div>
        {detail.error && <p className="field-error">{detail.error.message}</p>}
      </div>
    </aside>
  );
}
