#!/usr/bin/env node
/**
 * What the Celery events of one task cost the worker, alone: task-received, task-started and
 * task-succeeded written by core's EventDispatcher (dist) and published through the Redis
 * broker's broadcast (kombu envelope, PUBLISH on "/12.celeryev/task.multi" (the bench's Redis db)), with no task run.
 * Prints the CPU per task; under `valgrind --tool=callgrind` the instruction count of two runs
 * of different lengths gives a per-task figure that does not move with the machine's load (it
 * still moves by up to ±8 % between identical runs, with GC and JIT timing: compare a few):
 *
 *   node integration/bench/micro/events-path.mjs [tasks, default 100000]
 *   for n in 20000 60000; do valgrind --tool=callgrind --callgrind-out-file=/tmp/ev.$n node integration/bench/micro/events-path.mjs $n; done
 *   → (instructions of 60000 − instructions of 20000) / 40000 per task
 *
 * The argument repr is about 300 characters, as the bench's default payload (lib/payload.mjs).
 */
import { randomUUID } from 'node:crypto';
import { RedisBroker, parseRedisOptions } from '@tq/redis';
import { EventDispatcher } from '../../../packages/core/dist/events/task-events.js';
import { redisBrokerUrl } from '../lib/endpoints.mjs';

const tasks = Number(process.argv[2] ?? 100_000);
const broker = new RedisBroker(parseRedisOptions(new URL(redisBrokerUrl)));
await broker.connect();
const bus = { via: 'broker', broadcast: (channel, body, route) => broker.broadcast(channel, body, route), subscribe: () => { throw new Error('not used'); } };
const logger = { warn: console.warn, info() {}, error: console.error, debug() {} };
const events = new EventDispatcher(bus, { enabled: true, logger });
const filler = 'lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod '.repeat(5).slice(0, 290);
const requests = Array.from({ length: 1000 }, (_, i) => ({
  id: randomUUID(),
  task: 'bench.noop',
  headers: { argsrepr: `[${i}, ${i + 1}, '${filler}']`, kwargsrepr: '{}', eta: null, expires: null },
  rootId: randomUUID(),
  parentId: null,
  retries: 0,
}));

async function run(count) {
  for (let i = 0; i < count; i++) {
    const request = requests[i % requests.length];
    events.taskReceived(request);
    events.taskStarted(request.id);
    events.taskSucceeded(request.id, 'None', 0.000123 + (i % 7) * 1e-6);
    // A worker's event loop turns between tasks: let the publishes go out as they would there.
    if (i % 100 === 99) await new Promise(setImmediate);
  }
  await events.flush();
}

await run(20_000); // warm-up: the same code, optimised
const before = process.cpuUsage();
await run(tasks);
const cpu = process.cpuUsage(before);
console.log(`events path: ${((cpu.user + cpu.system) / tasks).toFixed(2)} µs CPU per task (user ${(cpu.user / tasks).toFixed(2)}, system ${(cpu.system / tasks).toFixed(2)})`);
await broker.close();
