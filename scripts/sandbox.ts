// `npm run sandbox`: a newcomer's "see every feature working in minutes".
//
//   1. brings the local cluster harness up (reuses a running one; `cluster:up` is idempotent)
//   2. points a sandbox console (own data directory) at it: operator kubeconfig, cluster
//      selected, profile with namespace iam-system and the harness PostgreSQL admin
//   3. seeds demo tenants (acme, globex, initech, umbrella, hooli) with users, groups,
//      applications and roles; tenants that exist are skipped
//   4. activates a development license signed with the test keys (development mode only)
//   5. starts the console in browser mode and prints its URL
//
// Every change goes through the command pipeline, so it appears in the audit log.
// Options: --data-dir DIR (default <harness cache>/sandbox), --port N, --no-serve (stop after seeding).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine } from '../src-main/engine';
import { seedTenants, SANDBOX_TENANTS, SANDBOX_USER_PASSWORD } from '../src-main/engine/tenants/seed';
import { createRouter, type Router } from '../src-main/ipc/router';
import { cacheRoot, REPO_ROOT } from '../test/harness/config';
import { readState } from '../test/harness/state';
import { makeLicense } from '../test/fixtures/license/helpers';

const { values } = parseArgs({
  options: { 'data-dir': { type: 'string' }, port: { type: 'string', default: '0' }, 'no-serve': { type: 'boolean', default: false } },
});
const dataDir = path.resolve(values['data-dir'] ?? process.env.GATEHOUSE_SANDBOX_DIR ?? path.join(cacheRoot(), 'sandbox'));
// The sandbox keeps its secrets (only the harness database password) in an encrypted file in its
// own data directory, so it works on headless machines and never touches your keychain.
const passphrase = process.env.GATEHOUSE_SECRET_PASSPHRASE ?? 'gatehouse-sandbox-passphrase';
const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const t0 = Date.now();
const step = (n: number, text: string) => console.log(`\n[sandbox ${n}/5] ${text}`);
const say = (text: string) => console.log(`  ${text}`);
const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

/** Runs a command through the pipeline as the sandbox operator; a refusal stops the sandbox with its message. */
async function invoke<T>(router: Router, name: string, input: unknown): Promise<T> {
  const result = await router.invoke('sandbox', name, input);
  if (!result.ok) throw new Error(`${name}: ${result.error.message}`);
  return result.value as T;
}

function harnessUp() {
  step(1, 'Cluster harness (Kubernetes API server, controllers, kwok nodes, PostgreSQL)');
  const up = spawnSync(tsx, [path.join(REPO_ROOT, 'test/harness/cli.ts'), 'up'], { stdio: 'inherit', cwd: REPO_ROOT });
  if (up.status !== 0) throw new Error('the harness did not start (see the lines above; docs/testing.md lists what it needs)');
  const state = readState();
  if (!state) throw new Error('the harness reported success but wrote no harness.json');
  return state;
}

async function configure(state: NonNullable<ReturnType<typeof readState>>, env: NodeJS.ProcessEnv) {
  step(2, `Console profile (data directory ${dataDir})`);
  const engine = createEngine({
    mode: 'browser',
    dataDir,
    developmentMode: true,
    identity: 'os-user',
    clusters: { env, watch: false, secretStore: { prefer: 'encrypted-file', passphrase } },
  });
  const router = createRouter(engine);
  try {
    const list = await invoke<{ contexts: Array<{ id: string; sourceFile: string; contextName: string }> }>(router, 'clusters.list', {});
    const ctx = list.contexts.find((c) => c.sourceFile === state.kubeconfigs.operator);
    if (!ctx) throw new Error(`no context from ${state.kubeconfigs.operator} in the console's kubeconfig list`);
    await invoke(router, 'clusters.select', { clusterId: ctx.id });
    const pg = state.postgres;
    await invoke(router, 'clusters.profile.save', {
      clusterId: ctx.id,
      namespace: state.platformNamespace,
      database: {
        host: pg.host,
        port: pg.port,
        user: pg.user,
        database: pg.database,
        sslMode: 'disable',
        allowInsecureTls: true,
        password: pg.password,
      }, // the harness PostgreSQL has no TLS
      expectedOffline: false,
    });
    const st = await invoke<{ state: string; error: string | null }>(router, 'clusters.state', { refresh: true });
    if (st.state !== 'online') throw new Error(`the harness cluster is ${st.state}: ${st.error ?? 'no answer'}`);
    say(
      `cluster "${ctx.contextName}" selected (least-privilege operator kubeconfig), namespace ${state.platformNamespace}, PostgreSQL ${pg.user}@${pg.host}:${pg.port}`,
    );

    step(3, `Demo tenants: ${SANDBOX_TENANTS.map((t) => t.slug).join(', ')}`);
    const results = await seedTenants(engine.tenants, await engine.directory.forContext(ctx.id), {
      log: say,
      create: (input) => invoke(router, 'tenants.create', input),
    });
    const made = results.filter((r) => r.outcome !== 'skipped').length;
    say(made === 0 ? 'all demo tenants were already there: nothing to do' : `${made} tenant(s) seeded (${secs()} so far)`);

    step(4, 'Development license (signed with the test keys; trusted in development mode only)');
    const status = await invoke<{ state: string; customer?: string | null }>(router, 'license.status', {});
    if (status.state === 'none') {
      const { jws } = await makeLicense({
        customer: 'Gatehouse Sandbox',
        tier: 'Enterprise',
        limits: { tenants: 50, users: 10_000 },
        features: ['sso', 'audit-export'],
      });
      await invoke(router, 'license.activate', { license: jws });
      say('activated: Enterprise, 50 tenants, 10,000 users, and fanned out to every tenant');
    } else say(`a license is already in place (${status.state}): left as it is`);
  } finally {
    await engine.close();
  }
}

