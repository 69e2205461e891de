import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { TenantTier } from '../../../src-shared/contract/tenants';
import { hashPassword, tenantDbName } from './material';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { TenantService } from './service';

/**
 * Demo data for `npm run sandbox` (and its test): a handful of tenants with people,
 * teams, applications and roles that look like a real customer's, so every page of the
 * console has something to show. Idempotent: tenants that exist are skipped; a tenant
 * whose seeding was interrupted gets the missing rows (every insert is ON CONFLICT DO NOTHING).
 */
export interface SeedApp {
  name: string;
  type: 'web' | 'spa' | 'native' | 'machine';
}
export interface SeedTenant {
  slug: string;
  name: string;
  tier: TenantTier;
  domain: string;
  users: number;
  groups: string[];
  apps: SeedApp[];
}

export const SANDBOX_TENANTS: SeedTenant[] = [
  {
    slug: 'acme',
    name: 'Acme Corporation',
    tier: 'PRO',
    domain: 'acme.example',
    users: 40,
    groups: ['Engineering', 'Sales', 'Support', 'Finance', 'Administrators'],
    apps: [
      { name: 'Acme Portal', type: 'web' },
      { name: 'Roadrunner Tracker', type: 'spa' },
      { name: 'Acme Mobile', type: 'native' },
      { name: 'Inventory Sync', type: 'machine' },
    ],
  },
  {
    slug: 'globex',
    name: 'Globex Corporation',
    tier: 'Enterprise',
    domain: 'globex.example',
    users: 60,
    groups: ['Research', 'Operations', 'Legal', 'Executives', 'Contractors', 'Administrators'],
    apps: [
      { name: 'Globex Intranet', type: 'web' },
      { name: 'Hammock Planner', type: 'spa' },
      { name: 'Globex Field App', type: 'native' },
      { name: 'Data Warehouse Loader', type: 'machine' },
      { name: 'Partner API', type: 'machine' },
    ],
  },
  {
    slug: 'initech',
    name: 'Initech',
    tier: 'DEV',
    domain: 'initech.example',
    users: 15,
    groups: ['Software', 'Management', 'Administrators'],
    apps: [
      { name: 'TPS Reports', type: 'web' },
      { name: 'Jump to Conclusions', type: 'spa' },
    ],
  },
  {
    slug: 'umbrella',
    name: 'Umbrella Corporation',
    tier: 'PRO',
    domain: 'umbrella.example',
    users: 30,
    groups: ['Laboratories', 'Security', 'Logistics', 'Administrators'],
    apps: [
      { name: 'Hive Console', type: 'web' },
      { name: 'Umbrella Badge', type: 'native' },
      { name: 'Sample Tracker', type: 'machine' },
    ],
  },
  {
    slug: 'hooli',
    name: 'Hooli',
    tier: 'Enterprise',
    domain: 'hooli.example',
    users: 50,
    groups: ['Platform', 'Nucleus', 'Marketing', 'People Ops', 'Administrators'],
    apps: [
      { name: 'HooliMail', type: 'web' },
      { name: 'Hooli Chat', type: 'spa' },
      { name: 'HooliPhone', type: 'native' },
      { name: 'Nucleus Compression API', type: 'machine' },
    ],
  },
];

/** Password of every seeded (non-admin) user; the tenant's initial admin has its own generated one. */
export const SANDBOX_USER_PASSWORD = 'gatehouse-sandbox';

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Linus',
  'Margaret',
  'Ken',
  'Barbara',
  'Dennis',
  'Frances',
  'Edsger',
  'Radia',
  'Tim',
  'Katherine',
  'John',
  'Hedy',
  'Donald',
  'Sophie',
  'Guido',
  'Anita',
  'Vint',
  'Joan',
  'Bjarne',
  'Lynn',
  'Niklaus',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Torvalds',
  'Hamilton',
  'Thompson',
  'Liskov',
  'Ritchie',
  'Allen',
  'Dijkstra',
  'Perlman',
  'Berners-Lee',
  'Johnson',
  'McCarthy',
  'Lamarr',
  'Knuth',
  'Wilson',
  'van Rossum',
  'Borg',
  'Cerf',
  'Clarke',
  'Stroustrup',
  'Conway',
  'Wirth',
];

