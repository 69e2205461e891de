// kubeconfig files for the components (client certs) and for the console
// under test (admin cert, operator ServiceAccount token). Credentials are
// embedded as *-data so a kubeconfig can be copied or mounted on its own.
import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { CLUSTER_NAME } from './config';

export interface KubeconfigUser {
  certFile?: string;
  keyFile?: string;
  token?: string;
}

function b64(file: string): string {
  return readFileSync(file).toString('base64');
}

export function writeKubeconfig(
  file: string,
  opts: {
    server: string;
    caFile: string;
    user: KubeconfigUser;
    /** User entry name; the context is `<name>@<cluster>`. */
    name: string;
    namespace?: string;
    /** Cluster entry name (default CLUSTER_NAME). Distinct per harness so merged kubeconfigs do not collide. */
    cluster?: string;
  },
): void {
  const cluster = opts.cluster ?? CLUSTER_NAME;
  // Merged kubeconfigs (KUBECONFIG=a:b) keep the first entry of each name, so a
  // second harness's users must not be called `admin`/`gatehouse` too. The main
  // harness keeps the short names existing kubeconfigs and tests know.
  const userName = cluster === CLUSTER_NAME ? opts.name : `${opts.name}@${cluster}`;
  const user: Record<string, string> = {};
  if (opts.user.certFile) user['client-certificate-data'] = b64(opts.user.certFile);
  if (opts.user.keyFile) user['client-key-data'] = b64(opts.user.keyFile);
  if (opts.user.token) user.token = opts.user.token;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caFile) } }],
    users: [{ name: userName, user }],
    contexts: [
      {
        name: `${opts.name}@${cluster}`,
        context: { cluster, user: userName, ...(opts.namespace ? { namespace: opts.namespace } : {}) },
      },
    ],
    'current-context': `${opts.name}@${cluster}`,
  };
  writeFileSync(file, stringify(doc), { mode: 0o600 });
}
