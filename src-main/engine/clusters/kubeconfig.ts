import { KubeConfig } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { KubeconfigSource } from '../../../src-shared/contract/clusters';

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
}

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

/** kubectl merges files with "first definition wins"; a context may name a cluster or user from another file. */
function lookup(files: ParsedFile[], own: ParsedFile, kind: 'clusters' | 'users', name: string): Raw | null {
  return own[kind].get(name) ?? files.find((f) => f[kind].has(name))?.[kind].get(name) ?? null;
}

function buildContext(
  files: ParsedFile[],
  file: ParsedFile,
  raw: Raw,
  index: number,
  cache: KubeconfigCache,
  used: Set<string>,
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
  if (!cluster) return fail(`The context's cluster "${clusterName}" is not defined in this or any other kubeconfig file.`);
  if (!server) return fail(`The cluster "${clusterName}" has no server URL.`);
  if (userName && !user) return fail(`The context's user "${userName}" is not defined in this or any other kubeconfig file.`);
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

/** Reads every file on its own, so a broken file or context never hides the others. */
export function loadKubeconfigs(refs: KubeconfigFileRef[], cache = new KubeconfigCache()): KubeconfigSnapshot {
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
  const contexts: LoadedContext[] = [];
  const sources: KubeconfigSource[] = [];
  for (const file of files) {
    const raws = Array.isArray(file.doc?.contexts) ? (file.doc.contexts as unknown[]) : [];
    const names = new Set<string>();
    const mine = raws
      .map((raw, i) => buildContext(files, file, asRecord(raw) ?? {}, i, cache, used))
      .filter((c) => !names.has(c.id) && names.add(c.id)); // kubectl keeps the first of two same-named contexts
    contexts.push(...mine);
    const noContexts = !file.error && mine.length === 0 ? `${file.ref.path} defines no contexts.` : null;
    sources.push({ path: file.ref.path, origin: file.ref.origin, error: file.error ?? noContexts, contextCount: mine.length });
  }
  for (const key of cache.configs.keys()) if (!used.has(key)) cache.configs.delete(key);
  const watchedFiles = [...new Set([...refs.map((r) => r.path), ...files.flatMap((f) => f.referenced)])];
  return { sources, contexts, watchedFiles };
}
