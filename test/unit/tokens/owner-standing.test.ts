import { describe, expect, it } from 'vitest';
import { narrowToOwner, sameStanding, type OwnerStanding } from '../../../src-main/engine/tokens/scope';

const admin: OwnerStanding = { role: 'admin', globalRole: true, grants: [] };
const operator: OwnerStanding = { role: 'operator', globalRole: true, grants: [] };
const scoped = (role: 'operator' | 'admin', ...tenants: string[]): OwnerStanding => ({
  role: 'viewer',
  globalRole: false,
  grants: [{ role, tenants }],
});

describe('a token acts with the narrower of its owner then and now', () => {
  it('an admin demoted to operator acts as operator through the token made as admin', () => {
    expect(narrowToOwner(admin, operator)).toEqual(operator);
  });
  it('an owner promoted since acts with what the token was made with', () => {
    expect(narrowToOwner(operator, admin)).toEqual(operator);
  });
  it('an owner rescoped from acme+globex to acme acts on acme only', () => {
    expect(narrowToOwner(scoped('operator', 'acme', 'globex'), scoped('operator', 'acme'))).toEqual(scoped('operator', 'acme'));
  });
  it('a global operator later scoped to one tenant loses the global role', () => {
    expect(narrowToOwner(operator, scoped('admin', 'acme'))).toEqual(scoped('operator', 'acme'));
  });
  it('a viewer with an admin grant on acme, made into a global operator: viewer globally, operator on acme', () => {
    const made: OwnerStanding = { role: 'viewer', globalRole: true, grants: [{ role: 'admin', tenants: ['acme'] }] };
    expect(narrowToOwner(made, operator)).toEqual({ role: 'viewer', globalRole: true, grants: [{ role: 'operator', tenants: ['acme'] }] });
  });
  it('standings compare regardless of order', () => {
    const a: OwnerStanding = {
      role: 'viewer',
      globalRole: false,
      grants: [
        { role: 'operator', tenants: ['b', 'a'] },
        { role: 'admin', tenants: ['c'] },
      ],
    };
    const b: OwnerStanding = {
      role: 'viewer',
      globalRole: false,
      grants: [
        { role: 'admin', tenants: ['c'] },
        { role: 'operator', tenants: ['a', 'b'] },
      ],
    };
    expect(sameStanding(a, b)).toBe(true);
    expect(sameStanding(a, scoped('operator', 'a', 'b'))).toBe(false);
  });
});
