// Backup figures (issue 12): backup and restore throughput of a ~1 GB tenant database
// against raw pg_dump / pg_restore of the same database in the same run, verify time, and
// an all-tenant backup of 100 tenants at concurrency 1 and 4.
//   npx tsx bench/backups.ts [sizeMB=1024] [tenants=100] [jobs=2]
// The 1 GB part runs on a private PostgreSQL (harness binaries); the 100-tenant part needs
// a running harness (`npm run cluster:up`, or GATEHOUSE_HARNESS_DIR). Results: bench/results/backups-1gb.json,
// backups-tenants.json. Benchmarks are figures, never tests.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PostgresAdmin } from '../src-main/adapters/postgres';
import { generateIdentity, identityToRecipient } from '../src-main/engine/backups/age';
import { dumpTenant } from '../src-main/engine/backups/dump';
import { compareWithManifest, loadBackup } from '../src-main/engine/backups/load';
import { newBackupId } from '../src-main/engine/backups/manifest';
import { findPgTools } from '../src-main/engine/backups/pg-tools';
import { DirectoryStorage } from '../src-main/engine/backups/storage';
import { applyPendingMigrations, loadTenantMigrations } from '../src-main/engine/tenants/schema';
import { mapLimit } from '../src-main/engine/core/limit';
import { buildBackupEngine, configureKey } from '../test/integration/backups-env';
import { harnessOrReason, harnessPg, operatorNamespace, privatePostgres, tempDataDir, uniqueSlug } from '../test/integration/tenants-env';
import { report, type Row } from './lib';

const sizeMb = Number(process.argv[2] ?? 1024);
const tenantCount = Number(process.argv[3] ?? 100);
const jobs = Number(process.argv[4] ?? 2);
const rows: Row[] = [];
const tools = findPgTools();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-backups-'));
const seconds = async (fn: () => Promise<unknown> | unknown) => {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
};
// CPU seconds from /proc/<pid>/stat: utime + stime (+ cutime + cstime: reaped children).
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const procTimes = (pid: number | 'self' | `self/task/${number}`): { self: number; children: number; ppid: number } | null => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { self: (Number(f[11]) + Number(f[12])) / TICK, children: (Number(f[13]) + Number(f[14])) / TICK, ppid: Number(f[1]) };
  } catch {
    return null;
  }
};
/** CPU of a process tree: live members' own time plus what they reaped (exited backends). */
const treeCpu = (root: number): number => {
  const parents = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) if (/^\d+$/.test(d)) parents.set(Number(d), procTimes(Number(d))?.ppid ?? -1);
  let cpu = 0;
  for (const pid of parents.keys()) {
    for (let p: number | undefined = pid; p !== undefined && p > 0; p = parents.get(p)) {
      if (p === root) {
        const t = procTimes(pid);
        cpu += t ? t.self + t.children : 0;
        break;
      }
    }
  }
  return cpu;
};
interface Measured {
  wall: number;
  /** This process (the console's side of a Gatehouse backup). */
  cpu: number;
  /** Child processes run to completion (pg_dump, pg_restore). */
  tools: number;
  /** The PostgreSQL server's processes. */
  server: number;
  /** This process's main (JavaScript) thread alone; the rest of `cpu` is worker and libuv threads. */
  main: number;
  /** This process's CPU by thread kind (MainThread, WorkerThread, V8Worker = GC and compiler helpers, libuv-worker = fs). */
  threads: Map<string, number>;
  load: string;
}
/** CPU seconds of this process's live threads, summed by thread name. */
const threadCpu = (): Map<string, number> => {
  const out = new Map<string, number>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const name = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const t = procTimes(`self/task/${Number(tid)}`);
      if (t) out.set(name, (out.get(name) ?? 0) + t.self);
    } catch {
      // the thread ended in between
    }
  }
  return out;
};
let serverPid = 0;
const measure = async (fn: () => Promise<unknown> | unknown): Promise<Measured> => {
  const cpu0 = process.cpuUsage();
  const kids0 = procTimes('self')!.children;
  const server0 = serverPid ? treeCpu(serverPid) : 0;
  const main0 = procTimes(`self/task/${process.pid}`)!.self;
  const threads0 = threadCpu();
  const wall = await seconds(fn);
  const main = procTimes(`self/task/${process.pid}`)!.self - main0;
  // Threads that ended during the measure are missing here (their time is still in `cpu`).
  const threads = new Map([...threadCpu()].map(([k, v]) => [k, v - (threads0.get(k) ?? 0)]));
  const cpu = process.cpuUsage(cpu0);
  return {
    wall,
    cpu: (cpu.user + cpu.system) / 1e6,
    tools: procTimes('self')!.children - kids0,
    server: serverPid ? treeCpu(serverPid) - server0 : NaN,
    main,
    threads,
    load: os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' '),
  };
};
const cpuNote = (m: Measured) =>
  `CPU: console ${m.cpu.toFixed(1)} s (${
    [...m.threads]
      .filter(([, v]) => v >= 0.05)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ') || `main thread ${m.main.toFixed(1)}`
  } s), pg tools ${m.tools.toFixed(1)} s, server ${m.server.toFixed(1)} s; load ${m.load}`;
