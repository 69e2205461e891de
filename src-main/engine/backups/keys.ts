import crypto from 'node:crypto';
import { ContractError } from '../../../src-shared/contract';
import type { Sqlite } from '../../adapters/sqlite';
import { AgeError, generateIdentity, identityToRecipient, parseIdentityFile } from './age';

/** The few secret-store calls the backup keys need (the OS keychain, or the encrypted file). */
export interface SecretsLike {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/**
 * A cluster's backup key: an age X25519 identity (encryption: operators decrypt with
 * `age -d -i <escrow file>`) and a 32-byte authentication key (the manifest MAC, so
 * nobody who merely knows the public recipient can plant a backup). Both live in the
 * secret store, never in SQLite; SQLite holds the public recipient and when the escrow
 * was confirmed. Keys of other clusters can be imported to open their backups.
 */
export interface BackupKey {
  clusterId: string | null;
  identity: string;
  recipient: string;
  authKey: Buffer;
}

const secretKey = (clusterId: string) => `backups-key:${clusterId}`;
const importedKey = (recipient: string) => `backups-imported-key:${recipient}`;

interface Stored {
  identity: string;
  authKey: string;
  createdAt: string;
}

const AUTH_LINE = /^#\s*gatehouse-auth-key:\s*([A-Za-z0-9+/=]{40,60})\s*$/m;
const CLUSTER_LINE = /^#\s*gatehouse-cluster:\s*(\S+)\s*$/m;

/** The escrow check code: proves the operator opened the exported file (it is printed there). */
export function checkCode(identity: string, authKey: Buffer): string {
  const h = crypto.createHash('sha256').update('gatehouse backup escrow check\n').update(identity).update(authKey).digest();
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const chars = [...h.subarray(0, 8)].map((b) => alphabet[b % 32]).join('');
  return `${chars.slice(0, 4)}-${chars.slice(4)}`;
}

/** The escrow file: a valid age identity file (comments are ignored by `age`), plus what Gatehouse needs to authenticate. */
export function escrowFile(key: BackupKey, clusterName: string, createdAt: string): string {
  return [
    `# Gatehouse backup key of cluster ${clusterName}`,
    `# gatehouse-cluster: ${key.clusterId ?? 'unknown'}`,
    `# created: ${createdAt}`,
    `# public key: ${key.recipient}`,
    `# gatehouse-auth-key: ${key.authKey.toString('base64')}`,
    `# check: ${checkCode(key.identity, key.authKey)}`,
    '# Decrypt a backup file without Gatehouse:  age -d -i this-file.txt schema.sql.age > schema.sql',
    '# Keep this file offline (a safe, an escrow service): whoever holds it can read every backup of the cluster.',
    key.identity,
    '',
  ].join('\n');
}

export function parseEscrowFile(text: string): BackupKey {
  let identities: string[];
  try {
    identities = parseIdentityFile(
      text
        .split(/\r?\n/)
        .filter((l) => !l.trim().startsWith('#'))
        .join('\n'),
    );
  } catch (error) {
    throw new ContractError('VALIDATION', `Not a backup key file: ${(error as AgeError).message}.`);
  }
  if (identities.length !== 1)
    throw new ContractError('VALIDATION', `A backup key file holds exactly one AGE-SECRET-KEY line (found ${identities.length}).`);
  const auth = AUTH_LINE.exec(text);
  const authKey = auth ? Buffer.from(auth[1]!, 'base64') : null;
  if (!authKey || authKey.length !== 32) {
    throw new ContractError(
      'VALIDATION',
      'The key file has no "# gatehouse-auth-key:" line: it was not exported by Gatehouse, and backups cannot be authenticated without it.',
    );
  }
  const identity = identities[0]!;
  return { clusterId: CLUSTER_LINE.exec(text)?.[1] ?? null, identity, recipient: identityToRecipient(identity), authKey };
}

export const keysMigration = `
  CREATE TABLE backup_keys (cluster_id TEXT PRIMARY KEY, recipient TEXT NOT NULL, created_at TEXT NOT NULL, escrowed_at TEXT);
  CREATE TABLE backup_imported_keys (recipient TEXT PRIMARY KEY, cluster_id TEXT, imported_at TEXT NOT NULL);
`;

export class BackupKeys {
  constructor(
    private readonly db: Sqlite,
    private readonly secrets: () => Promise<SecretsLike>,
  ) {}

  local(clusterId: string): { recipient: string; createdAt: string; escrowedAt: string | null } | null {
    const row = this.db.prepare('SELECT recipient, created_at, escrowed_at FROM backup_keys WHERE cluster_id = ?').get(clusterId) as
      { recipient: string; created_at: string; escrowed_at: string | null } | undefined;
    return row ? { recipient: row.recipient, createdAt: row.created_at, escrowedAt: row.escrowed_at } : null;
  }

  imported(): { recipient: string; clusterId: string | null; importedAt: string }[] {
    return (
      this.db.prepare('SELECT recipient, cluster_id, imported_at FROM backup_imported_keys ORDER BY imported_at').all() as {
        recipient: string;
        cluster_id: string | null;
        imported_at: string;
      }[]
    ).map((r) => ({
      recipient: r.recipient,
      clusterId: r.cluster_id,
      importedAt: r.imported_at,
    }));
  }

