import { randomUUID } from 'node:crypto';
import { ContractError } from '../../../src-shared/contract';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { EventBus } from '../core/events';
import { errorText } from '../core/saga';
import { retryOnConflict } from '../../adapters/kube';
import { TENANT_LABEL, acquireTenantLease, releaseTenantLease } from './lease';
import {
  INITIAL_ADMIN_USERNAME,
  decodeSecretData,
  generatePassword,
  hashPassword,
  verifyPassword,
  tenantDbName,
  tenantRoleName,
  tenantSecret,
  tenantSecretData,
  tenantSecretName,
} from './material';
import type { LicenseHook, TenantPorts } from './ports';
import {
  applyPendingMigrations,
  currentSchemaVersion,
  describeModified,
  latestVersion,
  modifiedMigrations,
  pendingMigrations,
} from './schema';
import { mapLimit } from '../core/limit';

const SUSPENDED_REPLICAS = 'gatehouse.io/replicas-before-suspend';
/** Secret key of an admin password being set (see resetAdminPassword). */
const PENDING_ADMIN_PASSWORD = 'INITIAL_ADMIN_PASSWORD_PENDING';
const withoutPending = (data: Record<string, string>) =>
  Object.fromEntries(Object.entries(data).filter(([k]) => k !== PENDING_ADMIN_PASSWORD));

/** Day-two operations on existing tenants: suspend/resume, schema, admin password, drift repairs. */
export class TenantMaintenance {
  constructor(
    private readonly ports: (cluster: ClusterRuntime) => Promise<TenantPorts>,
    private readonly bus: EventBus | null,
    private readonly consoleId: string,
    private readonly license: () => LicenseHook | null = () => null,
  ) {}

  /** Short mutations hold the tenant Lease too, so they never interleave with a create or delete. */
  private async locked<T>(cluster: ClusterRuntime, slug: string, fn: (p: TenantPorts) => Promise<T>): Promise<T> {
    const p = await this.ports(cluster);
    const holder = `${this.consoleId}/${randomUUID()}`;
    await acquireTenantLease(p.kube, slug, holder);
    try {
      return await fn(p);
    } finally {
      await releaseTenantLease(p.kube, slug, holder).catch(() => undefined);
    }
  }

  /** Dedicated workloads (login-worker-<slug>, per-tenant agents) carry the tenant label; one LIST finds them. */
  private async dedicatedWorkloads(p: TenantPorts, slug: string) {
    return (await p.kube.listDeployments(`${TENANT_LABEL}=${slug}`)).filter((d) => d.metadata?.name);
  }

  /**
   * Marks the tenant suspended and scales its dedicated workloads to zero, remembering their size on each Deployment.
   * `before` is the status read in the same registry write (for the audit record), never assumed.
   */
  suspend(cluster: ClusterRuntime, slug: string) {
    return this.locked(cluster, slug, async (p) => {
      let before = '';
      await p.registry.update(slug, (e) => ((before = e.status), { ...e, status: 'suspended' }));
      const scaled: { name: string; replicas: number }[] = [];
      for (const d of await this.dedicatedWorkloads(p, slug)) {
        const name = d.metadata!.name!;
        await retryOnConflict(async () => {
          const fresh = (await p.kube.listDeployments(`${TENANT_LABEL}=${slug}`)).find((x) => x.metadata?.name === name);
          if (!fresh || fresh.metadata?.annotations?.[SUSPENDED_REPLICAS] !== undefined) return;
          const before = fresh.spec?.replicas ?? 1;
          await p.kube.replaceDeployment(name, {
            ...fresh,
            metadata: { ...fresh.metadata, annotations: { ...(fresh.metadata?.annotations ?? {}), [SUSPENDED_REPLICAS]: String(before) } },
          });
        });
        await p.kube.scaleDeployment(name, 0);
        scaled.push({ name, replicas: 0 });
      }
      return { result: { slug, status: 'suspended', scaled }, before: { status: before } };
    });
  }

  resume(cluster: ClusterRuntime, slug: string) {
    return this.locked(cluster, slug, async (p) => {
      const scaled: { name: string; replicas: number }[] = [];
      for (const d of await this.dedicatedWorkloads(p, slug)) {
        const name = d.metadata!.name!;
        const remembered = d.metadata?.annotations?.[SUSPENDED_REPLICAS];
        if (remembered === undefined) continue;
        // exactly what was recorded: a workload that was at 0 comes back at 0
        const recorded = Number.parseInt(remembered, 10);
        const replicas = Number.isFinite(recorded) && recorded >= 0 ? recorded : 1;
        await p.kube.scaleDeployment(name, replicas);
        await retryOnConflict(async () => {
          const fresh = (await p.kube.listDeployments(`${TENANT_LABEL}=${slug}`)).find((x) => x.metadata?.name === name);
          if (!fresh) return;
          const annotations = { ...(fresh.metadata?.annotations ?? {}) };
          delete annotations[SUSPENDED_REPLICAS];
          await p.kube.replaceDeployment(name, { ...fresh, metadata: { ...fresh.metadata, annotations } });
        });
        scaled.push({ name, replicas });
      }
      let before = '';
      await p.registry.update(slug, (e) => ((before = e.status), { ...e, status: 'active' }));
      return { result: { slug, status: 'active', scaled }, before: { status: before } };
    });
  }

