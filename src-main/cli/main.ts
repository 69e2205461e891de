import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { ContractError, type OperationProgress } from '../../src-shared/contract';
import { redactTokens } from '../engine/core/redact';
import { EXIT_CODES, EXIT_PARTIAL, exitCodeOf } from './exit-codes';
import { printer, table, type Printer } from './output';
import { CommandFailed, keychainTokenKey, prompt, readStdin } from './io';
import type { CliSession, GlobalOptions } from './session';

type Row = Record<string, unknown>;

/** Set by a command whose work partly failed (exit 12 instead of 0). */
let partial = false;

/** Opens the session, signs in, runs `fn`, closes; progress of sagas goes to stderr meanwhile. */
async function withSession(
  cmd: Command,
  fn: (s: CliSession, p: Printer, o: GlobalOptions) => Promise<void>,
  opts: { signIn?: boolean } = {},
): Promise<void> {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  const p = printer(o.output);
  // the engine (and the Kubernetes client) loads only when a command runs, not for --help or a usage error
  const { openSession, signIn } = await import('./session');
  const session = await openSession(o);
  const stop = session.engine.bus.subscribe('operation.progress', (e: OperationProgress) => {
    const count = e.total ? ` ${e.done ?? 0}/${e.total}` : '';
    p.note(`[${e.kind} ${e.target}] ${e.step}: ${e.status}${count}${e.message ? ` — ${e.message}` : ''}`);
  });
  try {
    if (opts.signIn !== false) await signIn(session, p.note);
    await fn(session, p, o);
  } finally {
    stop();
    await session.close();
  }
}

/**
 * Destructive commands: `--yes` and `--confirm <name>`; on a terminal without `--yes` the
 * name is asked for. The pipeline checks that the name matches, as in the console.
 */
async function confirmation(o: GlobalOptions & { confirm?: string }, target: string, what: string): Promise<string> {
  if (o.yes) {
    if (o.confirm === undefined)
      throw new ContractError('CONFIRMATION_REQUIRED', `${what}: also pass --confirm ${target} (the name retyped) with --yes.`);
    return o.confirm;
  }
  if (process.stdin.isTTY) return (await prompt(`${what}. Type "${target}" to confirm: `)).trim();
  throw new ContractError('CONFIRMATION_REQUIRED', `${what}: pass --yes --confirm ${target} (no terminal to ask on).`);
}

const int = (flag: string) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new CommanderError(EXIT_CODES.USAGE, 'gatehouse.usage', `${flag} needs a positive whole number (got ${JSON.stringify(raw)})`);
  return n;
};

