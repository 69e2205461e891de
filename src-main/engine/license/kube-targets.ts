import { createHash } from 'node:crypto';
import { PatchStrategy, setHeaderOptions, type V1Secret } from '@kubernetes/client-node';
import { DEV_HARNESS_LABEL, isLoopbackServer, kubeError, kubeStatusCode, MANAGED_BY_LABEL, retryOnConflict } from '../../adapters/kube';
import type { ClusterRuntime } from '../core/cluster-runtime';
import { TENANT_LABEL, tenantSecretName } from '../tenants';
import { parseHttpDate } from './clock';
import {
  emptyRecord,
  type LicenseCluster,
  type LicenseRecord,
  type LicenseStore,
  type TenantLicenseState,
  type TenantTargets,
} from './ports';

export const LICENSE_SECRET = 'gatehouse-license';
export { DEV_HARNESS_LABEL, isLoopbackServer } from '../../adapters/kube';
/** Keys the platform backend reads from each tenant Secret (docs/license.md). */
export const TENANT_KEYS = { jws: 'LICENSE_JWS', cap: 'LICENSE_USER_CAP' } as const;
const HISTORY_LIMIT = 200;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));
export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function recordFromSecret(secret: V1Secret): LicenseRecord {
  const d = secret.data ?? {};
  return {
    jws: unb64(d.LICENSE_JWS) || null,
    allocations: parseJson(unb64(d.ALLOCATIONS), {}),
    history: parseJson(unb64(d.HISTORY), []),
    revocations: unb64(d.REVOCATIONS) || null,
  };
}

function secretData(record: LicenseRecord): Record<string, string> {
  const data: Record<string, string> = {
    ALLOCATIONS: b64(JSON.stringify(record.allocations)),
    HISTORY: b64(JSON.stringify(record.history.slice(-HISTORY_LIMIT))),
  };
  if (record.jws) data.LICENSE_JWS = b64(record.jws);
  if (record.revocations) data.REVOCATIONS = b64(record.revocations);
  return data;
}

function stateFromSecret(secret: V1Secret): TenantLicenseState | null {
  const slug = secret.metadata?.labels?.[TENANT_LABEL];
  if (!slug) return null;
  const jws = unb64(secret.data?.[TENANT_KEYS.jws]);
  const cap = unb64(secret.data?.[TENANT_KEYS.cap]);
  const rv = secret.metadata?.resourceVersion;
  return {
    slug,
    licenseSha: jws ? sha256(jws) : null,
    userCap: cap !== undefined && cap !== '' ? Number(cap) : null,
    ...(rv ? { resourceVersion: rv } : {}),
  };
}

function headerValue(headers: unknown, name: string): string | null {
  if (!headers || typeof headers !== 'object') return null;
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(n: string): string | null }).get(name) ?? null;
  const entry = Object.entries(headers as Record<string, unknown>).find(([k]) => k.toLowerCase() === name);
  return typeof entry?.[1] === 'string' ? entry[1] : null;
}

