// A deliberately tiny Kubernetes REST client for the harness itself (bootstrap
// and readiness checks). The tests use @kubernetes/client-node; the harness
// stays on node:https so a bug or API change in that library cannot break
// cluster bring-up, and so it can do server-side apply of arbitrary YAML.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

export interface KubeConn {
  server: string;
  caFile: string;
  certFile?: string;
  keyFile?: string;
  token?: string;
}

export interface KubeResponse {
  status: number;
  body: string;
  json<T = unknown>(): T;
}

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly body: string,
  ) {
    super(`${method} ${path} -> HTTP ${status}: ${body.slice(0, 500)}`);
  }
}

export function kubeRequest(
  conn: KubeConn,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  timeoutMs = 10_000,
): Promise<KubeResponse> {
  const url = new URL(path, conn.server);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolveReq, reject) => {
    const req = request(
      url,
      {
        method,
        ca: readFileSync(conn.caFile),
        cert: conn.certFile ? readFileSync(conn.certFile) : undefined,
        key: conn.keyFile ? readFileSync(conn.keyFile) : undefined,
        headers: {
          Accept: 'application/json',
          ...(payload !== undefined ? { 'Content-Type': contentType } : {}),
          ...(conn.token ? { Authorization: `Bearer ${conn.token}` } : {}),
        },
        timeout: timeoutMs,
        agent: false, // no keep-alive: the apiserver may be restarted under us
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolveReq({ status: res.statusCode ?? 0, body: text, json: <T>() => JSON.parse(text) as T });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms: ${method} ${path}`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Like kubeRequest but throws KubeApiError on non-2xx and returns parsed JSON. */
export async function kubeJson<T = unknown>(
  conn: KubeConn,
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
): Promise<T> {
  const res = await kubeRequest(conn, method, path, body, contentType);
  if (res.status < 200 || res.status >= 300) throw new KubeApiError(res.status, method, path, res.body);
  return res.json<T>();
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

interface ApiResourceList {
  resources: { name: string; kind: string; namespaced: boolean }[];
}

/** Maps apiVersion+kind to a REST path using discovery (cached per connection). */
export class ResourceMapper {
  private cache = new Map<string, ApiResourceList>();
  constructor(private readonly conn: KubeConn) {}

  async path(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>, withName = true): Promise<string> {
    const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
    let list = this.cache.get(base);
    if (!list) {
      list = await kubeJson<ApiResourceList>(this.conn, 'GET', base);
      this.cache.set(base, list);
    }
    const res = list.resources.find((r) => r.kind === obj.kind && !r.name.includes('/'));
    if (!res) throw new Error(`unknown kind ${obj.apiVersion}/${obj.kind}`);
    const ns = res.namespaced ? `/namespaces/${obj.metadata.namespace ?? 'default'}` : '';
    return `${base}${ns}/${res.name}${withName ? `/${encodeURIComponent(obj.metadata.name)}` : ''}`;
  }
}

/**
 * Server-side apply (force, fixed field manager): idempotent, so `up` can be
 * re-run against a live cluster and converge instead of failing on "exists".
 */
export async function applyObject(conn: KubeConn, mapper: ResourceMapper, obj: KubeObject): Promise<KubeObject> {
  const path = await mapper.path(obj);
  return kubeJson<KubeObject>(conn, 'PATCH', `${path}?fieldManager=gatehouse-harness&force=true`, obj, 'application/apply-patch+yaml');
}