const du = (dir: string): number => Number(spawnSync('du', ['-sb', dir], { encoding: 'utf8' }).stdout.split(/\s/)[0] ?? 0);

interface Pair {
  raw: { first: Measured; second: Measured };
  ours: { first: Measured; second: Measured };
}

/** Both tools in both positions (raw, ours, ours, raw): whichever runs second inherits the machine state of the first. */
async function bothOrders(raw: () => Promise<Measured>, ours: () => Promise<Measured>): Promise<Pair> {
  const rawFirst = await raw();
  const oursSecond = await ours();
  const oursFirst = await ours();
  const rawSecond = await raw();
  return { raw: { first: rawFirst, second: rawSecond }, ours: { first: oursFirst, second: oursSecond } };
}

/** The raw tool's row, ours, and the overhead of the sums (and of each position). */
function pushPair(
  p: Pair,
  mb: number,
  rawMetric: string,
  rawNote: string | null,
  ourMetric: string,
  ourNote: string,
  overheadMetric: string,
): void {
  const sum = (s: Pair['raw']) => s.first.wall + s.second.wall;
  const pct = (ours: number, raw: number) => (100 * (ours - raw)) / raw;
  for (const [metric, side, extra] of [
    [rawMetric, p.raw, rawNote],
    [ourMetric, p.ours, ourNote],
  ] as const) {
    rows.push({
      metric: `${metric}, run first + run second`,
      value: sum(side),
      unit: 's',
      note: `${side.first.wall.toFixed(1)} + ${side.second.wall.toFixed(1)} s, ${((2 * mb) / sum(side)).toFixed(0)} MiB/s${extra ? `, ${extra}` : ''}; first: ${cpuNote(side.first)}; second: ${cpuNote(side.second)}`,
    });
  }
  rows.push({
    metric: overheadMetric,
    value: pct(sum(p.ours), sum(p.raw)),
    unit: '%',
    note: `goal ≤ 10 %; in the same position: first ${pct(p.ours.first.wall, p.raw.first.wall).toFixed(0)} %, second ${pct(p.ours.second.wall, p.raw.second.wall).toFixed(0)} %`,
  });
}

