// The outbox is per cluster: records wait for their own cluster's database and are
// flushed only into its log, in order, also while another cluster is being worked on.
// Two clusters = two real PostgreSQL servers; A's is killed and restarted.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService } from '../../src-main/engine/audit/service';
import { memorySecrets, record, tempCache } from '../unit/audit/helpers';
import { throwawayPostgres, type ThrowawayPostgres } from './audit-support';

let a: ThrowawayPostgres;
let b: ThrowawayPostgres;

beforeAll(async () => {
  [a, b] = await Promise.all([throwawayPostgres(), throwawayPostgres()]);
}, 180_000);

afterAll(async () => {
  await Promise.all([a?.cleanup(), b?.cleanup()]);
});

async function until(cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function targets(server: ThrowawayPostgres): Promise<string[]> {
  const c = await server.client('gatehouse_control');
  try {
    return (await c.query<{ target: string }>('SELECT target FROM audit_log ORDER BY seq')).rows.map((r) => r.target);
  } finally {
    await c.end();
  }
}

describe('one outbox queue per cluster', () => {
  it("A's database down, entries queued, work moves to B (B's entries flow), A returns: every A entry in A's log in order, none in B's", async () => {
    const { db, dir } = tempCache();
    // Which cluster the operator looks at is a UI choice; the records name their cluster.
    const svc = new AuditService({
      db,
      secrets: memorySecrets(),
      consoleVersion: '0.1.0',
      retry: { baseDelayMs: 50, maxDelayMs: 400 },
      clusters: {
        resolve: async (uid) =>
          uid === 'uid-a' ? { pgAdmin: async () => a.config } : uid === 'uid-b' ? { pgAdmin: async () => b.config } : null,
      },
    });
    try {
      await svc.outbox.record(record({ cluster: 'uid-a', target: 'a/0' }));
      await until(() => svc.outbox.pending('uid-a').count === 0);
      await a.kill();
      const expectedA = ['a/0'];
      for (let i = 1; i <= 30; i++) {
        expectedA.push(`a/${i}`);
        await svc.outbox.record(record({ cluster: 'uid-a', target: `a/${i}` }));
      }
      await until(async () => (await svc.status('uid-a')).lastFlushError !== null);
      // "switch" to B: its records are flushed at once, A's keep waiting
      const expectedB: string[] = [];
      for (let i = 0; i < 20; i++) {
        expectedB.push(`b/${i}`);
        await svc.outbox.record(record({ cluster: 'uid-b', target: `b/${i}` }));
      }
      await until(() => svc.outbox.pending('uid-b').count === 0);
      expect(svc.outbox.pending('uid-a').count).toBe(30);
      expect(await targets(b)).toEqual(expectedB);
      const waiting = (await svc.status('uid-b')).outbox;
      expect(waiting).toEqual([expect.objectContaining({ cluster: 'uid-a', pending: 30 })]);

      await a.start();
      await until(() => svc.outbox.pending('uid-a').count === 0);
      expect(await targets(a)).toEqual(expectedA);
      expect(await targets(b)).toEqual(expectedB);
      // each log verifies on its own, and each has its own witness
      expect(await svc.verify('cluster:uid-a')).toMatchObject({ ok: true, headSeq: 31 });
      expect(await svc.verify('cluster:uid-b')).toMatchObject({ ok: true, headSeq: 20 });
      expect(svc.witness.boundLog('uid-a')).not.toBe(svc.witness.boundLog('uid-b'));
    } finally {
      await svc.close();
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('workstation actions (no cluster) go to the local workstation log, never into a cluster', async () => {
    const { db, dir } = tempCache();
    const svc = new AuditService({
      db,
      secrets: memorySecrets(),
      consoleVersion: '0.1.0',
      clusters: { resolve: async (uid) => (uid === 'uid-b' ? { pgAdmin: async () => b.config } : null) },
    });
    try {
      const before = (await targets(b)).length;
      await svc.outbox.record(record({ cluster: null, action: 'operators.signIn', target: 'operator:local:alice' }));
      await svc.outbox.record(record({ cluster: 'uid-b', target: 'b/after-sign-in' }));
      await until(() => svc.outbox.pending().count === 0);
      expect((await targets(b)).slice(before)).toEqual(['b/after-sign-in']);
      const page = svc.query({ source: 'workstation', limit: 10, order: 'oldest', withTotal: true });
      expect(page.entries.map((e) => e.action)).toEqual(['operators.signIn']);
      expect(await svc.verify('workstation')).toMatchObject({ ok: true, checked: 1 });
    } finally {
      await svc.close();
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
