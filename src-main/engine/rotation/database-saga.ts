import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ContractError } from '../../../src-shared/contract';
import { pgError, quoteIdent, quoteLiteral, scramSha256Verifier, type PostgresAdmin } from '../../adapters/postgres';
import type { SagaDefinition, SagaStep } from '../core/saga';
import { DB_KEYS, readTenantDoc, revision, updateTenantSecret, type DbMeta } from './document';
import { acquireTenantLease, generatePassword, releaseTenantLease, tenantDbName, tenantLoginRoleNames, tenantRoleName } from '../tenants';
import {
  baseContext,
  ensureLease,
  holdingStep,
  hooked,
  rollTo,
  rotationKind,
  type RotationCtx,
  type RotationOptions,
  type RotationParams,
} from './saga';

/**
 * The tenant's database password rotates between two login roles, `<role>__a` and
 * `<role>__b` (slugs never contain "--", so no tenant's role can be named like that):
 * members of the tenant role, with `SET role` to it, so whatever they create is owned by
 * the tenant role as before. The old login keeps working until every backend uses the
 * new one (pg_stat_activity shows no session of the old login on the tenant database);
 * only then is its password removed. PostgreSQL holds one password per role, so this
 * is the only way old and new can both be accepted. Passwords go to PostgreSQL as
 * SCRAM-SHA-256 verifiers, never in clear.
 */
export const loginRoles = (slug: string): [string, string] => tenantLoginRoleNames(slug);

/** The login the next rotation moves to: the other one of the pair (a legacy tenant starts with __a). */
export function nextLogin(slug: string, currentUser: string): string {
  const [a, b] = loginRoles(slug);
  return currentUser === a ? b : a;
}

interface DbCtx extends RotationCtx {
  pg: PostgresAdmin;
}

const withUser = (dsn: string, user: string, password: string): string => {
  const u = new URL(dsn);
  u.username = user;
  u.password = password;
  return u.toString();
};
const passwordOf = (dsn: string): string => decodeURIComponent(new URL(dsn).password);
const dbCredentialId = (now: Date) => `db-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`;

