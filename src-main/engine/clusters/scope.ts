import { PostgresAdmin } from '../../adapters/postgres';
import type { KubeClients } from '../../adapters/kube';
import type { ClusterRuntime, PgAdminConfig } from '../core/cluster-runtime';

export interface ScopeAttachment {
  contextId: string;
  contextName: string;
  kube: KubeClients;
  namespace: string;
  pgAdmin: () => Promise<PgAdminConfig | null>;
}

/**
 * The per-cluster object: owns that cluster's Kubernetes client, PostgreSQL pool and
 * whatever long-lived work registers with it (watches, lease keepers). Keyed by the
 * cluster's identity, so two contexts of one cluster share it.
 */
export class ClusterScope implements ClusterRuntime {
  private attachment: ScopeAttachment;
  private pool: { key: string; admin: PostgresAdmin } | null = null;
  private readonly closers: (() => void | Promise<void>)[] = [];
  closed = false;

  constructor(
    readonly clusterId: string,
    attachment: ScopeAttachment,
  ) {
    this.attachment = attachment;
  }

  get contextId(): string {
    return this.attachment.contextId;
  }
  get contextName(): string {
    return this.attachment.contextName;
  }
  get kube(): KubeClients {
    return this.attachment.kube;
  }
  get namespace(): string {
    return this.attachment.namespace;
  }

  /** Re-points the scope at a context of the same cluster (credentials or namespace changed). */
  attach(next: ScopeAttachment): void {
    this.attachment = next;
  }

  pgAdmin(): Promise<PgAdminConfig | null> {
    return this.attachment.pgAdmin();
  }

  async postgres(): Promise<PostgresAdmin | null> {
    const cfg = await this.pgAdmin();
    if (!cfg) return null;
    // A changed profile (host, user, password) gets a new pool; the old one is drained.
    const key = JSON.stringify([cfg.host, cfg.port, cfg.user, cfg.database, cfg.ssl, cfg.password]);
    if (this.pool?.key !== key) {
      const old = this.pool;
      this.pool = { key, admin: new PostgresAdmin(cfg) };
      await old?.admin.close().catch(() => undefined);
    }
    return this.pool.admin;
  }

  onClose(fn: () => void | Promise<void>): void {
    this.closers.push(fn);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const fn of this.closers.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
    await this.pool?.admin.close().catch(() => undefined);
    this.pool = null;
  }
}
