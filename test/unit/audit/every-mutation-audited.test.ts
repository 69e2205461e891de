import { describe, expect, it } from 'vitest';
import { commands, ContractError, roleRank, type CommandName, type OperatorIdentity } from '../../../src-shared/contract';
import { createPipeline, type Handlers } from '../../../src-main/ipc/pipeline';
import { memoryRecorder, type AuditRecord } from '../../../src-main/engine/audit/recorder';
import { clusterDeps } from '../helpers/pipeline-deps';
import { sample } from '../helpers/sample-input';

const admin: OperatorIdentity = { id: 'local:root', displayName: 'Root', role: 'admin', via: 'local-account' };
const viewer: OperatorIdentity = { id: 'local:vera', displayName: 'Vera', role: 'viewer', via: 'local-account' };

function pipelineWith(behaviour: 'throw-contract' | 'throw-crash' | 'bad-output', operator: OperatorIdentity, online = true) {
  const records: AuditRecord[] = [];
  const handlers = new Proxy({} as Handlers, {
    get: () => () => {
      if (behaviour === 'throw-contract') throw new ContractError('CONFLICT', 'conflict from a fake handler');
      if (behaviour === 'throw-crash') throw new Error('crash');
      return { definitely: 'not the declared output' };
    },
  });
  const pipeline = createPipeline({
    handlers,
    identify: () => operator,
    audit: memoryRecorder(records),
    ...clusterDeps({ online }),
    consoleVersion: 'test',
    logError: () => undefined,
  });
  return { pipeline, records };
}

const mutating = (Object.keys(commands) as CommandName[]).filter((n) => commands[n].mutating);

describe('every mutating command of the contract is audited, whatever happens', () => {
  it('the contract has mutating commands from several capabilities', () => {
    expect(mutating.length).toBeGreaterThan(10);
    expect(new Set(mutating.map((n) => n.split('.')[0])).size).toBeGreaterThan(3);
  });

  const paths = [
    ['handler throws a contract error', 'throw-contract', admin, true],
    ['handler crashes', 'throw-crash', admin, true],
    ['handler returns a malformed answer', 'bad-output', admin, true],
    ['caller is a viewer', 'throw-contract', viewer, true],
    ['cluster is offline', 'throw-contract', admin, false],
  ] as const;

  for (const [what, behaviour, operator, online] of paths) {
    it(`one record per call when the ${what}`, async () => {
      const { pipeline, records } = pipelineWith(behaviour, operator, online);
      let reachedHandler = 0;
      for (const name of mutating) {
        const def = commands[name];
        const input = sample(def.input) as Record<string, unknown>;
        if (def.confirmField && input) input.confirm = input[def.confirmField];
        const before = records.length;
        const r = await pipeline.invoke('conn', name, input);
        expect(records.length - before, `${name} must leave exactly one audit record`).toBe(1);
        const rec = records[records.length - 1]!;
        expect(rec).toMatchObject({ action: name, actor: operator.id, actorRole: operator.role });
        // the record tells the truth about the outcome (an output schema like {} accepts any object)
        expect(rec.outcome === 'success', name).toBe(r.ok);
        if (!r.ok) expect(rec.errorCode).toBe(r.error.code);
        if (rec.outcome === 'failure') reachedHandler += 1;
      }
      if (behaviour !== 'throw-contract' || operator === admin) {
        // printed, not asserted: how many commands got past validation with the sampled input
        console.log(`${what}: ${reachedHandler}/${mutating.length} calls reached the handler`);
      }
    });
  }

  it('a viewer is refused FORBIDDEN for every mutating command above the viewer role', async () => {
    const { pipeline, records } = pipelineWith('throw-contract', viewer);
    for (const name of mutating.filter((n) => roleRank[commands[n].role] > roleRank.viewer)) {
      const r = await pipeline.invoke('conn', name, {});
      expect(r.ok ? null : r.error.code, name).toBe('FORBIDDEN');
      expect(records[records.length - 1]).toMatchObject({ action: name, outcome: 'denied', errorCode: 'FORBIDDEN' });
    }
  });

  it('destructive commands need admin and the typed confirmation', () => {
    for (const name of Object.keys(commands) as CommandName[]) {
      const def = commands[name];
      if (!def.confirmField) continue;
      expect(def.role, name).toBe('admin');
      expect(def.mutating, name).toBe(true);
    }
  });
});
