/**
 * The soak: many tasks on one broker while random faults hit the workers — SIGKILL of a worker
 * (replaced at once), its connections reset, or made silent until it notices — then counts, from
 * the run log outside tq, how many tasks were lost and how many ran more than once. Fails on any
 * loss. Not part of CI: `npm run soak -- --broker redis --tasks 100000 --minutes 15` (see
 * scripts/soak.mjs for the options), which sets the TQ_SOAK_* variables read here.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '@tq/core';
import { FaultProxy, proxyTarget, sleep, uniqueName } from '@tq/conformance';
import { afterAll, expect, it } from 'vitest';
import { faultBrokers, type FaultBrokerName } from './support/fault-brokers.js';
import { finishedIds, readRuns, tally } from './support/run-log.js';
import { killWorkerProcess, startWorkerProcess } from './support/worker-process.js';

const env = process.env;
const settings = {
  broker: (env['TQ_SOAK_BROKER'] ?? 'redis') as FaultBrokerName,
  tasks: Number(env['TQ_SOAK_TASKS'] ?? 100_000),
  minutes: Number(env['TQ_SOAK_MINUTES'] ?? 30),
  workers: Number(env['TQ_SOAK_WORKERS'] ?? 3),
  concurrency: Number(env['TQ_SOAK_CONCURRENCY'] ?? 8),
  taskMs: Number(env['TQ_SOAK_TASK_MS'] ?? 2),
  faultEveryMs: Number(env['TQ_SOAK_FAULT_EVERY_MS'] ?? 5_000),
};
const kafkaMockTaskLimit = 6_000;
const [fb] = await faultBrokers([settings.broker]);
afterAll(() => fb!.endpoint.stop(), 60_000);

it(`soak: ${settings.tasks} tasks on ${settings.broker} under random faults, 0 lost`, async () => {
  if (!fb!.endpoint.url) throw new Error(`${settings.broker} missing: ${fb!.endpoint.detail}`);
  // The mock keeps ~5 MB per partition (~6,000 tasks; tq's topics have one): past that it drops
  // messages itself, which would be counted as lost.
  if (fb!.endpoint.source === 'kafka-mock' && settings.tasks > kafkaMockTaskLimit) {
    throw new Error(`the Kafka mock cluster keeps ~${kafkaMockTaskLimit} tasks per partition: use --tasks ${kafkaMockTaskLimit} or fewer, or a real cluster (TQ_TEST_KAFKA_BROKERS)`);
  }
  const url = fb!.tune(fb!.endpoint.url);
  const queue = uniqueName('soak', 'tqf');
  const log = join(tmpdir(), `tq-soak-${settings.broker}-${randomBytes(4).toString('hex')}.log`);
  const proxy = fb!.proxied ? await FaultProxy.start(proxyTarget(new URL(url))!) : undefined;
  const workerUrl = new URL(url);
  if (proxy) workerUrl.host = `127.0.0.1:${proxy.port}`;
  const producer = createApp({ broker: fb!.adapter.createBroker!(new URL(url), fb!.endpoint.adapterOptions), resultBackend: null, defaultQueue: queue, logLevel: 'silent' });
  const workers: ChildProcess[] = [];
  const spawnWorker = () =>
    startWorkerProcess({ broker: workerUrl.href, backend: null, queue, log, pool: 'async', concurrency: settings.concurrency, prefetch: 4, adapterOptions: fb!.endpoint.adapterOptions });
  const faults = { kill: 0, reset: 0, silence: 0 };
  const started = Date.now();
  const deadline = started + settings.minutes * 60_000;
  try {
    for (let i = 0; i < settings.workers; i++) workers.push(await spawnWorker());
    const ids = Array.from({ length: settings.tasks }, (_, i) => `${queue}-${i}`);
    const sending = (async () => {
      for (let i = 0; i < ids.length; i += 200) await Promise.all(ids.slice(i, i + 200).map((id) => producer.sendTask('f.count', [id, settings.taskMs])));
    })();
    let lastFaultEnd = Date.now();
    let done = 0;
    while (Date.now() < deadline) {
      await sleep(settings.faultEveryMs * (0.5 + Math.random()));
      done = finishedIds(readRuns(log)).size;
      console.info(`[soak] ${Math.round((Date.now() - started) / 1000)} s: ${done}/${ids.length} finished; faults ${JSON.stringify(faults)}`);
      if (done >= ids.length) break;
      const kind = !proxy ? 'kill' : (['kill', 'reset', 'silence'] as const)[Math.floor(Math.random() * 3)]!;
      faults[kind]++;
      if (kind === 'kill') {
        const victim = workers.splice(Math.floor(Math.random() * workers.length), 1)[0]!;
        await killWorkerProcess(victim);
        workers.push(await spawnWorker());
      } else if (kind === 'reset') {
        proxy!.cut();
      } else {
        proxy!.silence();
        proxy!.setMode('drop');
        await sleep(fb!.detectionBoundMs);
        proxy!.setMode('forward');
      }
      lastFaultEnd = Date.now();
    }
    await sending;
    // No more faults: let the rest finish (until no progress for a minute).
    for (let last = done, still = Date.now(); done < ids.length && Date.now() - still < 60_000; ) {
      await sleep(1_000);
      done = finishedIds(readRuns(log)).size;
      if (done > last) [last, still] = [done, Date.now()];
    }
    // Time for copies whose ack was lost in the last fault to come back and run again.
    const quietUntil = lastFaultEnd + fb!.redeliveryMs + 3_000;
    if (quietUntil > Date.now()) await sleep(quietUntil - Date.now());
    const counted = tally(readRuns(log), ids, undefined);
    const seconds = Math.round((Date.now() - started) / 1000);
    console.info(
      `[soak] ${settings.broker}: ${ids.length} tasks in ${seconds} s, faults ${JSON.stringify(faults)}: lost ${counted.lost.length}, duplicated runs ${counted.duplicates}` +
        (counted.lost.length ? ` (first lost: ${counted.lost.slice(0, 5).join(', ')})` : ''),
    );
    expect(counted.lost.length, 'lost tasks').toBe(0);
  } finally {
    await Promise.allSettled(workers.map(killWorkerProcess));
    await producer.close();
    await proxy?.close();
    await fb!.dropQueue(url, queue).catch(() => undefined);
    await fb!.dropAll(fb!.endpoint.url).catch(() => undefined);
    rmSync(log, { force: true });
  }
}, 24 * 3_600_000);
