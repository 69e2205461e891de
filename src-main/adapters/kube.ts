import { ApiException, AppsV1Api, AuthorizationV1Api, CoordinationV1Api, CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { ContractError } from '../../src-shared/contract';

/** The typed API groups Gatehouse uses, built from one kubeconfig context. */
export interface KubeClients {
  config: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  coordination: CoordinationV1Api;
  authorization: AuthorizationV1Api;
  version: VersionApi;
}

export function kubeClients(config: KubeConfig): KubeClients {
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
    authorization: config.makeApiClient(AuthorizationV1Api),
    version: config.makeApiClient(VersionApi),
  };
}

/**
 * Label the local cluster harness (test/harness) puts on its kube-system namespace. Together with
 * a loopback API server it marks the only cluster where development mode (test license keys, the
 * OS user acting as admin in browser mode) is accepted.
 */
export const DEV_HARNESS_LABEL = 'gatehouse.io/dev-harness';

/** Is `server` (the kubeconfig's API server URL) on this machine? */
export function isLoopbackServer(server: string | undefined): boolean {
  if (!server) return false;
  try {
    const host = new URL(server).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  } catch {
    return false;
  }
}

/** Labels on every object the console creates, so a reconcile can find orphans. */
export const MANAGED_BY_LABEL = { 'app.kubernetes.io/managed-by': 'gatehouse' } as const;

export const kubeStatusCode = (error: unknown): number | null => (error instanceof ApiException ? error.code : null);

function statusMessage(error: ApiException<unknown>): string {
  const body = error.body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body.slice(0, 300);
    } catch {
      return body.slice(0, 300);
    }
  }
  if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  return error.message.slice(0, 300);
}

/**
 * Turns a Kubernetes failure into a contract error a person can act on:
 * a 403 names the verb and resource the service account lacks.
 */
export function kubeError(error: unknown, doing: { verb: string; resource: string; namespace?: string; name?: string }): ContractError {
  if (error instanceof ContractError) return error;
  const where = doing.namespace ? ` in namespace "${doing.namespace}"` : '';
  const what = `${doing.resource}${doing.name ? ` "${doing.name}"` : ''}`;
  if (error instanceof ApiException) {
    const msg = statusMessage(error);
    switch (error.code) {
      case 401:
        return new ContractError(
          'UNAVAILABLE',
          `The cluster refused the credentials of this kubeconfig (401: expired or revoked certificate or token). Renew them and reconnect.`,
        );
      case 403:
        return new ContractError(
          'FORBIDDEN',
          `The cluster's RBAC does not allow this console to \`${doing.verb} ${doing.resource}\`${where}. Grant it (see docs/permissions.md) and retry.`,
          { verb: doing.verb, resource: doing.resource, namespace: doing.namespace ?? null, kubernetes: msg },
        );
      case 404:
        return new ContractError('NOT_FOUND', `${what}${where} does not exist.`);
      case 409:
        return new ContractError('CONFLICT', `${what}${where} was changed or created by someone else (${msg}). Refresh and try again.`);
      case 422:
        return new ContractError('VALIDATION', `Kubernetes rejected ${what}: ${msg}`);
      default:
        return new ContractError('UNAVAILABLE', `Kubernetes answered ${error.code} to \`${doing.verb} ${doing.resource}\`${where}: ${msg}`);
    }
  }
  const code = (error as { code?: string; cause?: { code?: string } } | null)?.cause?.code ?? (error as { code?: string } | null)?.code;
  const reason = code ?? (error instanceof Error ? error.message : String(error));
  return new ContractError('UNAVAILABLE', `Cannot reach the Kubernetes API server (${reason}). Check the network or VPN, then reconnect.`);
}

/** Retries a read-modify-write on 409 (optimistic concurrency with resourceVersion). */
export async function retryOnConflict<T>(attempt: () => Promise<T>, maxAttempts = 8): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      // a raw 409, or one already turned into a contract error that kept the status
      const conflict = kubeStatusCode(error) === 409 || (error as { kubeStatus?: number } | null)?.kubeStatus === 409;
      if (!conflict || i >= maxAttempts) throw error;
      await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** i, 1000) * Math.random()));
    }
  }
}
