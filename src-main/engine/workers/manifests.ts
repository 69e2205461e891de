import type { V1Deployment, V1OwnerReference, V1Service } from '@kubernetes/client-node';
import { OPERATION_ANNOTATION, TENANT_LABEL, loginWorkerName, tenantSecretName } from '../tenants';
import { TIER_LIMITS, type TenantTier } from '../../../src-shared/contract/tenants';
import { MANAGED_BY_LABEL } from '../../adapters/kube';

/** Labels the platform's workloads carry (resources/platform/*.yaml); the infrastructure watch groups by them. */
export const NAME_LABEL = 'app.kubernetes.io/name';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const VERSION_LABEL = 'app.kubernetes.io/version';
export const PART_OF = { 'app.kubernetes.io/part-of': 'justiam' } as const;
export const POOL_LABEL = 'justiam.io/agent-pool';
/** User-given labels of an agent pool are kept on its Deployment under this prefix. */
export const POOL_USER_LABEL_PREFIX = 'pool.justiam.io/';
export const SHARED_LOGIN_WORKER = 'login-worker-shared';
export const SHARED_POOL = 'shared';
export const poolDeploymentName = (pool: string): string => `agent-pool-${pool}`;
export const LOGIN_WORKER_PORT = 8090;

export interface TierResources {
  replicas: number;
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

/** What a dedicated login worker gets per tier (docs/workers.md); null: the tier has no dedicated worker. */
export const DEDICATED_RESOURCES: Record<TenantTier, TierResources | null> = {
  DEV: null,
  PRO: { replicas: 1, requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
  Enterprise: { replicas: 2, requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
};

export function dedicatedResources(tier: string): TierResources | null {
  if (!(tier in TIER_LIMITS) || !TIER_LIMITS[tier as TenantTier].dedicatedLoginWorker) return null;
  return DEDICATED_RESOURCES[tier as TenantTier];
}

/** "ghcr.io/justiam/login-worker:1.8.2" → "1.8.2" (a digest or no tag: null). */
export function imageVersion(image: string | null | undefined): string | null {
  if (!image) return null;
  const name = image.split('@')[0] ?? '';
  const last = name.split('/').pop() ?? '';
  const colon = last.lastIndexOf(':');
  return colon >= 0 ? last.slice(colon + 1) : null;
}

/** Same repository, another tag. */
export function withTag(image: string, tag: string): string {
  const name = image.split('@')[0] ?? image;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const repo = colon > slash ? name.slice(0, colon) : name;
  return `${repo}:${tag}`;
}

export interface LoginWorkerSpec {
  slug: string;
  namespace: string;
  image: string;
  resources: TierResources;
  operationId: string;
  /** The tenant Secret: the Deployment is owned by it, so deleting the tenant garbage-collects its worker. */
  owner: { uid: string } | null;
}

const ownerSecret = (slug: string, uid: string): V1OwnerReference => ({
  apiVersion: 'v1',
  kind: 'Secret',
  name: tenantSecretName(slug),
  uid,
});

export function loginWorkerDeployment(s: LoginWorkerSpec): V1Deployment {
  const name = loginWorkerName(s.slug);
  const version = imageVersion(s.image);
  const labels = {
    [NAME_LABEL]: name,
    [COMPONENT_LABEL]: 'login-worker',
    ...PART_OF,
    ...MANAGED_BY_LABEL,
    [TENANT_LABEL]: s.slug,
    ...(version ? { [VERSION_LABEL]: version } : {}),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: s.namespace,
      labels,
      annotations: { [OPERATION_ANNOTATION]: s.operationId },
      ...(s.owner ? { ownerReferences: [ownerSecret(s.slug, s.owner.uid)] } : {}),
    },
    spec: {
      replicas: s.resources.replicas,
      selector: { matchLabels: { [NAME_LABEL]: name } },
      // Rolling without losing capacity: one extra pod at a time, none taken away first.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      progressDeadlineSeconds: 300,
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: 'login-worker',
              image: s.image,
              ports: [{ name: 'http', containerPort: 8080 }],
              env: [
                { name: 'TENANT_SLUG', value: s.slug },
                { name: 'LOGIN_WORKER_MODE', value: 'dedicated' },
                { name: 'LOGIN_WORKER_TOKEN', valueFrom: { secretKeyRef: { name: tenantSecretName(s.slug), key: 'LOGIN_WORKER_TOKEN' } } },
              ],
              resources: { requests: { ...s.resources.requests }, limits: { ...s.resources.limits } },
            },
          ],
        },
      },
    },
  };
}

