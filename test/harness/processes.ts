// Process supervision without a supervisor: every component is spawned
// detached (setsid => its own process group) with stdout/stderr appended to a
// log file, and is described by a ProcessRecord in harness.json. Any process
// (the CLI, vitest's global setup, a test worker doing fault injection) can
// then signal, kill or respawn it from that record alone.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { HarnessError } from './errors';

export interface ProcessSpec {
  /** Component name, also the key in harness.json `processes`. */
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  logFile: string;
  /** Drop privileges (postgres refuses to run as root). */
  uid?: number;
  gid?: number;
  /** Ports the process binds: checked before starting for a clear "port in use" error. */
  ports?: number[];
}

export interface ProcessRecord extends ProcessSpec {
  pid: number;
  startedAt: string;
}

/** /proc/<pid>/stat fields we need; undefined when the process is gone. */
function procStat(pid: number): { state: string; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces/parens: parse after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', pgrp: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * True if `rec.pid` is alive *and* still runs the recorded binary. The second
 * check catches stale pid files whose pid has been recycled by the kernel.
 * Zombies count as dead (kill(pid, 0) would still succeed on them).
 */
/** The pid exists and is not a zombie. */
function isAlive(pid: number): boolean {
  const st = procStat(pid);
  return !!st && st.state !== 'Z' && st.state !== 'X';
}

export function isRunning(rec: Pick<ProcessRecord, 'pid' | 'command'>): boolean {
  const st = procStat(rec.pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  const argv = cmdline(rec.pid);
  // Right after spawn the pid may still be the bash trampoline (see
  // withoutInheritedFds) whose argv carries the real command.
  return (argv[0] !== undefined && basename(argv[0]) === basename(rec.command)) || argv.includes(rec.command);
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = procStat(Number(entry));
    if (st && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X') out.push(Number(entry));
  }
  return out;
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Stops a component's whole process group: `signal` first (SIGTERM = graceful),
 * SIGKILL after `graceMs`. Resolves once no member of the group is left, so
 * callers can immediately reuse its ports.
 */
export async function stopProcess(rec: ProcessRecord, opts: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<void> {
  const signal = opts.signal ?? 'SIGTERM';
  const deadline = Date.now() + (opts.graceMs ?? 15_000);
  // The group id is the pid (setsid). Only signal it if the leader is ours or
  // the group still has members - never a recycled, unrelated pid.
  if (!isRunning(rec) && groupMembers(rec.pid).length === 0) return;
  signalGroup(rec.pid, signal);
  while (groupMembers(rec.pid).length > 0) {
    if (Date.now() > deadline) {
      signalGroup(rec.pid, 'SIGKILL');
      await sleep(100);
      if (Date.now() > deadline + 5_000) throw new HarnessError(`process group ${rec.pid} (${rec.name}) survived SIGKILL`);
      continue;
    }
    await sleep(50);
  }
}

/** Synchronous SIGKILL of a group: safe to call from process 'exit' handlers. */
export function killGroupSync(rec: ProcessRecord): void {
  if (isRunning(rec) || groupMembers(rec.pid).length > 0) signalGroup(rec.pid, 'SIGKILL');
}

/** Starts a component detached from the caller, logging to spec.logFile (appending). */
export function startProcess(spec: ProcessSpec): ProcessRecord {
  if (!existsSync(spec.command)) throw new HarnessError(`binary not found: ${spec.command}`);
  mkdirSync(dirname(spec.logFile), { recursive: true });
  const fd = openSync(spec.logFile, 'a');
  writeSync(fd, `\n===== ${new Date().toISOString()} starting ${spec.command} ${spec.args.join(' ')}\n`);
  try {
    const [cmd, args] = withoutInheritedFds(spec.command, spec.args);
    const child = spawn(cmd, args, {
      cwd: spec.cwd,
      env: { ...minimalEnv(), ...spec.env },
      stdio: ['ignore', fd, fd],
      detached: true, // new session + process group: killable as a unit, survives the spawner
      uid: spec.uid,
      gid: spec.gid,
    });
    if (child.pid === undefined) throw new HarnessError(`failed to spawn ${spec.command}`);
    // Reap it if it dies while we are still alive, but do not keep us alive.
    child.on('error', () => {});
    child.unref();
    return { ...spec, pid: child.pid, startedAt: new Date().toISOString() };
  } finally {
    closeSync(fd);
  }
}

/**
 * Node only marks its own fds close-on-exec; fds the *caller* leaked to us
 * (CI runners and terminals multiplexers do this, e.g. a pipe on fd 251) would
 * be inherited by every daemon and keep that pipe open, so whoever waits for
 * EOF on it (`npm run cluster:up | tee`, a CI step) hangs until `down`. A bash
 * trampoline closes every fd above 2, then execs the binary (same pid).
 */
function withoutInheritedFds(command: string, args: string[]): [string, string[]] {
  if (!existsSync('/bin/bash')) return [command, args];
  // No redirections on the loop: bash would park stderr on a spare fd, which the
  // loop itself would close, leaving the daemon without stderr (= its log).
  const script = 'for f in /proc/$$/fd/*; do f=${f##*/}; case $f in 0|1|2) ;; *) eval "exec $f>&-" ;; esac; done; exec "$@"';
  return ['/bin/bash', ['-c', script, 'harness-exec', command, ...args]];
}

/**
 * Components get a small, predictable environment rather than the caller's
 * (a developer's KUBECONFIG or PG* variables must not leak into the cluster).
 */
function minimalEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' };
  if (process.env.HOME) env.HOME = process.env.HOME;
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  return env;
}

/** Last lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `probe` until it returns true. While waiting, a dead process is
 * reported immediately with the tail of its log instead of a timeout later.
 */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; proc?: ProcessRecord; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (err) {
      lastErr = err;
    }
    // Our own child, just spawned: its pid cannot be recycled yet, so "alive" is enough. Matching the
    // command line (isRunning) races with fork→exec, when /proc still shows the spawner's argv.
    if (opts.proc && !isAlive(opts.proc.pid)) {
      throw new HarnessError(
        `${opts.proc.name} exited while waiting for ${what}. See ${opts.proc.logFile}; last lines:\n${tail(opts.proc.logFile)}`,
      );
    }
    if (Date.now() > deadline) {
      const hint = opts.proc ? ` See ${opts.proc.logFile}.` : '';
      throw new HarnessError(
        `timed out after ${opts.timeoutMs / 1000}s waiting for ${what}${lastErr ? ` (last error: ${String(lastErr)})` : ''}.${hint}`,
      );
    }
    await sleep(opts.intervalMs ?? 200);
  }
}
