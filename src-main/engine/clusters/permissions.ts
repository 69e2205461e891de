import type { AuthorizationV1Api } from '@kubernetes/client-node';
import type { PermissionCheck } from '../../../src-shared/contract/clusters';

interface Need {
  group: string;
  resource: string;
  subresource?: string;
  verbs: string[];
  /** Cluster-wide resources are checked without a namespace. */
  clusterWide?: boolean;
}

const CRUD = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/** Everything Gatehouse does on a cluster (docs/permissions.md lists the same, with why). */
export const REQUIRED_PERMISSIONS: Need[] = [
  { group: '', resource: 'secrets', verbs: CRUD },
  { group: '', resource: 'configmaps', verbs: CRUD },
  { group: 'apps', resource: 'deployments', verbs: CRUD },
  { group: 'apps', resource: 'deployments', subresource: 'scale', verbs: ['get', 'update', 'patch'] },
  { group: '', resource: 'pods', verbs: ['get', 'list', 'watch'] },
  { group: 'coordination.k8s.io', resource: 'leases', verbs: CRUD },
  { group: '', resource: 'events', verbs: ['list'] },
  { group: '', resource: 'namespaces', verbs: ['get'], clusterWide: true },
  { group: '', resource: 'nodes', verbs: ['list', 'watch'], clusterWide: true },
];

/** The flat list of checks for a platform namespace. */
export function permissionChecks(namespace: string): PermissionCheck[] {
  return REQUIRED_PERMISSIONS.flatMap((need) =>
    need.verbs.map((verb) => {
      const ns = need.clusterWide ? null : namespace;
      const resource = need.subresource ? `${need.resource}/${need.subresource}` : need.resource;
      return {
        verb,
        group: need.group,
        resource: need.resource,
        subresource: need.subresource ?? '',
        namespace: ns,
        text: `cannot \`${verb} ${resource}\` ${ns ? `in \`${ns}\`` : 'cluster-wide'}`,
      };
    }),
  );
}

/**
 * Asks the API server, with one SelfSubjectAccessReview per permission, what these
 * credentials may do; returns the ones they lack. Reviews run a few at a time.
 */
export async function missingPermissions(
  authorization: AuthorizationV1Api,
  namespace: string,
  options: { concurrency?: number; call?: Parameters<AuthorizationV1Api['createSelfSubjectAccessReview']>[1] } = {},
): Promise<{ checked: number; missing: PermissionCheck[] }> {
  const checks = permissionChecks(namespace);
  const allowed = new Array<boolean>(checks.length).fill(false);
  let next = 0;
  const worker = async () => {
    while (next < checks.length) {
      const i = next++;
      const c = checks[i]!;
      const review = await authorization.createSelfSubjectAccessReview(
        {
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {
              resourceAttributes: {
                verb: c.verb,
                group: c.group,
                resource: c.resource,
                ...(c.subresource ? { subresource: c.subresource } : {}),
                ...(c.namespace ? { namespace: c.namespace } : {}),
              },
            },
          },
        },
        options.call,
      );
      allowed[i] = review.status?.allowed === true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, checks.length) }, worker));
  return { checked: checks.length, missing: checks.filter((_, i) => !allowed[i]) };
}
