import { isContractError } from '../../../src-shared/contract';
import type { EventBus } from '../core/events';
import type { LicenseCache } from './cache';
import type { TenantTargets } from './ports';

export interface DesiredTenant {
  slug: string;
  jws: string | null;
  cap: number;
  /** The tenant already carries exactly this (from the LIST): journaled as done without a write. */
  unchanged?: boolean;
  resourceVersion?: string;
}

export interface FanoutResult {
  operationId: string;
  kind: string;
  status: 'done' | 'partial';
  total: number;
  written: number;
  skipped: number;
  failed: { slug: string; error: string }[];
}

export interface FanoutDeps {
  cache: LicenseCache;
  bus: EventBus;
  targets: TenantTargets;
  concurrency: number;
}

export const FANOUT_KIND = 'license.fanout';

/**
 * Writes the license and each tenant's cap with bounded concurrency. Each tenant is journaled
 * before and after its write; failures do not stop the others, and a resume runs only what is
 * not done. Writes are idempotent (unchanged tenants are not touched), so re-running is safe.
 */
export async function runFanout(
  deps: FanoutDeps,
  op: { id: string; clusterId: string; kind: string; lid: string | null },
  desired: DesiredTenant[],
  resume = false,
): Promise<FanoutResult> {
  const { cache, bus, targets } = deps;
  if (resume) cache.reopenOp(op.id);
  else cache.startOp({ ...op, items: desired.map((d) => ({ slug: d.slug, cap: d.cap })) });
  const total = resume ? cache.items(op.id).length : desired.length;
  let completed = resume ? total - desired.length : 0;
  let written = 0;
  let skipped = 0;
  const failed: { slug: string; error: string }[] = [];
  const progress = (target: string, status: 'running' | 'done' | 'failed' | 'skipped' | 'pending', message?: string) =>
    bus.publish('operation.progress', {
      operationId: op.id,
      kind: FANOUT_KIND,
      target,
      step: op.kind,
      status,
      ...(message ? { message } : {}),
      done: completed,
      total,
      at: new Date().toISOString(),
    });

  progress('*', 'running', `${op.kind}: ${desired.length} tenant(s) to update`);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const item = desired[next++];
      if (!item) return;
      cache.setItem(op.id, item.slug, 'running', null, item.cap);
      progress(item.slug, 'running');
      try {
        const exists = item.unchanged
          ? true
          : await targets.writeLicense(item.slug, { jws: item.jws, userCap: item.cap }, item.resourceVersion);
        completed++;
        if (exists) {
          written++;
          cache.setItem(op.id, item.slug, 'done');
          progress(item.slug, 'done');
        } else {
          skipped++;
          cache.setItem(op.id, item.slug, 'skipped', 'tenant no longer exists');
          progress(item.slug, 'skipped', 'tenant no longer exists');
        }
      } catch (error) {
        const message = isContractError(error) ? error.message : error instanceof Error ? error.message : String(error);
        failed.push({ slug: item.slug, error: message });
        cache.setItem(op.id, item.slug, 'failed', message);
        progress(item.slug, 'failed', message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency, desired.length)) }, worker));
  const status = failed.length === 0 ? 'done' : 'partial';
  cache.finishOp(op.id, status);
  progress(
    '*',
    failed.length === 0 ? 'done' : 'failed',
    failed.length === 0 ? 'all tenants updated' : `${failed.length} tenant(s) failed; resume to retry them`,
  );
  return { operationId: op.id, kind: op.kind, status, total, written, skipped, failed };
}
