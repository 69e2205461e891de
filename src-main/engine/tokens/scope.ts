import type { Role } from '../../../src-shared/contract';
import type { TokenScopes } from '../../../src-shared/contract/tokens';

/** What a command names, as `tenantsNamedBy` answers it: slugs, the whole fleet, or no tenant. */
export type NamedTenants = string[] | 'fleet' | null;

/** "*" matches every command; "tenants.*" every command under "tenants."; anything else only itself. */
export function commandMatches(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

/** "*" matches every tenant; "ci-*" every slug starting with "ci-"; anything else only that slug. */
export function tenantMatches(pattern: string, slug: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return slug.startsWith(pattern.slice(0, -1));
  return pattern === slug;
}

export type ScopeRefusal = { reason: 'command'; message: string } | { reason: 'tenant'; message: string; tenants: string[] };

/**
 * Whether a token's scopes allow a command on the tenants it names. A fleet-wide command
 * (rotation of every tenant, a backup of all) needs the tenant scope "*"; a command naming
 * no tenant needs only the command scope.
 */
export function checkScope(scopes: TokenScopes, command: string, named: NamedTenants): ScopeRefusal | null {
  if (!scopes.commands.some((p) => commandMatches(p, command))) {
    return { reason: 'command', message: `This token may not run "${command}" (its commands: ${scopes.commands.join(', ')}).` };
  }
  if (named === null) return null;
  if (named === 'fleet') {
    if (scopes.tenants.includes('*')) return null;
    return {
      reason: 'tenant',
      tenants: ['*'],
      message: `"${command}" acts on every tenant; this token is limited to ${scopes.tenants.join(', ')}.`,
    };
  }
  const outside = named.filter((slug) => !scopes.tenants.some((p) => tenantMatches(p, slug)));
  if (outside.length === 0) return null;
  return {
    reason: 'tenant',
    tenants: outside,
    message: `This token may not act on ${outside.map((s) => `"${s}"`).join(', ')} (its tenants: ${scopes.tenants.join(', ')}).`,
  };
}

export interface LimitRule {
  idx: number;
  command: string;
  tenantPrefix: string;
  max: number;
}

/**
 * The limits one use of a command counts against: a limit applies to a command it matches,
 * once per named tenant whose slug starts with its prefix (an empty prefix counts every
 * named tenant, or the use itself when the command names none or the whole fleet).
 */
export function applicableLimits(limits: LimitRule[], command: string, named: NamedTenants): { rule: LimitRule; count: number }[] {
  const out: { rule: LimitRule; count: number }[] = [];
  for (const rule of limits) {
    if (!commandMatches(rule.command, command)) continue;
    let count: number;
    if (Array.isArray(named) && named.length > 0) count = named.filter((s) => s.startsWith(rule.tenantPrefix)).length;
    else count = rule.tenantPrefix === '' ? 1 : 0;
    if (count > 0) out.push({ rule, count });
  }
  return out;
}

/** Who a token acts as: a global role (or none) and tenant grants. */
export interface OwnerStanding {
  role: Role;
  /** false: no global role (role is then nominally viewer), only the grants. */
  globalRole: boolean;
  grants: { role: 'operator' | 'admin'; tenants: string[] }[];
}

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
const lower = <R extends Role>(a: R, b: R): R => (rank[a] <= rank[b] ? a : b);

/**
 * What a token may do now: never more than its owner had when it was created, nor more than the
 * owner has now (a member demoted, or scoped to fewer tenants, is demoted through every token).
 */
export function narrowToOwner(created: OwnerStanding, now: OwnerStanding): OwnerStanding {
  const globalRole = created.globalRole && now.globalRole;
  const role = globalRole ? lower(created.role, now.role) : 'viewer';
  // the role a standing gives on one tenant: its grant there, or its global role (operator or admin)
  const on = (s: OwnerStanding, slug: string): Role | null => {
    let best: Role | null = s.globalRole && s.role !== 'viewer' ? s.role : null;
    for (const g of s.grants) if (g.tenants.includes(slug) && (best === null || rank[g.role] > rank[best])) best = g.role;
    return best;
  };
  const byRole = new Map<'operator' | 'admin', Set<string>>();
  for (const slug of new Set([...created.grants, ...now.grants].flatMap((g) => g.tenants))) {
    const a = on(created, slug);
    const b = on(now, slug);
    if (!a || !b) continue;
    const r = lower(a, b) as Role;
    // a grant adds only where it gives more than the global role already does
    if (r === 'viewer' || (globalRole && rank[r] <= rank[role])) continue;
    const set = byRole.get(r as 'operator' | 'admin') ?? new Set<string>();
    set.add(slug);
    byRole.set(r as 'operator' | 'admin', set);
  }
  const grants = [...byRole].map(([r, set]) => ({ role: r, tenants: [...set].sort() })).sort((x, y) => x.role.localeCompare(y.role));
  return { role, globalRole, grants };
}

/** Same standing (compared in a canonical order). */
export function sameStanding(a: OwnerStanding, b: OwnerStanding): boolean {
  const key = (s: OwnerStanding) =>
    JSON.stringify([s.role, s.globalRole, [...s.grants].map((g) => [g.role, [...g.tenants].sort()]).sort()]);
  return key(a) === key(b);
}
