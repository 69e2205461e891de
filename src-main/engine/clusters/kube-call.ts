import { Observable, type ConfigurationOptions, type ObservableMiddleware } from '@kubernetes/client-node';

/**
 * Per-call options giving a request a deadline. A VPN-only cluster seen from outside
 * the VPN drops packets instead of refusing, and without this a check would hang
 * for minutes. (The object-param API expects observable-style middleware.)
 */
export function withDeadline(timeoutMs: number): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (ctx) => {
      ctx.setSignal(AbortSignal.timeout(timeoutMs));
      return new Observable(Promise.resolve(ctx));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

/** AbortSignal.timeout rejects with a TimeoutError DOMException; name it for the operator. */
export function isTimeout(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  const causeName = (error as { cause?: { name?: string } } | null)?.cause?.name;
  return name === 'TimeoutError' || name === 'AbortError' || causeName === 'TimeoutError';
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'refused the connection: the API server is not running there, or the address is wrong',
  ECONNRESET: 'dropped the connection',
  EHOSTUNREACH: 'is unreachable from this machine (network or VPN down?)',
  ENETUNREACH: 'is unreachable from this machine (network or VPN down?)',
  ENOTFOUND: 'has a host name that does not resolve (DNS, or a VPN-only name?)',
  EAI_AGAIN: 'has a host name that could not be resolved right now (DNS)',
  ETIMEDOUT: 'did not answer in time (network or VPN down?)',
  CERT_HAS_EXPIRED: "presented an expired TLS certificate; check the cluster's certificates",
  DEPTH_ZERO_SELF_SIGNED_CERT: 'presented a certificate the kubeconfig does not trust (wrong certificate-authority?)',
  SELF_SIGNED_CERT_IN_CHAIN: 'presented a certificate the kubeconfig does not trust (wrong certificate-authority?)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'presented a certificate the kubeconfig does not trust (wrong certificate-authority?)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'presented a certificate for another host name (tls-server-name?)',
};

function networkCode(error: unknown): string | null {
  let e: unknown = error;
  for (let depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code in NETWORK_REASONS) return code;
    const errors = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(errors))
      for (const inner of errors) {
        const c = networkCode(inner);
        if (c) return c;
      }
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/** A sentence for a failure that never reached Kubernetes (no HTTP status), or null. */
export function describeNetworkFailure(error: unknown, server: string, timeoutMs: number): string | null {
  if (isTimeout(error)) {
    return `The Kubernetes API server ${server} did not answer within ${Math.round(timeoutMs / 1000)} s (network or VPN down?). Check the connection, then reconnect.`;
  }
  const code = networkCode(error);
  if (code) return `The Kubernetes API server ${server} ${NETWORK_REASONS[code]} (${code}). Check it, then reconnect.`;
  return null;
}
