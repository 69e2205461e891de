import { stringify } from 'yaml';

/** A kubeconfig document for tests: real YAML, written to real temp files. */
export function kubeconfigDoc(opts: {
  contexts: { name: string; cluster: string; user?: string; namespace?: string }[];
  clusters?: { name: string; server?: string; ca?: string }[];
  users?: { name: string; token?: string; tokenFile?: string; cert?: string; key?: string }[];
  current?: string;
}) {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: (opts.clusters ?? []).map((c) => ({
      name: c.name,
      cluster: { ...(c.server ? { server: c.server } : {}), ...(c.ca ? { 'certificate-authority': c.ca } : {}) },
    })),
    users: (opts.users ?? []).map((u) => ({
      name: u.name,
      user: {
        ...(u.token ? { token: u.token } : {}),
        ...(u.tokenFile ? { 'token-file': u.tokenFile } : {}),
        ...(u.cert ? { 'client-certificate': u.cert } : {}),
        ...(u.key ? { 'client-key': u.key } : {}),
      },
    })),
    contexts: opts.contexts.map((c) => ({
      name: c.name,
      context: { cluster: c.cluster, ...(c.user ? { user: c.user } : {}), ...(c.namespace ? { namespace: c.namespace } : {}) },
    })),
    ...(opts.current ? { 'current-context': opts.current } : {}),
  });
}
