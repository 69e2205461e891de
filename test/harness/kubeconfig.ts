// kubeconfig files for the components (client certs) and for the console
// under test (admin cert, operator ServiceAccount token). Credentials are
// embedded as *-data so a kubeconfig can be copied or mounted on its own.
import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

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
  opts: { server: string; caFile: string; user: KubeconfigUser; name: string; namespace?: string },
): void {
  const user: Record<string, string> = {};
  if (opts.user.certFile) user['client-certificate-data'] = b64(opts.user.certFile);
  if (opts.user.keyFile) user['client-key-data'] = b64(opts.user.keyFile);
  if (opts.user.token) user.token = opts.user.token;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'gatehouse-harness', cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caFile) } }],
    users: [{ name: opts.name, user }],
    contexts: [
      {
        name: `${opts.name}@gatehouse-harness`,
        context: { cluster: 'gatehouse-harness', user: opts.name, ...(opts.namespace ? { namespace: opts.namespace } : {}) },
      },
    ],
    'current-context': `${opts.name}@gatehouse-harness`,
  };
  writeFileSync(file, stringify(doc), { mode: 0o600 });
}
