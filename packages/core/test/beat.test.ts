import { afterEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { beatTaskId, createMemoryAdapter, isTqError, type App, type Beat, type BeatOptions, type Broker, type BrokerMessage, type Clock } from '../src/index.js';
import { systemClock } from '../src/schedule/clock.js';
import { parseInterval } from '../src/schedule/interval.js';
import { memoryApp, sleep } from './helpers.js';

/** A clock the test moves by hand; beat's rounds are driven with round(). */
class ManualClock implements Clock {
  constructor(public time: number) {}
  now(): number {
    return this.time;
  }
  async sleep(): Promise<void> {}
}

const apps: App[] = [];
const beats: Beat[] = [];
afterEach(async () => {
  for (const beat of beats.splice(0)) await beat.stop();
  for (const app of apps.splice(0)) await app.close();
});

function setup(start: string | number, options: BeatOptions = {}): { app: App; clock: ManualClock; beat: (extra?: BeatOptions) => Beat } {
  const app = memoryApp();
  apps.push(app);
  const clock = new ManualClock(new Date(start).getTime());
  const beat = (extra: BeatOptions = {}) => {
    const made = app.beat({ clock, ...options, ...extra });
    beats.push(made);
    return made;
  };
  return { app, clock, beat };
}

/** Runs one round per `stepMs` from the clock's time until `until`, and returns every tick fired. */
async function walk(beat: Beat, clock: ManualClock, until: string | number, stepMs: number): Promise<number[]> {
  const end = new Date(until).getTime();
  const fired: number[] = [];
  for (; clock.time <= end; clock.time += stepMs) fired.push(...(await beat.round()).fired.map((f) => f.tick));
  return fired;
}

describe('schedules: definitions', () => {
  it('parses every durations', () => {
    expect(parseInterval('30s')).toBe(30_000);
    expect(parseInterval('1h30m')).toBe(5_400_000);
    expect(parseInterval('250ms')).toBe(250);
    expect(parseInterval(1500)).toBe(1500);
    expect(parseInterval('soon')).toBeUndefined();
    expect(parseInterval('0s')).toBeUndefined();
  });

  it('reports every problem of a bad definition at once', () => {
    const app = memoryApp();
    apps.push(app);
    let caught: unknown;
    try {
      app.schedule('bad one', { task: '', cron: '61 * * * *', every: '5x', catchUp: 'sometimes' as never, timezone: 'Mars/Olympus' });
    } catch (error) {
      caught = error;
    }
    expect(isTqError(caught, 'TQ_CONFIG_INVALID')).toBe(true);
    const paths = (caught as { issues: { path: string }[] }).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['schedules.bad one', 'schedules.bad one.task', 'schedules.bad one.every', 'schedules.bad one.catchUp']));
    expect(paths.some((p) => p.endsWith('.cron') || p.endsWith('.timezone'))).toBe(true);
  });

  it('checks the send options too', () => {
    const app = memoryApp();
    apps.push(app);
    expect(() => app.schedule('opts', { task: 't', every: '1s', options: { queue: '', priority: 1.5, expires: -1, countdown: 3 } as never })).toThrow(
      /options\.countdown: unknown option[\s\S]*options\.queue[\s\S]*options\.priority[\s\S]*options\.expires/,
    );
  });

  it('rejects an unknown time zone and a 7-field cron', () => {
    const app = memoryApp();
    apps.push(app);
    expect(() => app.schedule('tz', { task: 't', cron: '0 3 * * *', timezone: 'Mars/Olympus' })).toThrow(/timezone/);
    expect(() => app.schedule('seven', { task: 't', cron: '0 0 3 * * * 2030' })).toThrow(/5 or 6 fields/);
  });

  it('reads schedules from the config (tq.config.json shape)', async () => {
    const app = memoryApp({ schedules: { fromFile: { task: 'report', every: '1m' } } });
    apps.push(app);
    const clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
    const beat = app.beat({ clock });
    beats.push(beat);
    const listing = await beat.schedules.list(clock.time);
    expect(listing).toMatchObject([{ name: 'fromFile', source: 'config', nextRun: new Date('2030-01-01T00:01:00Z') }]);
  });
});

