import { useEffect, useState } from 'react';
import type { OperationProgress } from '../../src-shared/contract';
import { client } from '../client';
import { Icon } from '../shell/Icon';

const STEP_LABELS: Record<string, string> = {
  reserve: 'Reserve the tenant (Lease)',
  database: 'Database role and database',
  schema: 'Schema migrations',
  'system-entities': 'Control-plane entities',
  'admin-user': 'Initial admin user',
  secret: 'Kubernetes Secret',
  registry: 'Registry entry',
  license: 'License and user cap',
  release: 'Release the Lease',
  'mark-deleting': 'Mark as deleting',
  'final-backup': 'Final backup',
  workloads: 'Dedicated workloads',
  migrate: 'Apply migrations',
  // rotation (docs/secrets.md)
  stage: 'Add the new entry as next (accepted, unused)',
  'roll-staged': 'Roll the workloads, wait for the rollout',
  caches: 'Wait for JWKS caches to see the new key',
  promote: 'Promote next to current',
  'roll-promoted': 'Roll the workloads again',
  window: 'Open the overlap window',
  'retire-previous': 'Retire the previous token',
  'roll-retired': 'Roll the workloads a last time',
  login: 'Prepare the new login role (SCRAM verifier)',
  switch: 'Switch the Secret to the new login',
  roll: 'Roll the workloads, wait for the rollout',
  verify: 'No session of the old login left',
  'expire-old': 'Remove the old password',
  retire: 'Retire the entry',
  load: 'Load the backup (schema, tables, keys)',
  suspend: 'Suspend the tenant',
  'safety-backup': 'Safety backup of the current data',
  staging: 'Staging database',
  swap: 'Swap in the restored database',
  reopen: 'Reopen the tenant',
  'drop-previous': 'Drop the previous database',
};
export const stepLabel = (name: string) => STEP_LABELS[name] ?? name;

export interface StepView {
  name: string;
  status: string;
  message?: string | null;
}

/**
 * Live progress of one saga: listens to operation.progress for (kind, target)
 * and keeps the latest status per step, in the order the steps arrived.
 */
export function useOperationProgress(kind: string, target: string, active: boolean): StepView[] {
  const [steps, setSteps] = useState<StepView[]>([]);
  useEffect(() => {
    if (!active) return;
    setSteps([]);
    return client.subscribe('operation.progress', (p: OperationProgress) => {
      if (p.kind !== kind || p.target !== target) return;
      setSteps((prev) => {
        const i = prev.findIndex((s) => s.name === p.step);
        const next: StepView = { name: p.step, status: p.status, message: p.message ?? null };
        if (i < 0) return [...prev, next];
        const copy = prev.slice();
        copy[i] = next;
        return copy;
      });
    });
  }, [kind, target, active]);
  return steps;
}

/** Steps with a status mark each: done ✓, running spinner, failed ✗, compensation in amber. */
export function StepList({ steps, planned = [] }: { steps: StepView[]; planned?: string[] }) {
  const known = new Set(steps.map((s) => s.name));
  const all: StepView[] = [...steps, ...planned.filter((p) => !known.has(p)).map((name) => ({ name, status: 'pending' }))];
  return (
    <ol className="steps" data-testid="step-list">
      {all.map((s) => (
        <li key={s.name} className={`step step-${s.status}`} data-testid={`step-${s.name}`} data-status={s.status}>
          <span className="step-status">
            {s.status === 'done' ? <Icon name="check" size={11} /> : s.status === 'failed' ? <Icon name="x" size={11} /> : null}
          </span>
          <span>{stepLabel(s.name)}</span>
          <span className="step-msg">{s.message ?? (s.status === 'pending' ? '' : s.status)}</span>
        </li>
      ))}
    </ol>
  );
}
