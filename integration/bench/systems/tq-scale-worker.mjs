#!/usr/bin/env node
// One of the worker processes of tq's scale scenario (tq.mjs drainScale), started with
// child_process.fork: connects, says 'ready', starts its worker on 'go', reports its completion
// count every 100 ms, and on 'stop' stops and reports when its first and last task completed
// (epoch ms, comparable across processes), its CPU seconds and peak RSS.
import { processTicks, statusKb } from '../lib/proc.mjs';
import { openTqApp, tqTarget } from '../lib/tq-targets.mjs';

const { broker, queue, concurrency } = JSON.parse(process.argv[2]);
const target = await tqTarget(broker, { queue });
const app = openTqApp(target);
await app.broker(); // connected before 'go', so start-up is not in the measured drain
const worker = app.worker({ queues: [queue], concurrency });
let count = 0;
let first = 0;
let last = 0;
const now = () => performance.timeOrigin + performance.now();
worker.on('task-succeeded', () => {
  last = now();
  if (count++ === 0) first = last;
});
let ticksAtGo = 0;
let reporter;
process.on('message', async (message) => {
  if (message === 'go') {
    ticksAtGo = processTicks();
    await worker.start();
    reporter = setInterval(() => process.send({ type: 'count', count }), 100);
  } else if (message === 'stop') {
    clearInterval(reporter);
    const cpuSeconds = (processTicks() - ticksAtGo) / 100;
    await worker.stop({ force: true });
    await app.close();
    process.send({ type: 'done', count, first, last, cpuSeconds, peakRssMb: (statusKb('VmHWM') ?? 0) / 1024 }, () => process.exit(0));
  }
});
process.send({ type: 'ready' });
