import { describe, expect, it } from 'vitest';
import { AuditOutbox } from '../../../src-main/engine/audit/outbox';
import type { AuditRecord } from '../../../src-main/engine/audit/recorder';
import type { PendingRecord } from '../../../src-main/engine/audit/shared-log';
import { record, tempCache } from './helpers';

describe('audit outbox', () => {
  it('keeps records while delivery fails and delivers them in order once it works, exactly once', async () => {
    const { db } = tempCache();
    const delivered: PendingRecord[] = [];
    let up = false;
    const outbox = new AuditOutbox(db, {
      deliver: null,
      batchSize: 7,
      baseDelayMs: 5,
      maxDelayMs: 20,
    });
    outbox.setDelivery(async (_cluster, batch) => {
      if (!up) throw new Error('connection refused');
      delivered.push(...batch);
    });
    for (let i = 0; i < 25; i++) await outbox.record(record({ target: `t/${i}` }));
    await expect(outbox.flush('prod')).rejects.toThrow(/refused/);
    expect(outbox.pending().count).toBe(25);
    expect(outbox.lastError('prod')).toMatch(/refused/);
    up = true;
    // the background retry (exponential backoff) drains it without being asked
    await waitFor(() => outbox.pending().count === 0);
    expect(delivered.map((d) => d.record.target)).toEqual(Array.from({ length: 25 }, (_, i) => `t/${i}`));
    expect(new Set(delivered.map((d) => d.ref)).size).toBe(25);
    outbox.close();
  });

  it('survives a restart: a new outbox on the same file keeps the epoch and the pending rows', async () => {
    const { db } = tempCache();
    const a = new AuditOutbox(db, { deliver: null });
    await a.record(record());
    a.close();
    const got: PendingRecord[] = [];
    const b = new AuditOutbox(db, { deliver: null });
    b.setDelivery(async (_cluster, batch) => void got.push(...batch));
    await b.flush();
    expect(got).toHaveLength(1);
    expect(got[0]!.ref).toMatch(/^[0-9a-f-]{36}:1$/);
    b.close();
  });

  it('an intent left open by a console that stopped is recorded at the next start with an unknown outcome, once', async () => {
    const { db } = tempCache();
    const a = new AuditOutbox(db, { deliver: null });
    const { outcome: _o, errorCode: _e, after: _a, ...intent } = record({ action: 'tenants.delete', target: 'tenant:acme' });
    a.intend(intent); // the console dies here, mid-command
    const closed = a.intend({ ...intent, target: 'tenant:globex' });
    await a.record({ ...intent, target: 'tenant:globex', outcome: 'success', errorCode: null, after: null }, closed);
    a.close();
    const b = new AuditOutbox(db, { deliver: null });
    expect(b.openIntents().map((i) => i.record.target)).toEqual(['tenant:acme']);
    expect(await b.recordInterrupted()).toBe(1);
    expect(await b.recordInterrupted()).toBe(0);
    const got: PendingRecord[] = [];
    b.setDelivery(async (_cluster, batch) => void got.push(...batch));
    await b.flush();
    expect(got.map((g) => [g.record.target, g.record.outcome, g.record.errorCode])).toEqual([
      ['tenant:globex', 'success', null],
      ['tenant:acme', 'failure', 'INTERRUPTED'],
    ]);
    b.close();
  });

  it('intend throws when the file cannot be written, so the pipeline can refuse the mutation', () => {
    const { db } = tempCache();
    const a = new AuditOutbox(db, { deliver: null });
    db.exec("CREATE TRIGGER full BEFORE INSERT ON audit_intents BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    const { outcome: _o, errorCode: _e, after: _a, ...intent } = record();
    expect(() => a.intend(intent)).toThrow(/disk is full/);
    a.close();
  });

  it('flushes each record only to its own cluster, in order; a dead cluster never holds another back', async () => {
    const { db } = tempCache();
    const got = new Map<string, string[]>();
    const deadCalls: number[] = [];
    let aUp = false;
    const outbox = new AuditOutbox(db, {
      deliver: async (cluster, batch) => {
        if (cluster === 'uid-a' && !aUp) {
          deadCalls.push(batch.length);
          throw new Error('A is down');
        }
        got.set(cluster, [...(got.get(cluster) ?? []), ...batch.map((b) => `${b.record.cluster}:${b.record.target}`)]);
      },
      baseDelayMs: 5,
      maxDelayMs: 20,
    });
    for (let i = 0; i < 6; i++) await outbox.record(record({ cluster: 'uid-a', target: `a/${i}` }));
    for (let i = 0; i < 4; i++) await outbox.record(record({ cluster: 'uid-b', target: `b/${i}` }));
    await waitFor(() => outbox.pending('uid-b').count === 0);
    expect(got.get('uid-b')).toEqual(['uid-b:b/0', 'uid-b:b/1', 'uid-b:b/2', 'uid-b:b/3']);
    expect(outbox.pending('uid-a').count).toBe(6);
    expect(deadCalls.length).toBeGreaterThan(0);
    expect(outbox.queues()).toEqual([expect.objectContaining({ cluster: 'uid-a', pending: 6, lastError: 'A is down' })]);
    aUp = true;
    outbox.kick('uid-a');
    await waitFor(() => outbox.pending('uid-a').count === 0);
    expect(got.get('uid-a')).toEqual(Array.from({ length: 6 }, (_, i) => `uid-a:a/${i}`));
    outbox.close();
  });

  it('records of no cluster go to the workstation log, never to a cluster', async () => {
    const { db } = tempCache();
    const workstation: AuditRecord[] = [];
    const delivered: string[] = [];
    const outbox = new AuditOutbox(db, {
      deliver: async (cluster) => void delivered.push(cluster),
      workstation: (r) => void workstation.push(r),
    });
    await outbox.record(record({ cluster: null, action: 'operators.signIn' }));
    expect(workstation.map((r) => r.action)).toEqual(['operators.signIn']);
    expect(outbox.pending().count).toBe(0);
    await outbox.flush();
    expect(delivered).toEqual([]);
    outbox.close();
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
