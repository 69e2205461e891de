import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ContractError } from '../../../src-shared/contract';
import { checkKey, type BackupStorage } from './storage';

export interface S3Config {
  endpoint: string;
  region: string;
  bucket: string;
  prefix: string;
  forcePathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Parts of a multipart upload: 8 MiB (S3's minimum is 5 MiB, except the last part). */
const PART = 8 * 1024 * 1024;

/**
 * An S3-compatible bucket (Ceph RGW, SeaweedFS, MinIO, AWS…) through the AWS SDK v3.
 * Streams are uploaded in parts; an interrupted upload is aborted, so the object never
 * appears half-written (S3 makes an object visible only when its upload completes).
 */
export class S3Storage implements BackupStorage {
  readonly description: string;
  private readonly client: S3Client;

  constructor(private readonly cfg: S3Config) {
    this.description = `s3://${cfg.bucket}${cfg.prefix ? `/${cfg.prefix}` : ''} at ${new URL(cfg.endpoint).host}`;
    this.client = new S3Client({
      endpoint: cfg.endpoint,
      region: cfg.region,
      forcePathStyle: cfg.forcePathStyle,
      credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
      // An unreachable endpoint must fail the backup in seconds, not after the SDK's long default back-off.
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 } as never,
    });
  }

  private key(key: string): string {
    checkKey(key);
    return this.cfg.prefix ? `${this.cfg.prefix}/${key}` : key;
  }

  private error(error: unknown, doing: string): ContractError {
    if (error instanceof ContractError) return error;
    const where = this.description;
    const code =
      error instanceof S3ServiceException ? error.name : ((error as { code?: string; name?: string }).code ?? (error as Error).name);
    const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
    if (code === 'NoSuchKey' || status === 404) return new ContractError('NOT_FOUND', `Not found in ${where} while ${doing}.`);
    if (code === 'NoSuchBucket')
      return new ContractError('UNAVAILABLE', `The bucket of ${where} does not exist. Create it or correct the backup target.`);
    if (code === 'AccessDenied' || code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || status === 403) {
      return new ContractError(
        'FORBIDDEN',
        `${where} refused the credentials while ${doing} (${code}). Check the access key of the backup target.`,
      );
    }
    if (
      code === 'EntityTooLarge' ||
      code === 'QuotaExceeded' ||
      code === 'XMinioStorageFull' ||
      code === 'InsufficientStorage' ||
      status === 507
    ) {
      return new ContractError(
        'UNAVAILABLE',
        `${where} is full (${code}) while ${doing}. Free space or raise the quota; nothing was listed.`,
        { reason: 'storage-full' },
      );
    }
    if (
      ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE', 'TimeoutError', 'RequestTimeout'].includes(
        code ?? '',
      )
    ) {
      return new ContractError(
        'UNAVAILABLE',
        `${where} is unreachable while ${doing} (${code}). Check the endpoint and the network, then retry.`,
        { reason: 'storage-unreachable' },
      );
    }
    return new ContractError(
      'UNAVAILABLE',
      `${where} failed while ${doing}: ${code ?? ''} ${(error as Error).message?.slice(0, 200) ?? ''}`.trim(),
    );
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    const Key = this.key(key);
    const Bucket = this.cfg.bucket;
    let uploadId: string | undefined;
    const parts: { PartNumber: number; ETag: string }[] = [];
    let buffered: Buffer[] = [];
    let bufferedLength = 0;
    let size = 0;
    const flushPart = async (last: boolean) => {
      if (!last && bufferedLength < PART) return;
      const data = Buffer.concat(buffered, bufferedLength);
      buffered = [];
      bufferedLength = 0;
      uploadId ??= (await this.client.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId;
      const r = await this.client.send(
        new UploadPartCommand({ Bucket, Key, UploadId: uploadId, PartNumber: parts.length + 1, Body: data, ContentLength: data.length }),
      );
      parts.push({ PartNumber: parts.length + 1, ETag: r.ETag! });
    };
    try {
      for await (const chunk of body) {
        const c = chunk as Buffer;
        buffered.push(c);
        bufferedLength += c.length;
        size += c.length;
        await flushPart(false);
      }
      if (!uploadId) {
        const data = Buffer.concat(buffered, bufferedLength);
        await this.client.send(new PutObjectCommand({ Bucket, Key, Body: data, ContentLength: data.length }));
        return { size };
      }
      if (bufferedLength > 0) await flushPart(true);
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      return { size };
    } catch (error) {
      if (uploadId) await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: uploadId })).catch(() => undefined);
      body.destroy();
      throw this.error(error, `uploading ${key}`);
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.cfg.bucket, Key: this.key(key) }));
      return r.Body as Readable;
    } catch (error) {
      throw this.error(error, `reading ${key}`);
    }
  }

  async head(key: string): Promise<{ size: number } | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.cfg.bucket, Key: this.key(key) }));
      return { size: r.ContentLength ?? 0 };
    } catch (error) {
      const e = this.error(error, `looking up ${key}`);
      if (e.code === 'NOT_FOUND') return null;
      throw e;
    }
  }

  async list(prefix: string): Promise<{ key: string; size: number }[]> {
    const base = this.cfg.prefix ? `${this.cfg.prefix}/` : '';
    const out: { key: string; size: number }[] = [];
    let token: string | undefined;
    try {
      do {
        const r = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.cfg.bucket, Prefix: `${base}${prefix}`, ContinuationToken: token }),
        );
        for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key.slice(base.length), size: o.Size ?? 0 });
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw this.error(error, `listing ${prefix || '/'}`);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.cfg.bucket, Key: this.key(key) }));
    } catch (error) {
      const e = this.error(error, `deleting ${key}`);
      if (e.code !== 'NOT_FOUND') throw e;
    }
  }

  close(): void {
    this.client.destroy();
  }
}
