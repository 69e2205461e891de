// Builds the real Kubernetes control plane, etcd and kwok from the Go module
// proxy (no Docker, no downloads from GitHub releases) and caches the binaries
// per pin set, so a version bump in kube-build/*/go.mod triggers exactly one
// rebuild and everything else is a cache hit.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { KUBE_BUILD_DIR, cacheRoot } from './config';
import { HarnessError } from './errors';

export interface BinarySpec {
  /** File name under bin/. */
  name: string;
  /** Wrapper module (folder under kube-build/) whose go.mod pins the version. */
  module: 'kubernetes' | 'etcd' | 'kwok';
  pkg: string;
}

// Order matters only for progress output: the apiserver is the longest build,
// and once it is compiled most of the controller-manager/scheduler is cached.
export const BINARIES: readonly BinarySpec[] = [
  { name: 'kube-apiserver', module: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kube-apiserver' },
  { name: 'kube-controller-manager', module: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kube-controller-manager' },
  { name: 'kube-scheduler', module: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kube-scheduler' },
  // etcd's `main` package sits at the root of the server module.
  { name: 'etcd', module: 'etcd', pkg: 'go.etcd.io/etcd/server/v3' },
  { name: 'kwok', module: 'kwok', pkg: 'sigs.k8s.io/kwok/cmd/kwok' },
];

/** Bump when the build recipe (flags, ldflags) changes so caches are invalidated. */
const RECIPE_REVISION = 1;

export interface Pins {
  kubernetes: string;
  etcd: string;
  kwok: string;
  go: string;
}

function requiredVersion(module: BinarySpec['module'], path: string): string {
  const gomod = readFileSync(join(KUBE_BUILD_DIR, module, 'go.mod'), 'utf8');
  const m = new RegExp(`^\\s*(?:require\\s+)?${path.replace(/[.]/g, '\\.')}\\s+(v\\S+)`, 'm').exec(gomod);
  if (!m?.[1]) throw new HarnessError(`cannot find the ${path} pin in kube-build/${module}/go.mod`);
  return m[1];
}

/** Checks Go is installed and returns `go version` output; fails with install advice otherwise. */
export function goVersion(): string {
  const res = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (res.error || res.status !== 0) {
    throw new HarnessError(
      'The Go toolchain is required to build the test cluster (kube-apiserver, etcd, kwok are compiled from source) ' +
        'but `go` was not found on PATH.\n' +
        '  Install Go >= 1.26 from https://go.dev/dl/ (or your package manager), make sure `go version` works, then run `npm run cluster:build`.',
    );
  }
  return res.stdout.trim();
}

export function pins(): Pins {
  return {
    kubernetes: requiredVersion('kubernetes', 'k8s.io/kubernetes'),
    etcd: requiredVersion('etcd', 'go.etcd.io/etcd/server/v3'),
    kwok: requiredVersion('kwok', 'sigs.k8s.io/kwok'),
    go: goVersion(),
  };
}

/** Cache key: every go.mod/go.sum byte, the Go version and the recipe revision. */
export function binDir(p: Pins = pins()): string {
  const h = createHash('sha256');
  for (const mod of ['kubernetes', 'etcd', 'kwok']) {
    for (const f of ['go.mod', 'go.sum']) {
      const file = join(KUBE_BUILD_DIR, mod, f);
      h.update(`${mod}/${f}\n`);
      if (existsSync(file)) h.update(readFileSync(file));
    }
  }
  h.update(p.go);
  h.update(String(RECIPE_REVISION));
  return join(cacheRoot(), `k8s-${p.kubernetes}-${h.digest('hex').slice(0, 12)}`, 'bin');
}

const STAMP = '.complete.json';

export function binariesPresent(dir: string): boolean {
  return existsSync(join(dir, STAMP)) && BINARIES.every((b) => existsSync(join(dir, b.name)));
}

function ldflags(spec: BinarySpec, p: Pins): string {
  const flags = ['-s', '-w'];
  if (spec.module === 'kubernetes') {
    // Without these the server reports v0.0.0-master+$Format$, which makes
    // `/version` useless for the console's version checks.
    const m = /^v(\d+)\.(\d+)\./.exec(p.kubernetes);
    for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
      flags.push(
        `-X ${pkg}.gitVersion=${p.kubernetes}`,
        `-X ${pkg}.gitMajor=${m?.[1] ?? ''}`,
        `-X ${pkg}.gitMinor=${m?.[2] ?? ''}`,
        `-X ${pkg}.gitTreeState=clean`,
      );
    }
  }
  return flags.join(' ');
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolveRun() : reject(new HarnessError(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}) in ${cwd}`)),
    );
  });
}

function fmtSecs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * Returns the folder with all harness binaries, building them first when the
 * pins changed (or GATEHOUSE_HARNESS_REBUILD=1). Builds into a temp folder and
 * renames at the end, so an interrupted build never leaves a half-filled cache.
 */
export async function ensureBinaries(opts: { force?: boolean; log?: (msg: string) => void } = {}): Promise<string> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const p = pins();
  const dir = binDir(p);
  const force = opts.force || process.env.GATEHOUSE_HARNESS_REBUILD === '1';
  if (!force && binariesPresent(dir)) return dir;

  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // One job per core, at most 4: more only adds memory pressure (the apiserver
  // link step alone takes ~2 GiB).
  const jobs = Math.max(1, Math.min(availableParallelism(), 4));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CGO_ENABLED: '0', // static binaries, no C toolchain needed
    // go.mod/go.sum are committed and complete: never let a build rewrite them
    // (that would also change the cache key computed from them).
    GOFLAGS: '-mod=readonly',
  };
  log(`[build] ${p.go}; kubernetes ${p.kubernetes}, etcd ${p.etcd}, kwok ${p.kwok}`);
  log(`[build] output ${dir} (go build -p ${jobs}); a cold build takes ~7-15 min on 2 cores`);
  const started = Date.now();
  for (const [i, spec] of BINARIES.entries()) {
    const t = Date.now();
    log(`[build ${i + 1}/${BINARIES.length}] ${spec.name} (${spec.pkg}) ...`);
    await run(
      'go',
      ['build', '-p', String(jobs), '-trimpath', `-ldflags=${ldflags(spec, p)}`, '-o', join(tmp, spec.name), spec.pkg],
      join(KUBE_BUILD_DIR, spec.module),
      env,
    );
    log(`[build ${i + 1}/${BINARIES.length}] ${spec.name} done in ${fmtSecs(Date.now() - t)} (total ${fmtSecs(Date.now() - started)})`);
  }
  writeFileSync(join(tmp, STAMP), JSON.stringify({ ...p, builtAt: new Date().toISOString(), durationMs: Date.now() - started }, null, 2));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, '..'), { recursive: true });
  renameSync(tmp, dir);
  log(`[build] all binaries built in ${fmtSecs(Date.now() - started)} -> ${dir}`);
  return dir;
}

/** Like ensureBinaries but never builds: used by the test fixtures to fail loudly. */
export function requireBinaries(): string {
  const dir = binDir();
  if (!binariesPresent(dir)) {
    throw new HarnessError(
      `The harness binaries are not built (expected in ${dir}).\n  Run \`npm run cluster:build\` (needs Go >= 1.26 on PATH; takes ~7-15 min cold).`,
    );
  }
  return dir;
}
