import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openLocalStore, type Sqlite } from '../../../src-main/adapters/sqlite';
import { auditMigrations } from '../../../src-main/engine/audit/migrations';
import { operatorsMigrations } from '../../../src-main/engine/operators/migrations';
import type { AuditRecord } from '../../../src-main/engine/audit/recorder';
import type { SecretStoreLike } from '../../../src-main/engine/audit/signing';

/** In-memory secret store (the real one is the OS keychain / encrypted file). */
export function memorySecrets(): SecretStoreLike & { delete(key: string): Promise<void>; map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    get: async (k) => map.get(k) ?? null,
    set: async (k, v) => void map.set(k, v),
    delete: async (k) => void map.delete(k),
  };
}

export function tempDir(prefix = 'gatehouse-audit-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function tempCache(dir = tempDir()): { db: Sqlite; dir: string } {
  const { db } = openLocalStore(dir, [...auditMigrations, ...operatorsMigrations]);
  return { db, dir };
}

let counter = 0;
/** Entries are an hour old at most: recent enough for the checkpoint-age policy, in a fixed order. */
const BASE = Date.now() - 3600_000;
export function record(over: Partial<AuditRecord> = {}): AuditRecord {
  counter += 1;
  return {
    actor: 'local:alice',
    actorRole: 'admin',
    action: 'tenants.create',
    target: `tenant/t${counter}`,
    params: { slug: `t${counter}`, password: '[redacted]' },
    before: null,
    after: { slug: `t${counter}`, plan: 'pro' },
    outcome: 'success',
    errorCode: null,
    at: new Date(BASE + counter * 100).toISOString(),
    cluster: 'prod',
    consoleVersion: '0.1.0',
    ...over,
  };
}

/**
 * Every audit record this workstation holds, as JSON of AuditRecord: the workstation log
 * (actions of no cluster) in order, then the ones waiting in the outbox for their cluster's log.
 */
export function auditJournal(db: Sqlite): string[] {
  const queued = (db.prepare('SELECT record FROM audit_outbox ORDER BY id').pluck().all() as string[]).map(
    (s) => JSON.parse(s) as AuditRecord,
  );
  const local = (db.prepare("SELECT canonical FROM audit_kept WHERE source = 'workstation' ORDER BY seq").pluck().all() as string[]).map(
    (s) => {
      const e = JSON.parse(s) as Record<string, unknown>;
      return {
        actor: e.actor,
        actorRole: e.role,
        action: e.action,
        target: e.target,
        params: e.params,
        before: e.before,
        after: e.after,
        outcome: e.outcome,
        errorCode: e.error_code,
        at: e.at,
        cluster: e.cluster,
        consoleVersion: e.console_version,
      } as AuditRecord;
    },
  );
  // each in the order written (the two are separate logs: no common order between them)
  return [...local, ...queued].map((r) => JSON.stringify(r));
}