/** Logs in with a DSN's login and password through the console's own route to the server (the DSN's host may be cluster-internal). */
async function tryLogin(admin: PostgresAdmin, dsn: string, database: string): Promise<{ currentUser: string; sessionUser: string }> {
  const u = new URL(dsn);
  const client = new pg.Client({
    host: admin.where.host,
    port: admin.where.port,
    user: decodeURIComponent(u.username),
    password: passwordOf(dsn),
    database,
    connectionTimeoutMillis: 5_000,
    application_name: 'gatehouse-rotation-check',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const row = (await client.query<{ c: string; s: string }>('SELECT current_user AS c, session_user AS s')).rows[0]!;
    return { currentUser: row.c, sessionUser: row.s };
  } catch (error) {
    throw pgError(error, `logging in as ${decodeURIComponent(u.username)} with the new password`, admin.where);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Sessions of a login on the tenant database, grouped by application name and client. */
export async function sessionsOf(
  admin: PostgresAdmin,
  database: string,
  user: string,
): Promise<{ applicationName: string; client: string | null; count: number }[]> {
  const rows = await admin.query<{ app: string; addr: string | null; n: string }>(
    `SELECT application_name AS app, host(client_addr) AS addr, count(*)::text AS n FROM pg_stat_activity
     WHERE datname = $1 AND usename = $2 AND pid <> pg_backend_pid() GROUP BY 1, 2 ORDER BY 1, 2`,
    [database, user],
    `counting the sessions of ${user}`,
  );
  return rows.map((r) => ({ applicationName: r.app, client: r.addr, count: Number(r.n) }));
}

export function databaseRotationSaga(
  o: RotationOptions,
  postgres: (ctx: RotationCtx) => Promise<PostgresAdmin>,
): SagaDefinition<RotationParams, DbCtx> {
  const kind = rotationKind('database');
  const meta = (m: DbMeta) => JSON.stringify(m);
  const steps: SagaStep<DbCtx>[] = [
    {
      name: 'reserve',
      async run(ctx) {
        await acquireTenantLease(ctx.kube, ctx.slug, ctx.holder, ctx.o.leaseSeconds);
        ctx.leaseChecked = true;
        ctx.lease.start();
        const doc = await readTenantDoc(ctx.kube, ctx.slug);
        if (!doc.database || !doc.data[DB_KEYS.url])
          throw new ContractError(
            'VALIDATION',
            `Secret tenant-${ctx.slug} has no DATABASE_URL: repair the tenant (recreate-secret) before rotating its password.`,
          );
        const other =
          doc.database.next && doc.database.next.op !== ctx.op.id
            ? doc.database.next
            : doc.database.previous && doc.database.previous.op !== ctx.op.id
              ? doc.database.previous
              : null;
        if (other) {
          throw new ContractError(
            'CONFLICT',
            `A database password rotation of "${ctx.slug}" is in progress (operation ${other.op}). Resume or roll it back under Unfinished operations first.`,
            { operationId: other.op },
          );
        }
        if (typeof ctx.op.notes.revisionBefore !== 'string') ctx.op.note('revisionBefore', revision(doc));
        if (typeof ctx.op.notes.oldUser !== 'string') ctx.op.note('oldUser', doc.database.user);
      },
      compensate: (ctx) => releaseTenantLease(ctx.kube, ctx.slug, ctx.holder),
    },
    {
      name: 'stage',
      // The new password is written to the Secret first: it is the only place secrets live, so a crash after this adopts it.
      async run(ctx) {
        await ensureLease(ctx);
        const doc = await updateTenantSecret(ctx.kube, ctx.slug, (d) => {
          const db = d.database!;
          if (db.next?.op === ctx.op.id || db.previous?.op === ctx.op.id) return null;
          const user = nextLogin(ctx.slug, db.user);
          const now = ctx.o.now();
          const next = { id: dbCredentialId(now), user, created: now.toISOString(), op: ctx.op.id };
          return {
            [DB_KEYS.next]: withUser(d.data[DB_KEYS.url]!, user, generatePassword(32)),
            [DB_KEYS.meta]: meta({ ...db, next, previous: null }),
          };
        });
        ctx.op.note('entryId', doc.database?.next?.id ?? doc.database?.id ?? null);
        ctx.op.note('newUser', doc.database?.next?.user ?? doc.database?.user ?? null);
      },
      async compensate(ctx) {
        await ensureLease(ctx);
        await updateTenantSecret(ctx.kube, ctx.slug, (d) => {
          const db = d.database!;
          if (db.next?.op !== ctx.op.id) return null;
          return { [DB_KEYS.next]: null, [DB_KEYS.meta]: meta({ ...db, next: null }) };
        });
      },
    },
    {
      name: 'login',
      async run(ctx) {
        await ensureLease(ctx);
        const doc = await readTenantDoc(ctx.kube, ctx.slug);
        const db = doc.database!;
        const staged =
          db.next?.op === ctx.op.id
            ? { dsn: doc.data[DB_KEYS.next]!, user: db.next.user }
            : db.previous?.op === ctx.op.id
              ? { dsn: doc.data[DB_KEYS.url]!, user: db.user }
              : null;
        if (!staged)
          throw new ContractError(
            'CONFLICT',
            `The new database credential this rotation staged is gone from Secret tenant-${ctx.slug} (someone changed it). Roll the operation back.`,
          );
        const owner = tenantRoleName(ctx.slug);
        const mark = await ctx.pg.ownershipMark('role', staged.user);
        if (!mark.exists) await ctx.pg.createMarkedLoginRole(staged.user, ctx.op.id);
        const doing = `preparing login ${staged.user}`;
        await ctx.pg.query(`GRANT ${quoteIdent(owner)} TO ${quoteIdent(staged.user)}`, [], doing);
        // Sessions act as the tenant role, so objects they create keep the owner they always had.
        await ctx.pg.query(`ALTER ROLE ${quoteIdent(staged.user)} SET role = ${quoteLiteral(owner)}`, [], doing);
        const verifier = await scramSha256Verifier(passwordOf(staged.dsn));
        await ctx.pg.query(
          `ALTER ROLE ${quoteIdent(staged.user)} WITH LOGIN PASSWORD ${quoteLiteral(verifier)}`,
          [],
          `setting the password of ${staged.user}`,
        );
        const who = await tryLogin(ctx.pg, staged.dsn, tenantDbName(ctx.slug));
        if (who.currentUser !== owner)
          throw new ContractError(
            'INTERNAL',
            `Login ${staged.user} acts as ${who.currentUser}, not ${owner}; the rotation stops before anything uses it.`,
          );
      },
      async compensate(ctx) {
        await ensureLease(ctx);
        const user = ctx.op.notes.newUser as string | undefined;
        if (!user || user === ctx.op.notes.oldUser) return;
        const mark = await ctx.pg.ownershipMark('role', user);
        if (!mark.exists) return;
        if (mark.operationId === ctx.op.id) {
          await ctx.pg.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1',
            [user],
            `ending the sessions of ${user}`,
          );
          await ctx.pg.dropRole(user);
        } else {
          await ctx.pg.query(`ALTER ROLE ${quoteIdent(user)} PASSWORD NULL`, [], `removing the password of ${user}`);
        }
      },
    },
    {
      name: 'switch',
      async run(ctx) {
        await ensureLease(ctx);
        await updateTenantSecret(ctx.kube, ctx.slug, (d) => {
          const db = d.database!;
          if (db.previous?.op === ctx.op.id) return null; // switched before a crash
          if (db.next?.op !== ctx.op.id)
            throw new ContractError(
              'CONFLICT',
              `The staged database credential is gone from Secret tenant-${ctx.slug}. Roll the operation back.`,
            );
          return {
            [DB_KEYS.url]: d.data[DB_KEYS.next]!,
            [DB_KEYS.previous]: d.data[DB_KEYS.url]!,
            [DB_KEYS.next]: null,
            [DB_KEYS.meta]: meta({
              id: db.next.id,
              user: db.next.user,
              created: db.next.created,
              next: null,
              previous: { id: db.id, user: db.user, created: db.created, op: ctx.op.id },
            }),
          };
        });
      },
      async compensate(ctx) {
        await ensureLease(ctx);
        const doc = await updateTenantSecret(ctx.kube, ctx.slug, (d) => {
          const db = d.database!;
          if (db.previous?.op !== ctx.op.id || !d.data[DB_KEYS.previous]) return null;
          return {
            [DB_KEYS.url]: d.data[DB_KEYS.previous]!,
            [DB_KEYS.next]: d.data[DB_KEYS.url]!,
            [DB_KEYS.previous]: null,
            [DB_KEYS.meta]: meta({
              id: db.previous.id,
              user: db.previous.user,
              created: db.previous.created,
              previous: null,
              next: { id: db.id, user: db.user, created: db.created, op: ctx.op.id },
            }),
          };
        });
        if (ctx.op.notes.annotationsBefore) await rollTo(ctx, doc);
      },
    },
    holdingStep<DbCtx>(
      'roll',
      async (ctx) => {
        await rollTo(ctx, await readTenantDoc(ctx.kube, ctx.slug));
      },
      'the backends are moving to the new login; the old one still works',
    ),
    holdingStep<DbCtx>(
      'verify',
      async (ctx) => {
        const old = ctx.op.notes.oldUser as string;
        const fresh = ctx.op.notes.newUser as string;
        const database = tenantDbName(ctx.slug);
        const started = Date.now();
        let poll = ctx.o.pollMs;
        for (;;) {
          ctx.lease.check();
          const left = await sessionsOf(ctx.pg, database, old);
          if (left.length === 0) {
            const now = await sessionsOf(ctx.pg, database, fresh);
            ctx.op.note(
              'newSessions',
              now.reduce((n, s) => n + s.count, 0),
            );
            return;
          }
          if (Date.now() - started >= ctx.o.drainTimeoutMs) {
            const list = left
              .map((s) => `${s.count} × "${s.applicationName || '(no application name)'}"${s.client ? ` from ${s.client}` : ''}`)
              .join(', ');
            throw new ContractError(
              'UNAVAILABLE',
              `${left.reduce((n, s) => n + s.count, 0)} session(s) of the old login ${old} are still open on ${database} (${list}). Whatever holds them has not picked up the new Secret: restart it, then resume the operation (or roll it back). The old password stays valid until then.`,
              { sessions: left },
            );
          }
          await ctx.o.sleep(poll);
          poll = Math.min(2000, poll * 2);
        }
      },
      'the new login is in the Secret and works; the old one still works',
    ),
    {
      name: 'expire-old',
      async run(ctx) {
        await ensureLease(ctx);
        const old = ctx.op.notes.oldUser as string;
        // The password goes first: a crash after it re-runs this step and only cleans the Secret.
        await ctx.pg.query(`ALTER ROLE ${quoteIdent(old)} PASSWORD NULL`, [], `removing the old password of ${old}`);
        await updateTenantSecret(ctx.kube, ctx.slug, (d) => {
          const db = d.database!;
          if (db.previous?.op !== ctx.op.id) return null;
          return { [DB_KEYS.previous]: null, [DB_KEYS.meta]: meta({ ...db, previous: null }) };
        });
      },
    },
    { name: 'release', run: (ctx) => releaseTenantLease(ctx.kube, ctx.slug, ctx.holder) },
  ];
  return {
    kind,
    target: (p) => p.slug,
    async context(params, op, cluster) {
      const ctx = baseContext(o, params, op, cluster);
      return { ...ctx, pg: await postgres(ctx) };
    },
    guard: (ctx) => ctx.lease.check(),
    async dispose(ctx) {
      ctx.lease.stop();
    },
    steps: hooked<DbCtx>(kind, o, steps),
  };
}