export function buildProgram(): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse control-plane console on the command line: the console’s engine and pipeline, in-process (docs/cli.md).')
    .option(
      '--cluster <context>',
      'kubeconfig context (name or id); default: the last one chosen on this workstation, else current-context',
    )
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)')
    .option('--data-dir <dir>', 'console data directory (default: $GATEHOUSE_HOME, else the per-user one)')
    .addOption(new Option('--output <format>', 'json (stable, for scripts) or table').choices(['json', 'table']).default('table'))
    .option('--yes', 'do not ask: destructive commands also need --confirm <name>', false)
    .showHelpAfterError()
    .exitOverride();

  const tenants = program.command('tenants').description('tenants of the cluster');
  tenants
    .command('list')
    .option('--refresh', 'read the cluster instead of the cache', false)
    .option('--stats', 'include user, group and application counts', false)
    .action(async (opts: { refresh: boolean; stats: boolean }, cmd: Command) =>
      withSession(cmd, async (s, p) => {
        const out = await s.call('tenants.list', { refresh: opts.refresh, stats: opts.stats });
        p.result(out, (v: { tenants: Row[] }) => table(v.tenants, ['slug', 'name', 'tier', 'status', 'createdAt']));
      }),
    );
  tenants
    .command('get <slug>')
    .action(async (slug: string, _o: unknown, cmd: Command) =>
      withSession(cmd, async (s, p) =>
        p.result(await s.call('tenants.get', { slug }), (v: { tenant: Row }) => table([v.tenant], Object.keys(v.tenant).slice(0, 6))),
      ),
    );
  tenants
    .command('create <slug>')
    .requiredOption('--name <name>', 'display name')
    .addOption(new Option('--tier <tier>').choices(['DEV', 'PRO', 'Enterprise']).default('DEV'))
    .option('--admin-email <email>', 'e-mail of the tenant’s first admin')
    .action(async (slug: string, opts: { name: string; tier: 'DEV' | 'PRO' | 'Enterprise'; adminEmail?: string }, cmd: Command) =>
      withSession(cmd, async (s, p) => {
        const out = await s.call('tenants.create', {
          slug,
          name: opts.name,
          tier: opts.tier,
          ...(opts.adminEmail ? { adminEmail: opts.adminEmail } : {}),
        });
        p.result(
          out,
          (v: Row) =>
            `created ${String(v.slug)} (operation ${String(v.operationId)})\nadmin: ${String(v.adminUsername)}\npassword (shown once): ${String(v.adminPassword)}`,
        );
      }),
    );
  tenants
    .command('delete <slug>')
    .option('--confirm <slug>', 'the slug, retyped (with --yes)')
    .option('--no-final-backup', 'skip the final backup')
    .action(async (slug: string, opts: { confirm?: string; finalBackup: boolean }, cmd: Command) =>
      withSession(cmd, async (s, p, o) => {
        const confirm = await confirmation({ ...o, ...opts }, slug, `Deleting tenant ${slug} removes its database, Secret and workloads`);
        const out = await s.call('tenants.delete', { slug, confirm, finalBackup: opts.finalBackup });
        p.result(
          out,
          (v: { slug: string; leftovers: unknown[] }) =>
            `deleted ${v.slug}${v.leftovers.length ? ` (leftovers: ${JSON.stringify(v.leftovers)})` : ''}`,
        );
      }),
    );

  const backups = program.command('backups').description('tenant backups');
  backups
    .command('list <slug>')
    .action(async (slug: string, _o: unknown, cmd: Command) =>
      withSession(cmd, async (s, p) =>
        p.result(await s.call('backups.list', { slug }), (v: { backups: Row[] }) =>
          table(v.backups, ['id', 'takenAt', 'verification', 'sizeBytes']),
        ),
      ),
    );
  backups
    .command('take [slug]')
    .option('--all', 'every tenant', false)
    .option('--verify', 'verify each backup by a scratch restore', false)
    .option('--concurrency <n>', 'tenants at once (with --all)', int('--concurrency'), 2)
    .option('--note <text>', 'a note kept with the backup')
    .action(async (slug: string | undefined, opts: { all: boolean; verify: boolean; concurrency: number; note?: string }, cmd: Command) =>
      withSession(cmd, async (s, p) => {
        const out = await s.call('backups.take', {
          ...(slug ? { slug } : {}),
          all: opts.all,
          verify: opts.verify,
          concurrency: opts.concurrency,
          ...(opts.note ? { note: opts.note } : {}),
        });
        if (out.summary.failed > 0) partial = true;
        p.result(
          out,
          (v: { results: Row[]; summary: { ok: number; failed: number } }) =>
            `${table(v.results, ['slug', 'ok', 'backupId', 'error'])}\n${v.summary.ok} ok, ${v.summary.failed} failed`,
        );
      }),
    );
  backups
    .command('restore <backupId>')
    .option('--into <slug>', 'restore into a new tenant with this slug (a clone)')
    .option('--in-place <slug>', 'restore over this tenant (destructive: --yes --confirm <slug>)')
    .option('--name <name>', 'display name of the new tenant (with --into)')
    .option('--confirm <slug>', 'the slug, retyped (with --in-place and --yes)')
    .action(async (backupId: string, opts: { into?: string; inPlace?: string; name?: string; confirm?: string }, cmd: Command) =>
      withSession(cmd, async (s, p, o) => {
        if (!!opts.into === !!opts.inPlace)
          throw new CommanderError(EXIT_CODES.USAGE, 'gatehouse.usage', 'give exactly one of --into <new slug> or --in-place <slug>');
        const out = opts.into
          ? await s.call('backups.restore.clone', { backupId, slug: opts.into, ...(opts.name ? { name: opts.name } : {}) })
          : await s.call('backups.restore.inPlace', {
              backupId,
              slug: opts.inPlace!,
              confirm: await confirmation({ ...o, ...opts }, opts.inPlace!, `Restoring over tenant ${opts.inPlace!} replaces its data`),
            });
        p.result(out, (v: { slug: string; steps: Row[] }) => `${table(v.steps, ['name', 'status', 'error'])}\nrestored ${v.slug}`);
      }),
    );

  const license = program.command('license').description('the platform license');
  license
    .command('status')
    .action(async (_o: unknown, cmd: Command) =>
      withSession(cmd, async (s, p) => p.result(await s.call('license.status', {}), (v: Row) => JSON.stringify(v, null, 2))),
    );
  license
    .command('activate <file>')
    .description('activate a license file ("-" reads stdin)')
    .option('--confirm-replace <licenseId>', 'the offered license id, to replace a valid license that is not older')
    .action(async (file: string, opts: { confirmReplace?: string }, cmd: Command) =>
      withSession(cmd, async (s, p) => {
        const text = file === '-' ? await readStdin() : fs.readFileSync(path.resolve(file), 'utf8');
        const out = await s.call('license.activate', {
          license: text.trim(),
          ...(opts.confirmReplace ? { confirmReplace: opts.confirmReplace } : {}),
        });
        if (out.fanout.failed.length) partial = true;
        p.result(out, (v: Row) => JSON.stringify(v, null, 2));
      }),
    );

  const audit = program.command('audit').description('the control-plane audit log');
  audit
    .command('verify')
    .option('--source <source>', 'cluster, cluster:<uid>, workstation, archive:<id> or bundle:<id>', 'cluster')
    .action(async (opts: { source: string }, cmd: Command) =>
      withSession(cmd, async (s, p) => {
        const out = await s.call('audit.verify', { source: opts.source });
        if (out.findings.length) partial = true;
        p.result(
          out,
          (v: Row & { findings: Row[] }) =>
            `${table(v.findings, ['seq', 'problem', 'message'])}\nhead: ${String(v.headSeq)} ${String(v.headHash)}`,
        );
      }),
    );
  audit
    .command('export <name>')
    .description('write a signed bundle into a folder <name> of an export root (default: <data dir>/exports)')
    .option('--root <id>', 'export root id (see the console’s Audit page)', 'exports')
    .option('--source <source>', 'which log', 'cluster')
    .option('--from <iso>', 'from this time')
    .option('--to <iso>', 'until this time')
    .action(async (name: string, opts: { root: string; source: string; from?: string; to?: string }, cmd: Command) =>
      withSession(cmd, async (s, p) => {
        const out = await s.call('audit.export', {
          source: opts.source,
          destination: { kind: 'folder', root: opts.root, name },
          ...(opts.from ? { from: opts.from } : {}),
          ...(opts.to ? { to: opts.to } : {}),
        });
        p.result(out);
      }),
    );

  const operations = program.command('operations').description('operations a crash or failure left unfinished');
  operations
    .command('list')
    .action(async (_o: unknown, cmd: Command) =>
      withSession(cmd, async (s, p) =>
        p.result(await s.call('operations.unfinished', {}), (v: { operations: Row[] }) =>
          table(v.operations, ['id', 'kind', 'target', 'status', 'failedStep']),
        ),
      ),
    );
  for (const verb of ['resume', 'rollback'] as const) {
    operations
      .command(`${verb} <operationId>`)
      .action(async (operationId: string, _o: unknown, cmd: Command) =>
        withSession(cmd, async (s, p) => p.result(await s.call(`operations.${verb}`, { operationId }))),
      );
  }

  program
    .command('login')
    .description('keep an API token for this cluster in the keychain (read from stdin, or asked for on a terminal)')
    .action(async (_o: unknown, cmd: Command) =>
      withSession(
        cmd,
        async (s, p) => {
          const token = (process.stdin.isTTY ? await prompt('API token: ', true) : await readStdin()).trim();
          await s.call('tokens.signIn', { token });
          await (await s.engine.secrets.store()).set(keychainTokenKey(s.contextId), token);
          p.result(
            { stored: true, context: s.contextId, operator: s.operator() },
            () =>
              `token kept for ${s.contextId}; signed in as ${s.operator()?.displayName ?? '?'} via token ${s.operator()?.token?.name ?? ''}`,
          );
        },
        { signIn: false },
      ),
    );
  program
    .command('logout')
    .description('forget the API token kept for this cluster')
    .action(async (_o: unknown, cmd: Command) =>
      withSession(
        cmd,
        async (s, p) => {
          await (await s.engine.secrets.store()).delete(keychainTokenKey(s.contextId));
          p.result({ forgotten: true, context: s.contextId }, () => `token for ${s.contextId} forgotten`);
        },
        { signIn: false },
      ),
    );
  program
    .command('whoami')
    .description('who this CLI acts as on the cluster')
    .action(async (_o: unknown, cmd: Command) =>
      withSession(cmd, async (s, p) =>
        p.result({ operator: s.operator(), context: s.contextId }, (v: { operator: Row }) =>
          table([v.operator], ['id', 'displayName', 'role', 'via']),
        ),
      ),
    );
  return program;
}

/** Runs the CLI; resolves to the exit status (errors already printed to stderr). */
export async function run(argv: string[], out: Printer['note'] = (m) => process.stderr.write(`${m}\n`)): Promise<number> {
  const program = buildProgram();
  const jsonOutput = argv.includes('--output=json') || argv.some((a, i) => a === '--output' && argv[i + 1] === 'json');
  partial = false;
  try {
    await program.parseAsync(argv, { from: 'user' });
    return partial ? EXIT_PARTIAL : EXIT_CODES.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version')
        return EXIT_CODES.OK;
      if (error.code === 'gatehouse.usage') out(`gatehouse: ${error.message}`);
      return EXIT_CODES.USAGE;
    }
    const shape =
      error instanceof CommandFailed
        ? error.error
        : error instanceof ContractError
          ? error.toShape()
          : {
              code: 'INTERNAL' as const,
              message: `Unexpected failure: ${redactTokens(error instanceof Error ? error.message : String(error))}`,
            };
    out(jsonOutput ? JSON.stringify({ error: shape }) : `gatehouse: ${shape.code}: ${shape.message}`);
    return exitCodeOf(shape.code);
  }
}
