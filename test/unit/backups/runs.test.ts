// The run journal with two clusters open: each cluster lists only its own runs, a run is
// resumed only on the cluster it belongs to, and a run that is running here is not claimed twice.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLocalStore } from '../../../src-main/adapters/sqlite';
import { backupsMigrations } from '../../../src-main/engine/backups';
import { BackupRuns } from '../../../src-main/engine/backups/runs';
import type { ClusterRuntime } from '../../../src-main/engine/core/cluster-runtime';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-runs-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const cluster = (clusterId: string) => ({ clusterId, contextName: `ctx-${clusterId}` }) as ClusterRuntime;
const OPTS = { reason: 'manual' as const, actor: 'local:ops', note: null, verify: false, concurrency: 2 };
const A = cluster('uid-a');
const B = cluster('uid-b');
const ID_A = '00000000-0000-4000-8000-00000000000a';

describe('backup run journal, two clusters', () => {
  const { db } = openLocalStore(dir, backupsMigrations);
  const runs = new BackupRuns(db);

  it('keeps each cluster to its own runs, and resumes a run only on its own cluster', () => {
    runs.start(A, ID_A, ['acme', 'globex', 'acme'], OPTS);
    runs.item(ID_A, 'acme', 'done', 'b-1');
    // not running in this process any more: interrupted
    expect(runs.list(A.clusterId)).toMatchObject([{ runId: ID_A, status: 'interrupted', counts: { total: 2, done: 1, pending: 1 } }]);
    expect(runs.list(B.clusterId)).toEqual([]);
    expect(() => runs.claim(B, ID_A)).toThrow(/belongs to cluster ctx-uid-a \(uid-a\); select that cluster/);
    const claimed = runs.claim(A, ID_A);
    expect(claimed).toMatchObject({ todo: ['globex'], total: 2, options: OPTS });
    expect(() => runs.claim(A, ID_A)).toThrow(/is running now/);
    runs.item(ID_A, 'globex', 'failed', null, 'PostgreSQL unreachable');
    runs.finish(ID_A);
    expect(runs.get(ID_A)).toMatchObject({ status: 'partial', failures: [{ slug: 'globex', error: 'PostgreSQL unreachable' }] });
  });
});
