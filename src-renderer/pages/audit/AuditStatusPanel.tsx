import { useState } from 'react';
import type { CommandOutput } from '../../../src-shared/contract';
import type { AuditAlarm, VerifyReport } from '../../../src-shared/contract/audit';
import { client } from '../../client';
import { CopyButton } from '../../components/CopyButton';
import { Modal } from '../../components/Modal';
import { ago, exactTime } from '../../lib/format';
import { toastError, toastSuccess } from '../../stores/toasts';

type Status = CommandOutput<'audit.status'>;

const short = (hash: string | null | undefined) => (hash ? `${hash.slice(0, 12)}…` : '—');

/** The verification state of the source on screen, always visible. */
export function VerifyBadge({ report, busy }: { report: VerifyReport | null; busy: boolean }) {
  if (busy) return <span className="badge">verifying…</span>;
  if (!report)
    return (
      <span className="badge badge-warn" data-testid="audit-verify-state">
        not verified yet
      </span>
    );
  const text =
    report.state === 'verified'
      ? `verified · ${report.checked.toLocaleString()} entries`
      : report.state === 'unverifiable'
        ? `unverifiable: ${report.problem}`
        : `TAMPERED${report.firstBadSeq !== null ? ` at entry ${report.firstBadSeq}` : ''}: ${report.problem}`;
  return (
    <span
      className={`badge ${report.state === 'verified' ? 'badge-ok' : report.state === 'unverifiable' ? 'badge-warn' : 'badge-err'}`}
      title={`${report.message} (checked ${exactTime(report.checkedAt)})`}
      data-testid="audit-verify-state"
    >
      {text}
    </span>
  );
}

/**
 * What an auditor needs before reading a single entry: the verification state and the last
 * verified head, what this console witnessed, where checkpoints are published, who is
 * enrolled, and every alarm.
 */