  async schemaStatus(cluster: ClusterRuntime, slugs: string[]) {
    const p = await this.ports(cluster);
    const tenants = await mapLimit(slugs, 4, async (slug) => {
      try {
        const { current, modified } = await p.pg.withDatabase(
          tenantDbName(slug),
          async (c) => ({ current: await currentSchemaVersion(c), modified: await modifiedMigrations(c, p.migrations) }),
          `reading the schema version of ${slug}`,
        );
        return {
          slug,
          current,
          pending: pendingMigrations(p.migrations, current).map((m) => m.name),
          modified: modified.map((m) => m.name),
          error: modified.length
            ? `Applied migrations differ from the shipped files: ${describeModified(modified)}. Further migrations are refused.`
            : null,
        };
      } catch (error) {
        return { slug, current: null, pending: [], modified: [], error: errorText(error) };
      }
    });
    return { latest: latestVersion(p.migrations), tenants };
  }

  /** Applies pending migrations; one tenant failing never stops the others. */
  async schemaApply(cluster: ClusterRuntime, slugs: string[], concurrency: number) {
    const p = await this.ports(cluster);
    const operationId = randomUUID();
    const latest = latestVersion(p.migrations);
    let done = 0;
    const progress = (slug: string, status: 'running' | 'done' | 'failed', message?: string) =>
      this.bus?.publish('operation.progress', {
        operationId,
        kind: 'tenant.schema',
        target: slug,
        step: 'migrate',
        status,
        done,
        total: slugs.length,
        at: new Date().toISOString(),
        ...(message ? { message } : {}),
      });
    const results = await mapLimit(slugs, concurrency, async (slug) => {
      progress(slug, 'running');
      try {
        const applied = await p.pg.withDatabase(
          tenantDbName(slug),
          (c) => applyPendingMigrations(c, tenantRoleName(slug), p.migrations),
          `migrating ${slug}`,
        );
        if (applied.length && (await p.registry.get(slug))) await p.registry.update(slug, (e) => ({ ...e, schema: latest }));
        done++;
        progress(slug, 'done', applied.length ? `applied ${applied.join(', ')}` : 'up to date');
        return { slug, ok: true, applied, error: null };
      } catch (error) {
        done++;
        progress(slug, 'failed', errorText(error));
        return { slug, ok: false, applied: [] as string[], error: errorText(error) };
      }
    });
    const summary = {
      ok: results.filter((r) => r.ok && r.applied.length > 0).length,
      failed: results.filter((r) => !r.ok).length,
      upToDate: results.filter((r) => r.ok && r.applied.length === 0).length,
    };
    return { operationId, results, summary };
  }

  async revealAdminPassword(cluster: ClusterRuntime, slug: string) {
    const p = await this.ports(cluster);
    // A reset interrupted after the database took the new hash is finished first, so what is shown logs in.
    await this.settlePendingAdminPassword(p, slug);
    const data = decodeSecretData(await p.kube.getSecret(tenantSecretName(slug)));
    if (!data.INITIAL_ADMIN_PASSWORD) {
      throw new ContractError(
        'NOT_FOUND',
        `Secret ${tenantSecretName(slug)} holds no initial admin password. Reset it (tenant page → Reset password, admins) to generate a new one.`,
      );
    }
    return { slug, username: data.INITIAL_ADMIN_USERNAME ?? INITIAL_ADMIN_USERNAME, password: data.INITIAL_ADMIN_PASSWORD };
  }

  /**
   * New password, ordered so no failure can lock the admin out: (1) the Secret records it as
   * pending next to the current one, (2) the tenant database takes its hash, (3) the Secret
   * makes it current. A failure after (1) leaves the old password working; after (2), the
   * pending value is the one that logs in and the next reveal or reset promotes it.
   */
  resetAdminPassword(cluster: ClusterRuntime, slug: string) {
    return this.locked(cluster, slug, async (p) => {
      await this.settlePendingAdminPassword(p, slug);
      const password = generatePassword();
      await this.writeSecret(p, slug, (data) => ({ ...data, [PENDING_ADMIN_PASSWORD]: password }));
      const hash = await hashPassword(password);
      const updated = await p.pg.withDatabase(
        tenantDbName(slug),
        (c) =>
          c.query('UPDATE users SET password_hash = $2, must_change_password = true, updated_at = now() WHERE username = $1', [
            INITIAL_ADMIN_USERNAME,
            hash,
          ]),
        'resetting the admin password',
      );
      if (!updated.rowCount) {
        await this.writeSecret(p, slug, (data) => withoutPending(data)).catch(() => undefined);
        throw new ContractError('NOT_FOUND', `Tenant "${slug}" has no "${INITIAL_ADMIN_USERNAME}" user to reset.`);
      }
      await this.beforeConfirm?.(slug);
      await this.writeSecret(p, slug, (data) => ({ ...withoutPending(data), INITIAL_ADMIN_PASSWORD: password, INITIAL_ADMIN_USERNAME }));
      return { slug, username: INITIAL_ADMIN_USERNAME, password };
    });
  }

