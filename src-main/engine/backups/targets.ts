import path from 'node:path';
import { ContractError } from '../../../src-shared/contract';
import { BackupTarget } from '../../../src-shared/contract/backups';
import type { Sqlite } from '../../adapters/sqlite';
import type { SecretsLike } from './keys';
import { S3Storage } from './s3-storage';
import { DirectoryStorage, type BackupStorage } from './storage';

/**
 * The storage target of each cluster (its profile on this workstation): a directory,
 * by default `<data dir>/backups/<cluster uid>`, or an S3-compatible bucket whose secret
 * access key is in the secret store.
 */
export const targetsMigration = `CREATE TABLE backup_targets (cluster_id TEXT PRIMARY KEY, json TEXT NOT NULL, updated_at TEXT NOT NULL);`;

const s3SecretKey = (clusterId: string) => `backups-s3-secret:${clusterId}`;

export class BackupTargets {
  private readonly open = new Map<string, { json: string; storage: BackupStorage }>();

  constructor(
    private readonly db: Sqlite,
    private readonly secrets: () => Promise<SecretsLike>,
    private readonly dataDir: string,
  ) {}

  defaultTarget(clusterId: string): BackupTarget {
    return { kind: 'directory', path: path.join(this.dataDir, 'backups', clusterId.replace(/[^A-Za-z0-9._-]/g, '_')) };
  }

  get(clusterId: string): { target: BackupTarget; isDefault: boolean } {
    const row = this.db.prepare('SELECT json FROM backup_targets WHERE cluster_id = ?').get(clusterId) as { json: string } | undefined;
    if (!row) return { target: this.defaultTarget(clusterId), isDefault: true };
    return { target: BackupTarget.parse(JSON.parse(row.json)), isDefault: false };
  }

  async set(clusterId: string, target: BackupTarget, secretAccessKey?: string): Promise<void> {
    const store = await this.secrets();
    if (target.kind === 's3') {
      if (secretAccessKey !== undefined) await store.set(s3SecretKey(clusterId), secretAccessKey);
      else if ((await store.get(s3SecretKey(clusterId))) === null) {
        throw new ContractError(
          'VALIDATION',
          'Give the secret access key of the bucket (it is kept in the secret store, never in the console database).',
        );
      }
    }
    this.db
      .prepare(
        'INSERT INTO backup_targets (cluster_id, json, updated_at) VALUES (?, ?, ?) ON CONFLICT(cluster_id) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at',
      )
      .run(clusterId, JSON.stringify(target), new Date().toISOString());
    this.open.delete(clusterId);
  }

  async s3Secret(clusterId: string): Promise<string | null> {
    return (await this.secrets()).get(s3SecretKey(clusterId));
  }

  /** The storage of a cluster (reused while its configuration does not change). */
  async storage(clusterId: string): Promise<BackupStorage> {
    const { target } = this.get(clusterId);
    const json = JSON.stringify(target);
    const hit = this.open.get(clusterId);
    if (hit && hit.json === json) return hit.storage;
    let storage: BackupStorage;
    if (target.kind === 'directory') {
      storage = new DirectoryStorage(target.path);
    } else {
      const secret = await (await this.secrets()).get(s3SecretKey(clusterId));
      if (secret === null)
        throw new ContractError(
          'VALIDATION',
          'The secret access key of the backup bucket is missing from the secret store. Set the backup target again (Backups → Target).',
        );
      storage = new S3Storage({ ...target, secretAccessKey: secret });
    }
    (hit?.storage as S3Storage | undefined)?.close?.();
    this.open.set(clusterId, { json, storage });
    return storage;
  }

  close(): void {
    for (const { storage } of this.open.values()) (storage as S3Storage).close?.();
    this.open.clear();
  }
}
