import { describe, expect, it } from 'vitest';
import { StuckDetector, failingPods, rolloutStatus } from '../../../src-main/engine/workers/rollout';
import type { RolloutStatus } from '../../../src-shared/contract/workers';

const r = (over: Partial<RolloutStatus>): RolloutStatus => ({
  name: 'x',
  exists: true,
  desired: 2,
  updated: 1,
  ready: 2,
  available: 2,
  observed: true,
  complete: false,
  paused: false,
  image: 'i:2',
  message: null,
  ...over,
});

describe('rollout status', () => {
  it('is complete only when the controller saw the spec and every replica is new and available, with no old ones left', () => {
    const d = (status: object, generation = 2) => ({
      metadata: { generation },
      spec: { replicas: 2, selector: {}, template: { spec: { containers: [{ name: 'c', image: 'i:2' }] } } },
      status,
    });
    expect(rolloutStatus('x', d({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })).complete).toBe(true);
    expect(rolloutStatus('x', d({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })).complete).toBe(false);
    expect(rolloutStatus('x', d({ observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 })).message).toBe(
      '1 old replicas pending termination',
    );
    expect(rolloutStatus('x', null)).toMatchObject({ exists: false, complete: false });
  });
});

describe('stuck detection', () => {
  it('says stuck after N checks without movement, not before, and never for a paused or complete rollout', () => {
    const s = new StuckDetector(3, 100);
    expect(s.observe(r({}), 0).stuck).toBe(false);
    expect(s.observe(r({}), 0).stuck).toBe(false);
    expect(s.observe(r({ updated: 2 }), 0).stuck).toBe(false); // it moved: the count starts over
    expect(s.observe(r({ updated: 2 }), 0).stuck).toBe(false);
    expect(s.observe(r({ updated: 2 }), 0).stuck).toBe(false);
    expect(s.observe(r({ updated: 2 }), 0)).toMatchObject({ stuck: true, why: expect.stringMatching(/no progress for 3 checks/) });
    expect(new StuckDetector(0).observe(r({ complete: true }), 0).stuck).toBe(false);
    expect(new StuckDetector(0).observe(r({ paused: true }), 0).stuck).toBe(false);
  });

  it('says stuck when the new pods keep restarting although the counts move', () => {
    const s = new StuckDetector(100, 3);
    expect(s.observe(r({ ready: 1 }), 1).stuck).toBe(false);
    expect(s.observe(r({ ready: 2 }), 2).stuck).toBe(false);
    expect(s.observe(r({ ready: 1 }), 4)).toMatchObject({ stuck: true, why: expect.stringMatching(/restarted 3 times/) });
  });

  it('names the not-ready pods of the new image with their reason', () => {
    const pod = (name: string, image: string, ready: boolean, reason?: string) => ({
      metadata: { name },
      spec: { containers: [{ name: 'c', image }] },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
        containerStatuses: [{ name: 'c', image, ready, restartCount: 2, ...(reason ? { state: { waiting: { reason } } } : {}) }],
      },
    });
    const out = failingPods(
      [pod('new-1', 'i:2', false, 'CrashLoopBackOff'), pod('old-1', 'i:1', false), pod('new-2', 'i:2', true)] as never,
      'i:2',
    );
    expect(out).toEqual([{ name: 'new-1', reason: 'CrashLoopBackOff', restarts: 2 }]);
  });
});
