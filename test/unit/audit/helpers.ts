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
