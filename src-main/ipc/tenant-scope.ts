import {
  commands,
  ContractError,
  isCommandName,
  roleRank,
  type CommandDef,
  type EventName,
  type OperatorIdentity,
  type Role,
} from '../../src-shared/contract';

/**
 * Tenant scope of commands (docs/operators.md, "Scoped roles"). A command declares in its
 * definition which input field names the tenant(s) it acts on (`tenant`) or that it acts on
 * every tenant (`fleet`). The pipeline asks `tenantsNamedBy` and checks the operator's grants;
 * API tokens with a tenant scope use the same function.
 */
export function tenantsNamedBy(commandName: string, parsedInput: unknown): string[] | 'fleet' | null {
  if (!isCommandName(commandName)) return null;
  const def = commands[commandName] as CommandDef;
  if (def.fleet) return 'fleet';
  if (def.tenant === undefined) return null;
  if (typeof def.tenant === 'function') {
    const named = (def.tenant as (input: unknown) => readonly string[] | 'fleet')(parsedInput);
    return named === 'fleet' ? 'fleet' : [...new Set(named)];
  }
  const value = (parsedInput as Record<string, unknown> | null | undefined)?.[def.tenant];
  if (value === undefined || value === null) return 'fleet'; // an optional slug left out: every tenant
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return [...new Set(value.filter((v): v is string => typeof v === 'string'))];
  return 'fleet';
}

/** The role an operator holds on one tenant: the best of the global role and the grants naming it; null: none. */
export function roleOnTenant(operator: OperatorIdentity, slug: string): Role | null {
  let best: Role | null = operator.globalRole === false ? null : operator.role;
  for (const g of operator.grants ?? []) {
    if (g.tenants.includes(slug) && (best === null || roleRank[g.role] > roleRank[best])) best = g.role;
  }
  return best;
}

/** Whether the operator is limited to some tenants for reading (no global role). */
export const isTenantOnly = (operator: OperatorIdentity): boolean => operator.globalRole === false;

/** The tenants a tenant-only operator may see (any grant); null: every tenant. */
export function visibleTenants(operator: OperatorIdentity): Set<string> | null {
  if (!isTenantOnly(operator)) return null;
  return new Set((operator.grants ?? []).flatMap((g) => g.tenants));
}

const globalRank = (operator: OperatorIdentity): number => (isTenantOnly(operator) ? -1 : roleRank[operator.role]);

/**
 * Outputs of fleet-wide reads a tenant-only operator may run: rows of other tenants are
 * removed. A fleet-wide read without a filter here needs a global role.
 */
type Filter = (output: unknown, visible: (slug: string) => boolean) => unknown;
const bySlug = <T extends { slug: string }>(rows: T[], visible: (s: string) => boolean) => rows.filter((r) => visible(r.slug));
export const SCOPED_OUTPUTS: Readonly<Record<string, Filter>> = {
  'tenants.list': (out, visible) => {
    const o = out as { tenants: { slug: string }[]; drift: { slug: string }[] };
    return { ...o, tenants: bySlug(o.tenants, visible), drift: bySlug(o.drift, visible) };
  },
  'backups.overview': (out, visible) => {
    const o = out as { rows: { tenant: string }[] };
    return { ...o, rows: o.rows.filter((r) => visible(r.tenant)) };
  },
};

/** Events carrying tenant rows, filtered the same way before a tenant-only operator receives them; null: drop the event. */
export const SCOPED_EVENTS: Partial<Record<EventName, (payload: unknown, visible: (slug: string) => boolean) => unknown>> = {
  'tenants.changed': (payload, visible) => {
    const p = payload as { upserted: { slug: string }[]; removed: string[]; drift: { slug: string }[] };
    return { ...p, upserted: bySlug(p.upserted, visible), removed: p.removed.filter(visible), drift: bySlug(p.drift, visible) };
  },
  'backups.changed': (payload, visible) => {
    const p = payload as { tenant: string | null };
    return p.tenant === null || visible(p.tenant) ? payload : null;
  },
};

/** Events that name no tenant: delivered to tenant-only operators as they are. */
const TENANT_NEUTRAL_EVENTS: ReadonlySet<EventName> = new Set<EventName>(['cluster.state', 'clusters.changed', 'audit.changed']);

/**
 * What a tenant-only operator receives of an event: filtered rows, the payload of a
 * tenant-neutral event, an operation's progress only when its target is one of their
 * tenants, and nothing of any other event (pods, workloads: they name other tenants).
 */
export function scopeEvent(operator: OperatorIdentity | null, event: EventName, payload: unknown): unknown {
  if (!operator) return payload;
  const visible = visibleTenants(operator);
  if (!visible) return payload;
  const filter = SCOPED_EVENTS[event];
  if (filter) return filter(payload, (s) => visible.has(s));
  if (TENANT_NEUTRAL_EVENTS.has(event)) return payload;
  if (event === 'operation.progress') {
    const target = (payload as { target: string }).target;
    return visible.has(target.replace(/^tenant:/, '')) ? payload : null;
  }
  return null;
}

/**
 * Authorizes a command for an operator, with tenant scopes. Returns the output filter to
 * apply (fleet reads by tenant-only operators), or null. Throws FORBIDDEN with the reason.
 */
export function authorizeCommand(
  operator: OperatorIdentity,
  name: string,
  def: Pick<CommandDef, 'role'>,
  parsedInput: unknown,
): ((output: unknown) => unknown) | null {
  const named = tenantsNamedBy(name, parsedInput);
  const required = def.role;
  if (Array.isArray(named) && named.length > 0) {
    const refused = named.filter((slug) => {
      const role = roleOnTenant(operator, slug);
      return role === null || roleRank[role] < roleRank[required];
    });
    if (refused.length === 0) return null;
    throw new ContractError(
      'FORBIDDEN',
      `"${name}" on tenant ${refused.map((s) => `"${s}"`).join(', ')} needs the ${required} role there; your role does not cover ${refused.length === 1 ? 'that tenant' : 'those tenants'}. Ask an admin to extend your scope.`,
      { required, tenants: refused },
    );
  }
  if (globalRank(operator) >= roleRank[required]) return null;
  const filter = SCOPED_OUTPUTS[name];
  if (named === 'fleet' && filter && isTenantOnly(operator) && roleRank[required] === roleRank.viewer) {
    const visible = visibleTenants(operator)!;
    return (output) => filter(output, (s) => visible.has(s));
  }
  if (isTenantOnly(operator) && roleRank[required] === roleRank.viewer && named === null) return null;
  throw new ContractError(
    'FORBIDDEN',
    isTenantOnly(operator) || (operator.grants?.length ?? 0) > 0
      ? `"${name}" ${named === 'fleet' ? 'acts on every tenant and' : ''} needs the global ${required} role; your role is scoped to some tenants. Ask an admin.`.replace(
          '  ',
          ' ',
        )
      : `"${name}" needs the ${required} role; you are signed in as ${operator.role}. Ask an admin to change your role.`,
    { required, actual: operator.role },
  );
}
