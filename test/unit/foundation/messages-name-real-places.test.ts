import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** Pages that exist in the renderer (the sidebar and the tenant page's sections). */
const PAGES = ['Dashboard', 'Alerts', 'Tenants', 'Secrets', 'License', 'Audit log', 'Clusters', 'Sign-in', 'Operators', 'API tokens'];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

describe('operator-facing messages', () => {
  it('name only pages that exist ("the X page", "on the X page")', () => {
    const bad: string[] = [];
    for (const file of sources(path.resolve(import.meta.dirname, '../../../src-main'))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\b(?:the|on the|from the|in the) ([A-Z][A-Za-z ]{2,30}) page\b/g)) {
        if (!PAGES.includes(m[1]!.trim())) bad.push(`${path.basename(file)}: "${m[0]}"`);
      }
    }
    expect(bad).toEqual([]);
  });
});