export function kubeLicenseStore(runtime: ClusterRuntime): LicenseStore {
  const { core } = runtime.kube;
  const namespace = runtime.namespace;
  const doing = (verb: string) => ({ verb, resource: 'secrets', namespace, name: LICENSE_SECRET });
  return {
    async facts() {
      try {
        const response = await core.readNamespaceWithHttpInfo({ name: 'kube-system' });
        const ns = response.data;
        const local = isLoopbackServer(runtime.kube.config.getCurrentCluster()?.server);
        return {
          uid: ns.metadata?.uid ?? null,
          devHarness: local && ns.metadata?.labels?.[DEV_HARNESS_LABEL] === 'true',
          serverTime: parseHttpDate(headerValue(response.headers, 'date')),
        };
      } catch (error) {
        if (kubeStatusCode(error) === 403 || kubeStatusCode(error) === 404) return { uid: null, devHarness: false, serverTime: null };
        throw kubeError(error, { verb: 'get', resource: 'namespaces', name: 'kube-system' });
      }
    },
    async read() {
      try {
        return recordFromSecret(await core.readNamespacedSecret({ name: LICENSE_SECRET, namespace }));
      } catch (error) {
        if (kubeStatusCode(error) === 404) return null;
        throw kubeError(error, doing('get'));
      }
    },
    async update(mutate) {
      try {
        return await retryOnConflict(async () => {
          let existing: V1Secret | null = null;
          try {
            existing = await core.readNamespacedSecret({ name: LICENSE_SECRET, namespace });
          } catch (error) {
            if (kubeStatusCode(error) !== 404) throw error;
          }
          const next = mutate(existing ? recordFromSecret(existing) : emptyRecord());
          const metadata = {
            name: LICENSE_SECRET,
            namespace,
            labels: { ...(existing?.metadata?.labels ?? {}), ...MANAGED_BY_LABEL, 'gatehouse.io/component': 'license' },
            ...(existing?.metadata?.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
          };
          const body: V1Secret = { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata, data: secretData(next) };
          // replace (not patch): removed keys (a cleared license) must disappear; resourceVersion guards the race
          if (existing) await core.replaceNamespacedSecret({ name: LICENSE_SECRET, namespace, body });
          else await core.createNamespacedSecret({ namespace, body });
          return next;
        });
      } catch (error) {
        throw kubeError(error, doing('update'));
      }
    },
  };
}

export function kubeTenantTargets(runtime: ClusterRuntime): TenantTargets {
  const { core } = runtime.kube;
  const namespace = runtime.namespace;
  const patchOptions = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
  return {
    async list() {
      try {
        const list = await core.listNamespacedSecret({ namespace, labelSelector: TENANT_LABEL });
        return list.items.map(stateFromSecret).filter((s): s is TenantLicenseState => s !== null);
      } catch (error) {
        throw kubeError(error, { verb: 'list', resource: 'secrets', namespace });
      }
    },
    async readLicenseState(slug) {
      try {
        return stateFromSecret(await core.readNamespacedSecret({ name: tenantSecretName(slug), namespace }));
      } catch (error) {
        if (kubeStatusCode(error) === 404) return null;
        throw kubeError(error, { verb: 'get', resource: 'secrets', namespace, name: tenantSecretName(slug) });
      }
    },
    async writeLicense(slug, value, listedVersion) {
      const name = tenantSecretName(slug);
      let knownVersion = listedVersion;
      try {
        return await retryOnConflict(async () => {
          let resourceVersion = knownVersion;
          knownVersion = undefined; // only the first attempt trusts the LIST; a 409 re-reads
          if (!resourceVersion) {
            const current = await core.readNamespacedSecret({ name, namespace });
            const state = stateFromSecret(current);
            const sha = value.jws ? sha256(value.jws) : null;
            if (state && state.licenseSha === sha && state.userCap === value.userCap) return true;
            resourceVersion = current.metadata?.resourceVersion;
          }
          // strategic merge keeps the tenant's other keys; null deletes LICENSE_JWS (free tier)
          const body = {
            metadata: { resourceVersion },
            data: { [TENANT_KEYS.jws]: value.jws ? b64(value.jws) : null, [TENANT_KEYS.cap]: b64(String(value.userCap)) },
          };
          await core.patchNamespacedSecret({ name, namespace, body }, patchOptions);
          return true;
        });
      } catch (error) {
        if (kubeStatusCode(error) === 404) return false;
        throw kubeError(error, { verb: 'patch', resource: 'secrets', namespace, name });
      }
    },
  };
}

export function kubeLicenseCluster(runtime: ClusterRuntime): LicenseCluster {
  return { clusterId: runtime.clusterId, store: kubeLicenseStore(runtime), targets: kubeTenantTargets(runtime) };
}