// ---- 1 GB tenant: ours against pg_dump / pg_restore
// (sizeMB 0 skips it: `npx tsx bench/backups.ts 0 100` runs only the 100-tenant part)
async function oneGigabyte(): Promise<void> {
  const server = await privatePostgres();
  serverPid = server.current()?.pid ?? 0;
  const admin = { ...server.config, ssl: false as const };
  const pga = new PostgresAdmin(server.config);
  const env = { ...process.env, PGHOST: admin.host, PGPORT: String(admin.port), PGUSER: admin.user, PGPASSWORD: admin.password };
  try {
    const role = 'tenant_bench';
    await pga.createMarkedLoginRole(role, 'bench');
    await pga.ensureDatabase(role, role);
    await pga.withDatabase(role, async (c) => {
      await applyPendingMigrations(c, role, loadTenantMigrations());
      await c.query(`SET ROLE ${role}`);
      // ~70 % users (wide rows, two unique indexes), ~30 % sign-ins (bigserial, small rows).
      const userRows = Math.round((sizeMb * 0.7 * 1024 * 1024) / 420);
      const signIns = Math.round((sizeMb * 0.3 * 1024 * 1024) / 90);
      for (let from = 1; from <= userRows; from += 200_000) {
        await c.query(
          `INSERT INTO users (username, email, display_name, password_hash) SELECT 'user' || g, 'user' || g || '@bench.example', repeat('Display Name ', 12) || g, '$argon2id$v=19$m=65536,t=3,p=1$' || md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text) FROM generate_series($1::int, $2::int) g`,
          [from, Math.min(userRows, from + 199_999)],
        );
      }
      for (let from = 1; from <= signIns; from += 500_000) {
        await c.query(
          `INSERT INTO sign_ins (outcome, at) SELECT CASE WHEN g % 9 = 0 THEN 'failure' ELSE 'success' END, now() - g * interval '1 second' FROM generate_series($1::int, $2::int) g`,
          [from, Math.min(signIns, from + 499_999)],
        );
      }
      await c.query('RESET ROLE');
      await c.query('VACUUM ANALYZE');
    });
    const dbBytes = Number((await pga.query<{ n: string }>(`SELECT pg_database_size($1) AS n`, [role]))[0]!.n);
    const mb = dbBytes / 1024 / 1024;
    rows.push({ metric: 'tenant database size', value: mb, unit: 'MiB', note: `pg_database_size, ${tools.version}` });

    // Warm the cache the same way for both sides.
    spawnSync(tools.pgDump, ['-Fp', '--data-only', '-f', '/dev/null', role], { env });

    // Each backup starts with nothing dirty in the page cache (`sync`) and a checkpoint, so
    // none inherits the writeback of what the phase before wrote (the database just filled,
    // the other tool's files). Measured in both orders (pg_dump first, then ours first): the
    // overhead is of the sums.
    //
    // Then a scratch file as big as the database is written through the page cache and
    // deleted. This VM hands memory freed for a few seconds back to its host (virtio-balloon
    // free page reporting), and a writer that needs page-cache pages then pays a host fault
    // for each: whichever run came just before decided who paid (pg_dump took 1.3–1.5 CPU s
    // after another pg_dump, 2.4–3.1 s after our backup, which writes with O_DIRECT and frees
    // nothing). With hot free pages before every run, pg_dump and the server get their best
    // case; our backup does not use them.
    const warm = path.join(work, 'warm-free-pages');
    const settle = async () => {
      spawnSync('sync');
      await pga.query('CHECKPOINT');
      spawnSync('sync');
      const block = Buffer.alloc(1 << 20, 1);
      const fd = fs.openSync(warm, 'w');
      for (let i = 0; i < Math.ceil(dbBytes / block.length); i++) fs.writeSync(fd, block);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.rmSync(warm);
    };
    const rawDir = path.join(work, 'raw');
    const rawDumpOnce = async () => {
      fs.rmSync(rawDir, { recursive: true, force: true });
      await settle();
      return measure(() => spawnSync(tools.pgDump, ['-Fd', '-j', String(jobs), '-Z0', '-f', rawDir, role], { env, stdio: 'inherit' }));
    };

    const identity = generateIdentity();
    let storage!: DirectoryStorage;
    let manifest!: Awaited<ReturnType<typeof dumpTenant>>;
    let ourRound = 0;
    const ourDumpOnce = async () => {
      if (storage) fs.rmSync(storage.root, { recursive: true, force: true });
      storage = new DirectoryStorage(path.join(work, `ours-${++ourRound}`));
      await settle();
      return measure(async () => {
        manifest = await dumpTenant({
          admin,
          storage,
          id: newBackupId(),
          tenant: { slug: 'bench', name: 'Bench', tier: 'PRO', database: role, role },
          cluster: { id: 'bench', name: 'bench', namespace: 'iam-system' },
          takenBy: { actor: 'bench', reason: 'manual', note: null, console: 'bench', consoleVersion: 'bench' },
          recipients: [identityToRecipient(identity)],
          macKey: Buffer.alloc(32, 7),
          kubernetes: async () => ({}),
          jobs,
        });
      });
    };
    const dumps = await bothOrders(rawDumpOnce, ourDumpOnce);
    pushPair(
      dumps,
      mb,
      `pg_dump -Fd -j${jobs} -Z0 (raw)`,
      `${(du(rawDir) / 1048576).toFixed(0)} MiB on disk, not encrypted, no checksums`,
      `Gatehouse backup (jobs ${jobs})`,
      `${(manifest.totals.storedBytes / 1048576).toFixed(0)} MiB stored (${(manifest.totals.plainBytes / 1048576).toFixed(0)} MiB of COPY text), age-encrypted, sha256 of every file, rows + checksum per table`,
      'backup overhead vs pg_dump',
    );

    // Each restore starts from `sync` and a checkpoint into a database of its own, with autovacuum off
    // on this throwaway server, and the two are measured in both orders (pg_restore first,
    // then ours first): whichever runs second spent 3–5 s more server CPU here, even so.
    // The overhead is of the sums, one run of each in each position.
    await pga.query('ALTER SYSTEM SET autovacuum = off');
    await pga.query('SELECT pg_reload_conf()');
    let restoreRound = 0;
    // Both tools' files are read once before each restore, so both restores read from the
    // page cache: pg_dump's files are there because it wrote them through it, ours would not
    // be (direct I/O), and a first read from disk would be charged to our restore alone.
    const readThrough = (dir: string) => {
      const block = Buffer.allocUnsafe(1 << 20);
      for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (!e.isFile()) continue;
        const fd = fs.openSync(path.join(e.parentPath, e.name), 'r');
        while (fs.readSync(fd, block) > 0);
        fs.closeSync(fd);
      }
    };
    /** One restore into a new database of its own (created, settled, read ahead, measured, dropped). */
    const restoreOnce = async (kind: 'raw' | 'ours', load: (db: string) => Promise<unknown> | unknown) => {
      const db = `${kind}_restore_${++restoreRound}`;
      await pga.query(`CREATE DATABASE ${db} OWNER ${role}`);
      await settle();
      readThrough(rawDir);
      readThrough(storage.root);
      const m = await measure(() => load(db));
      await pga.dropDatabase(db);
      return m;
    };
    const rawRestoreOnce = () =>
      restoreOnce('raw', (db) =>
        spawnSync(
          path.join(path.dirname(tools.pgDump), 'pg_restore'),
          ['-j', String(jobs), '--no-owner', '--role', role, '-d', db, rawDir],
          {
            env,
            stdio: 'inherit',
          },
        ),
      );
    const ourRestoreOnce = () =>
      restoreOnce('ours', (db) => loadBackup({ admin, storage, manifest, identities: [identity], database: db, owner: role, jobs }));
    const restores = await bothOrders(rawRestoreOnce, ourRestoreOnce);
    pushPair(
      restores,
      mb,
      `pg_restore -j${jobs} (raw)`,
      null,
      `Gatehouse restore (jobs ${jobs})`,
      'every file and table checked against the manifest while loading',
      'restore overhead vs pg_restore',
    );

    // Verify = restore into a scratch database + read every table back + drop it.
    await pga.query('CREATE DATABASE verify_scratch');
    const verify = await seconds(async () => {
      await loadBackup({ admin, storage, manifest, identities: [identity], database: 'verify_scratch', owner: null, jobs });
      const r = await compareWithManifest(admin, 'verify_scratch', manifest, { storage, identities: [identity] });
      if (r.mismatches.length) throw new Error(r.mismatches.join('; '));
      await pga.dropDatabase('verify_scratch');
    });
    rows.push({ metric: 'verify (restore + read back + drop)', value: verify, unit: 's', note: `${(mb / verify).toFixed(0)} MiB/s` });
    rows.push({ metric: 'load average after the 1 GB part', value: os.loadavg()[0]!, unit: '', note: `${os.cpus().length} CPUs` });
  } finally {
    await pga.close();
    await server.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  }

  report('backups-1gb', rows);
}
if (sizeMb > 0) await oneGigabyte();