  /** Test hook: runs between the database write and the Secret's confirmation of a reset. */
  beforeConfirm: ((slug: string) => Promise<void>) | null = null;

  /** Promotes a pending admin password the database already took, or drops one it never took. */
  private async settlePendingAdminPassword(p: TenantPorts, slug: string): Promise<void> {
    const secret = await p.kube.getSecret(tenantSecretName(slug));
    const pending = decodeSecretData(secret)[PENDING_ADMIN_PASSWORD];
    if (!secret || !pending) return;
    const row = await p.pg.withDatabase(
      tenantDbName(slug),
      async (c) =>
        (await c.query<{ h: string | null }>('SELECT password_hash AS h FROM users WHERE username = $1', [INITIAL_ADMIN_USERNAME])).rows[0],
      'checking the admin password',
    );
    const taken = !!row?.h && (await verifyPassword(row.h, pending));
    await this.writeSecret(p, slug, (data) =>
      taken ? { ...withoutPending(data), INITIAL_ADMIN_PASSWORD: pending, INITIAL_ADMIN_USERNAME } : withoutPending(data),
    );
  }

  private async writeSecret(p: TenantPorts, slug: string, change: (data: Record<string, string>) => Record<string, string>): Promise<void> {
    await retryOnConflict(async () => {
      const secret = await p.kube.getSecret(tenantSecretName(slug));
      if (!secret)
        throw new ContractError(
          'NOT_FOUND',
          `Secret ${tenantSecretName(slug)} is missing; repair the tenant first (Tenants → drift → Recreate Secret).`,
        );
      // resourceVersion from the read: a concurrent writer makes this a 409 and a retry
      await p.kube.replaceSecret(tenantSecretName(slug), tenantSecret(slug, p.kube.namespace, change(decodeSecretData(secret)), secret));
    });
  }

  /** Repairs that only add or remove one thing; 'drop-orphan' is a full delete and goes through the delete saga. */
  repair(cluster: ClusterRuntime, slug: string, action: 'register' | 'recreate-secret' | 'remove-registry-entry') {
    return this.locked(cluster, slug, async (p) => {
      if (action === 'remove-registry-entry') {
        await p.registry.remove(slug);
        return `removed "${slug}" from the registry`;
      }
      if (action === 'register') {
        if (!(await p.pg.databaseExists(tenantDbName(slug))))
          throw new ContractError('NOT_FOUND', `Database ${tenantDbName(slug)} does not exist; nothing to register.`);
        const schema = await p.pg.withDatabase(tenantDbName(slug), currentSchemaVersion);
        // The original name and tier were lost with the entry: register as DEV under the slug, and say so.
        await p.registry.put(
          slug,
          { name: slug, tier: 'DEV', status: 'active', created: new Date().toISOString(), schema, users: null },
          { ifAbsent: true },
        );
        return `registered "${slug}" as tier DEV with the slug as its display name (the original name and tier were lost with the registry entry)`;
      }
      // recreate-secret: fresh credentials, applied to the role and the admin user so the Secret works at once.
      if (await p.kube.getSecret(tenantSecretName(slug)))
        throw new ContractError(
          'CONFLICT',
          `Secret ${tenantSecretName(slug)} exists, so there is nothing to recreate. Reconcile to refresh the drift list; to replace a damaged Secret, delete it (kubectl delete secret ${tenantSecretName(slug)} -n ${p.kube.namespace}) and run this repair again.`,
        );
      const rolePassword = generatePassword(32);
      const adminPassword = generatePassword();
      await p.pg.setRolePassword(tenantRoleName(slug), rolePassword);
      await p.pg.withDatabase(tenantDbName(slug), async (c) =>
        c.query('UPDATE users SET password_hash = $2, must_change_password = true WHERE username = $1', [
          INITIAL_ADMIN_USERNAME,
          await hashPassword(adminPassword),
        ]),
      );
      const data = tenantSecretData(
        slug,
        {},
        { databaseUrl: p.pg.tenantUrl(tenantRoleName(slug), rolePassword, tenantDbName(slug)), adminPassword },
      );
      await p.kube.createSecret(tenantSecret(slug, p.kube.namespace, data));
      // the license keys went with the old Secret: the fan-out writes them again
      const problem = await this.license()?.(cluster, null);
      return `recreated Secret ${tenantSecretName(slug)} with new credentials (database password and admin password rotated)${problem ? `; the license could not be reinstalled yet: ${problem}` : '; license reinstalled'}`;
    });
  }
}