describe('beat: cron with time zones and DST (injected clock)', () => {
  it('a 02:30 Europe/Paris job runs once on the spring-forward day (02:30 does not exist: it runs at 03:00 CEST)', async () => {
    const { app, clock, beat } = setup('2026-03-28T12:00:00Z');
    app.schedule('night', { task: 'night', cron: '30 2 * * *', timezone: 'Europe/Paris' });
    const fired = await walk(beat(), clock, '2026-03-29T12:00:00Z', 60_000);
    expect(fired.map((t) => new Date(t).toISOString())).toEqual(['2026-03-29T01:00:00.000Z']);
  });

  it('a 02:30 Europe/Paris job runs once on the fall-back day (02:30 happens twice)', async () => {
    const { app, clock, beat } = setup('2026-10-24T12:00:00Z');
    app.schedule('night', { task: 'night', cron: '30 2 * * *', timezone: 'Europe/Paris' });
    const fired = await walk(beat(), clock, '2026-10-25T12:00:00Z', 60_000);
    expect(fired.map((t) => new Date(t).toISOString())).toEqual(['2026-10-25T00:30:00.000Z']);
  });

  it('an hourly job runs every real hour of the 25-hour fall-back day', async () => {
    // Local Oct 25 runs from 00:00 CEST (22:00Z the day before) to 24:00 CET (23:00Z).
    const { app, clock, beat } = setup('2026-10-24T21:59:00Z');
    app.schedule('hourly', { task: 'h', cron: '0 * * * *', timezone: 'Europe/Paris' });
    const fired = await walk(beat(), clock, '2026-10-25T22:59:00Z', 60_000);
    expect(fired).toHaveLength(25);
    expect(new Set(fired.map((t) => new Date(t).getUTCMinutes()))).toEqual(new Set([0]));
  });

  it('a 6-field cron counts seconds', async () => {
    const { app, clock, beat } = setup('2030-01-01T00:00:00Z');
    app.schedule('seconds', { task: 's', cron: '*/20 * * * * *', catchUp: 'all' });
    const fired = await walk(beat(), clock, '2030-01-01T00:02:06Z', 7000);
    expect(fired.map((t) => new Date(t).toISOString().slice(14, 19))).toEqual(['00:20', '00:40', '01:00', '01:20', '01:40', '02:00']);
  });

  it('a cron in New York fires at local time (UTC-5 in winter)', async () => {
    const { app, clock, beat } = setup('2030-01-10T00:00:00Z');
    app.schedule('ny', { task: 'ny', cron: '0 9 * * 1-5', timezone: 'America/New_York' });
    const fired = await walk(beat(), clock, '2030-01-13T00:00:00Z', 300_000);
    expect(fired.map((t) => new Date(t).toISOString())).toEqual(['2030-01-10T14:00:00.000Z', '2030-01-11T14:00:00.000Z']);
  });
});

describe('beat: leadership on one store', () => {
  it('exactly one of three beats sends each tick, and another takes over when the leader stops renewing', async () => {
    const { app, clock, beat } = setup('2030-01-01T00:00:00Z', { leaseMs: 5000, pollMs: 1000 });
    app.schedule('tick', { task: 'tick', every: '1s', catchUp: 'all' });
    const [a, b, c] = [beat({ id: 'a' }), beat({ id: 'b' }), beat({ id: 'c' })];
    const fired: number[] = [];
    const leaders: string[] = [];
    const start = clock.time;
    for (let second = 0; second < 30; second++) {
      clock.time = start + second * 1000 + 500;
      // 'a' dies (stops running rounds, without releasing its lease) at second 10.
      for (const one of second < 10 ? [a, b, c] : [b, c]) {
        const round = await one.round();
        fired.push(...round.fired.map((f) => f.tick));
        if (round.leader) leaders.push(one.id);
      }
    }
    const expected = Array.from({ length: 29 }, (_, i) => start + 500 + (i + 1) * 1000); // every-ticks count from first sight
    expect(fired).toEqual(expected);
    expect(new Set(leaders)).toEqual(new Set(['a', leaders.at(-1)!]));
    expect(b.token ?? c.token).toBe(2);
  });

  it('a stale leader whose write loses the compare-and-set sends nothing', async () => {
    const { app, clock, beat } = setup('2030-01-01T00:00:00Z', { leaseMs: 2000, pollMs: 1000 });
    app.schedule('tick', { task: 'tick', every: '1s', catchUp: 'all' });
    const [a, b] = [beat({ id: 'a' }), beat({ id: 'b' })];
    expect((await a.round()).leader).toBe(true);
    clock.time += 3500; // a is paused past its lease: b takes over and fires the 3 ticks
    expect((await b.round()).fired).toHaveLength(3);
    const late = await a.round(); // a wakes up: the lease is b's
    expect(late).toMatchObject({ leader: false, fired: [] });
  });
});

