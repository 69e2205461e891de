import { describe, expect, it } from 'vitest';
import { ListWatchStream, deploymentHealth, podRow, type WatchLike } from '../../../src-main/engine/infra/watch';

type Obj = {
  metadata: { uid: string; name: string; resourceVersion?: string; labels?: Record<string, string> };
  status?: unknown;
  code?: number;
};
type Cb = (type: string, obj: Obj) => void;

/** A watch the test drives: each watch() call is recorded with its query, and the test pushes events or ends it. */
function fakeWatch() {
  const opened: { query: Record<string, unknown>; cb: Cb; done: (e: unknown) => void }[] = [];
  const watch: WatchLike = {
    watch: (async (_path: string, query: Record<string, unknown>, cb: Cb, done: (e: unknown) => void) => {
      opened.push({ query, cb, done });
      return new AbortController();
    }) as unknown as WatchLike['watch'],
  };
  return { watch, opened, last: () => opened[opened.length - 1]! };
}

const pod = (i: number, rv: string): Obj => ({
  metadata: {
    uid: `u${i}`,
    name: `p${i}`,
    resourceVersion: rv,
    labels: { 'app.kubernetes.io/name': 'backend', 'app.kubernetes.io/component': 'backend' },
  },
});

function stream(total: number, pageSize: number) {
  const w = fakeWatch();
  let listCalls = 0;
  let world = Array.from({ length: total }, (_, i) => pod(i, '1'));
  const changes: [string, unknown][] = [];
  let resyncs = 0;
  const counters = { lists: 0, watches: 0, events: 0, relists: 0 };
  const s = new ListWatchStream<Obj, ReturnType<typeof podRow>>({
    name: 'pods',
    path: '/pods',
    labelSelector: 'x',
    watch: w.watch,
    pageSize,
    counters,
    list: async ({ limit, _continue }) => {
      listCalls++;
      const from = Number(_continue ?? 0);
      const items = world.slice(from, from + limit);
      const next = from + limit < world.length ? String(from + limit) : undefined;
      return { items, metadata: { resourceVersion: String(100 + listCalls), ...(next ? { _continue: next } : {}) } };
    },
    key: (o) => o.metadata.uid,
    row: (o) => podRow(o as never),
    onChange: (k, r) => changes.push([k, r]),
    onResync: () => resyncs++,
    onFail: (e) => {
      throw e;
    },
  });
  return { s, w, changes, counters, listCalls: () => listCalls, resyncs: () => resyncs, setWorld: (x: Obj[]) => (world = x) };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('ListWatchStream', () => {
  it('lists in pages, then watches from the list version with bookmarks', async () => {
    const t = stream(1200, 500);
    await t.s.start();
    expect(t.listCalls()).toBe(3);
    expect(t.s.rows.size).toBe(1200);
    expect(t.w.opened).toHaveLength(1);
    expect(t.w.last().query).toMatchObject({ resourceVersion: '103', allowWatchBookmarks: true });
  });

  it('keeps compact rows from events, follows bookmarks, and resumes from the last version when the stream closes (no re-list)', async () => {
    const t = stream(3, 500);
    await t.s.start();
    const first = t.w.last();
    first.cb('MODIFIED', { ...pod(1, '120'), status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
    first.cb('DELETED', pod(2, '121'));
    first.cb('BOOKMARK', { metadata: { uid: '', name: '', resourceVersion: '150' } });
    expect(t.s.rows.get('u1')).toMatchObject({ name: 'p1', ready: true, phase: 'Running', group: 'backend' });
    expect(t.s.rows.has('u2')).toBe(false);
    expect(t.changes.map(([k, r]) => `${k}:${r === null ? 'gone' : 'row'}`)).toEqual(['u1:row', 'u2:gone']);
    first.done(null); // the server closed it
    await tick();
    expect(t.listCalls()).toBe(1);
    expect(t.w.last().query).toMatchObject({ resourceVersion: '150' });
  });

  it('after 410 Gone re-lists exactly once, replaces its rows (objects deleted meanwhile disappear) and signals a resync', async () => {
    const t = stream(1000, 500);
    await t.s.start();
    expect(t.listCalls()).toBe(2);
    t.setWorld(Array.from({ length: 600 }, (_, i) => pod(i, '2')));
    const w = t.w.last();
    w.cb('ERROR', { metadata: { uid: '', name: '' }, code: 410 });
    w.done(null);
    for (let i = 0; i < 5; i++) await tick();
    expect(t.listCalls()).toBe(2 + 2); // one re-list of the world (two pages), not one call per object
    expect(t.counters.relists).toBe(1);
    expect(t.resyncs()).toBe(1);
    expect(t.s.rows.size).toBe(600);
    expect(t.w.opened).toHaveLength(2);
  });
});

describe('health', () => {
  const d = (spec: object, status?: object) => ({ metadata: { name: 'x', generation: 2 }, spec, ...(status ? { status } : {}) });
  it("follows Argo CD's vocabulary", () => {
    expect(
      deploymentHealth(d({ replicas: 2 }, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })).health,
    ).toBe('Healthy');
    expect(
      deploymentHealth(d({ replicas: 2 }, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })).health,
    ).toBe('Progressing');
    expect(
      deploymentHealth(d({ replicas: 2 }, { observedGeneration: 2, replicas: 3, updatedReplicas: 1, availableReplicas: 2 })).health,
    ).toBe('Progressing');
    expect(
      deploymentHealth(d({ replicas: 2 }, { conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] }))
        .health,
    ).toBe('Degraded');
    expect(deploymentHealth(d({ replicas: 0 }, {})).health).toBe('Suspended');
    expect(deploymentHealth(d({ replicas: 2, paused: true }, {})).health).toBe('Suspended');
    expect(deploymentHealth(d({ replicas: 2 })).health).toBe('Unknown');
  });
});
