import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AsyncResult,
  chain,
  chord,
  chunks,
  fromSignatureDict,
  group,
  GroupResult,
  map,
  noChordSupportMessage,
  starmap,
  TaskError,
  TaskState,
  type App,
  type ResultBackend,
  type Worker,
} from '../src/index.js';
import { MemoryResultBackend, MemoryResultStore } from '../src/memory/index.js';
import { memoryApp, sleep } from './helpers.js';

let app: App;
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await app?.close();
});

/** An app with add/mul/xsum/fail/echo tasks and a running worker; `calls` counts runs per task name. */
async function setup(config: Parameters<typeof memoryApp>[0] = {}) {
  app = memoryApp(config);
  const calls = new Map<string, unknown[][]>();
  const record = (name: string, args: unknown[]) => calls.set(name, [...(calls.get(name) ?? []), args]);
  const tasks = {
    add: app.task('t.add', (a: number, b: number) => (record('t.add', [a, b]), a + b)),
    mul: app.task('t.mul', (a: number, b: number) => (record('t.mul', [a, b]), a * b)),
    xsum: app.task('t.xsum', (values: number[]) => (record('t.xsum', [values]), values.reduce((x, y) => x + y, 0))),
    fail: app.task('t.fail', (...args: unknown[]) => {
      record('t.fail', args);
      throw new Error(`boom ${JSON.stringify(args)}`);
    }),
    echo: app.task('t.echo', (...args: unknown[]) => (record('t.echo', args), args)),
  };
  worker = app.worker({ concurrency: 4 });
  await worker.start();
  return { ...tasks, calls };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('signatures', () => {
  it('serialize as Celery signature dicts and round-trip', async () => {
    const { add, mul, echo } = await setup();
    const sig = add.s(2).set({ queue: 'q1', countdown: 3 });
    sig.link(mul.s(10));
    sig.linkError(echo.si('failed'));
    const json = JSON.parse(JSON.stringify(sig));
    expect(json).toEqual({
      task: 't.add',
      args: [2],
      kwargs: {},
      options: {
        queue: 'q1',
        countdown: 3,
        link: [{ task: 't.mul', args: [10], kwargs: {}, options: {}, subtask_type: null, immutable: false }],
        link_error: [{ task: 't.echo', args: ['failed'], kwargs: {}, options: {}, subtask_type: null, immutable: true }],
      },
      subtask_type: null,
      immutable: false,
    });
    const back = fromSignatureDict(app, json);
    expect(back.toJSON()).toEqual(json);
    const copy = sig.clone([1]);
    expect(copy.args).toEqual([1, 2]);
    expect(sig.args).toEqual([2]);
    expect(app.signature('t.add', [1, 2]).toJSON().task).toBe('t.add');
  });

  it('rejects a non-signature with a typed error', () => {
    expect(() => fromSignatureDict(null, { args: [] })).toThrow(/not a Celery signature/);
  });

  it('apply with partial args prepended; immutable ignores them', async () => {
    const { add } = await setup();
    expect(await (await add.s(3).applyAsync([4])).get({ timeout: 5000 })).toBe(7);
    expect(await (await add.si(1, 1).applyAsync([100])).get({ timeout: 5000 })).toBe(2);
    expect(await (await add.s(5, 6).delay()).get({ timeout: 5000 })).toBe(11);
  });
});

describe('chain', () => {
  it('runs the steps in order, the result prepended, and walks back through .parent and children', async () => {
    const { add, mul, calls } = await setup();
    const result = (await chain(add.s(2, 3), mul.s(10), add.s(5)).applyAsync()) as AsyncResult;
    expect(await result.get({ timeout: 5000 })).toBe(55);
    expect(calls.get('t.mul')).toEqual([[5, 10]]);
    const second = result.parent as AsyncResult;
    const first = second.parent as AsyncResult;
    expect(await second.get()).toBe(50);
    expect(await first.get()).toBe(5);
    expect(first.parent).toBeNull();
    const children = await first.children();
    expect(children.map((c) => c.id)).toEqual([second.id]);
    const record = await result.record();
    expect(record?.parent_id).toBe(second.id);
  });

  it('a step that finishes at once writes no STARTED record, though its successors go out before its outcome', async () => {
    const { add } = await setup();
    const backend = (await app.backend())!;
    const statuses: string[] = [];
    const store = backend.store.bind(backend);
    backend.store = async (id, record, options) => {
      statuses.push(JSON.parse(new TextDecoder().decode(record)).status);
      return store(id, record, options);
    };
    // A backend round trip per claim, as on Redis: the STARTED record would go out meanwhile.
    const inner = backend.inner;
    const claim = inner.claim!.bind(inner);
    inner.claim = async (key, value, ttlMs) => (await sleep(5), claim(key, value, ttlMs));
    const result = await chain(add.s(1, 1), add.s(1), add.s(1)).applyAsync();
    expect(await result.get({ timeout: 5000 })).toBe(4);
    expect(statuses).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
  });

  it('nested chains are spliced and immutable steps ignore the previous result', async () => {
    const { add, mul } = await setup();
    const result = await chain(add.s(1, 1), chain(mul.s(3), add.si(10, 10)), add.s(1)).applyAsync();
    expect(await result.get({ timeout: 5000 })).toBe(21);
  });

  it('a failing step stops the chain: later steps never run, are marked FAILURE, errbacks run once with the failed id', async () => {
    const { add, fail, mul, echo, calls } = await setup();
    const c = chain(add.s(1, 1), fail.s(), mul.s(2));
    c.set({ link_error: [echo.s().toJSON()] });
    const result = (await c.applyAsync()) as AsyncResult;
    const failedId = (result.parent as AsyncResult).id;
    await expect(result.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskError);
    await until(() => (calls.get('t.echo')?.length ?? 0) > 0);
    await sleep(100);
    expect(calls.get('t.mul')).toBeUndefined();
    expect(calls.get('t.echo')).toEqual([[failedId]]);
  });

  it('a group followed by a step becomes a chord', async () => {
    const { add, xsum } = await setup();
    const result = await chain(add.s(1, 1), group(add.s(1), add.s(2)), xsum.s()).applyAsync();
    expect(await result.get({ timeout: 5000 })).toBe(7);
  });

  it('a group as the last step gets the previous result', async () => {
    const { add, mul } = await setup();
    const result = await chain(add.s(1, 1), group(add.s(1), mul.s(5))).applyAsync();
    expect(result).toBeInstanceOf(GroupResult);
    expect(await result.get({ timeout: 5000 })).toEqual([3, 10]);
    expect(await (result.parent as AsyncResult).get()).toBe(2);
  });
});

describe('group', () => {
  it('runs members in parallel; GroupResult get/ready/completedCount/save/restore', async () => {
    const { add } = await setup();
    const result = (await group(add.s(1, 1), add.s(2, 2), add.s(3, 3)).applyAsync()) as GroupResult;
    expect(result).toBeInstanceOf(GroupResult);
    expect(await result.get({ timeout: 5000 })).toEqual([2, 4, 6]);
    expect(await result.ready()).toBe(true);
    expect(await result.completedCount()).toBe(3);
    const record = await (result.results[0] as AsyncResult).record();
    expect(record?.group_id).toBe(result.id);
    await result.save();
    const restored = await app.restoreGroup(result.id);
    expect(restored?.results.map((r) => r.id)).toEqual(result.results.map((r) => r.id));
    expect(await restored?.get()).toEqual([2, 4, 6]);
    expect(await app.restoreGroup('nope')).toBeNull();
  });

  it('partial args go to every member', async () => {
    const { add } = await setup();
    const result = await group(add.s(1), add.s(2)).applyAsync([10]);
    expect(await result.get({ timeout: 5000 })).toEqual([11, 12]);
  });
});

describe('chord', () => {
  it('applies the body once with the header results in header order', async () => {
    const { add, xsum, echo, calls } = await setup();
    const result = (await chord([add.s(1, 1), add.s(2, 2), add.s(3, 3)], echo.s()).applyAsync()) as AsyncResult;
    expect(await result.get({ timeout: 5000 })).toEqual([[2, 4, 6]]);
    expect(result.parent).toBeInstanceOf(GroupResult);
    expect(calls.get('t.echo')).toHaveLength(1);
    const sum = await chord([add.s(1, 1), add.s(2, 2)], xsum.s()).applyAsync();
    expect(await sum.get({ timeout: 5000 })).toBe(6);
  });

  it('a chain in the header reports through its last step', async () => {
    const { add, mul, xsum } = await setup();
    const result = await chord([chain(add.s(1, 1), mul.s(10)), add.s(5, 5)], xsum.s()).applyAsync();
    expect(await result.get({ timeout: 5000 })).toBe(30);
  });

  it('a group nested in the header is unrolled into it, in Celery 5.2 order (a nested group reversed)', async () => {
    const { add, echo, calls } = await setup();
    const result = await chord([add.s(1, 1), group(add.s(2, 2), group(add.s(3, 3), add.s(4, 4)), add.s(5, 5)), add.s(6, 6)], echo.s()).applyAsync();
    // Celery 5.2's _freeze_unroll (deque.extendleft) on the same header gives [2, 10, 8, 6, 4, 12].
    expect(await result.get({ timeout: 5000 })).toEqual([[2, 10, 8, 6, 4, 12]]);
    expect(calls.get('t.echo')).toHaveLength(1);
    expect((result.parent as GroupResult).results).toHaveLength(6);
  });

  it('a chord nested in the header counts as one member: its body reports to the outer chord', async () => {
    const { add, xsum, echo, calls } = await setup();
    const inner = chord([add.s(2, 2), add.s(3, 3)], xsum.s());
    const result = await chord([add.s(1, 1), inner, chord([add.s(1, 0), chord([add.s(2, 0)], xsum.s())], xsum.s()), add.s(4, 4)], echo.s()).applyAsync();
    expect(await result.get({ timeout: 5000 })).toEqual([[2, 10, 3, 8]]);
    expect(calls.get('t.echo')).toHaveLength(1);
    // A nested chord whose body is a group would never report here: refused.
    await expect(chord([chord([add.s(1, 1)], group(add.s(1), add.s(2)))], echo.s()).applyAsync()).rejects.toThrow(/needs a body that is a task/);
  });

  it('an empty header applies the body with []', async () => {
    const { xsum } = await setup();
    expect(await (await chord([], xsum.s()).applyAsync()).get({ timeout: 5000 })).toBe(0);
  });

  it('a failed member: the body is not applied, its record is a ChordError naming the member, errbacks run once', async () => {
    const { add, fail, xsum, echo, calls } = await setup();
    const body = xsum.s();
    body.linkError(echo.s());
    const result = (await chord([add.s(1, 1), fail.s('x'), add.s(2, 2)], body).applyAsync()) as AsyncResult;
    const failedId = (result.parent as GroupResult).results[1]!.id;
    const error = (await result.get({ timeout: 5000 }).catch((e: unknown) => e)) as TaskError;
    expect(error).toBeInstanceOf(TaskError);
    expect(error.excType).toBe('ChordError');
    expect(error.excMessage).toBe(`Dependency ${failedId} raised Error('boom ["x"]')`);
    await until(() => (calls.get('t.echo')?.length ?? 0) > 0);
    await sleep(100);
    expect(calls.get('t.xsum')).toBeUndefined();
    expect(calls.get('t.echo')).toEqual([[result.id]]);
  });

  it('without an atomic join the producer sends celery.chord_unlock, which applies the body', async () => {
    const { add, xsum, fail } = await setup({ resultBackend: `memory://u${Math.random().toString(36).slice(2)}?chordJoin=false` });
    const result = await chord([add.s(1, 1), add.s(2, 2)], xsum.s()).applyAsync();
    expect(await result.get({ timeout: 8000 })).toBe(6);
    const failing = await chord([add.s(1, 1), fail.s()], xsum.s()).applyAsync();
    const error = (await failing.get({ timeout: 8000 }).catch((e: unknown) => e)) as TaskError;
    expect(error.excType).toBe('ChordError');
    expect(error.excMessage).toMatch(/^Dependency .+ raised Error\('boom \[\]'\)$/);
  }, 15000);

  it('a reply-queue (rpc) backend refuses chords with Celery’s error', async () => {
    const store = new MemoryResultStore();
    const rpcLike = new MemoryResultBackend(store) as ResultBackend & { replyAddress?: () => Promise<string> };
    rpcLike.replyAddress = async () => 'reply-queue';
    const { add, xsum } = await setup({ resultBackend: rpcLike });
    await expect(chord([add.s(1, 1)], xsum.s()).applyAsync()).rejects.toThrow(noChordSupportMessage);
    await expect(chain(group(add.s(1, 1)), xsum.s()).applyAsync()).rejects.toThrow(/does not support chords/);
  });
});

describe('link / link_error', () => {
  it('callbacks get the result; several go out as a group; the record lists children', async () => {
    const { add, echo, mul, calls } = await setup();
    const sig = add.s(2, 3);
    sig.link(echo.s());
    const result = (await sig.applyAsync()) as AsyncResult;
    await until(() => (calls.get('t.echo')?.length ?? 0) > 0);
    expect(calls.get('t.echo')).toEqual([[5]]);
    const children = await result.children();
    expect(children).toHaveLength(1);
    expect((await result.record())?.children).toEqual([[[children[0]!.id, null], null]]);
    expect((await (children[0] as AsyncResult).record())?.parent_id).toBe(result.id);
    const two = add.s(1, 1);
    two.link(mul.s(10));
    two.link(mul.s(100));
    await two.applyAsync();
    await until(() => (calls.get('t.mul')?.length ?? 0) === 2);
    expect(calls.get('t.mul')!.map((c) => c[0])).toEqual([2, 2]);
  });

  it('errbacks get the failed task id; immutable errbacks their own args', async () => {
    const { fail, echo, calls } = await setup();
    const sig = fail.s();
    sig.linkError(echo.s());
    sig.linkError(echo.si('immutable'));
    const result = (await sig.applyAsync()) as AsyncResult;
    await expect(result.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskError);
    await until(() => (calls.get('t.echo')?.length ?? 0) === 2);
    expect(calls.get('t.echo')!.sort()).toEqual([[result.id], ['immutable']].sort());
  });
});

describe('map / starmap / chunks', () => {
  it('map and starmap run the task over items in one task; chunks makes a group of starmaps', async () => {
    const { add, echo } = await setup();
    expect(await (await map(echo.s(), [1, 2, 3]).applyAsync()).get({ timeout: 5000 })).toEqual([[1], [2], [3]]);
    expect(await (await starmap(add.s(), [[1, 2], [3, 4]]).applyAsync()).get({ timeout: 5000 })).toEqual([3, 7]);
    expect(await (await add.starmap([[5, 5]]).applyAsync()).get({ timeout: 5000 })).toEqual([10]);
    const parts = (await chunks(add.s(), [[1, 1], [2, 2], [3, 3]], 2).applyAsync()) as GroupResult;
    expect(await parts.get({ timeout: 5000 })).toEqual([[2, 4], [6]]);
    expect(await (await add.chunks([[1, 2]], 1).applyAsync()).get({ timeout: 5000 })).toEqual([[3]]);
  });

  it('celery.accumulate and celery.chain behave as in Celery', async () => {
    await setup();
    expect(await (await app.sendTask('celery.accumulate', [1, 2, 3], { index: 1 })).get({ timeout: 5000 })).toBe(2);
    const error = (await (await app.sendTask('celery.chain', [])).get({ timeout: 5000 }).catch((e: unknown) => e)) as TaskError;
    expect(error.excType).toBe('NotImplementedError');
  });
});

describe('a canvas the worker cannot apply', () => {
  it('fails the task with the reason (FAILURE, errbacks) instead of requeueing it forever', async () => {
    const { add, echo, calls } = await setup();
    // A chord in a chord header whose body is a group: tq refuses it (UnsupportedError).
    const nested = chord([add.s(1, 1)], group(add.s(1), add.s(2))).toJSON();
    const badChain = [{ task: 'celery.chord', args: [], kwargs: { header: [nested], body: add.s().toJSON() }, options: {}, subtask_type: 'chord', immutable: false }];
    const result = await app.sendTask('t.add', [1, 1], {}, { embed: { callbacks: null, errbacks: [echo.s().toJSON()] as never, chain: badChain as never, chord: null } });
    const error = (await result.get({ timeout: 5000 }).catch((e: unknown) => e)) as TaskError;
    expect(error.excType).toBe('UnsupportedError');
    await until(() => (calls.get('t.echo')?.length ?? 0) > 0);
    expect(calls.get('t.echo')).toEqual([[result.id]]);
    expect(calls.get('t.add')).toHaveLength(1);
  });

  it('a malformed callback fails the task with MessageDecodeError rather than being skipped', async () => {
    await setup();
    const result = await app.sendTask('t.add', [1, 1], {}, { embed: { callbacks: [{ nope: 1 }] as never, errbacks: null, chain: null, chord: null } });
    const error = (await result.get({ timeout: 5000 }).catch((e: unknown) => e)) as TaskError;
    expect(error.excType).toBe('MessageDecodeError');
  });
});

describe('redelivered steps', () => {
  it('a step run again before its SUCCESS was stored does not publish its successors twice (claimed by their deterministic ids)', async () => {
    app = memoryApp();
    let mulRuns = 0;
    const add = app.task('t.add', (a: number, b: number) => a + b);
    const mul = app.task('t.mul', (a: number, b: number) => (mulRuns++, a * b));
    const backend = (await app.backend())!;
    const inner = backend.inner;
    const store = inner.store.bind(inner);
    const firstStepId = randomUUID();
    let failedStores = 0;
    // The first step's SUCCESS cannot be stored at first: the worker gives its message back
    // after publishing its successor, the window of a worker dying between the two.
    inner.store = async (id, record, options) => {
      if (id === firstStepId && failedStores === 0 && JSON.parse(new TextDecoder().decode(record)).status === 'SUCCESS') {
        failedStores++;
        throw new Error('result store down');
      }
      return store(id, record, options);
    };
    const published: string[] = [];
    const broker = (await app.broker()).inner;
    const publish = broker.publish.bind(broker);
    broker.publish = async (queue, message) => {
      published.push(String(message.headers?.['id']));
      return publish(queue, message);
    };
    worker = app.worker({ concurrency: 1, resultRetry: { limitMs: 1, initialDelayMs: 1, maxDelayMs: 1 } });
    await worker.start();
    const result = (await chain(add.s(1, 1).set({ task_id: firstStepId }), mul.s(3)).applyAsync()) as AsyncResult;
    expect((result.parent as AsyncResult).id).toBe(firstStepId);
    expect(await result.get({ timeout: 5000 })).toBe(6);
    await until(async () => (await (result.parent as AsyncResult).state()) === TaskState.SUCCESS);
    await sleep(100);
    expect(failedStores).toBe(1);
    expect(published.filter((id) => id === result.id)).toHaveLength(1);
    expect(mulRuns).toBe(1);
  });

  it('a workflow step whose SUCCESS is recorded is acked without running again (successors not re-sent)', async () => {
    const { add, mul, calls } = await setup();
    const result = (await chain(add.s(1, 1), mul.s(3)).applyAsync()) as AsyncResult;
    expect(await result.get({ timeout: 5000 })).toBe(6);
    // The same second step sent again (a duplicate of the message the first step published), as
    // a producer that cannot claim its id sends it (a Python worker, a backend without claims).
    const inner = (await app.backend())!.inner;
    Object.defineProperty(inner, 'claim', { value: undefined });
    await app.sendTask('t.mul', [2, 3], {}, { taskId: result.id, parentId: (result.parent as AsyncResult).id });
    await sleep(200);
    expect(calls.get('t.mul')).toHaveLength(1);
    expect(await result.state()).toBe(TaskState.SUCCESS);
  });
});