/** Makes `app`'s broker publish through `through` (the adapter's own publish is passed in). */
async function interceptPublish(app: App, through: (publish: Broker['publish'], queue: string, message: BrokerMessage) => Promise<void>): Promise<void> {
  const inner = (await app.broker()).inner;
  const publish = inner.publish.bind(inner);
  inner.publish = (queue, message) => through(publish, queue, message);
}

/** Runs the task ids queued on `queue` through a worker, counting the runs of each id. */
async function runsOf(app: App, queue: string, task: string, expected: number): Promise<Map<string, number>> {
  const runs = new Map<string, number>();
  app.task(task, function () {
    runs.set(this.id, (runs.get(this.id) ?? 0) + 1);
  });
  const worker = app.worker({ queues: [queue] });
  await worker.start();
  try {
    const deadline = Date.now() + 5000;
    while ([...runs.values()].reduce((a, b) => a + b, 0) < expected && Date.now() < deadline) await sleep(20);
    await sleep(200); // a repeat would arrive right behind
  } finally {
    await worker.stop();
  }
  return runs;
}

describe('beat: a claimed tick is sent exactly once', () => {
  it.each([
    ['never comes', 'the broker drops repeats', false],
    ['comes after all, late', 'the broker drops repeats', true],
    ['never comes', 'workers run the id once (runOnce)', false],
    ['comes after all, late', 'workers run the id once (runOnce)', true],
  ])('a leader stalls between its claim and its publish, which %s: the next leader sends the tick, each tick runs once; %s', async (_, how, late) => {
    const name = `t${randomUUID().slice(0, 8)}`;
    const memory = createMemoryAdapter(); // one adapter: both apps on the same broker and store
    // Without the broker's check, as on RabbitMQ and Kafka.
    const broker = how.startsWith('workers') ? `memory://${name}?publishDeduplication=false` : `memory://${name}`;
    const [appA, appB] = [0, 1].map(() => memoryApp({ broker, resultBackend: `memory://${name}`, adapters: [memory] }));
    apps.push(appA!, appB!);
    const clock = new ManualClock(new Date('2030-01-01T00:00:00Z').getTime());
    for (const app of [appA!, appB!]) app.schedule('tick', { task: 'tick', every: '1s', catchUp: 'all', options: { queue: 'ticks' } });
    const a = appA!.beat({ clock, id: 'a', leaseMs: 2000, pollMs: 1000 });
    const b = appB!.beat({ clock, id: 'b', leaseMs: 2000, pollMs: 1000 });
    beats.push(a, b);
    expect((await a.round()).leader).toBe(true);
    let release!: () => void;
    const frozen = new Promise<void>((resolve) => (release = resolve));
    await interceptPublish(appA!, async (publish, queue, message) => {
      await frozen;
      return publish(queue, message);
    });
    clock.time += 1000;
    const stuck = a.round(); // claims the tick, then hangs in its publish (as if killed there)
    await sleep(50);
    clock.time += 2500;
    const takeover = await b.round();
    expect(takeover.leader).toBe(true);
    expect(takeover.resent.map((t) => t.tick)).toEqual([clock.time - 2500]);
    expect(takeover.fired.map((t) => t.tick)).toEqual([clock.time - 1500, clock.time - 500]);
    if (late) {
      release();
      await stuck;
    }
    const runs = await runsOf(appB!, 'ticks', 'tick', 3);
    expect([...runs.keys()].sort()).toEqual([...takeover.resent, ...takeover.fired].map((t) => t.taskId).sort());
    expect([...runs.values()]).toEqual([1, 1, 1]);
  });

  it('a failed send stays pending and is sent again by the next round; after maxSendAttempts it is dropped', async () => {
    const { app, clock, beat } = setup('2030-01-01T00:00:00Z', { leaseMs: 5000, pollMs: 1000, maxSendAttempts: 3 });
    app.schedule('tick', { task: 'tick', every: '1s', options: { queue: 'ticks' } });
    const b = beat();
    await b.round();
    let failing = 1;
    await interceptPublish(app, async (publish, queue, message) => {
      if (failing-- > 0) throw new Error('broker said no');
      return publish(queue, message);
    });
    clock.time += 1000;
    const first = await b.round();
    expect(first.fired).toHaveLength(1);
    expect(first.wakeAt).toBeLessThanOrEqual(clock.time + 100);
    clock.time += 100;
    expect((await b.round()).resent.map((t) => t.taskId)).toEqual([first.fired[0]!.taskId]);
    clock.time += 100;
    expect((await b.round()).resent).toEqual([]);
    const runs = await runsOf(app, 'ticks', 'tick', 1);
    expect([...runs]).toEqual([[first.fired[0]!.taskId, 1]]);

    failing = Infinity;
    clock.time += 1000;
    const doomed = (await b.round()).fired[0]!;
    const resends: number[] = [];
    for (let i = 0; i < 4; i++) {
      clock.time += 100;
      resends.push((await b.round()).resent.filter((t) => t.taskId === doomed.taskId).length);
    }
    expect(resends).toEqual([1, 1, 0, 0]); // 3 attempts in all, then dropped
  });

  it('stop() during a publish waits for it: the record names as fired exactly the ticks that went out, none left pending', async () => {
    const { app, clock } = setup('2030-01-01T00:00:00Z');
    app.schedule('tick', { task: 'tick', every: '1s', catchUp: 'all', options: { queue: 'ticks' } });
    // The manual time, but a loop that really waits (a few ms, or until stop() aborts).
    const looping: Clock = { now: () => clock.time, sleep: (_ms, signal) => systemClock.sleep(5, signal) };
    const b = app.beat({ clock: looping, leaseMs: 5000, pollMs: 1000 });
    beats.push(b);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let publishing = 0;
    const published: string[] = [];
    await interceptPublish(app, async (publish, queue, message) => {
      publishing++;
      await gate;
      await publish(queue, message);
      published.push(String(message.headers['id']));
    });
    const backend = (await app.backend())!;
    await b.start();
    const deadline = Date.now() + 5000;
    while (!(await backend.getVersioned('tq-beat.default.state')) && Date.now() < deadline) await sleep(5); // the first round: the anchor, nothing due
    clock.time += 3000; // three ticks due: the next round claims them, then hangs in the first publish
    while (publishing === 0 && Date.now() < deadline) await sleep(5);
    expect(publishing).toBe(1);
    let stopped = false;
    const stopping = b.stop().then(() => (stopped = true));
    await sleep(50);
    expect(stopped).toBe(false); // still waiting for the publish in flight
    release();
    await stopping;
    const read = await backend.getVersioned('tq-beat.default.state');
    const state = JSON.parse(Buffer.from(read!.value).toString('utf8')) as { lease: { until: number }; entries: Record<string, { anchor: number; last: number; fired: number }>; pending?: unknown[] };
    const { anchor, last, fired } = state.entries['tick']!;
    const named: string[] = [];
    for (let t = anchor + 1000; t <= last; t += 1000) named.push(beatTaskId('default', 'tick', t));
    expect(named).toHaveLength(3);
    expect(fired).toBe(3);
    expect(published).toEqual(named);
    expect(state.pending ?? []).toEqual([]);
    expect(state.lease.until).toBe(0); // handed over
  });
});

