import { BatchV1Api, type V1CronJob, type V1Secret } from '@kubernetes/client-node';
import type { ReportConfig } from '../../../src-shared/contract/mail';
import { MANAGED_BY_LABEL, kubeError, kubeStatusCode } from '../../adapters/kube';
import type { ClusterRuntime, PgAdminConfig } from '../core/cluster-runtime';

/**
 * The daily report when no console runs: CronJob `gh-daily-report` in the platform namespace,
 * at the configured hour in the configured time zone, running the console's own report code
 * (`gatehouse-report send-daily`, src-main/engine/reports/job.ts). It claims the day in
 * ConfigMap gatehouse-daily-report like a console does, so the report still goes out once.
 * SMTP settings are read from gatehouse-smtp through the API (always the current ones); the
 * Secret gatehouse-report-job carries the cluster identity and the database connection the
 * figures are read from. docs/mail.md.
 */
export const REPORT_CRONJOB = 'gh-daily-report';
export const REPORT_JOB_SECRET = 'gatehouse-report-job';
export const reportJobImage = (consoleVersion: string): string => `ghcr.io/justiam/gatehouse-report:${consoleVersion}`;
const LABELS = { ...MANAGED_BY_LABEL, 'app.kubernetes.io/component': 'daily-report' };

const batch = (cluster: ClusterRuntime) => cluster.kube.config.makeApiClient(BatchV1Api);

export function reportCronJobManifest(namespace: string, c: ReportConfig, consoleVersion: string): V1CronJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: REPORT_CRONJOB, namespace, labels: LABELS },
    spec: {
      schedule: `0 ${c.hour} * * *`,
      timeZone: c.timeZone,
      suspend: !c.enabled,
      concurrencyPolicy: 'Forbid',
      // a missed start (cluster down at the hour) still runs within 6 hours; the claim keeps it to once a day
      startingDeadlineSeconds: 6 * 3600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels: LABELS },
        spec: {
          backoffLimit: 2,
          template: {
            metadata: { labels: LABELS },
            spec: {
              serviceAccountName: 'gatehouse',
              restartPolicy: 'Never',
              securityContext: { runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532 },
              containers: [
                {
                  name: 'report',
                  image: reportJobImage(consoleVersion),
                  args: ['send-daily'],
                  envFrom: [{ secretRef: { name: REPORT_JOB_SECRET } }],
                  env: [{ name: 'GATEHOUSE_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }],
                  resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } },
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

export function reportJobSecret(namespace: string, c: { clusterId: string; clusterName: string; admin: PgAdminConfig | null }): V1Secret {
  const data: Record<string, string> = { GATEHOUSE_CLUSTER_ID: c.clusterId, GATEHOUSE_CLUSTER_NAME: c.clusterName };
  if (c.admin) {
    Object.assign(data, {
      GATEHOUSE_PG_HOST: c.admin.host,
      GATEHOUSE_PG_PORT: String(c.admin.port),
      GATEHOUSE_PG_USER: c.admin.user,
      GATEHOUSE_PG_PASSWORD: c.admin.password,
      GATEHOUSE_PG_DATABASE: c.admin.database,
      GATEHOUSE_PG_SSL: JSON.stringify(c.admin.ssl),
    });
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: REPORT_JOB_SECRET, namespace, labels: LABELS },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

export interface CronJobView {
  name: string;
  exists: boolean;
  schedule: string | null;
  timeZone: string | null;
}

export async function readReportCronJob(cluster: ClusterRuntime): Promise<CronJobView> {
  try {
    const cj = await batch(cluster).readNamespacedCronJob({ name: REPORT_CRONJOB, namespace: cluster.namespace });
    return { name: REPORT_CRONJOB, exists: true, schedule: cj.spec?.schedule ?? null, timeZone: cj.spec?.timeZone ?? null };
  } catch (error) {
    if (kubeStatusCode(error) === 404) return { name: REPORT_CRONJOB, exists: false, schedule: null, timeZone: null };
    throw kubeError(error, { verb: 'get', resource: 'cronjobs', namespace: cluster.namespace, name: REPORT_CRONJOB });
  }
}

/** Creates or replaces the job's Secret first, then the CronJob (a job never starts without its configuration). */
export async function applyReportCronJob(cluster: ClusterRuntime, c: ReportConfig, consoleVersion: string): Promise<CronJobView> {
  const ns = cluster.namespace;
  const secret = reportJobSecret(ns, { clusterId: cluster.clusterId, clusterName: cluster.contextName, admin: await cluster.pgAdmin() });
  try {
    const existing = await cluster.kube.core
      .readNamespacedSecret({ name: REPORT_JOB_SECRET, namespace: ns })
      .catch((e: unknown) => (kubeStatusCode(e) === 404 ? null : Promise.reject(e)));
    if (existing)
      await cluster.kube.core.replaceNamespacedSecret({
        name: REPORT_JOB_SECRET,
        namespace: ns,
        body: { ...secret, metadata: { ...secret.metadata, resourceVersion: existing.metadata?.resourceVersion } },
      });
    else await cluster.kube.core.createNamespacedSecret({ namespace: ns, body: secret });
  } catch (error) {
    throw kubeError(error, { verb: 'create', resource: 'secrets', namespace: ns, name: REPORT_JOB_SECRET });
  }
  const api = batch(cluster);
  const body = reportCronJobManifest(ns, c, consoleVersion);
  try {
    const existing = await api
      .readNamespacedCronJob({ name: REPORT_CRONJOB, namespace: ns })
      .catch((e: unknown) => (kubeStatusCode(e) === 404 ? null : Promise.reject(e)));
    if (existing)
      await api.replaceNamespacedCronJob({
        name: REPORT_CRONJOB,
        namespace: ns,
        body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } },
      });
    else await api.createNamespacedCronJob({ namespace: ns, body });
  } catch (error) {
    throw kubeError(error, { verb: 'create', resource: 'cronjobs', namespace: ns, name: REPORT_CRONJOB });
  }
  return { name: REPORT_CRONJOB, exists: true, schedule: body.spec!.schedule, timeZone: c.timeZone };
}

export async function deleteReportCronJob(cluster: ClusterRuntime): Promise<void> {
  const ns = cluster.namespace;
  for (const [del, resource, name] of [
    [() => batch(cluster).deleteNamespacedCronJob({ name: REPORT_CRONJOB, namespace: ns }), 'cronjobs', REPORT_CRONJOB],
    [() => cluster.kube.core.deleteNamespacedSecret({ name: REPORT_JOB_SECRET, namespace: ns }), 'secrets', REPORT_JOB_SECRET],
  ] as const) {
    try {
      await del();
    } catch (error) {
      if (kubeStatusCode(error) !== 404) throw kubeError(error, { verb: 'delete', resource, namespace: ns, name });
    }
  }
}
