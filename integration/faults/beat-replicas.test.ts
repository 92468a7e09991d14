/**
 * tq beat with three replicas (real `tq beat` processes) on Redis, NATS and PostgreSQL (each
 * the broker and the store of the lease), and on RabbitMQ with Redis as the store: the leader is
 * killed with SIGKILL mid-run, then the next one; every tick of a 1 s schedule must still be
 * run exactly once. Runs are counted here, by a worker recording each task id it runs; the
 * expected ids are the ticks from the entry's first to its last, as beatTaskId derives them.
 * On Redis, NATS and PostgreSQL the broker drops a tick sent twice; RabbitMQ cannot, so beat
 * sends with runOnce and the worker (whose result backend is the Redis store) drops the repeat.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beatTaskId, createApp, type App, type RoundOutcome, type TqAdapter, type Worker } from '@tq/core';
import { RuntimeBackend } from '@tq/core/adapter';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { uniqueName } from '@tq/conformance';
import amqpAdapter from '@tq/amqp';
import natsAdapter from '@tq/nats';
import postgresAdapter from '@tq/postgres';
import pg from 'pg';
import redisAdapter from '@tq/redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker, type BrokerEndpoint } from '../harness/brokers.js';

const tqBin = fileURLToPath(new URL('../../packages/core/bin/tq.js', import.meta.url));
const fixture = fileURLToPath(new URL('./beat-fixture/tasks.mjs', import.meta.url));
type StoreName = 'redis' | 'nats' | 'postgres';
const adapters: Record<StoreName | 'amqp', TqAdapter> = { redis: redisAdapter, nats: natsAdapter, postgres: postgresAdapter, amqp: amqpAdapter };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The broker the ticks go through, and the store of the lease (also the worker's result backend). */
const setups: { broker: StoreName | 'amqp'; store: StoreName }[] = [
  { broker: 'redis', store: 'redis' },
  { broker: 'nats', store: 'nats' },
  { broker: 'postgres', store: 'postgres' },
  { broker: 'amqp', store: 'redis' },
];

interface Replica {
  readonly child: ChildProcess;
  output: string;
}