describe('beat: restart and catchUp', () => {
  async function restartAfterOutage(catchUp: 'none' | 'once' | 'all', extra: BeatOptions = {}): Promise<number[]> {
    const { app, clock, beat } = setup('2030-01-01T00:00:00Z', extra);
    app.schedule('every30', { task: 'every30', every: '30s', catchUp });
    const first = beat({ id: 'first' });
    expect(await walk(first, clock, '2030-01-01T00:01:00Z', 10_000)).toHaveLength(2);
    await first.stop();
    clock.time = Date.parse('2030-01-01T00:06:10Z'); // down 5 minutes: ticks 1:30 … 6:00 missed
    return (await beat({ id: 'second' }).round()).fired.map((f) => f.tick);
  }

  it('all: every missed tick runs, oldest first, none twice', async () => {
    const fired = await restartAfterOutage('all');
    expect(fired.map((t) => new Date(t).toISOString().slice(14, 19))).toEqual(['01:30', '02:00', '02:30', '03:00', '03:30', '04:00', '04:30', '05:00', '05:30', '06:00']);
  });

  it('once: the missed ticks run once', async () => {
    expect((await restartAfterOutage('once')).map((t) => new Date(t).toISOString())).toEqual(['2030-01-01T00:06:00.000Z']);
  });

  it('none: missed ticks older than graceMs are skipped; the schedule goes on', async () => {
    expect(await restartAfterOutage('none', { graceMs: 5000 })).toEqual([]);
    expect((await restartAfterOutage('none', { graceMs: 15_000 })).map((t) => new Date(t).toISOString())).toEqual(['2030-01-01T00:06:00.000Z']);
  });

  it('a one-off at fires once, even when it fell due while no beat ran (catchUp once)', async () => {
    const { app, clock, beat } = setup('2030-01-01T00:00:00Z');
    app.schedule('once', { task: 'once', at: '2029-12-31T23:59:00Z' });
    const b = beat();
    expect(await walk(b, clock, '2030-01-01T00:10:00Z', 60_000)).toEqual([Date.parse('2029-12-31T23:59:00Z')]);
    expect((await b.schedules.list(clock.time))[0]).toMatchObject({ nextRun: null, fired: 1 });
  });
});