export function AuditStatusPanel({
  status,
  report,
  source,
  isAdmin,
  onManageSigners,
  onShowSource,
  onChanged,
}: {
  status: Status;
  report: VerifyReport | null;
  source: string;
  isAdmin: boolean;
  onManageSigners(): void;
  onShowSource(source: string): void;
  onChanged(): void;
}) {
  const [resolving, setResolving] = useState<AuditAlarm | null>(null);
  const [showFindings, setShowFindings] = useState(false);
  const open = status.alarms.filter((a) => !a.resolvedAt);
  const isCluster = source === status.clusterSource;
  const otherQueues = status.outbox.filter((q) => q.cluster !== status.cluster);
  return (
    <section className="card audit-status" aria-label="Audit log state" data-testid="audit-status">
      <div className="audit-status-grid">
        <div>
          <div className="field-label">Last verification</div>
          {report ? (
            <div data-testid="audit-last-verified">
              {report.message}
              <div className="muted">
                head {report.headSeq !== null ? `entry ${report.headSeq.toLocaleString()}` : '—'} · {short(report.headHash)} ·{' '}
                {ago(report.checkedAt)} · read from {report.readFrom === 'shared' ? 'the shared log' : 'the local copy'}
              </div>
              <div className="muted">
                newest trusted checkpoint:{' '}
                {report.trustedCheckpoint
                  ? `size ${report.trustedCheckpoint.size} by ${report.trustedCheckpoint.signers.join(', ')}`
                  : 'none'}
              </div>
              {report.findings.length > 0 && (
                <button className="btn btn-small" onClick={() => setShowFindings(!showFindings)} aria-expanded={showFindings}>
                  {showFindings ? 'Hide' : 'Show'} {report.findings.length} finding(s)
                </button>
              )}
            </div>
          ) : (
            <div className="muted">Not verified yet.</div>
          )}
        </div>
        {isCluster && (
          <div>
            <div className="field-label">Witness (what this console saw)</div>
            {status.witness ? (
              <div data-testid="audit-witness">
                entry {status.witness.seq.toLocaleString()} · {short(status.witness.head)}
                <div className="muted">
                  log {status.witness.logId.slice(0, 8)} · checkpoint {status.witness.checkpointSize ?? 'none'} ·{' '}
                  {ago(status.witness.updatedAt)}
                </div>
              </div>
            ) : (
              <div className="muted">Nothing witnessed yet: the first sync records the head.</div>
            )}
            <div className="muted" title={status.lastFlushError ?? ''}>
              shared log {status.sharedStore} · synced {ago(status.lastSyncAt)}
              {status.pendingOutbox ? ` · ${status.pendingOutbox} waiting in the outbox` : ''}
            </div>
            {status.publication && (
              <div className={status.publication.ok ? 'muted' : 'field-error'} title={status.publication.message}>
                checkpoints in {status.publication.where}:{' '}
                {status.publication.ok ? 'published' : `not published (${status.publication.message})`} {ago(status.publication.at)}
              </div>
            )}
            {status.witnessFile && (
              <div
                className={status.witnessFile.publication && !status.witnessFile.publication.ok ? 'field-error' : 'muted'}
                title={status.witnessFile.file ?? status.witnessFile.folder}
                data-testid="audit-checkpoint-file"
              >
                checkpoint file in {status.witnessFile.folder}:{' '}
                {!status.witnessFile.publication
                  ? 'nothing written yet'
                  : status.witnessFile.publication.ok
                    ? `written ${ago(status.witnessFile.publication.at)}`
                    : `not written (${status.witnessFile.publication.message}) ${ago(status.witnessFile.publication.at)}`}
              </div>
            )}
          </div>
        )}
        <div>
          <div className="field-label">Signers</div>
          <div>
            this installation <code>{status.signer.name}</code> <CopyButton value={status.signer.vkey} label="Copy key" />
          </div>
          <div className="muted audit-fingerprint" data-testid="audit-own-fingerprint">
            {status.signer.fingerprint}
          </div>
          <div data-testid="audit-enrolled">
            enrolled:{' '}
            {status.enrolled
              .filter((e) => !e.own)
              .slice(0, 3)
              .map((e) => (
                <code key={e.name} title={e.fingerprint}>
                  {e.name}{' '}
                </code>
              ))}
            {status.enrolled.filter((e) => !e.own).length === 0 ? 'no other console' : ''}
            {status.enrolled.filter((e) => !e.own).length > 3 ? ` and ${status.enrolled.filter((e) => !e.own).length - 3} more ` : ' '}
            <button className="btn btn-small" onClick={onManageSigners} data-testid="audit-manage-signers">
              Signers…
            </button>
          </div>
        </div>
      </div>
      {otherQueues.length > 0 && (
        <div className="muted" data-testid="audit-other-queues">
          Waiting for other clusters:{' '}
          {otherQueues.map((q) => `${q.cluster} (${q.pending}${q.heldBecause ? ', held' : q.lastError ? ', unreachable' : ''})`).join(', ')}
        </div>
      )}
      {showFindings && report && (
        <ul className="audit-findings" data-testid="audit-findings">
          {report.findings.map((f, i) => (
            <li key={i} className={f.severity === 'alarm' ? 'field-error' : f.severity === 'warning' ? 'audit-warn' : 'muted'}>
              <strong>{f.kind}</strong>
              {f.seq !== null ? ` (entry ${f.seq})` : ''}: {f.message}
            </li>
          ))}
        </ul>
      )}
      {open.length > 0 && (
        <div className="audit-alarms" role="alert" data-testid="audit-alarms">
          <strong>
            {open.length} open alarm{open.length === 1 ? '' : 's'}
          </strong>
          <ul>
            {open.map((a) => (
              <li key={a.id} data-testid={`audit-alarm-${a.id}`}>
                <span className="badge badge-err">{a.kind}</span> {a.message} <span className="muted">({ago(a.raisedAt)})</span>{' '}
                {a.evidence && (
                  <button className="btn btn-small" onClick={() => onShowSource(a.evidence!)}>
                    Show kept copy
                  </button>
                )}{' '}
                {isAdmin && (
                  <button className="btn btn-small" onClick={() => setResolving(a)}>
                    Resolve…
                  </button>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
      {resolving && <ResolveAlarm alarm={resolving} onClose={() => setResolving(null)} onDone={onChanged} />}
    </section>
  );
}

function ResolveAlarm({ alarm, onClose, onDone }: { alarm: AuditAlarm; onClose(): void; onDone(): void }) {
  const [note, setNote] = useState('');
  const [accept, setAccept] = useState(false);
  const [busy, setBusy] = useState(false);
  const changesLog =
    alarm.kind === 'log-id-changed' || alarm.kind === 'log-truncated' || alarm.kind === 'entry-rewritten' || alarm.kind === 'broken-link';
  const submit = async () => {
    setBusy(true);
    try {
      await client.invoke('audit.alarms.resolve', { id: alarm.id, accept, note });
      toastSuccess('Alarm resolved', accept ? 'The shared log as it is now is the one this console witnesses.' : undefined);
      onDone();
      onClose();
    } catch (e) {
      toastError('The alarm could not be resolved', e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      title={`Resolve alarm ${alarm.id}`}
      onClose={onClose}
      footer={
        <>
          <button className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" disabled={!note.trim() || busy} onClick={() => void submit()}>
            {busy ? 'Working…' : 'Resolve'}
          </button>
        </>
      }
    >
      <p>{alarm.message}</p>
      {alarm.evidence && <p className="muted">The copy this console saw is kept as {alarm.evidence}; resolving never deletes it.</p>}
      <div className="field">
        <label htmlFor="alarm-note">What was found (kept in the audit log)</label>
        <textarea id="alarm-note" rows={3} value={note} onChange={(e) => setNote(e.target.value)} />
      </div>
      {changesLog && (
        <label className="row">
          <input type="checkbox" checked={accept} onChange={(e) => setAccept(e.target.checked)} /> Accept the shared log as it is now
          (records waiting for this cluster are then appended to it)
        </label>
      )}
    </Modal>
  );
}
