// The connection info tests receive: a JSON-serialisable subset of
// harness.json, handed to test workers with vitest's provide/inject.
import { CLUSTER_NAME } from './config';
import { expectedComponents } from './harness';
import type { ComponentName, HarnessState, PostgresInfo } from './state';

export interface HarnessInfo {
  runDir: string;
  /** kubeconfig cluster name: `gatehouse-harness`, cluster B `gatehouse-harness-b`; contexts are `<user>@<clusterName>`. */
  clusterName: string;
  /** Processes it runs. Cluster B: etcd, kube-apiserver, postgres only (no nodes, nothing rolls out). */
  components: ComponentName[];
  /** harness.json; fault hooks read and update it. */
  stateFile: string;
  apiServerUrl: string;
  caFile: string;
  kubeconfigs: { admin: string; operator: string };
  /** Namespace of the platform manifests (iam-system). */
  platformNamespace: string;
  /** ServiceAccount behind operator.kubeconfig. */
  operator: { namespace: string; serviceAccount: string };
  postgres: PostgresInfo;
  postgresJson: string;
  logsDir: string;
  versions: { kubernetes: string; etcd: string; kwok: string };
}

export function toInfo(state: HarnessState): HarnessInfo {
  const { host, port, user, password, database } = state.postgres;
  return {
    runDir: state.runDir,
    clusterName: state.clusterName ?? CLUSTER_NAME,
    components: expectedComponents(state),
    stateFile: `${state.runDir}/harness.json`,
    apiServerUrl: state.apiServer.url,
    caFile: state.apiServer.caFile,
    kubeconfigs: { ...state.kubeconfigs },
    platformNamespace: state.platformNamespace,
    operator: { namespace: state.operator.namespace, serviceAccount: state.operator.serviceAccount },
    postgres: { host, port, user, password, database },
    postgresJson: state.postgres.configFile,
    logsDir: state.logsDir,
    versions: { kubernetes: state.versions.kubernetes, etcd: state.versions.etcd, kwok: state.versions.kwok },
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    harness: HarnessInfo;
  }
}
