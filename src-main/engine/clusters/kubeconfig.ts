import { KubeConfig } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { KubeconfigApproval, KubeconfigSource } from '../../../src-shared/contract/clusters';

export interface KubeconfigFileRef {
  path: string;
  origin: KubeconfigSource['origin'];
}

/** A context as read from its file, with the client-node config to reach it when it is usable. */
export interface LoadedContext {
  id: string;
  contextName: string;
  clusterName: string;
  server: string;
  userName: string;
  namespace: string | null;
  sourceFile: string;
  current: boolean;
  error: string | null;
  /** A KubeConfig holding only this context (null when `error`). */
  config: KubeConfig | null;
  /** Fingerprint of everything that decides how we connect; a change means new clients. */
  fingerprint: string;
}

export interface KubeconfigSnapshot {
  sources: KubeconfigSource[];
  contexts: LoadedContext[];
  /** Files whose change must trigger a reload: the kubeconfigs and the cert/key/token files they name. */
  watchedFiles: string[];
  /** What the contexts of files added in the console run or read, and whether an admin approved it. */
  approvals: KubeconfigApproval[];
}

/** Something a context of an added kubeconfig would run or read, before anyone approved it. */
export type TrustRequest = Omit<KubeconfigApproval, 'approved' | 'approvedBy' | 'approvedAt'>;

/**
 * Admin approvals of what added kubeconfigs run or read (durable state). `approval` answers for
 * exactly this request (same fingerprint); an approval of the same file, context and kind for
 * something else is revoked by it.
 */
export interface KubeconfigTrust {
  approval(request: TrustRequest): { approvedBy: string; approvedAt: string } | null;
}

/** No approval store: nothing an added kubeconfig names runs or is read. */
const NO_APPROVALS: KubeconfigTrust = { approval: () => null };

export const contextId = (file: string, contextName: string) => `${file}#${contextName}`;

export const expandHome = (p: string) => (p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p);

/**
 * The files kubectl would read: every entry of KUBECONFIG (':'-separated on Unix,
 * ';' on Windows) in order, else ~/.kube/config; then the ones added in the console.
 */
export function discoverKubeconfigFiles(env: NodeJS.ProcessEnv, added: string[], home = os.homedir()): KubeconfigFileRef[] {
  const out: KubeconfigFileRef[] = [];
  const seen = new Set<string>();
  const push = (p: string, origin: KubeconfigFileRef['origin']) => {
    const abs = path.resolve(expandHome(p));
    if (seen.has(abs)) return;
    seen.add(abs);
    out.push({ path: abs, origin });
  };
  const list = (env.KUBECONFIG ?? '').split(path.delimiter).filter((p) => p.trim() !== '');
  if (list.length > 0) for (const p of list) push(p, 'env');
  else push(path.join(home, '.kube', 'config'), 'default');
  for (const p of added) push(p, 'added');
  return out;
}

type Raw = Record<string, unknown>;
const asRecord = (v: unknown): Raw | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

interface ParsedFile {
  ref: KubeconfigFileRef;
  doc: Raw | null;
  error: string | null;
  /** Named entries by name, paths already made absolute against the file's folder. */
  clusters: Map<string, Raw>;
  users: Map<string, Raw>;
  /** Certificate, key and token files this file names (absolute). */
  referenced: string[];
}

/**
 * Parsed files and built configs from the previous read, reused while the files
 * are unchanged: YAML parsing dominates a reload, and the list is re-read often.
 */
export class KubeconfigCache {
  files = new Map<string, { stamp: string; parsed: ParsedFile }>();
  configs = new Map<string, KubeConfig>();
}

const PATH_KEYS = { cluster: ['certificate-authority'], user: ['client-certificate', 'client-key', 'token-file'] } as const;

function absolutize(entry: Raw, keys: readonly string[], dir: string, referenced: Set<string>): Raw {
  const copy: Raw = { ...entry };
  for (const key of keys) {
    const v = str(copy[key]);
    if (!v) continue;
    const abs = path.resolve(dir, expandHome(v));
    copy[key] = abs;
    referenced.add(abs);
  }
  return copy;
}

