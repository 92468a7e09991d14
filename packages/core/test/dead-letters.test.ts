import { afterEach, describe, expect, it } from 'vitest';
import { Reject, replayCountHeader, type App, type Worker } from '../src/index.js';
import { memoryApp } from './helpers.js';

let app: App;
let worker: Worker | undefined;

afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await app.close();
});

/** A worker whose tasks reject (dead-letter) until `healed` says otherwise. */
async function rejectingApp(healed: () => boolean): Promise<void> {
  app = memoryApp();
  app.task('t.flaky', (x: number) => {
    if (!healed()) throw new Reject(`not today (${x})`);
    return x * 2;
  });
  app.task('t.other', () => {
    throw new Reject('other');
  });
  worker = app.worker({ queues: ['work'], concurrency: 2 });
  await worker.start();
}

async function deadCount(expected: number): Promise<void> {
  await expect.poll(async () => (await app.queueStats('work')).dead, { timeout: 5_000 }).toBe(expected);
}

describe('app.deadLetters', () => {
  it('lists, filters and shows the dead letters of a queue without removing them', async () => {
    await rejectingApp(() => false);
    const before = new Date();
    const a = await app.sendTask('t.flaky', [1], {}, { queue: 'work' });
    const b = await app.sendTask('t.flaky', [2], {}, { queue: 'work' });
    const c = await app.sendTask('t.other', [], {}, { queue: 'work' });
    await deadCount(3);

    const all = await app.deadLetters.list({ queue: 'work' });
    expect(all.map((l) => l.id).sort()).toEqual([a.id, b.id, c.id].sort());
    const first = all.find((l) => l.id === a.id)!;
    expect(first).toMatchObject({ task: 't.flaky', queue: 'work', code: 'TQ_REJECTED', reason: 'not today (1)', replays: 0, argsrepr: '(1,)' });
    expect(first.deadAt!.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);

    expect((await app.deadLetters.list({ queue: 'work', task: 't.other' })).map((l) => l.id)).toEqual([c.id]);
    expect(await app.deadLetters.list({ queue: 'work', since: new Date(Date.now() + 60_000) })).toEqual([]);
    expect(await app.deadLetters.list({ queue: 'work', limit: 2 })).toHaveLength(2);
    expect((await app.deadLetters.show('work', b.id))?.reason).toBe('not today (2)');
    expect(await app.deadLetters.show('work', 'no-such-id')).toBeNull();
    // Listing gave every letter back.
    await deadCount(3);
    expect(await app.deadLetters.list({ queue: 'work' })).toHaveLength(3);
  });

  it('replays with the original id, counts replays, and leaves the rest in place', async () => {
    let healed = false;
    await rejectingApp(() => healed);
    const a = await app.sendTask<number>('t.flaky', [21], {}, { queue: 'work' });
    const c = await app.sendTask('t.other', [], {}, { queue: 'work' });
    await deadCount(2);

    // Still failing: the replay dies again, now with one replay counted.
    const replayed = await app.deadLetters.replay({ queue: 'work', task: 't.flaky' });
    expect(replayed.map((l) => l.id)).toEqual([a.id]);
    await expect.poll(async () => (await app.deadLetters.list({ queue: 'work', ids: [a.id] }))[0]?.replays, { timeout: 5_000 }).toBe(1);
    const again = (await app.deadLetters.show('work', a.id))!;
    expect(again.headers[replayCountHeader]).toBe(1);

    healed = true;
    await app.deadLetters.replay({ queue: 'work', ids: [a.id] });
    expect(await a.get({ timeout: 5_000 })).toBe(42);
    await deadCount(1);
    expect((await app.deadLetters.list({ queue: 'work' })).map((l) => l.id)).toEqual([c.id]);
  });

  it('purges only what matches', async () => {
    await rejectingApp(() => false);
    await app.sendTask('t.flaky', [1], {}, { queue: 'work' });
    const c = await app.sendTask('t.other', [], {}, { queue: 'work' });
    await deadCount(2);
    const purged = await app.deadLetters.purge({ queue: 'work', task: 't.flaky' });
    expect(purged).toHaveLength(1);
    await deadCount(1);
    expect((await app.deadLetters.list({ queue: 'work' })).map((l) => l.id)).toEqual([c.id]);
  });

  it('an empty store answers at once; bad filters are typed errors', async () => {
    await rejectingApp(() => false);
    const started = Date.now();
    expect(await app.deadLetters.list({ queue: 'empty' })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(app.deadLetters.list({ queue: 'work', limit: 0 })).rejects.toMatchObject({ code: 'TQ_CONFIG_INVALID' });
    await expect(app.deadLetters.list({ queue: 'work', since: new Date('nope') })).rejects.toMatchObject({ code: 'TQ_CONFIG_INVALID' });
  });
});