export interface SeedRows {
  users: Array<{ username: string; email: string; displayName: string; disabled: boolean }>;
  groups: Array<{ name: string; description: string }>;
  memberships: Array<{ username: string; group: string }>;
  apps: Array<{ name: string; clientId: string; type: string; redirectUris: string[]; secretHash: string | null }>;
  resourceServer: { name: string; identifier: string; permissions: string[] };
  roles: Array<{ name: string; description: string; permissions: string[]; groups: string[] }>;
}

/** Deterministic rows for one tenant: the same input always gives the same people and keys. */
export function seedRows(t: SeedTenant): SeedRows {
  const users: SeedRows['users'] = [];
  const taken = new Set<string>();
  const offset = t.slug.length * 5;
  for (let i = 0; users.length < t.users; i++) {
    const first = FIRST[(i + offset) % FIRST.length]!;
    const last = LAST[(i * 7 + offset) % LAST.length]!;
    let username = `${first}.${last}`.toLowerCase().replace(/[^a-z.]/g, '');
    for (let n = 2; taken.has(username); n++) username = `${first}.${last}${n}`.toLowerCase().replace(/[^a-z0-9.]/g, '');
    taken.add(username);
    // Every eleventh person has left the company: disabled, still listed.
    users.push({ username, email: `${username}@${t.domain}`, displayName: `${first} ${last}`, disabled: i % 11 === 10 });
  }
  const groups = t.groups.map((name) => ({ name, description: `${name} at ${t.name}` }));
  const teams = t.groups.filter((g) => g !== 'Administrators');
  const memberships: SeedRows['memberships'] = [];
  users.forEach((u, i) => {
    memberships.push({ username: u.username, group: teams[i % teams.length]! });
    if (i % 4 === 0) memberships.push({ username: u.username, group: teams[(i + 1) % teams.length]! });
    if (i < 3) memberships.push({ username: u.username, group: 'Administrators' });
  });
  const apps = t.apps.map((a) => {
    const clientId = `${t.slug}-${a.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
    const base = `https://${a.name.toLowerCase().replace(/[^a-z0-9]+/g, '')}.${t.domain}`;
    return {
      name: a.name,
      clientId,
      type: a.type,
      redirectUris: a.type === 'machine' ? [] : a.type === 'native' ? [`${t.slug}://callback`] : [`${base}/callback`],
      // Confidential clients get a secret; only its hash is stored (the demo secret is derived, not random, so re-runs agree).
      secretHash:
        a.type === 'web' || a.type === 'machine'
          ? `sha256:${createHash('sha256').update(`sandbox-secret:${clientId}`).digest('hex')}`
          : null,
    };
  });
  const resourceServer = {
    name: `${t.name} API`,
    identifier: `https://api.${t.domain}/`,
    permissions: ['read:profile', 'write:profile', 'read:reports', 'write:reports', 'read:billing', 'admin:users'],
  };
  const roles = [
    { name: 'viewer', description: 'Read-only access', permissions: ['read:profile', 'read:reports'], groups: teams },
    {
      name: 'editor',
      description: 'Creates and edits reports',
      permissions: ['read:profile', 'write:profile', 'read:reports', 'write:reports'],
      groups: teams.slice(0, 2),
    },
    {
      name: 'billing-admin',
      description: 'Sees invoices and payment methods',
      permissions: ['read:billing'],
      groups: teams.filter((g) => /finance|exec|management|operations/i.test(g)),
    },
    { name: 'tenant-admin', description: 'Manages users and groups', permissions: resourceServer.permissions, groups: ['Administrators'] },
  ];
  return { users, groups, memberships, apps, resourceServer, roles };
}