export function loginWorkerService(s: LoginWorkerSpec, deployment: { uid: string } | null): V1Service {
  const name = loginWorkerName(s.slug);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: s.namespace,
      labels: { [NAME_LABEL]: name, [COMPONENT_LABEL]: 'login-worker', ...PART_OF, ...MANAGED_BY_LABEL, [TENANT_LABEL]: s.slug },
      annotations: { [OPERATION_ANNOTATION]: s.operationId },
      // Owned by its Deployment: whoever deletes the worker also takes its Service.
      ...(deployment ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: deployment.uid }] } : {}),
    },
    spec: {
      selector: { [NAME_LABEL]: name },
      ports: [{ name: 'http', port: LOGIN_WORKER_PORT, targetPort: 'http' }],
    },
  };
}

/** The tier's resources applied to an existing worker (replicas and limits); true when anything changed. */
export function applyResources(d: V1Deployment, r: TierResources): boolean {
  const c = d.spec?.template?.spec?.containers?.[0];
  if (!d.spec || !c) return false;
  const before = JSON.stringify([d.spec.replicas, c.resources]);
  d.spec.replicas = r.replicas;
  c.resources = { requests: { ...r.requests }, limits: { ...r.limits } };
  return JSON.stringify([d.spec.replicas, c.resources]) !== before;
}

export interface PoolSpec {
  pool: string;
  namespace: string;
  image: string;
  replicas: number;
  labels: Record<string, string>;
  operationId: string;
  /** Shared pool: the registration Secret and the key id the pods were started with. */
  registration?: { secret: string; keyId: string };
}

export function poolDeployment(s: PoolSpec): V1Deployment {
  const name = poolDeploymentName(s.pool);
  const version = imageVersion(s.image);
  const userLabels = Object.fromEntries(Object.entries(s.labels).map(([k, v]) => [`${POOL_USER_LABEL_PREFIX}${k}`, v]));
  const labels = {
    [NAME_LABEL]: name,
    [COMPONENT_LABEL]: 'agent',
    ...PART_OF,
    ...MANAGED_BY_LABEL,
    [POOL_LABEL]: s.pool,
    ...(version ? { [VERSION_LABEL]: version } : {}),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: s.namespace,
      labels: { ...labels, ...userLabels },
      annotations: { [OPERATION_ANNOTATION]: s.operationId },
    },
    spec: {
      replicas: s.replicas,
      selector: { matchLabels: { [NAME_LABEL]: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      progressDeadlineSeconds: 300,
      template: {
        metadata: {
          labels,
          // A new key id changes the template, so a rotation rolls every agent onto the new key.
          ...(s.registration ? { annotations: { 'gatehouse.io/registration-key-id': s.registration.keyId } } : {}),
        },
        spec: {
          containers: [
            {
              name: 'agent',
              image: s.image,
              ports: [{ name: 'http', containerPort: 8080 }],
              env: [
                { name: 'AGENT_POOL', value: s.pool },
                // The agent id its credential is derived for: the pod's own name (docs/workers.md).
                { name: 'AGENT_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                ...(s.registration
                  ? [
                      {
                        name: 'AGENT_REGISTRATION_KEY_ID',
                        valueFrom: { secretKeyRef: { name: s.registration.secret, key: 'HMAC_KEY_CURRENT_ID' } },
                      },
                      {
                        name: 'AGENT_REGISTRATION_KEY',
                        valueFrom: { secretKeyRef: { name: s.registration.secret, key: 'HMAC_KEY_CURRENT' } },
                      },
                    ]
                  : []),
              ],
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
            },
          ],
        },
      },
    },
  };
}
