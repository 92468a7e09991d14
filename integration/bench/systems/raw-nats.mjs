// The raw nats.js ceiling: JetStream publish (awaiting each PubAck) of the bytes tq publishes
// into a work-queue file stream, and a durable pull consumer (consume, max_messages =
// concurrency × 4) with at most `concurrency` handlers and msg.ack() each; with results stored,
// one KV put of a Celery result record each.
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { natsUrl } from '../lib/endpoints.mjs';
import { completionCounter, latencySummary, runInFlight, runTotal, sendAtSteadyRate, Slots, uniqueName, warmThenStart } from '../lib/measure.mjs';
import { resultRecord, sampleMessage } from '../lib/payload.mjs';

const servers = new URL(natsUrl).host;
const prefetchMultiplier = 4;

async function openStream() {
  const name = uniqueName('TQBENCH_RAW_');
  const nc = await connect({ servers });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects: [`${name}.>`], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
  await jsm.consumers.add(name, { durable_name: 'bench', ack_policy: AckPolicy.Explicit, filter_subject: `${name}.q` });
  return { name, subject: `${name}.q`, nc, jsm, js: jetstream(nc) };
}

async function dispose(target, extra = []) {
  for (const stream of [target.name, ...extra]) await target.jsm.streams.delete(stream).catch(() => undefined);
  await target.nc.close();
}

/** tq sends Celery headers as NATS headers too: the raw publisher carries the same. */
function publisher(target, message) {
  const h = natsHeaders();
  for (const [key, value] of Object.entries(message.headers)) h.set(`Celery-${key}`, JSON.stringify(value));
  return (extra) => {
    if (!extra) return target.js.publish(target.subject, message.body, { headers: h });
    const withExtra = natsHeaders();
    for (const [key, values] of h) withExtra.set(key, values[0]);
    withExtra.set('X-Sent-At', String(extra));
    return target.js.publish(target.subject, message.body, { headers: withExtra });
  };
}

async function consume(target, concurrency, handle) {
  const nc = await connect({ servers });
  const consumer = await jetstream(nc).consumers.get(target.name, 'bench');
  const messages = await consumer.consume({ max_messages: concurrency * prefetchMultiplier });
  const slots = new Slots(concurrency);
  const loop = (async () => {
    for await (const m of messages) {
      await slots.acquire();
      void handle(m)
        .then(() => m.ack())
        .catch(() => undefined)
        .finally(() => slots.release());
    }
  })();
  return async () => {
    await messages.close().catch(() => undefined);
    await loop.catch(() => undefined);
    await nc.close();
  };
}

export async function enqueue({ tasks, warmup = 0, window }, phase) {
  const target = await openStream();
  try {
    const publish = publisher(target, sampleMessage());
    await warmThenStart(phase, warmup, (count) => runInFlight(count, window, () => publish()));
    const ms = await runInFlight(tasks, window, () => publish());
    phase?.stop();
    return { rate: (tasks * 1000) / ms, ms };
  } finally {
    await dispose(target);
  }
}

/** Publishes N messages into a fresh stream for a drain in another process: { name, fillMs }. */
export async function fill(spec) {
  const { window } = spec;
  const tasks = runTotal(spec);
  const target = await openStream();
  try {
    const publish = publisher(target, sampleMessage());
    return { name: target.name, fillMs: await runInFlight(tasks, window, () => publish()) };
  } finally {
    await target.nc.close();
  }
}

/** Times the pull consumer draining the stream `fill` filled (with results stored: one KV put each). */
export async function drainFilled({ tasks, warmup, concurrency, results, timeoutMs }, { name, fillMs }, phase) {
  const nc = await connect({ servers });
  const target = { name, subject: `${name}.q`, nc, jsm: await jetstreamManager(nc), js: jetstream(nc) };
  const bucket = `${target.name}_results`;
  const kv = results === 'stored' ? await new Kvm(target.nc).create(bucket, { ttl: 3_600_000 }) : undefined;
  let stop = async () => undefined;
  try {
    const counter = completionCounter(tasks, timeoutMs, { warmup, phase });
    counter.start();
    const started = performance.now();
    let n = 0;
    stop = await consume(target, concurrency, async (m) => {
      JSON.parse(new TextDecoder().decode(m.data)); // a consumer has to read the body to run the task
      if (kv) {
        const id = `raw-${n++}`;
        await kv.put(id, resultRecord(id));
      }
      counter.complete();
    });
    await counter.done;
    phase?.stop();
    return { ...counter.figures(started), fillMs };
  } finally {
    await stop();
    await dispose(target, kv ? [`KV_${bucket}`] : []);
  }
}

/** fill then drainFilled, in this process. */
export async function drain(spec, phase) {
  return drainFilled(spec, await fill(spec), phase);
}

export async function latency({ concurrency, rate, durationMs, timeoutMs }) {
  const target = await openStream();
  const samples = [];
  let stop = async () => undefined;
  try {
    stop = await consume(target, concurrency, async (m) => {
      samples.push(performance.now() - Number(m.headers.get('X-Sent-At')));
    });
    const publish = publisher(target, sampleMessage());
    const total = await sendAtSteadyRate(rate, durationMs, (i, sentAt) => publish(sentAt));
    const deadline = performance.now() + timeoutMs;
    while (samples.length < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return latencySummary(samples, total);
  } finally {
    await stop();
    await dispose(target);
  }
}