describe('beat: messages and runtime edits', () => {
  it('sends ordinary task messages with the tick id, to the entry queue, and a worker runs them', async () => {
    const { app, clock, beat } = setup(Date.now());
    const seen: unknown[][] = [];
    app.task('sum', (a: number, b: number, kw?: { label: string }) => {
      seen.push([a, b, kw]);
      return a + b;
    });
    app.schedule('sum', { task: 'sum', args: [2, 3], kwargs: { label: 'x' }, every: '1s', options: { queue: 'beatq' } });
    const b = beat();
    await b.round();
    clock.time += 1000;
    const { fired } = await b.round();
    expect(fired).toHaveLength(1);
    expect(fired[0]!.taskId).toBe(beatTaskId('default', 'sum', fired[0]!.tick));
    expect(await app.asyncResult(fired[0]!.taskId).record()).toBeNull();
    const worker = app.worker({ queues: ['beatq'] });
    await worker.start();
    try {
      expect(await app.asyncResult(fired[0]!.taskId).get({ timeout: 5000 })).toBe(5);
      expect(seen).toEqual([[2, 3, { label: 'x' }]]);
    } finally {
      await worker.stop();
    }
  });

  it('add, update, pause, resume, remove and list reach another beat on the same store', async () => {
    const { app, clock, beat } = setup('2030-01-01T00:00:00Z');
    app.schedule('code', { task: 'code', every: '1m' });
    const [editor, runner] = [beat({ id: 'editor' }), beat({ id: 'runner' })];
    await editor.schedules.add('rt', { task: 'rt', every: '10s', catchUp: 'all' });
    await expect(editor.schedules.add('rt', { task: 'rt', every: '10s' })).rejects.toThrow(/exists/);
    await expect(editor.schedules.add('code', { task: 'x', every: '10s' })).rejects.toThrow(/already defined in code/);
    await expect(editor.schedules.remove('code')).rejects.toThrow(/pause it instead/);
    await expect(editor.schedules.pause('nope')).rejects.toThrow(/no schedule/);
    expect((await walk(runner, clock, '2030-01-01T00:00:30Z', 10_000)).length).toBe(3);
    await editor.schedules.pause('rt');
    expect(await walk(runner, clock, '2030-01-01T00:00:50Z', 10_000)).toEqual([]);
    expect((await editor.schedules.list(clock.time)).find((l) => l.name === 'rt')).toMatchObject({ paused: true, nextRun: null, source: 'runtime', fired: 3 });
    await editor.schedules.resume('rt');
    // Resumed: the ticks missed while paused collapse into one run? No: this entry says catchUp all.
    expect((await walk(runner, clock, '2030-01-01T00:01:00Z', 10_000)).length).toBe(3 + 1);
    await editor.schedules.update('rt', { task: 'rt', every: '1h' });
    const listed = await editor.schedules.list(clock.time);
    expect(listed.map((l) => [l.name, l.source, l.nextRun?.toISOString()])).toEqual([
      ['code', 'code', '2030-01-01T00:02:00.000Z'],
      ['rt', 'runtime', '2030-01-01T01:01:10.000Z'],
    ]);
    await editor.schedules.remove('rt');
    expect((await editor.schedules.list(clock.time)).map((l) => l.name)).toEqual(['code']);
  });
});
