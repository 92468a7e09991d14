/**
 * The workflow (canvas) scenarios every broker runs, on a real broker and result backend:
 * chain, group, chord (join or chord_unlock, as the backend allows), chord and chain failures
 * with errbacks, a chain with a group (chord upgrade), link, map and chunks. `open` builds an
 * app on the broker under test with `queue` as its default queue.
 */
import { randomUUID } from 'node:crypto';
import { AsyncResult, chain, chord, chunks, group, GroupResult, map, noChordSupportMessage, TaskError, type App, type Worker } from '@tq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export interface CanvasScenarioOptions {
  /** A reply-queue backend (rpc://): chords are refused with Celery's error, the rest runs. */
  readonly rpc?: boolean;
}

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function describeCanvasScenarios(label: string, open: (queue: string) => App, options: CanvasScenarioOptions = {}): void {
  describe(`workflows on ${label}`, () => {
    const queue = `tq.canvas.${label.replace(/[^a-z0-9]+/gi, '-')}.${randomUUID().slice(0, 8)}`;
    const calls = new Map<string, unknown[][]>();
    const record = (name: string, args: unknown[]) => calls.set(name, [...(calls.get(name) ?? []), args]);
    const count = (name: string) => calls.get(name)?.length ?? 0;
    let app: App;
    let worker: Worker;
    const sig = (name: string, ...args: unknown[]) => app.signature(name, args);

    beforeAll(async () => {
      app = open(queue);
      app.task('c.add', (a: number, b: number) => (record('c.add', [a, b]), a + b));
      app.task('c.mul', (a: number, b: number) => (record('c.mul', [a, b]), a * b));
      app.task('c.xsum', (values: number[]) => (record('c.xsum', [values]), values.reduce((x, y) => x + y, 0)));
      app.task('c.fail', (...args: unknown[]) => {
        record('c.fail', args);
        throw new Error('boom');
      });
      app.task('c.noted', (...args: unknown[]) => (record('c.noted', args), args));
      worker = app.worker({ queues: [queue], concurrency: 4 });
      await worker.start();
    }, 60_000);

    afterAll(async () => {
      await worker?.stop({ timeoutMs: 10_000 });
      await app?.close();
    }, 60_000);

    it('chain: results flow step to step; .parent walks back', async () => {
      const result = (await chain(sig('c.add', 2, 3), sig('c.mul', 10), sig('c.add', 5)).applyAsync()) as AsyncResult;
      expect(await result.get({ timeout: 20_000 })).toBe(55);
      expect(await (result.parent as AsyncResult).get({ timeout: 5000 })).toBe(50);
    });

    it('group: GroupResult in member order', async () => {
      const result = (await group([1, 2, 3].map((i) => sig('c.add', i, i))).applyAsync()) as GroupResult;
      expect(await result.get({ timeout: 20_000 })).toEqual([2, 4, 6]);
    });

    it('link: the callback gets the result; the record lists it as a child', async () => {
      const s = sig('c.add', 20, 1);
      s.link(sig('c.noted'));
      const result = (await s.applyAsync()) as AsyncResult;
      await until(() => (calls.get('c.noted') ?? []).some((c) => c[0] === 21));
      expect((await result.children()).length).toBe(1);
    });

    it('a failing chain step: later steps never run, the last step is FAILURE, errbacks run once', async () => {
      const before = count('c.mul');
      const c = chain(sig('c.add', 1, 1), sig('c.fail'), sig('c.mul', 2));
      c.set({ link_error: [sig('c.noted').toJSON()] });
      const result = (await c.applyAsync()) as AsyncResult;
      await expect(result.get({ timeout: 20_000 })).rejects.toBeInstanceOf(TaskError);
      const failedId = (result.parent as AsyncResult).id;
      await until(() => (calls.get('c.noted') ?? []).some((c) => c[0] === failedId));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((calls.get('c.noted') ?? []).filter((c) => c[0] === failedId)).toHaveLength(1);
      expect(count('c.mul')).toBe(before);
    });

    it('map and chunks', async () => {
      expect(await (await map(sig('c.noted'), [1, 2]).applyAsync()).get({ timeout: 20_000 })).toEqual([[1], [2]]);
      expect(await (await chunks(sig('c.add'), [[1, 1], [2, 2], [3, 3]], 2).applyAsync()).get({ timeout: 20_000 })).toEqual([[2, 4], [6]]);
    });

    if (options.rpc) {
      it('chords are refused with Celery’s rpc error', async () => {
        await expect(chord([sig('c.add', 1, 1)], sig('c.xsum')).applyAsync()).rejects.toThrow(noChordSupportMessage);
      });
      return;
    }

    it('chord: the body gets the header results in order, once', async () => {
      const before = count('c.xsum');
      const result = (await chord([1, 2, 3, 4].map((i) => sig('c.add', i, i)), sig('c.xsum')).applyAsync()) as AsyncResult;
      expect(await result.get({ timeout: 20_000 })).toBe(20);
      expect(result.parent).toBeInstanceOf(GroupResult);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(count('c.xsum') - before).toBe(1);
    });

    it('a chain with a group then a task becomes a chord', async () => {
      const result = await chain(sig('c.add', 1, 1), group(sig('c.add', 1), sig('c.add', 2)), sig('c.xsum')).applyAsync();
      expect(await result.get({ timeout: 20_000 })).toBe(7);
    });

    it('a failed chord member: body not applied, ChordError naming it, the body errback once', async () => {
      const before = count('c.xsum');
      const body = sig('c.xsum');
      body.linkError(sig('c.noted'));
      const result = (await chord([sig('c.add', 1, 1), sig('c.fail')], body).applyAsync()) as AsyncResult;
      const failedId = (result.parent as GroupResult).results[1]!.id;
      const error = (await result.get({ timeout: 20_000 }).catch((e: unknown) => e)) as TaskError;
      expect(error.excType).toBe('ChordError');
      expect(error.excMessage).toBe(`Dependency ${failedId} raised Error('boom')`);
      await until(() => (calls.get('c.noted') ?? []).some((c) => c[0] === result.id));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((calls.get('c.noted') ?? []).filter((c) => c[0] === result.id)).toHaveLength(1);
      expect(count('c.xsum')).toBe(before);
    });
  });
}