  async create(clusterId: string): Promise<BackupKey> {
    if (this.local(clusterId)) throw new ContractError('CONFLICT', 'This cluster already has a backup key on this console.');
    const identity = generateIdentity();
    const authKey = crypto.randomBytes(32);
    const createdAt = new Date().toISOString();
    // The secret store first: if it is locked nothing is recorded and the operator unlocks it.
    await (
      await this.secrets()
    ).set(secretKey(clusterId), JSON.stringify({ identity, authKey: authKey.toString('base64'), createdAt } satisfies Stored));
    this.db
      .prepare('INSERT INTO backup_keys (cluster_id, recipient, created_at) VALUES (?, ?, ?)')
      .run(clusterId, identityToRecipient(identity), createdAt);
    return { clusterId, identity, recipient: identityToRecipient(identity), authKey };
  }

  /** This cluster's key, or null when this console has none. */
  async get(clusterId: string): Promise<BackupKey | null> {
    if (!this.local(clusterId)) return null;
    const raw = await (await this.secrets()).get(secretKey(clusterId));
    if (!raw) {
      throw new ContractError(
        'UNAVAILABLE',
        'The backup key of this cluster is missing from the secret store (the keychain entry was removed). Import it from its escrow file (Backups → Key → Import).',
        { reason: 'backup-key-missing' },
      );
    }
    const s = JSON.parse(raw) as Stored;
    return { clusterId, identity: s.identity, recipient: identityToRecipient(s.identity), authKey: Buffer.from(s.authKey, 'base64') };
  }

  /**
   * Replacing the cluster's key: the current one (if this console holds it) is kept as an
   * imported key, so every backup taken with it still opens here.
   */
  async retire(clusterId: string): Promise<void> {
    const current = await this.get(clusterId).catch(() => null);
    if (current) await this.import({ ...current, clusterId: `${clusterId}#retired` }, clusterId, null);
    this.db.prepare('DELETE FROM backup_keys WHERE cluster_id = ?').run(clusterId);
  }

  confirmEscrow(clusterId: string, at = new Date().toISOString()): void {
    this.db.prepare('UPDATE backup_keys SET escrowed_at = ? WHERE cluster_id = ?').run(at, clusterId);
  }

  /**
   * Imports a key file. The file of this cluster's own key makes it this console's key
   * (a second workstation); any other is kept to open backups taken elsewhere.
   */
  async import(key: BackupKey, clusterId: string, ownRecipient: string | null): Promise<'own' | 'foreign'> {
    const store = await this.secrets();
    const stored: Stored = { identity: key.identity, authKey: key.authKey.toString('base64'), createdAt: new Date().toISOString() };
    const own = key.clusterId === clusterId || (ownRecipient !== null && ownRecipient === key.recipient);
    if (own) {
      if (ownRecipient && ownRecipient !== key.recipient) {
        throw new ContractError(
          'CONFLICT',
          `This cluster's backups are encrypted to ${ownRecipient}; the file holds ${key.recipient}. Import the key file of this cluster.`,
        );
      }
      const existing = this.local(clusterId);
      if (existing && existing.recipient !== key.recipient) {
        throw new ContractError('CONFLICT', `This console already holds another backup key for this cluster (${existing.recipient}).`);
      }
      await store.set(secretKey(clusterId), JSON.stringify(stored));
      // Whoever imports from the escrow file has, by definition, an escrowed copy.
      this.db
        .prepare(
          'INSERT INTO backup_keys (cluster_id, recipient, created_at, escrowed_at) VALUES (?, ?, ?, ?) ON CONFLICT(cluster_id) DO UPDATE SET escrowed_at = excluded.escrowed_at',
        )
        .run(clusterId, key.recipient, stored.createdAt, stored.createdAt);
      return 'own';
    }
    await store.set(importedKey(key.recipient), JSON.stringify(stored));
    this.db
      .prepare(
        'INSERT INTO backup_imported_keys (recipient, cluster_id, imported_at) VALUES (?, ?, ?) ON CONFLICT(recipient) DO UPDATE SET imported_at = excluded.imported_at',
      )
      .run(key.recipient, key.clusterId, stored.createdAt);
    return 'foreign';
  }

  /** Every identity and authentication key this console holds: its cluster's first. */
  async openers(clusterId: string): Promise<{ identities: string[]; authKeys: Buffer[] }> {
    const identities: string[] = [];
    const authKeys: Buffer[] = [];
    const own = await this.get(clusterId).catch(() => null);
    if (own) {
      identities.push(own.identity);
      authKeys.push(own.authKey);
    }
    const store = await this.secrets();
    for (const k of this.imported()) {
      const raw = await store.get(importedKey(k.recipient));
      if (!raw) continue;
      const s = JSON.parse(raw) as Stored;
      identities.push(s.identity);
      authKeys.push(Buffer.from(s.authKey, 'base64'));
    }
    return { identities, authKeys };
  }
}
