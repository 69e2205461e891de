import { BatchV1Api, type V1CronJob, type V1Secret } from '@kubernetes/client-node';
import type { BackupSchedule, BackupTarget } from '../../../src-shared/contract/backups';
import { MANAGED_BY_LABEL, kubeError, kubeStatusCode } from '../../adapters/kube';
import type { ClusterRuntime, PgAdminConfig } from '../core/cluster-runtime';

/**
 * Scheduled backups run when no console is open: one Kubernetes CronJob per schedule,
 * in the platform namespace, running the console's own backup code (`gatehouse-backup
 * run-schedule --scope <scope>`, src-main/engine/backups/job.ts) from the image below.
 * Its configuration comes from the Secret `gatehouse-backup-job` (database connection,
 * storage target, the cluster's public age recipient and authentication key; never the
 * age identity, so a job can write backups but never read one). docs/backups.md.
 */
export const backupJobImage = (consoleVersion: string): string => `ghcr.io/justiam/gatehouse-backup:${consoleVersion}`;
export const BACKUP_JOB_SECRET = 'gatehouse-backup-job';
export const SCHEDULE_LABEL = 'gatehouse.io/backup-schedule';
/** The ServiceAccount the job runs as: the console's own (resources/platform/console-rbac.yaml). */
export const BACKUP_JOB_SERVICE_ACCOUNT = 'gatehouse';

/** Tenant slugs cannot contain "--", so the all-tenants job cannot collide with a tenant's. */
export const cronJobName = (scope: string): string => (scope === '*' ? 'gh-backup--all' : `gh-backup-${scope}`);

const batch = (cluster: ClusterRuntime) => cluster.kube.config.makeApiClient(BatchV1Api);

export function cronJobManifest(namespace: string, s: BackupSchedule, consoleVersion: string): V1CronJob {
  const scopeLabel = s.scope === '*' ? 'all' : s.scope;
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: cronJobName(s.scope), namespace, labels: { ...MANAGED_BY_LABEL, [SCHEDULE_LABEL]: scopeLabel } },
    spec: {
      schedule: s.cron,
      timeZone: 'Etc/UTC',
      suspend: !s.enabled,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 3600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels: { ...MANAGED_BY_LABEL, [SCHEDULE_LABEL]: scopeLabel } },
        spec: {
          backoffLimit: 1,
          template: {
            metadata: { labels: { ...MANAGED_BY_LABEL, [SCHEDULE_LABEL]: scopeLabel } },
            spec: {
              serviceAccountName: BACKUP_JOB_SERVICE_ACCOUNT,
              restartPolicy: 'Never',
              securityContext: { runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532 },
              containers: [
                {
                  name: 'backup',
                  image: backupJobImage(consoleVersion),
                  args: ['run-schedule', '--scope', s.scope],
                  envFrom: [{ secretRef: { name: BACKUP_JOB_SECRET } }],
                  env: [{ name: 'GATEHOUSE_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }],
                  resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } },
                  securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                  volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
                },
              ],
              volumes: [{ name: 'tmp', emptyDir: {} }],
            },
          },
        },
      },
    },
  };
}

/** The job's configuration Secret (the job cannot decrypt: it holds the recipient, not the identity). */
export function jobSecret(
  namespace: string,
  c: { admin: PgAdminConfig; target: BackupTarget; s3Secret: string | null; recipient: string; authKey: Buffer; clusterId: string },
): V1Secret {
  const data: Record<string, string> = {
    GATEHOUSE_PG_HOST: c.admin.host,
    GATEHOUSE_PG_PORT: String(c.admin.port),
    GATEHOUSE_PG_USER: c.admin.user,
    GATEHOUSE_PG_PASSWORD: c.admin.password,
    GATEHOUSE_PG_DATABASE: c.admin.database,
    GATEHOUSE_PG_SSL: JSON.stringify(c.admin.ssl),
    GATEHOUSE_BACKUP_TARGET: JSON.stringify(c.target),
    GATEHOUSE_BACKUP_RECIPIENT: c.recipient,
    GATEHOUSE_BACKUP_AUTH_KEY: c.authKey.toString('base64'),
    GATEHOUSE_CLUSTER_ID: c.clusterId,
    ...(c.s3Secret ? { GATEHOUSE_BACKUP_S3_SECRET: c.s3Secret } : {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: BACKUP_JOB_SECRET, namespace, labels: { ...MANAGED_BY_LABEL, 'app.kubernetes.io/component': 'backup-job' } },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

export async function readCronJob(
  cluster: ClusterRuntime,
  scope: string,
): Promise<{ name: string; exists: boolean; schedule: string | null; note: string | null }> {
  const name = cronJobName(scope);
  try {
    const cj = await batch(cluster).readNamespacedCronJob({ name, namespace: cluster.namespace });
    return { name, exists: true, schedule: cj.spec?.schedule ?? null, note: null };
  } catch (error) {
    if (kubeStatusCode(error) === 404) return { name, exists: false, schedule: null, note: null };
    throw kubeError(error, { verb: 'get', resource: 'cronjobs', namespace: cluster.namespace, name });
  }
}

/** Creates or replaces the CronJob of a schedule (optimistic concurrency: the read's resourceVersion). */
export async function writeCronJob(
  cluster: ClusterRuntime,
  s: BackupSchedule,
  consoleVersion: string,
): Promise<{ name: string; exists: boolean; schedule: string | null; note: string | null }> {
  const api = batch(cluster);
  const body = cronJobManifest(cluster.namespace, s, consoleVersion);
  const name = body.metadata!.name!;
  try {
    const existing = await api.readNamespacedCronJob({ name, namespace: cluster.namespace }).catch((e: unknown) => {
      if (kubeStatusCode(e) === 404) return null;
      throw e;
    });
    if (existing)
      await api.replaceNamespacedCronJob({
        name,
        namespace: cluster.namespace,
        body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } },
      });
    else await api.createNamespacedCronJob({ namespace: cluster.namespace, body });
  } catch (error) {
    throw kubeError(error, { verb: 'create', resource: 'cronjobs', namespace: cluster.namespace, name });
  }
  return { name, exists: true, schedule: s.cron, note: null };
}

export async function deleteCronJob(cluster: ClusterRuntime, scope: string): Promise<void> {
  const name = cronJobName(scope);
  try {
    await batch(cluster).deleteNamespacedCronJob({ name, namespace: cluster.namespace });
  } catch (error) {
    if (kubeStatusCode(error) !== 404) throw kubeError(error, { verb: 'delete', resource: 'cronjobs', namespace: cluster.namespace, name });
  }
}

export async function writeJobSecret(cluster: ClusterRuntime, body: V1Secret): Promise<void> {
  const core = cluster.kube.core;
  const name = body.metadata!.name!;
  try {
    const existing = await core.readNamespacedSecret({ name, namespace: cluster.namespace }).catch((e: unknown) => {
      if (kubeStatusCode(e) === 404) return null;
      throw e;
    });
    if (existing)
      await core.replaceNamespacedSecret({
        name,
        namespace: cluster.namespace,
        body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } },
      });
    else await core.createNamespacedSecret({ namespace: cluster.namespace, body });
  } catch (error) {
    throw kubeError(error, { verb: 'create', resource: 'secrets', namespace: cluster.namespace, name });
  }
}