/** Inserts what is missing, in one transaction. Returns how many rows it added. */
export async function populateTenant(c: pg.Client, rows: SeedRows, passwordHash: string): Promise<number> {
  let added = 0;
  const run = async (sql: string, params: unknown[]) => {
    added += (await c.query(sql, params)).rowCount ?? 0;
  };
  await c.query('BEGIN');
  try {
    const u = rows.users;
    await run(
      `INSERT INTO users (username, email, display_name, password_hash, disabled)
       SELECT x.u, x.e, x.d, $4, x.dis FROM unnest($1::text[], $2::text[], $3::text[], $5::bool[]) AS x(u, e, d, dis) ON CONFLICT DO NOTHING`,
      [u.map((x) => x.username), u.map((x) => x.email), u.map((x) => x.displayName), passwordHash, u.map((x) => x.disabled)],
    );
    await run(`INSERT INTO groups (name, description) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, [
      rows.groups.map((g) => g.name),
      rows.groups.map((g) => g.description),
    ]);
    await run(
      `INSERT INTO memberships (user_id, group_id)
       SELECT us.id, gr.id FROM unnest($1::text[], $2::text[]) AS m(u, g) JOIN users us ON us.username = m.u JOIN groups gr ON gr.name = m.g ON CONFLICT DO NOTHING`,
      [rows.memberships.map((m) => m.username), rows.memberships.map((m) => m.group)],
    );
    const a = rows.apps;
    await run(
      `INSERT INTO applications (name, client_id, type, client_secret_hash, redirect_uris)
       SELECT x.n, x.c, x.t, x.s, CASE WHEN x.r = '' THEN '{}'::text[] ELSE string_to_array(x.r, ' ') END
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS x(n, c, t, s, r) ON CONFLICT DO NOTHING`,
      [
        a.map((x) => x.name),
        a.map((x) => x.clientId),
        a.map((x) => x.type),
        a.map((x) => x.secretHash),
        a.map((x) => x.redirectUris.join(' ')),
      ],
    );
    const rs = rows.resourceServer;
    await run(`INSERT INTO resource_servers (name, identifier) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [rs.name, rs.identifier]);
    await run(
      `INSERT INTO permissions (resource_server_id, name) SELECT r.id, p FROM resource_servers r, unnest($2::text[]) AS p WHERE r.identifier = $1 ON CONFLICT DO NOTHING`,
      [rs.identifier, rs.permissions],
    );
    for (const role of rows.roles) {
      await run(`INSERT INTO roles (name, description) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [role.name, role.description]);
      await run(
        `INSERT INTO role_permissions (role_id, permission_id)
         SELECT ro.id, p.id FROM roles ro, permissions p JOIN resource_servers r ON r.id = p.resource_server_id
         WHERE ro.name = $1 AND r.identifier = $2 AND p.name = ANY($3::text[]) ON CONFLICT DO NOTHING`,
        [role.name, rs.identifier, role.permissions],
      );
      await run(
        `INSERT INTO role_assignments (role_id, group_id) SELECT ro.id, g.id FROM roles ro, groups g WHERE ro.name = $1 AND g.name = ANY($2::text[]) ON CONFLICT DO NOTHING`,
        [role.name, role.groups],
      );
    }
    // Two weeks of sign-in history, once, so activity figures are not empty.
    await run(
      `INSERT INTO sign_ins (user_id, application_id, outcome, at)
       SELECT u.id, (SELECT id FROM applications ORDER BY name OFFSET (s % (SELECT count(*) FROM applications)) LIMIT 1),
              CASE WHEN s % 9 = 0 THEN 'failure' ELSE 'success' END, now() - (s * interval '37 minutes')
       FROM generate_series(1, 400) AS s JOIN LATERAL (SELECT id FROM users WHERE NOT disabled ORDER BY username OFFSET (s % $1) LIMIT 1) u ON true
       WHERE NOT EXISTS (SELECT 1 FROM sign_ins)`,
      [Math.max(1, rows.users.filter((x) => !x.disabled).length)],
    );
    await c.query('COMMIT');
  } catch (error) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return added;
}

export interface SeedResult {
  slug: string;
  /** created: new tenant; completed: existed but its demo data was incomplete; skipped: already seeded; conflict: half-present (drift), left alone. */
  outcome: 'created' | 'completed' | 'skipped' | 'conflict';
  rowsAdded: number;
  detail: string;
}

export interface SeedOptions {
  tenants?: SeedTenant[];
  /** How a tenant is created; the sandbox passes the command pipeline so creation is audited. Default: the service. */
  create?: (input: { slug: string; name: string; tier: TenantTier; adminEmail: string }) => Promise<unknown>;
  log?: (line: string) => void;
}

/** Creates and fills the demo tenants that are missing; a second run changes nothing. */
export async function seedTenants(service: TenantService, cluster: ClusterRuntime, opts: SeedOptions = {}): Promise<SeedResult[]> {
  const wanted = opts.tenants ?? SANDBOX_TENANTS;
  const log = opts.log ?? (() => undefined);
  const create = opts.create ?? ((input) => service.create(cluster, input));
  // One reconcile (constant calls) with stats tells what exists and how full it is.
  const before = new Map((await service.reconcile(cluster, true)).tenants.map((t) => [t.slug, t]));
  let passwordHash: string | null = null;
  const results: SeedResult[] = [];
  for (const t of wanted) {
    const rows = seedRows(t);
    const existing = before.get(t.slug);
    if (existing && !(existing.inRegistry && existing.hasSecret && existing.hasDatabase)) {
      results.push({
        slug: t.slug,
        outcome: 'conflict',
        rowsAdded: 0,
        detail: 'partly present (see drift on the Tenants page); left alone',
      });
      log(`${t.slug}: partly present (drift), left alone`);
      continue;
    }
    // Only a tenant this seeding made (same display name) is completed; anyone else's is never touched.
    const seeded = (existing?.stats?.users ?? 0) > rows.users.length && (existing?.stats?.applications ?? 0) >= rows.apps.length;
    if (existing && (seeded || existing.name !== t.name)) {
      results.push({ slug: t.slug, outcome: 'skipped', rowsAdded: 0, detail: 'exists' });
      log(`${t.slug}: exists, skipped`);
      continue;
    }
    if (!existing) {
      log(`${t.slug}: creating tenant "${t.name}" (${t.tier})…`);
      await create({ slug: t.slug, name: t.name, tier: t.tier, adminEmail: `it-admin@${t.domain}` });
    }
    // One argon2id hash (64 MiB, t=3) for all demo users: hashing each would take minutes on a laptop.
    passwordHash ??= await hashPassword(SANDBOX_USER_PASSWORD);
    const hash = passwordHash;
    const ports = await service.ports(cluster);
    const added = await ports.pg.withDatabase(
      tenantDbName(t.slug),
      (c) => populateTenant(c, rows, hash),
      `seeding demo data into ${t.slug}`,
    );
    const outcome = existing ? 'completed' : 'created';
    results.push({
      slug: t.slug,
      outcome,
      rowsAdded: added,
      detail: `${rows.users.length} users, ${rows.groups.length} groups, ${rows.apps.length} applications`,
    });
    log(
      `${t.slug}: ${outcome}: ${rows.users.length} users, ${rows.groups.length} groups, ${rows.apps.length} applications, ${rows.roles.length} roles`,
    );
  }
  // Refresh the cached list with stats so the Tenants page shows the counts at once.
  if (results.some((r) => r.outcome === 'created' || r.outcome === 'completed')) await service.reconcile(cluster, true);
  return results;
}