for (const setup of setups) {
  const endpoints: BrokerEndpoint[] = [await resolveBroker(setup.broker), ...(setup.store !== setup.broker ? [await resolveBroker(setup.store)] : [])];
  afterAll(() => Promise.allSettled(endpoints.map((e) => e.stop())), 60_000);
  const name = setup.store;
  const title = setup.broker === setup.store ? setup.broker : `${setup.broker} (lease and runOnce claims in ${setup.store})`;

  describe(`tq beat replicas on ${title}`, () => {
    const absent = endpoints.filter((e) => !e.url);
    if (absent.length) {
      const detail = absent.map((e) => e.detail).join('; ');
      if (brokersRequired()) it('broker', () => expect.fail(`required under CI=true: ${detail}`));
      else it.skip(`${title} missing: ${detail}`, () => undefined);
      return;
    }
    // Postgres: the tables (messages, coordination records) in a schema of this run's own.
    const storeEndpoint = endpoints.at(-1)!.url!;
    const url = name === 'postgres' ? withParam(storeEndpoint, 'schema', `beat_${process.pid}_${Date.now() % 100_000}`) : storeEndpoint;
    const brokerUrl = setup.broker === setup.store ? url : endpoints[0]!.url!;
    const used = [...new Set([adapters[setup.broker], adapters[name]])];
    if (name === 'postgres') afterAll(() => dropSchema(url));
    const replicas: Replica[] = [];
    const apps: App[] = [];
    const workers: Worker[] = [];
    afterEach(async () => {
      for (const r of replicas.splice(0)) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await Promise.allSettled(workers.splice(0).map((w) => w.stop({ force: true })));
      await Promise.allSettled(apps.splice(0).map((a) => a.close()));
    }, 30_000);

    it('3 replicas, leaders SIGKILLed mid-run: every tick of a 1 s schedule runs exactly once over 30 s', async () => {
      const queue = uniqueName('beat.replicas');
      const namespace = queue.replace(/[^A-Za-z0-9_-]/g, '-');
      const runs = new Map<string, number>();
      // The store as result backend: where the broker cannot drop a repeated tick, the worker's runOnce claim does.
      const app = createApp({ broker: brokerUrl, resultBackend: url, defaultQueue: queue, adapters: used, logLevel: 'silent' });
      apps.push(app);
      app.task('beat.tick', function () {
        runs.set(this.id, (runs.get(this.id) ?? 0) + 1);
      });
      const worker = app.worker({ concurrency: 4 });
      workers.push(worker);
      await worker.start();

      const store = new RuntimeBackend(adapters[name].createResultBackend!(new URL(url), {}));
      await store.connect();
      const readState = async () => {
        const read = await store.getVersioned(`tq-beat.${namespace}.state`);
        return read ? (JSON.parse(Buffer.from(read.value).toString('utf8')) as { lease: { holder: string; token: number } | null; entries: Record<string, { anchor: number; last: number; fired: number }> }) : null;
      };
      const startReplica = (): Replica => {
        const child = spawn(process.execPath, [tqBin, 'beat', '--app', fixture, '--broker', brokerUrl, '--backend', url, '--namespace', namespace, '--lease', '3'], {
          env: { ...withoutTqSettings(process.env), BEAT_TEST_QUEUE: queue },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const replica: Replica = { child, output: '' };
        child.stdout!.on('data', (chunk: Buffer) => (replica.output += chunk.toString()));
        child.stderr!.on('data', (chunk: Buffer) => (replica.output += chunk.toString()));
        replicas.push(replica);
        return replica;
      };
      const all = [startReplica(), startReplica(), startReplica()];
      const logs = () => all.map((r, i) => `--- replica ${i} (pid ${r.child.pid}, exit ${r.child.exitCode ?? r.child.signalCode})\n${r.output.slice(-2000)}`).join('\n');
      const killLeader = async () => {
        const state = await readState();
        const pid = Number(state?.lease?.holder.split('@')[0]);
        const leader = all.find((r) => r.child.pid === pid && r.child.exitCode === null && r.child.signalCode === null);
        expect(leader, `a live replica holds the lease (${JSON.stringify(state?.lease)})\n${logs()}`).toBeDefined();
        leader!.child.kill('SIGKILL');
        return state!.lease!.token;
      };

      await sleep(10_000);
      const firstToken = await killLeader();
      await sleep(10_000);
      const secondToken = await killLeader();
      expect(secondToken).toBeGreaterThan(firstToken);
      await sleep(10_000);
      const survivor = all.find((r) => r.child.exitCode === null && r.child.signalCode === null)!;
      const exited = new Promise((resolve) => survivor.child.once('exit', resolve));
      survivor.child.kill('SIGTERM');
      await exited;

      const state = await readState();
      const tick = state?.entries['tick'];
      expect(tick, logs()).toBeDefined();
      const expected: string[] = [];
      for (let t = tick!.anchor + 1000; t <= tick!.last; t += 1000) {
        expected.push(beatTaskId(namespace, 'tick', t));
      }
      // ~30 s of ticks, minus the start-up of the first replica.
      expect(expected.length, logs()).toBeGreaterThanOrEqual(25);
      expect(tick!.fired).toBe(expected.length);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && expected.some((id) => !runs.has(id))) await sleep(200);
      const missing = expected.filter((id) => !runs.has(id));
      const repeated = [...runs].filter(([, count]) => count !== 1);
      const strangers = [...runs.keys()].filter((id) => !expected.includes(id));
      // Exactly once per tick (docs/scheduling.md): a tick claimed by a leader killed before it
      // said the tick went out stays pending, the next leader sends it again under the same id,
      // and the broker (or, on RabbitMQ, the worker's runOnce claim) drops the repeat if the
      // first send did go out.
      expect({ missing, repeated, strangers }, logs()).toEqual({ missing: [], repeated: [], strangers: [] });
      expect(runs.size).toBe(expected.length);
      await store.close();
      await deleteBeatRecords(name, url, namespace);
    }, 90_000);

    const lastBeforeTick = (round: RoundOutcome) => Math.max(...round.fired.filter((f) => f.entry === 'all').map((f) => f.tick));

    it('a beat restarted after an outage applies each entry catchUp (all / once / none) from the stored last tick', async () => {
      const queue = uniqueName('beat.restart');
      const namespace = queue.replace(/[^A-Za-z0-9_-]/g, '-');
      const open = () => {
        const app = createApp({ broker: brokerUrl, resultBackend: url, defaultQueue: queue, adapters: used, logLevel: 'silent' });
        apps.push(app);
        for (const catchUp of ['all', 'once', 'none'] as const) app.schedule(catchUp, { task: 'beat.noop', every: '1s', catchUp });
        return app;
      };
      const first = open().beat({ namespace, leaseMs: 4000 });
      await first.round();
      await sleep(1200);
      const before = await first.round();
      expect(before.fired.map((f) => f.entry).sort()).toEqual(['all', 'none', 'once']);
      await first.stop(); // releases the lease, keeps each entry's last tick
      const stoppedAt = Date.now();
      // Restart half-way between two ticks, so the latest missed one is ~500 ms late (past graceMs).
      await sleep(lastBeforeTick(before) + 3500 - Date.now());
      const second = open().beat({ namespace, leaseMs: 4000, graceMs: 1 });
      const after = await second.round();
      expect(after.leader).toBe(true);
      const ticksOf = (entry: string) => after.fired.filter((f) => f.entry === entry).map((f) => f.tick);
      const lastBefore = lastBeforeTick(before);
      // all: every second missed, in order, from the one after the last tick sent before the stop.
      const all = ticksOf('all');
      expect(all.length).toBeGreaterThanOrEqual(3);
      expect(all).toEqual(Array.from({ length: all.length }, (_, i) => lastBefore + (i + 1) * 1000));
      expect(all[0]! - 1000).toBeLessThan(stoppedAt);
      // once: only the latest of them; none: nothing older than graceMs (1 ms).
      expect(ticksOf('once')).toEqual([all.at(-1)]);
      expect(ticksOf('none')).toEqual([]);
      // The next round sends nothing again.
      expect((await second.round()).fired.filter((f) => f.tick <= all.at(-1)!)).toEqual([]);
      await second.stop();
      await second.app.purge(queue); // nobody consumes beat.noop
      await deleteBeatRecords(name, url, namespace);
    }, 30_000);
  });
}

/** Removes the test's beat records (its namespace only) from the shared server. */
async function deleteBeatRecords(name: StoreName, url: string, namespace: string): Promise<void> {
  if (name === 'postgres') {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DELETE FROM "${new URL(url).searchParams.get('schema')}".coordination WHERE key LIKE $1`, [`tq-beat.${namespace}.%`]);
    await client.end();
    return;
  }
  if (name === 'redis') {
    const client = new Redis(url);
    await client.del(`tq:coord:tq-beat.${namespace}.state`, `tq:coord:tq-beat.${namespace}.schedules`);
    client.disconnect();
    return;
  }
  const parsed = new URL(url);
  const nc = await connect({ servers: `${parsed.hostname}:${parsed.port || 4222}` });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.purge('KV_tq-results-coord', { filter: `$KV.tq-results-coord.tq-beat.${namespace}.>` });
  await nc.close();
}

/** The environment minus TQ_* settings that would repoint the replicas (the command line sets them). */
function withoutTqSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !['TQ_CONFIG', 'TQ_BROKER_URL', 'TQ_RESULT_BACKEND'].includes(key)));
}

function withParam(url: string, key: string, value: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set(key, value);
  return parsed.href;
}

async function dropSchema(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${new URL(url).searchParams.get('schema')}" CASCADE`);
  await client.end();
}
