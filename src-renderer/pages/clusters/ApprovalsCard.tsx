import { useState } from 'react';
import type { KubeconfigApproval } from '../../../src-shared/contract/clusters';
import { client } from '../../client';
import { useApp } from '../../stores/app';
import { useCluster } from '../../stores/cluster';
import { toastError, toastSuccess } from '../../stores/toasts';
import { exactTime } from '../../lib/format';

const KIND: Record<KubeconfigApproval['kind'], string> = {
  exec: 'runs the command',
  'auth-provider': 'runs the auth provider',
  'token-file': 'reads the token file',
  'client-certificate': 'reads the client certificate',
  'client-key': 'reads the client key',
};

/**
 * What kubeconfigs added in the console would run or read, shown in full. Nothing runs before an
 * admin approves exactly this; the engine revokes an approval when the command or path changes.
 */
export function ApprovalsCard({ approvals }: { approvals: KubeconfigApproval[] }) {
  const isAdmin = useApp((s) => s.operator?.role === 'admin');
  const [busy, setBusy] = useState<string | null>(null);
  if (approvals.length === 0) return null;

  const act = async (a: KubeconfigApproval, command: 'clusters.kubeconfig.approve' | 'clusters.kubeconfig.revoke') => {
    setBusy(a.id);
    try {
      useCluster.setState({ list: await client.invoke(command, { approvalId: a.id }) });
      toastSuccess(command === 'clusters.kubeconfig.approve' ? 'Approved' : 'Approval withdrawn', `${a.contextName}: ${KIND[a.kind]}`);
    } catch (e) {
      toastError(command === 'clusters.kubeconfig.approve' ? 'Could not approve' : 'Could not withdraw the approval', e);
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="card" data-testid="kubeconfig-approvals">
      <header className="card-header">
        <h2>Kubeconfig approvals</h2>
        <span className="muted">{approvals.filter((a) => !a.approved).length} waiting</span>
      </header>
      <div className="card-body">
        <p className="muted" style={{ marginTop: 0 }}>
          A kubeconfig added in the console runs no command and reads no credential file until an admin approves exactly that command or
          path for that context and server. Changing it in the file withdraws the approval.
        </p>
        {!isAdmin && approvals.some((a) => !a.approved) && <p className="muted">Ask an admin to review these.</p>}
      </div>
      <div className="card-body flush" style={{ overflowX: 'auto' }}>
        <table className="table">
          <thead>
            <tr>
              <th>Context</th>
              <th>What</th>
              <th>Exactly</th>
              <th>Credential goes to</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {approvals.map((a) => (
              <tr key={a.id} data-testid={`approval-${a.contextName}-${a.kind}`}>
                <td className="wrap-anywhere">
                  <strong>{a.contextName}</strong>
                  <div className="cell-sub mono">{a.sourceFile}</div>
                </td>
                <td>{KIND[a.kind]}</td>
                <td className="mono wrap-anywhere" style={{ whiteSpace: 'pre-wrap', minWidth: 240 }}>
                  {a.detail}
                </td>
                <td className="mono wrap-anywhere">{a.server}</td>
                <td>
                  {a.approved ? (
                    <span className="badge badge-ok" title={a.approvedAt ? exactTime(a.approvedAt) : ''}>
                      approved by {a.approvedBy}
                    </span>
                  ) : (
                    <span className="badge badge-warn">waiting for an admin</span>
                  )}
                </td>
                <td>
                  {isAdmin &&
                    (a.approved ? (
                      <button className="btn btn-small" disabled={busy !== null} onClick={() => void act(a, 'clusters.kubeconfig.revoke')}>
                        Withdraw
                      </button>
                    ) : (
                      <button
                        className="btn btn-small btn-primary"
                        disabled={busy !== null}
                        onClick={() => void act(a, 'clusters.kubeconfig.approve')}
                        data-testid="approve"
                      >
                        Approve
                      </button>
                    ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