// ---- 100 tenants on the harness: all-tenant backup at concurrency 1 and 4
const tenantRows: Row[] = [];
let h: ReturnType<typeof harnessOrReason> | { reason: string };
try {
  h = harnessOrReason();
} catch (error) {
  h = { reason: (error as Error).message };
}
if ('state' in h && tenantCount > 0) {
  const ns = await operatorNamespace(h.state, 'gh-bench-backups');
  const eng = buildBackupEngine({
    kubeconfig: h.state.kubeconfigs.operator,
    namespace: ns.namespace,
    pg: harnessPg(h.state),
    dataDir: tempDataDir(),
    consoleId: 'bench',
    backups: { jobs: 1 },
  });
  const slugs = Array.from({ length: tenantCount }, () => uniqueSlug('bb'));
  try {
    await configureKey(eng);
    await mapLimit(slugs, 4, (slug) => eng.tenants.create(eng.runtime, { slug, name: `Bench ${slug}`, tier: 'DEV' }));
    for (const concurrency of [1, 4]) {
      let r!: Awaited<ReturnType<typeof eng.backups.service.takeMany>>;
      const t = await seconds(async () => {
        r = await eng.backups.service.takeMany(eng.runtime, slugs, { reason: 'manual', actor: 'bench', concurrency });
      });
      tenantRows.push({
        metric: `all-tenant backup ×${tenantCount} @${concurrency}`,
        value: t,
        unit: 's',
        note: `${((tenantCount / t) * 60).toFixed(0)} tenants/min, ${r.summary.failed} failed`,
      });
    }
    const b = (await eng.backups.service.list(eng.runtime, slugs[0]!)).backups[0]!;
    const v = await seconds(() => eng.backups.service.verify(eng.runtime, b.id, 'bench'));
    tenantRows.push({ metric: 'verify of one small tenant', value: v, unit: 's', note: `${b.rows} rows` });
  } finally {
    await mapLimit(slugs, 4, (slug) => eng.tenants.delete(eng.runtime, slug, false).catch(() => undefined));
    await eng.close();
    await ns.remove();
  }
} else {
  tenantRows.push({
    metric: 'all-tenant backup',
    value: NaN,
    unit: '',
    note: `needs a running harness (npm run cluster:up): ${'reason' in h ? h.reason : ''}`,
  });
}

const load = os.loadavg()[0]!.toFixed(1);
tenantRows.push({ metric: 'load average at the end', value: Number(load), unit: '', note: `${os.cpus().length} CPUs` });
report('backups-tenants', tenantRows);
process.exit(0);
