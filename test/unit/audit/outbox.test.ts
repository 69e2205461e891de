import { describe, expect, it } from 'vitest';
import { AuditOutbox } from '../../../src-main/engine/audit/outbox';
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
    outbox.setDelivery(async (batch) => {
      if (!up) throw new Error('connection refused');
      delivered.push(...batch);
    });
    for (let i = 0; i < 25; i++) await outbox.record(record({ target: `t/${i}` }));
    await expect(outbox.flush()).rejects.toThrow(/refused/);
    expect(outbox.pending().count).toBe(25);
    expect(outbox.lastError).toMatch(/refused/);
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
    b.setDelivery(async (batch) => void got.push(...batch));
    await b.flush();
    expect(got).toHaveLength(1);
    expect(got[0]!.ref).toMatch(/^[0-9a-f-]{36}:1$/);
    b.close();
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
