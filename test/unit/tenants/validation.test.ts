import { describe, expect, it } from 'vitest';
import { commands } from '../../../src-shared/contract';
import { TenantSlug } from '../../../src-shared/contract/tenants';
import { tenantDbName } from '../../../src-main/engine/tenants/material';
import { quoteIdent, quoteLiteral } from '../../../src-main/adapters/postgres';

const create = commands['tenants.create'].input;
const firstIssue = (input: unknown) => {
  const r = create.safeParse(input);
  return r.success ? null : { path: r.error.issues[0]!.path.join('.'), message: r.error.issues[0]!.message };
};

describe('tenant input validation', () => {
  it.each([
    ['acme', true],
    ['a1-b2', true],
    ['x'.repeat(40), true],
    ['x'.repeat(41), false],
    ['', false],
    ['Acme', false],
    ['1acme', false],
    ['acme-', false],
    ['a--b', false],
    ['a_b', false],
    ['a.b', false],
    ['admin', false],
    ['api', false],
    ['www', false],
    ['default', false],
    ['system', false],
    ['kube-public', false],
    ['kube-anything', false],
    ['café', false],
    ['аcme', false], // Cyrillic а
    ['ac\u0000me', false],
    ['ac\nme', false],
    ["acme';DROP DATABASE x;--", false],
    ['acme$(rm -rf /)', false],
    ['acme`id`', false],
    ['acme|cat', false],
  ])('slug %j → valid=%s', (slug, ok) => {
    expect(TenantSlug.safeParse(slug).success).toBe(ok);
  });

  it('names the field and the rule that failed', () => {
    expect(firstIssue({ slug: 'kube-x', name: 'X', tier: 'DEV' })).toEqual({ path: 'slug', message: 'the prefix "kube-" is reserved' });
    expect(firstIssue({ slug: 'ok', name: 'X'.repeat(101), tier: 'DEV' })).toMatchObject({
      path: 'name',
      message: 'at most 100 characters',
    });
    expect(firstIssue({ slug: 'ok', name: 'bad\u0007name', tier: 'DEV' })).toMatchObject({ path: 'name' });
    expect(firstIssue({ slug: 'ok', name: 'X', tier: 'GOLD' })).toMatchObject({
      path: 'tier',
      message: 'tier must be one of DEV, PRO, Enterprise',
    });
    expect(firstIssue({ slug: 'ok', name: 'X', tier: 'DEV', extra: 1 })).toMatchObject({ path: '' });
    expect(firstIssue({ slug: 'café', name: 'X', tier: 'DEV' })?.message).toMatch(/unicode/);
    expect(firstIssue({ slug: 'a;b', name: 'X', tier: 'DEV' })?.message).toMatch(/metacharacters/);
    expect(firstIssue({ slug: 'ok-tenant', name: 'Ok', tier: 'Enterprise' })).toBeNull();
  });

  it('delete needs admin and the slug retyped', () => {
    expect(commands['tenants.delete'].role).toBe('admin');
    expect(commands['tenants.delete'].confirmField).toBe('slug');
  });

  it('maps slugs to distinct database identifiers and quotes defensively', () => {
    expect(tenantDbName('a-b')).toBe('tenant_a_b');
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(() => quoteLiteral('a\0b')).toThrow();
  });
});
