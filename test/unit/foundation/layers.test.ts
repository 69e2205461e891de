import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The layer rules of docs/architecture.md ("enforced by") are eslint's no-restricted-imports
// entries in eslint.config.js; this proves each one fires (a regex typo would silently allow everything).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const eslint = new ESLint({ cwd: root });

async function restricted(file: string, specifier: string): Promise<boolean> {
  const [result] = await eslint.lintText(`import { x } from '${specifier}';\nexport const y = x;\n`, { filePath: path.join(root, file) });
  return result!.messages.some((m) => m.ruleId === 'no-restricted-imports');
}

const cases: [file: string, specifier: string, refused: boolean][] = [
  // the engine imports neither its transports nor the shell
  ['src-main/engine/tenants/service.ts', '../../ipc/router', true],
  ['src-main/engine/tenants/service.ts', '../../serve/server', true],
  ['src-main/engine/tenants/service.ts', '../../electron/main', true],
  ['src-main/engine/tenants/service.ts', 'electron', true],
  ['src-main/engine/index.ts', '../ipc/router', true],
  ['src-main/engine/index.ts', '../serve/csp', true],
  ['src-main/engine/index.ts', '../adapters/sqlite', false],
  ['src-main/engine/index.ts', './tenants/service', false],
  ['src-main/engine/tenants/service.ts', '../../adapters/kube', false],
  ['src-main/engine/tenants/service.ts', '../../../src-shared/contract', false],
  // a capability reaches another only through its index; core/ is shared plumbing
  ['src-main/engine/clusters/profiles.ts', '../secrets-store/manager', true],
  ['src-main/engine/operators/service.ts', '../audit/signing', true],
  ['src-main/engine/clusters/profiles.ts', '../secrets-store', false],
  ['src-main/engine/clusters/profiles.ts', '../secrets-store/index', false],
  ['src-main/engine/tenants/service.ts', '../core/saga', false],
  ['src-main/engine/tenants/service.ts', './registry', false],
  // adapters import no engine code
  ['src-main/adapters/kube.ts', '../engine/core/events', true],
  ['src-main/adapters/kube.ts', '../engine', true],
  ['src-main/adapters/kube.ts', '../ipc/router', true],
  ['src-main/adapters/kube.ts', '@kubernetes/client-node', false],
  ['src-main/adapters/kube.ts', '../../src-shared/contract', false],
  // ipc and serve: no electron
  ['src-main/ipc/router.ts', 'electron', true],
  ['src-main/serve/server.ts', '../electron/main', true],
  ['src-main/serve/server.ts', '../ipc/router', false],
  ['src-main/cli/main.ts', '../electron/main', true],
  ['src-main/cli/session.ts', '../ipc/pipeline', false],
  // the contract: zod and itself only
  ['src-shared/contract/tenants.ts', 'node:fs', true],
  ['src-shared/contract/tenants.ts', 'react', true],
  ['src-shared/contract/tenants.ts', 'zod', false],
  ['src-shared/contract/tenants.ts', './define', false],
  // the renderer: the typed client, never Node or src-main
  ['src-renderer/pages/tenants/TenantList.tsx', 'node:fs', true],
  ['src-renderer/pages/tenants/TenantList.tsx', '../../../src-main/engine', true],
  ['src-renderer/pages/tenants/TenantList.tsx', '../../../src-shared/contract', false],
];

describe('layer rules (eslint no-restricted-imports)', () => {
  it.each(cases)('%s importing %s: refused=%s', async (file, specifier, refused) => {
    expect(await restricted(file, specifier)).toBe(refused);
  });
});