function readFile(ref: KubeconfigFileRef): ParsedFile {
  const referenced = new Set<string>();
  const base: ParsedFile = { ref, doc: null, error: null, clusters: new Map(), users: new Map(), referenced: [] };
  let text: string;
  try {
    text = fs.readFileSync(ref.path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'the file does not exist'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a folder, not a file'
            : String(code);
    return { ...base, error: `Cannot read ${ref.path}: ${reason}.` };
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    return { ...base, error: `${ref.path} is not valid YAML: ${first}` };
  }
  const record = asRecord(doc);
  if (!record) return { ...base, error: `${ref.path} is not a kubeconfig (expected a YAML mapping with clusters, users and contexts).` };
  if (record.kind !== undefined && record.kind !== 'Config') {
    return { ...base, error: `${ref.path} is a "${String(record.kind)}", not a kubeconfig (kind: Config).` };
  }
  const dir = path.dirname(ref.path);
  const clusters = new Map<string, Raw>();
  const users = new Map<string, Raw>();
  for (const item of Array.isArray(record.clusters) ? record.clusters : []) {
    const r = asRecord(item);
    const name = str(r?.name);
    if (r && name && !clusters.has(name)) clusters.set(name, absolutize(asRecord(r.cluster) ?? {}, PATH_KEYS.cluster, dir, referenced));
  }
  for (const item of Array.isArray(record.users) ? record.users : []) {
    const r = asRecord(item);
    const name = str(r?.name);
    if (r && name && !users.has(name)) users.set(name, absolutize(asRecord(r.user) ?? {}, PATH_KEYS.user, dir, referenced));
  }
  return { ...base, doc: record, clusters, users, referenced: [...referenced] };
}

/**
 * kubectl merges the files it reads (KUBECONFIG, ~/.kube/config) with "first definition wins":
 * a context may name a cluster or user from another of those files. A file added in the console
 * stands alone: borrowing the OS user's credentials would let it send them to any server.
 */
function lookup(files: ParsedFile[], own: ParsedFile, kind: 'clusters' | 'users', name: string): Raw | null {
  if (own.ref.origin === 'added') return own[kind].get(name) ?? null;
  return own[kind].get(name) ?? files.find((f) => f.ref.origin !== 'added' && f[kind].has(name))?.[kind].get(name) ?? null;
}

/** POSIX shell quoting, so the command shown is the command that runs, spaces and quotes included. */
const shellWord = (w: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/** auth-provider settings that rotate on every refresh (kubectl writes them back): not part of what is approved. */
const ROTATING_PROVIDER_KEYS = new Set(['id-token', 'refresh-token', 'access-token', 'expiry', 'expires-in', 'expires-on']);
const SECRET_PROVIDER_KEYS = new Set([...ROTATING_PROVIDER_KEYS, 'client-secret']);

/**
 * What a user entry of an added kubeconfig would run or read, each bound to the context, its
 * cluster entry (server, CA, TLS settings: where the credential goes) and the exact command or path.
 */
function trustRequests(file: ParsedFile, contextName: string, userName: string, user: Raw, cluster: Raw): TrustRequest[] {
  const server = str(cluster.server) ?? '';
  const out: TrustRequest[] = [];
  const add = (kind: TrustRequest['kind'], spec: unknown, detail: string) => {
    const id = createHash('sha256')
      .update(JSON.stringify({ sourceFile: file.ref.path, contextName, userName, cluster, kind, spec }))
      .digest('base64url');
    out.push({ id, sourceFile: file.ref.path, contextName, userName, server, kind, detail });
  };
  const exec = asRecord(user.exec);
  if (exec) {
    const command = typeof exec.command === 'string' ? exec.command : '';
    const args = Array.isArray(exec.args) ? exec.args.map(String) : [];
    const env = (Array.isArray(exec.env) ? exec.env : []).map((e) => {
      const r = asRecord(e) ?? {};
      return { name: String(r.name ?? ''), value: String(r.value ?? '') };
    });
    const spec = {
      command,
      args,
      env,
      apiVersion: exec.apiVersion ?? null,
      provideClusterInfo: exec.provideClusterInfo ?? null,
      interactiveMode: exec.interactiveMode ?? null,
    };
    const envText = env.map((e) => `${e.name}=${shellWord(e.value)}`).join(' ');
    add('exec', spec, `${envText ? `${envText} ` : ''}${[command, ...args].map(shellWord).join(' ')}`);
  }
  const provider = asRecord(user['auth-provider']);
  if (provider) {
    const config = asRecord(provider.config) ?? {};
    const name = String(provider.name ?? '');
    const fixed = Object.fromEntries(Object.entries(config).filter(([k]) => !ROTATING_PROVIDER_KEYS.has(k)));
    const shown = Object.entries(config)
      .filter(([k]) => !ROTATING_PROVIDER_KEYS.has(k))
      .map(([k, v]) => `${k}=${SECRET_PROVIDER_KEYS.has(k) ? '(secret)' : typeof v === 'string' ? v : JSON.stringify(v)}`);
    add('auth-provider', { name, config: fixed }, `auth-provider "${name}"${shown.length ? ` with ${shown.join(', ')}` : ''}`);
  }
  for (const kind of ['token-file', 'client-certificate', 'client-key'] as const) {
    const p = str(user[kind]);
    if (p) add(kind, p, p);
  }
  return out;
}

function buildContext(
  files: ParsedFile[],
  file: ParsedFile,
  raw: Raw,
  index: number,
  cache: KubeconfigCache,
  used: Set<string>,
  trust: KubeconfigTrust,
  approvals: KubeconfigApproval[],
): LoadedContext {
  const contextName = str(raw.name) ?? `(unnamed context #${index + 1})`;
  const ctx = asRecord(raw.context) ?? {};
  const clusterName = str(ctx.cluster) ?? '';
  const userName = str(ctx.user) ?? '';
  const namespace = str(ctx.namespace);
  const cluster = clusterName ? lookup(files, file, 'clusters', clusterName) : null;
  const user = userName ? lookup(files, file, 'users', userName) : null;
  const server = str(cluster?.server) ?? '';
  const result: LoadedContext = {
    id: contextId(file.ref.path, contextName),
    contextName,
    clusterName,
    server,
    userName,
    namespace,
    sourceFile: file.ref.path,
    current: str(file.doc?.['current-context']) === contextName,
    error: null,
    config: null,
    fingerprint: '',
  };
  const fail = (error: string) => ({ ...result, error });
  if (!str(raw.name)) return fail('The context has no name.');
  if (!clusterName) return fail('The context names no cluster.');
  const added = file.ref.origin === 'added';
  const where = added ? 'this file (a kubeconfig added in the console uses only what it defines)' : 'this or any other kubeconfig file';
  if (!cluster) return fail(`The context's cluster "${clusterName}" is not defined in ${where}.`);
  if (!server) return fail(`The cluster "${clusterName}" has no server URL.`);
  if (userName && !user) return fail(`The context's user "${userName}" is not defined in ${where}.`);
  if (added && user) {
    // Nothing named by a file added in the console runs or is read before an admin approved exactly it.
    const waiting: string[] = [];
    for (const request of trustRequests(file, contextName, userName, user, cluster)) {
      const approval = trust.approval(request);
      approvals.push({
        ...request,
        approved: approval !== null,
        approvedBy: approval?.approvedBy ?? null,
        approvedAt: approval?.approvedAt ?? null,
      });
      if (!approval) waiting.push(request.kind);
    }
    if (waiting.length > 0) {
      return fail(
        `Waiting for an admin to approve what this kubeconfig would ${waiting.map((k) => (k === 'exec' || k === 'auth-provider' ? `run (${k})` : `read (${k})`)).join(', ')}. An admin can review it under "Kubeconfig approvals" on the Clusters page.`,
      );
    }
  }
  const tokenFile = str(user?.['token-file']);
  if (tokenFile && !fs.existsSync(tokenFile)) return fail(`The token file ${tokenFile} of user "${userName}" does not exist.`);
  // One-context document, loaded by client-node exactly as it would load the whole file.
  const single = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: clusterName, cluster }],
    users: [{ name: userName || 'anonymous', user: user ?? {} }],
    contexts: [
      { name: contextName, context: { cluster: clusterName, user: userName || 'anonymous', ...(namespace ? { namespace } : {}) } },
    ],
    'current-context': contextName,
  };
  try {
    const fingerprint =
      JSON.stringify(single) +
      fileStamps([str(cluster['certificate-authority']), str(user?.['client-certificate']), str(user?.['client-key']), tokenFile]);
    let config = cache.configs.get(fingerprint);
    if (!config) {
      config = new KubeConfig();
      config.loadFromString(JSON.stringify(single));
      cache.configs.set(fingerprint, config);
    }
    used.add(fingerprint);
    return { ...result, config, fingerprint };
  } catch (error) {
    return fail(`The context cannot be loaded: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Content hashes of files: a renewed certificate at the same path still changes the
 * fingerprint, and an edit is seen even where mtimes are coarse. These files are small.
 */
function fileStamps(files: (string | null)[]): string {
  return files
    .filter((f): f is string => f !== null)
    .map((f) => {
      try {
        return `${f}:${createHash('sha256').update(fs.readFileSync(f)).digest('base64')}`;
      } catch {
        return `${f}:unreadable`;
      }
    })
    .join('|');
}

/**
 * Reads every file on its own, so a broken file or context never hides the others. Files added
 * in the console run or read nothing that `trust` has not approved.
 */
export function loadKubeconfigs(
  refs: KubeconfigFileRef[],
  cache = new KubeconfigCache(),
  trust: KubeconfigTrust = NO_APPROVALS,
): KubeconfigSnapshot {
  // A missing ~/.kube/config is normal (no kubectl set up); anything else missing is reported.
  const present = refs.filter((r) => r.origin !== 'default' || fs.existsSync(r.path));
  const files = present.map((ref) => {
    const stamp = fileStamps([ref.path]);
    const hit = cache.files.get(ref.path);
    if (hit?.stamp === stamp && hit.parsed.ref.origin === ref.origin) return hit.parsed;
    const parsed = readFile(ref);
    cache.files.set(ref.path, { stamp, parsed });
    return parsed;
  });
  for (const p of cache.files.keys()) if (!present.some((r) => r.path === p)) cache.files.delete(p);
  const used = new Set<string>();
  const approvals: KubeconfigApproval[] = [];
  const contexts: LoadedContext[] = [];
  const sources: KubeconfigSource[] = [];
  for (const file of files) {
    const raws = Array.isArray(file.doc?.contexts) ? (file.doc.contexts as unknown[]) : [];
    const names = new Set<string>();
    const mine: LoadedContext[] = [];
    raws.forEach((raw, i) => {
      const record = asRecord(raw) ?? {};
      // kubectl keeps the first of two same-named contexts; the second is not even looked at
      const key = str(record.name) ?? `#${i}`;
      if (names.has(key)) return;
      names.add(key);
      mine.push(buildContext(files, file, record, i, cache, used, trust, approvals));
    });
    contexts.push(...mine);
    const noContexts = !file.error && mine.length === 0 ? `${file.ref.path} defines no contexts.` : null;
    sources.push({ path: file.ref.path, origin: file.ref.origin, error: file.error ?? noContexts, contextCount: mine.length });
  }
  for (const key of cache.configs.keys()) if (!used.has(key)) cache.configs.delete(key);
  const watchedFiles = [...new Set([...refs.map((r) => r.path), ...files.flatMap((f) => f.referenced)])];
  return { sources, contexts, watchedFiles, approvals };
}
