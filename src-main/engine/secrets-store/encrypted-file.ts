import argon2 from 'argon2';
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ContractError } from '../../../src-shared/contract';
import { secretsLockedError, type SecretStore } from './store';

export interface KdfParams {
  alg: 'argon2id';
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  salt: string;
}

/** On-disk shape. The header (everything but nonce/ciphertext/tag) is bound as AES-GCM additional data. */
interface SecretFile {
  format: 'gatehouse-secrets';
  version: 1;
  kdf: KdfParams;
  /** HMAC of a constant under a key derived with the data key: tells a wrong passphrase from a damaged file. */
  check: string;
  nonce: string;
  ciphertext: string;
  tag: string;
}

export const DEFAULT_KDF = { memoryCost: 65536, timeCost: 3, parallelism: 4 } as const;
const CHECK_LABEL = 'gatehouse-secrets-v1 passphrase check';

interface Keys {
  kdf: KdfParams;
  dataKey: Buffer;
  check: string;
}

async function deriveKeys(passphrase: string, kdf: KdfParams): Promise<Keys> {
  const raw = await argon2.hash(passphrase, {
    raw: true,
    type: argon2.argon2id,
    memoryCost: kdf.memoryCost,
    timeCost: kdf.timeCost,
    parallelism: kdf.parallelism,
    salt: Buffer.from(kdf.salt, 'base64'),
    hashLength: 64,
  });
  const dataKey = raw.subarray(0, 32);
  const check = createHmac('sha256', raw.subarray(32, 64)).update(CHECK_LABEL).digest('base64');
  return { kdf, dataKey: Buffer.from(dataKey), check };
}

const headerAad = (f: Pick<SecretFile, 'format' | 'version' | 'kdf' | 'check'>) =>
  Buffer.from(
    JSON.stringify({
      format: f.format,
      version: f.version,
      kdf: { alg: f.kdf.alg, memoryCost: f.kdf.memoryCost, timeCost: f.kdf.timeCost, parallelism: f.kdf.parallelism, salt: f.kdf.salt },
      check: f.check,
    }),
  );

function damaged(file: string, why: string): ContractError {
  return new ContractError(
    'UNAVAILABLE',
    `The encrypted secret file ${file} has been altered or damaged (${why}). Restore it from a backup, or move it aside and enter the stored passwords again.`,
    { reason: 'secrets-file-damaged' },
  );
}

/**
 * Secrets in one passphrase-encrypted file, for machines without an OS keychain:
 * argon2id derives the key, AES-256-GCM seals the whole map with a fresh nonce on
 * every write, and writes go through temp + rename so a crash never leaves half a file.
 */
export class EncryptedFileStore implements SecretStore {
  readonly kind = 'encrypted-file' as const;
  private keys: Keys | null = null;
  /** Serialises read-modify-write cycles. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly kdfDefaults: Omit<KdfParams, 'alg' | 'salt'> = DEFAULT_KDF,
  ) {}

  get locked(): boolean {
    return this.keys === null;
  }

  get initialized(): boolean {
    return fs.existsSync(this.file);
  }

  /** Checks the passphrase against the file, or starts a new file with it. */
  async unlock(passphrase: string): Promise<void> {
    const existing = this.readFile();
    if (!existing) {
      const kdf: KdfParams = { alg: 'argon2id', ...this.kdfDefaults, salt: randomBytes(16).toString('base64') };
      this.keys = await deriveKeys(passphrase, kdf);
      await this.write({});
      return;
    }
    const keys = await deriveKeys(passphrase, existing.kdf);
    const a = Buffer.from(keys.check, 'base64');
    const b = Buffer.from(existing.check, 'base64');
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      throw new ContractError('VALIDATION', 'This passphrase does not open the secret file. Type it again (it is case-sensitive).', {
        fields: { passphrase: 'wrong passphrase' },
      });
    }
    this.decrypt(existing, keys); // a damaged file is reported now, not at the first secret read
    this.keys = keys;
  }

  lock(): void {
    this.keys = null;
  }

  async get(key: string): Promise<string | null> {
    const map = this.readMap();
    return Object.prototype.hasOwnProperty.call(map, key) ? (map[key] ?? null) : null;
  }

  set(key: string, value: string): Promise<void> {
    return this.serial(async () => {
      const map = this.readMap();
      map[key] = value;
      await this.write(map);
    });
  }

  delete(key: string): Promise<void> {
    return this.serial(async () => {
      const map = this.readMap();
      if (!(key in map)) return;
      delete map[key];
      await this.write(map);
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private requireKeys(): Keys {
    if (!this.keys) throw secretsLockedError();
    return this.keys;
  }

  private readFile(): SecretFile | null {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new ContractError(
        'UNAVAILABLE',
        `Cannot read the secret file ${this.file} (${(error as NodeJS.ErrnoException).code}). Check its permissions.`,
      );
    }
    let parsed: SecretFile;
    try {
      parsed = JSON.parse(text) as SecretFile;
    } catch {
      throw damaged(this.file, 'not valid JSON');
    }
    if (parsed?.format !== 'gatehouse-secrets' || parsed.version !== 1 || parsed.kdf?.alg !== 'argon2id') {
      throw damaged(this.file, 'unknown format');
    }
    return parsed;
  }

  private readMap(): Record<string, string> {
    const keys = this.requireKeys();
    const file = this.readFile();
    if (!file) return {};
    if (file.check !== keys.check || file.kdf.salt !== keys.kdf.salt) {
      throw damaged(this.file, 'it was replaced by a file with another passphrase');
    }
    return this.decrypt(file, keys);
  }

  private decrypt(file: SecretFile, keys: Keys): Record<string, string> {
    try {
      const decipher = createDecipheriv('aes-256-gcm', keys.dataKey, Buffer.from(file.nonce, 'base64'));
      decipher.setAAD(headerAad(file));
      decipher.setAuthTag(Buffer.from(file.tag, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(file.ciphertext, 'base64')), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as Record<string, string>;
    } catch {
      throw damaged(this.file, 'authentication failed');
    }
  }

  private async write(map: Record<string, string>): Promise<void> {
    const keys = this.requireKeys();
    const header = { format: 'gatehouse-secrets' as const, version: 1 as const, kdf: keys.kdf, check: keys.check };
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', keys.dataKey, nonce);
    cipher.setAAD(headerAad(header));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(map), 'utf8'), cipher.final()]);
    const body: SecretFile = {
      ...header,
      nonce: nonce.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
    };
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(body, null, 2) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
  }
}
