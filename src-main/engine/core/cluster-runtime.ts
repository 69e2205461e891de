import type { KubeClients } from '../../adapters/kube';
import type { PgSsl } from '../../adapters/postgres';

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
 * What a capability needs of the selected cluster. The clusters capability builds it
 * from the kubeconfig context and its profile; tenants, license and audit receive it.
 */
export interface ClusterRuntime {
  /** Stable id of the kubeconfig context (file + context name). */
  clusterId: string;
  kube: KubeClients;
  /** Platform namespace from the profile (default iam-system). */
  namespace: string;
  /** Null when the profile has no database connection yet. */
  pgAdmin(): Promise<PgAdminConfig | null>;
}
