import type { KubeClients } from '../../adapters/kube';
import type { PgSsl, PostgresAdmin } from '../../adapters/postgres';

/** Connection details of the platform's PostgreSQL admin role (password fetched from the secret store). */
export interface PgAdminConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** TLS from the profile (false: disabled by an explicit, audited choice). */
  ssl: PgSsl;
}

/**
 * One cluster, as every capability receives it: resolved once per command by the
 * pipeline (or, for a resume, rollback or outbox flush, from the identity the work
 * recorded) and passed down. Nothing in the engine looks up "the selected cluster".
 */
export interface ClusterRuntime {
  /** The cluster's identity: its kube-system namespace UID. Everything bound to a cluster records this. */
  clusterId: string;
  /** The kubeconfig context this console reaches it through right now (display, profile). */
  contextId: string;
  contextName: string;
  kube: KubeClients;
  /** Platform namespace from the profile (default iam-system). */
  namespace: string;
  /** Null when the profile has no database connection yet. */
  pgAdmin(): Promise<PgAdminConfig | null>;
  /** The admin pool of this cluster's PostgreSQL, owned by the cluster (one per cluster, reused). Null: no database configured. */
  postgres(): Promise<PostgresAdmin | null>;
  /** Runs fn when the cluster's services shut down (watches, timers of this cluster). */
  onClose(fn: () => void | Promise<void>): void;
}