/** Builds the browser UI when it is missing or older than its sources. */
function ensureRenderer(): void {
  const index = path.join(REPO_ROOT, 'out', 'renderer', 'index.html');
  const built = fs.existsSync(index) ? fs.statSync(index).mtimeMs : 0;
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = path.join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
    }, 0);
  if (built > Math.max(newest(path.join(REPO_ROOT, 'src-renderer')), newest(path.join(REPO_ROOT, 'src-shared')))) return;
  say('building the browser UI (npm run build:web)…');
  const r = spawnSync('npm', ['run', '--silent', 'build:web'], { stdio: ['ignore', 'ignore', 'inherit'], cwd: REPO_ROOT });
  if (r.status !== 0) throw new Error('npm run build:web failed (see above)');
}

function serve(env: NodeJS.ProcessEnv): void {
  step(5, 'Console in browser mode');
  ensureRenderer();
  const child = spawn(tsx, [path.join(REPO_ROOT, 'src-main/serve/cli.ts'), '--dev', '--data-dir', dataDir, '--port', values.port ?? '0'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let announced = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const url = /https?:\/\/\S+token=\S+/.exec(chunk)?.[0];
    const pid = /\(pid (\d+)\)/.exec(chunk)?.[1];
    if (!url || announced) {
      if (announced) process.stdout.write(chunk);
      return;
    }
    announced = true;
    console.log(`
  Ready in ${secs()}. Open the console with this sign-in link (it works once, within 15 minutes):

    ${url}

  Another link:            kill -USR2 ${pid ?? '<pid of the console>'}   (the console prints it here)

  Data directory:          ${dataDir}
  Secret file passphrase:  ${passphrase}   (GATEHOUSE_SECRET_PASSPHRASE; the sandbox stores only the harness database password)
  Demo users' password:    ${SANDBOX_USER_PASSWORD}   (each tenant's "admin" has its own: Tenants → a tenant → Admin password)
  You act as the OS user with the admin role (development mode). Ctrl-C stops the console; the harness keeps
  running for the next \`npm run sandbox\` (\`npm run cluster:down\` stops it).`);
  });
  const stop = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  child.on('exit', (code) => process.exit(code ?? 0));
}

async function main(): Promise<void> {
  const state = harnessUp();
  // The console sees exactly what an operator with the least-privilege kubeconfig sees.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KUBECONFIG: state.kubeconfigs.operator,
    GATEHOUSE_SECRET_STORE: 'encrypted-file',
    GATEHOUSE_SECRET_PASSPHRASE: passphrase,
    GATEHOUSE_DEV: '1',
    GATEHOUSE_IDENTITY: 'os-user',
  };
  await configure(state, env);
  if (values['no-serve']) {
    console.log(
      `\n[sandbox] seeded in ${secs()}; start the console with:\n  KUBECONFIG=${state.kubeconfigs.operator} GATEHOUSE_SECRET_STORE=encrypted-file GATEHOUSE_SECRET_PASSPHRASE=${passphrase} npx tsx src-main/serve/cli.ts --dev --data-dir ${dataDir}`,
    );
    return;
  }
  serve(env);
}

main().catch((error: unknown) => {
  console.error(`\n[sandbox] failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
