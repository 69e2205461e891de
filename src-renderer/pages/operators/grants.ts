/** Tenant grants as operators type them: "operator: acme, globex; admin: initech". */
export interface GrantDraft {
  role: 'operator' | 'admin';
  tenants: string[];
}

export function parseGrants(text: string): { grants: GrantDraft[]; problem: string | null } {
  const grants: GrantDraft[] = [];
  for (const part of text
    .split(/[;\n]/)
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(operator|admin)\s*:\s*(.+)$/i.exec(part);
    if (!m) return { grants, problem: `"${part}" should read "operator: slug, slug" or "admin: slug"` };
    const tenants = m[2]!
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    grants.push({ role: m[1]!.toLowerCase() as GrantDraft['role'], tenants });
  }
  return { grants, problem: null };
}

export const formatGrants = (grants: GrantDraft[]): string => grants.map((g) => `${g.role}: ${g.tenants.join(', ')}`).join('; ');

/** "admin (all tenants)", "operator on acme, globex" … */
export function describeAccess(globalRole: string | null, grants: GrantDraft[]): string {
  const parts = [globalRole ? `${globalRole} (all tenants)` : null, ...grants.map((g) => `${g.role} on ${g.tenants.join(', ')}`)];
  return parts.filter(Boolean).join(' · ') || 'no access';
}
