import type { BackupSummary } from '../../../../src-shared/contract/backups';
import { ago, exactTime } from '../../../lib/format';

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export const REASON_LABEL: Record<BackupSummary['reason'], string> = {
  manual: 'manual',
  schedule: 'schedule',
  'before-delete': 'before delete',
  'before-restore': 'before restore',
};

/** Verified ✓ (with when), failed ✗ (with why, in the title), or "never verified" in amber: never shown as fine. */
export function VerifiedBadge({ b }: { b: BackupSummary }) {
  const v = b.verification;
  if (v.state === 'passed') {
    return (
      <span className="badge badge-ok" title={`${v.message ?? ''}\n${exactTime(v.at)} by ${v.by ?? '?'}`} data-testid={`verified-${b.id}`}>
        verified {ago(v.at)}
      </span>
    );
  }
  if (v.state === 'failed') {
    return (
      <span className="badge badge-err" title={`${v.message ?? ''}\n${exactTime(v.at)} by ${v.by ?? '?'}`} data-testid={`verified-${b.id}`}>
        verify failed {ago(v.at)}
      </span>
    );
  }
  return (
    <span
      className="badge badge-warn"
      title="This backup was never restored into a scratch database; it does not count until it is."
      data-testid={`verified-${b.id}`}
    >
      never verified
    </span>
  );
}
