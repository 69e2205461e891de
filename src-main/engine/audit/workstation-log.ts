import type { Sqlite } from '../../adapters/sqlite';
import { chainEntry, GENESIS_HASH } from './chain';
import type { KeptSources } from './evidence';
import type { LocalAuditCopy } from './local-copy';
import type { AuditRecord } from './recorder';

export const WORKSTATION_SOURCE = 'workstation';

/**
 * This workstation's own hash-chained log: actions that belong to no cluster (sign-in, local
 * settings, --reset-local-state). Never flushed into any cluster's log. Durable state, written
 * synchronously like the outbox; mirrored into the review copy so the audit page shows it.
 */
export class WorkstationLog {
  private readonly head;
  private readonly insert;

  constructor(
    private readonly db: Sqlite,
    private readonly local: LocalAuditCopy,
    kept: KeptSources,
  ) {
    this.head = db.prepare("SELECT seq, hash FROM audit_kept WHERE source = 'workstation' ORDER BY seq DESC LIMIT 1");
    this.insert = db.prepare("INSERT INTO main.audit_kept (source, seq, hash, canonical) VALUES ('workstation', ?, ?, ?)");
    if (!kept.info(WORKSTATION_SOURCE)) {
      kept.register({
        source: WORKSTATION_SOURCE,
        kind: 'workstation',
        cluster: null,
        logId: null,
        origin: 'gatehouse/audit/workstation',
        reason: 'actions on this workstation that belong to no cluster',
        keptAt: new Date().toISOString(),
        startPrevHash: GENESIS_HASH,
        firstSeq: 1,
        checkpoints: [],
      });
    }
  }

  append(record: AuditRecord): void {
    this.db.transaction(() => {
      const h = this.head.get() as { seq: number; hash: string } | undefined;
      const seq = (h?.seq ?? 0) + 1;
      const { entry, canonical } = chainEntry(record, seq, h?.hash ?? GENESIS_HASH);
      this.insert.run(seq, entry.hash, canonical);
      if (this.local.maxSeq(WORKSTATION_SOURCE) === seq - 1) {
        const { hash: _h, ...fields } = entry;
        this.local.insertOne(WORKSTATION_SOURCE, { seq, hash: entry.hash, canonical, fields });
      }
    })();
  }
}
