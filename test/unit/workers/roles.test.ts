import { describe, expect, it } from 'vitest';
import { commands, type CommandName, type OperatorIdentity } from '../../../src-shared/contract';
import { poolsCommands, upgradesCommands, workersCommands } from '../../../src-shared/contract/workers';
import { infraCommands } from '../../../src-shared/contract/infra';
import { createPipeline, type Handlers } from '../../../src-main/ipc/pipeline';
import { memoryRecorder, type AuditRecord } from '../../../src-main/engine/audit/recorder';
import { clusterDeps } from '../helpers/pipeline-deps';
import { sample } from '../helpers/sample-input';

const viewer: OperatorIdentity = { id: 'local:victor', displayName: 'Victor', role: 'viewer', via: 'local-account' };
const mine = { ...workersCommands, ...poolsCommands, ...upgradesCommands, ...infraCommands };

describe('workers, pools, upgrades and infrastructure: roles', () => {
  it('a viewer cannot change anything: every mutating command is refused in the engine before its handler runs, and audited as denied', async () => {
    const reached: string[] = [];
    const handlers = Object.fromEntries(Object.keys(commands).map((n) => [n, () => (reached.push(n), {})])) as unknown as Handlers;
    const records: AuditRecord[] = [];
    const p = createPipeline({
      handlers,
      identify: () => viewer,
      audit: memoryRecorder(records),
      ...clusterDeps(),
      consoleVersion: 'test',
      logError: () => undefined,
    });
    const mutating = (Object.keys(mine) as CommandName[]).filter((n) => commands[n].mutating);
    expect(mutating.length).toBe(14);
    for (const name of mutating) {
      const def = commands[name];
      const input = sample(def.input) as Record<string, unknown>;
      if (def.confirmField) input.confirm = input[def.confirmField];
      expect(def.input.safeParse(input).success, name).toBe(true);
      const r = await p.invoke('c', name, input);
      expect(r, name).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    }
    expect(reached).toEqual([]);
    expect(records.map((r) => r.outcome)).toEqual(mutating.map(() => 'denied'));
  });

  it('reads are open to viewers; key, shared pool, agent and delete actions need admin', () => {
    for (const n of Object.keys(mine) as CommandName[]) if (!commands[n].mutating) expect(commands[n].role, n).toBe('viewer');
    for (const n of [
      'pools.delete',
      'pools.shared.init',
      'pools.shared.rotateKey',
      'pools.agents.revoke',
      'pools.agents.readmit',
    ] as CommandName[])
      expect(commands[n].role, n).toBe('admin');
    expect(commands['pools.delete'].confirmField).toBe('name');
  });
});
